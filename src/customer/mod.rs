//! Customers: the storefront's own reference plus contact details, so that
//! every channel, the POS and staff find the same person.

mod repo;

use chrono::{DateTime, Utc};

pub use repo::Customer;

use crate::db::{AnyConnection, DbError, timestamp};
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
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if valid { Ok(email) } else { Err(format!("'{raw}' is not an email address")) }
}

/// Digits with an optional leading '+', spaces and punctuation dropped.
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let allowed = trimmed.chars().all(|c| c.is_ascii_digit() || " +-()./".contains(c));
    if !allowed || !(6..=15).contains(&digits.len()) {
        return Err(format!("'{raw}' is not a phone number"));
    }
    Ok(if trimmed.starts_with('+') { format!("+{digits}") } else { digits })
}

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
        assert_eq!(normalize_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        assert!(normalize_email("ada@example").is_err());
        assert!(normalize_email("@example.com").is_err());
        assert_eq!(normalize_phone("+49 (30) 1234-567").unwrap(), "+49301234567");
        assert!(normalize_phone("call me").is_err());
    }
}
