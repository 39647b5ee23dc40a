//! Queries of the `api_keys` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_keys, staff_sessions};
use crate::db::{AnyConnection, DbError};
use crate::types::{ApiKeyId, LocationId, MarketplaceId};

/// A key as listed: never its secret.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: String,
    pub location_id: Option<LocationId>,
    pub channel: String,
    pub marketplace_id: Option<MarketplaceId>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut AnyConnection, key: &ApiKey, secret_hash: &str) -> Result<(), DbError> {
    diesel::insert_into(api_keys::table).values((key, api_keys::secret_hash.eq(secret_hash))).execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<ApiKey>, DbError> {
    Ok(api_keys::table.order(api_keys::id).select(ApiKey::as_select()).load(conn)?)
}

/// Revokes a live key; false when there is no live key with this id.
pub fn revoke(conn: &mut AnyConnection, id: &str, at: NaiveDateTime) -> Result<bool, DbError> {
    Ok(diesel::update(api_keys::table.find(id))
        .filter(api_keys::revoked_at.is_null())
        .set(api_keys::revoked_at.eq(at))
        .execute(conn)?
        == 1)
}

pub fn exists(conn: &mut AnyConnection, id: &str) -> Result<bool, DbError> {
    Ok(api_keys::table.find(id).count().get_result::<i64>(conn)? > 0)
}

pub fn live_by_hash(conn: &mut AnyConnection, hash: &str) -> Result<Option<ApiKey>, DbError> {
    Ok(api_keys::table
        .filter(api_keys::secret_hash.eq(hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .get_result(conn)
        .optional()?)
}

/// Inserts a session for a key the caller has just authenticated.
pub fn insert_session(
    conn: &mut AnyConnection,
    id: &str,
    key: &ApiKeyId,
    csrf: &str,
    now: NaiveDateTime,
    expires: NaiveDateTime,
) -> Result<(), DbError> {
    // Sessions past their time are of no use to anyone: each sign-in sweeps them.
    diesel::delete(staff_sessions::table.filter(staff_sessions::expires_at.le(now))).execute(conn)?;
    diesel::insert_into(staff_sessions::table)
        .values((
            staff_sessions::id.eq(id),
            staff_sessions::key_id.eq(key),
            staff_sessions::csrf_token.eq(csrf),
            staff_sessions::created_at.eq(now),
            staff_sessions::expires_at.eq(expires),
        ))
        .execute(conn)?;
    Ok(())
}

/// The live key and CSRF token of an unexpired session, in one statement.
pub fn live_session(
    conn: &mut AnyConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<(ApiKey, String, NaiveDateTime)>, DbError> {
    Ok(staff_sessions::table
        .inner_join(api_keys::table)
        .filter(staff_sessions::id.eq(id))
        .filter(staff_sessions::expires_at.gt(now))
        .filter(api_keys::revoked_at.is_null())
        .select((ApiKey::as_select(), staff_sessions::csrf_token, staff_sessions::expires_at))
        .get_result(conn)
        .optional()?)
}

pub fn delete_session(conn: &mut AnyConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(staff_sessions::table.find(id)).execute(conn)?;
    Ok(())
}
