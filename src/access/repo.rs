//! Queries of the `api_keys` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_keys;
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
        .first(conn)
        .optional()?)
}
