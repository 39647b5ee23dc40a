//! Marketplaces, listings and the sync queue, as the rest of the module sees them.

use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::{CatalogError, Location};
use crate::db::DbError;
use crate::db::schema::{
    marketplace_listings as ml, marketplace_outbound as mo, marketplace_push_log as log, marketplace_stock as ms,
};
use crate::inventory::InventoryError;
use crate::order::OrderError;
use crate::secret::{Sealed, SecretError};
use crate::text_enum;
use crate::types::{Code, LocationId, MarketplaceId, OrderId, SkuId};

text_enum! {
    /// Which API style the connector speaks.
    pub enum ConnectorKind {
        Shopify => "shopify",
        Amazon => "amazon",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MarketplaceError {
    #[error("no marketplace '{0}'")]
    NotFound(String),
    #[error("a marketplace named '{0}' already exists")]
    NameTaken(String),
    #[error("marketplace '{}' has changed since version {seen}", .current.name)]
    Stale { seen: i32, current: Box<Marketplace> },
    #[error("listing '{0}' is already mapped to another SKU")]
    ListingTaken(String),
    #[error("no location '{0}' to offer stock from")]
    UnknownLocation(String),
    #[error("no listing for SKU '{0}'")]
    ListingNotFound(String),
    #[error("this marketplace sells SKU '{0}', which no listing maps")]
    UnknownListing(String),
    /// A stored secret cannot be opened with this instance's key.
    #[error("marketplace '{marketplace}': {source}")]
    Secret { marketplace: String, source: SecretError },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(MarketplaceError);

/// A marketplace with its secrets; `Debug` never prints them.
#[derive(Clone)]
pub struct Marketplace {
    pub id: MarketplaceId,
    pub name: String,
    pub kind: ConnectorKind,
    pub base_url: String,
    /// The API credentials (a JSON object), sealed; empty when none were given.
    pub credentials: Sealed,
    /// The secret its webhooks are signed with, sealed.
    pub webhook_secret: Sealed,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub rate_limit_per_sec: i32,
    pub settings: serde_json::Value,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Codes of the locations whose stock it is offered and its orders are
    /// served from; None: the ship-enabled locations in its country.
    pub locations: Option<Vec<String>>,
}

impl Marketplace {
    /// The country it sells in (`settings.country`), when set.
    pub fn country(&self) -> Option<&str> {
        self.settings["country"].as_str()
    }

    /// The active, ship-enabled locations it is offered stock from and its
    /// orders are served from: its own set, else those in its country, else
    /// (no country set) all of them.
    pub fn sources(&self, active: &[Location]) -> Vec<LocationId> {
        active
            .iter()
            .filter(|l| l.capabilities.ships)
            .filter(|l| match (&self.locations, self.country()) {
                (Some(set), _) => set.iter().any(|code| code.eq_ignore_ascii_case(l.code.as_str())),
                (None, Some(country)) => l.address.country == country,
                (None, None) => true,
            })
            .map(|l| l.id.clone())
            .collect()
    }
}

impl fmt::Debug for Marketplace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Marketplace")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("credentials", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("share_percent", &self.share_percent)
            .field("buffer_units", &self.buffer_units)
            .finish()
    }
}

/// A marketplace as created or replaced; secrets left out on replace are kept.
#[derive(Clone)]
pub struct MarketplaceInput {
    pub name: String,
    pub kind: ConnectorKind,
    pub base_url: String,
    /// Sealed by the caller; on replace, left out means kept.
    pub credentials: Option<Sealed>,
    pub webhook_secret: Option<Sealed>,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub rate_limit_per_sec: i32,
    pub settings: serde_json::Value,
    pub active: bool,
    /// Codes of the locations it is limited to, each checked to exist.
    pub locations: Option<Vec<Code>>,
}

/// A SKU's listing on a marketplace.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ml)]
pub struct Listing {
    pub marketplace_id: MarketplaceId,
    pub sku_id: SkuId,
    pub listing_id: String,
    pub seller_sku: String,
}

/// A marketplace's share of one SKU, for explaining availability.
#[derive(Debug, Clone)]
pub struct Share {
    pub marketplace: String,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub quantity: i32,
}

/// One row of the push log.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = log)]
pub struct PushLogEntry {
    pub id: i64,
    pub marketplace_id: MarketplaceId,
    pub listing_id: String,
    pub quantity: i32,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
}

/// What the sync page shows: pending and parked pushes and confirmations, and
/// the latest attempts.
#[derive(Debug, Clone)]
pub struct SyncState {
    pub pending: i64,
    pub synced: i64,
    pub dead: Vec<StockRow>,
    pub outbound_pending: i64,
    pub outbound_dead: Vec<OutboundRow>,
    pub recent: Vec<PushLogEntry>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ms)]
pub struct StockRow {
    pub marketplace_id: MarketplaceId,
    pub sku_id: SkuId,
    pub quantity: i32,
    pub pushed_quantity: Option<i32>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mo)]
pub struct OutboundRow {
    pub id: String,
    pub marketplace_id: MarketplaceId,
    pub order_id: OrderId,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
