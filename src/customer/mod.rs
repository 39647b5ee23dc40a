//! Customers: the storefront's own reference plus contact details, so that
//! every channel, the POS and staff find the same person.

mod repo;

use chrono::{DateTime, Utc};

pub use repo::Customer;

use crate::db::{AnyConnection, Db, DbError, reference, timestamp};
use crate::types::CustomerId;

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("no customer with reference '{0}'; create it with PUT /v1/customers/{0}")]
    NotFound(String),
    #[error("a customer with reference '{0}' already exists")]
    RefTaken(String),
    #[error("customer '{}' has changed since version {seen}", .current.external_ref)]
    Stale { seen: i32, current: Box<Customer> },
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(CustomerError);

#[derive(Debug, Clone)]
pub struct CustomerInput {
    pub external_ref: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub marketing_consent: bool,
}

/// Lower-cased and trimmed, so that search finds it however it was typed.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let plain = |c: char| !c.is_whitespace() && !c.is_control() && c != '@';
    let valid = raw.len() <= 254
        && raw.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.chars().all(plain)
                && domain.chars().all(plain)
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid { Ok(raw.to_lowercase()) } else { Err(format!("'{raw}' is not an email address")) }
}

/// The contract's pattern of [`normalize_email`].
pub const EMAIL_PATTERN: &str = concat!(
    r"^[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]+@[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@.][^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]*",
    r"\.[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]*[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@.]$"
);

/// 6 to 15 digits with an optional leading '+', single spaces, dots,
/// slashes or hyphens between digits allowed and dropped.
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let body = raw.strip_prefix('+').unwrap_or(raw);
    let mut digits = String::new();
    let mut after_separator = true;
    for c in body.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                after_separator = false;
            }
            ' ' | '.' | '/' | '-' if !after_separator => after_separator = true,
            _ => return Err(format!("'{raw}' is not a phone number")),
        }
    }
    if after_separator || !(6..=15).contains(&digits.len()) {
        return Err(format!("'{raw}' is not a phone number: 6 to 15 digits, optionally starting with +"));
    }
    Ok(if raw.starts_with('+') { format!("+{digits}") } else { digits })
}

/// The contract's pattern of [`normalize_phone`].
pub const PHONE_PATTERN: &str = r"^\+?[0-9](?:[ ./-]?[0-9]){5,14}$";

pub fn create(conn: &mut AnyConnection, input: CustomerInput, now: DateTime<Utc>) -> Result<Customer, CustomerError> {
    let at = timestamp(now);
    let customer = Customer {
        id: CustomerId::generate(),
        external_ref: input.external_ref,
        name: input.name,
        email: input.email,
        phone: input.phone,
        marketing_consent: input.marketing_consent,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    repo::insert(conn, &customer).map_err(|e| match e {
        DbError::Unique(_) => CustomerError::RefTaken(customer.external_ref.clone()),
        other => other.into(),
    })?;
    Ok(customer)
}

/// Creates the customer, or replaces its details (guarded by `expected_version`).
/// Returns the customer and whether it was created.
pub fn put(
    conn: &mut AnyConnection,
    input: CustomerInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<(Customer, bool), CustomerError> {
    let Some(current) = find(conn, &input.external_ref)? else {
        return create(conn, input, now).map(|c| (c, true));
    };
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(CustomerError::Stale { seen, current: Box::new(current) });
    }
    let replacement = Customer {
        name: input.name,
        email: input.email,
        phone: input.phone,
        marketing_consent: input.marketing_consent,
        updated_at: timestamp(now),
        ..current.clone()
    };
    let changed = repo::replace(conn, &current, &replacement)?;
    let updated = get(conn, &input.external_ref)?;
    if !changed {
        return Err(CustomerError::Stale { seen: current.version, current: Box::new(updated) });
    }
    Ok((updated, false))
}

pub fn find(conn: &mut AnyConnection, external_ref: &str) -> Result<Option<Customer>, CustomerError> {
    Ok(repo::by_ref(conn, external_ref)?)
}

pub fn get(conn: &mut AnyConnection, external_ref: &str) -> Result<Customer, CustomerError> {
    find(conn, external_ref)?.ok_or_else(|| CustomerError::NotFound(external_ref.to_owned()))
}

/// The id of the customer with this reference: kept in process once found
/// (neither ever changes, and customers are never deleted), so a request on a
/// customer's behalf does not read the customer again.
pub fn id_of(conn: &mut AnyConnection, external_ref: &str) -> Result<CustomerId, CustomerError> {
    reference::lasting(conn, &id_key(external_ref), |conn| {
        Ok::<_, DbError>(repo::by_ref(conn, external_ref)?.map(|c| c.id))
    })?
    .ok_or_else(|| CustomerError::NotFound(external_ref.to_owned()))
}

fn id_key(external_ref: &str) -> String {
    format!("customer-ref:{external_ref}")
}

/// Keeps a customer's id for [`id_of`] once the transaction that created
/// or changed the customer has committed: the customer's first cart
/// request on this instance then needs no lookup either.
pub fn remember(db: &Db, customer: &Customer) {
    db.keep(&id_key(&customer.external_ref), customer.id.clone());
}

pub fn by_id(conn: &mut AnyConnection, id: &CustomerId) -> Result<Customer, CustomerError> {
    repo::by_id(conn, id)?.ok_or_else(|| CustomerError::NotFound(id.to_string()))
}

/// Customers with this (normalised) email or phone.
pub fn search(
    conn: &mut AnyConnection,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Vec<Customer>, CustomerError> {
    Ok(repo::search(conn, email, phone)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_normalised() {
        assert_eq!(normalize_email("Ada@Example.COM").unwrap(), "ada@example.com");
        assert!(normalize_email(" ada@example.com").is_err(), "exactly as the contract's pattern");
        assert!(normalize_email("ada@b@example.com").is_err());
        assert!(normalize_email("ada@example").is_err());
        assert!(normalize_email("@example.com").is_err());
        assert_eq!(normalize_phone("+49 30 1234-567").unwrap(), "+49301234567");
        assert!(normalize_phone("(030) 1234567").is_err());
        assert!(normalize_phone("030  1234567").is_err(), "one separator between digits");
        assert!(normalize_phone("12345").is_err());
        assert!(normalize_phone("call me").is_err());
    }
}
