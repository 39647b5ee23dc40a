//! Queries of the `customers` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::customers;
use crate::db::{AnyConnection, DbError};
use crate::types::CustomerId;

// None is NULL, not DEFAULT: one SQL text, kept prepared (every marketplace
// order's buyer and every sign-up is an insert).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
pub struct Customer {
    pub id: CustomerId,
    pub external_ref: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub marketing_consent: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, customer: &Customer) -> Result<(), DbError> {
    diesel::insert_into(customers::table).values(customer).execute(conn)?;
    Ok(())
}

/// Replaces the details of `current` by those of `new` if it is still at its
/// version; false otherwise.
pub fn replace(conn: &mut AnyConnection, current: &Customer, new: &Customer) -> Result<bool, DbError> {
    Ok(diesel::update(customers::table.find(&current.id).filter(customers::version.eq(current.version)))
        .set((
            customers::name.eq(&new.name),
            customers::email.eq(&new.email),
            customers::phone.eq(&new.phone),
            customers::marketing_consent.eq(new.marketing_consent),
            customers::version.eq(customers::version + 1),
            customers::updated_at.eq(new.updated_at),
        ))
        .execute(conn)?
        == 1)
}

pub fn by_ref(conn: &mut AnyConnection, external_ref: &str) -> Result<Option<Customer>, DbError> {
    Ok(customers::table
        .filter(customers::external_ref.eq(external_ref))
        .select(Customer::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn by_id(conn: &mut AnyConnection, id: &CustomerId) -> Result<Option<Customer>, DbError> {
    Ok(customers::table.find(id).select(Customer::as_select()).get_result(conn).optional()?)
}

/// Customers with this email and/or phone (at most 50).
pub fn search(conn: &mut AnyConnection, email: Option<&str>, phone: Option<&str>) -> Result<Vec<Customer>, DbError> {
    let mut query = customers::table.select(Customer::as_select()).order(customers::id).limit(50).into_boxed();
    if let Some(email) = email {
        query = query.filter(customers::email.eq(email.to_owned()));
    }
    if let Some(phone) = phone {
        query = query.filter(customers::phone.eq(phone.to_owned()));
    }
    Ok(query.load(conn)?)
}
