//! Storage of idempotent answers, keyed by caller and `Idempotency-Key`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::kept::Kept;
use super::schema::idempotency_keys as keys;
use super::{AnyConnection, DbError};

// None is NULL, not DEFAULT: one SQL text whatever is set, which the
// prepared-statement cache keeps (an insert naming DEFAULT is prepared anew
// every time).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = keys, treat_none_as_default_value = false)]
pub struct StoredAnswer {
    pub caller_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub response_status: i32,
    pub response_body: String,
    pub response_etag: Option<String>,
    pub response_location: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Claims the key inside the caller's transaction. `false` means an earlier
/// request holds it; under PostgreSQL this call first waits for that request's
/// transaction to end.
pub fn claim(conn: &mut AnyConnection, claim: &StoredAnswer) -> Result<bool, DbError> {
    // On PostgreSQL, DO NOTHING waits for a concurrent claim of the same key to
    // commit or roll back, as the unique index would, without a savepoint.
    let inserted = crate::per_backend!(conn, |c| diesel::insert_into(keys::table)
        .values(claim)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

pub fn load(conn: &mut AnyConnection, caller_id: &str, key: &str) -> Result<StoredAnswer, DbError> {
    Ok(keys::table.find((caller_id, key)).select(StoredAnswer::as_select()).get_result(conn)?)
}

/// Records the answer to a claimed key, in the same transaction as the work.
pub fn complete(conn: &mut AnyConnection, answer: &StoredAnswer) -> Result<(), DbError> {
    // Kept, and so read back: see `db::kept` for why an UPDATE is kept
    // prepared only when its rows are loaded.
    Kept(
        diesel::update(keys::table.find((&answer.caller_id, &answer.idempotency_key)))
            .set((
                keys::response_status.eq(answer.response_status),
                keys::response_body.eq(&answer.response_body),
                keys::response_etag.eq(&answer.response_etag),
                keys::response_location.eq(&answer.response_location),
            ))
            .returning(keys::response_status),
    )
    .load::<i32>(conn)?;
    Ok(())
}

/// Whether any answer is older than `before`: a read, so that an idle purge writes nothing.
pub fn any_before(conn: &mut AnyConnection, before: NaiveDateTime) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(keys::table.filter(keys::created_at.lt(before)))).get_result(conn)?)
}

/// Forgets answers older than `before`.
pub fn purge(conn: &mut AnyConnection, before: NaiveDateTime) -> Result<usize, DbError> {
    Ok(diesel::delete(keys::table.filter(keys::created_at.lt(before))).execute(conn)?)
}
