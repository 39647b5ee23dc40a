//! Service-wide settings kept with the data (`service_settings`).

use diesel::prelude::*;

use super::schema::service_settings as s;
use super::{AnyConnection, DbError};
use crate::per_backend;

/// Records `value` under `name` unless a value is there already; whether the
/// stored value is `value` (the first instance to start decides).
pub fn claim(conn: &mut AnyConnection, name: &str, value: &str) -> Result<bool, DbError> {
    let row = (s::name.eq(name), s::value.eq(value));
    per_backend!(conn, |c| diesel::insert_into(s::table).values(row).on_conflict_do_nothing().execute(c))?;
    let stored: String = s::table.find(name).select(s::value).get_result(conn)?;
    Ok(stored == value)
}
