//! Marketplaces: the channels with their own APIs.

use diesel::prelude::*;

use crate::db::schema::marketplaces;
use crate::db::{AnyConnection, DbError};
use crate::types::MarketplaceId;

/// Resolves a marketplace by its name or id.
pub fn id_by_name_or_id(conn: &mut AnyConnection, name_or_id: &str) -> Result<Option<MarketplaceId>, DbError> {
    Ok(marketplaces::table
        .filter(marketplaces::name.eq(name_or_id).or(marketplaces::id.eq(name_or_id)))
        .select(marketplaces::id)
        .first(conn)
        .optional()?)
}
