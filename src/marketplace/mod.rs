//! Marketplaces: channels with their own APIs. Each listing's quantity is
//! computed from network stock (share and buffer applied), kept in the
//! database and pushed by a worker; order webhooks come in signed and become
//! orders with stock allocated at once.

pub mod amazon;
pub mod connector;
pub mod shopify;
pub mod sync;
pub mod webhook;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::catalog::{self, CatalogError};
use crate::db::schema::{
    marketplace_listings as ml, marketplace_push_log as log, marketplace_stock as ms, marketplaces as m, skus,
};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::events;
use crate::inventory::{self, InventoryError};
use crate::order::OrderError;
use crate::text_enum;
use crate::types::{MarketplaceId, Page, PageRequest, SkuId};

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
    #[error("no listing for SKU '{0}'")]
    ListingNotFound(String),
    #[error("this marketplace sells SKU '{0}', which no listing maps")]
    UnknownListing(String),
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
    pub credentials: serde_json::Value,
    pub webhook_secret: String,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub rate_limit_per_sec: i32,
    pub settings: serde_json::Value,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
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
    pub credentials: Option<serde_json::Value>,
    pub webhook_secret: Option<String>,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub rate_limit_per_sec: i32,
    pub settings: serde_json::Value,
    pub active: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = m)]
struct Row {
    id: MarketplaceId,
    name: String,
    kind: String,
    base_url: String,
    credentials: String,
    webhook_secret: String,
    share_percent: i32,
    buffer_units: i32,
    rate_limit_per_sec: i32,
    settings: String,
    active: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_marketplace(self) -> Result<Marketplace, DbError> {
        let json = |what: &str, raw: &str| {
            serde_json::from_str(raw).map_err(|_| DbError::Corrupt(format!("marketplace {} {what}", self.id)))
        };
        Ok(Marketplace {
            kind: ConnectorKind::parse(&self.kind).map_err(DbError::Corrupt)?,
            credentials: json("credentials", &self.credentials)?,
            settings: json("settings", &self.settings)?,
            id: self.id,
            name: self.name,
            base_url: self.base_url,
            webhook_secret: self.webhook_secret,
            share_percent: self.share_percent,
            buffer_units: self.buffer_units,
            rate_limit_per_sec: self.rate_limit_per_sec,
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Resolves a marketplace by its name or id.
pub fn id_by_name_or_id(conn: &mut AnyConnection, name_or_id: &str) -> Result<Option<MarketplaceId>, DbError> {
    Ok(m::table.filter(m::name.eq(name_or_id).or(m::id.eq(name_or_id))).select(m::id).first(conn).optional()?)
}

pub fn create(
    conn: &mut AnyConnection,
    input: MarketplaceInput,
    now: DateTime<Utc>,
) -> Result<Marketplace, MarketplaceError> {
    let id = MarketplaceId::generate();
    let at = timestamp(now);
    diesel::insert_into(m::table)
        .values((
            m::id.eq(&id),
            m::name.eq(&input.name),
            m::kind.eq(input.kind.as_str()),
            m::base_url.eq(&input.base_url),
            m::credentials.eq(input.credentials.clone().unwrap_or_default().to_string()),
            m::webhook_secret.eq(input.webhook_secret.clone().unwrap_or_default()),
            m::share_percent.eq(input.share_percent),
            m::buffer_units.eq(input.buffer_units),
            m::rate_limit_per_sec.eq(input.rate_limit_per_sec),
            m::settings.eq(input.settings.to_string()),
            m::active.eq(input.active),
            m::version.eq(1),
            m::created_at.eq(at),
            m::updated_at.eq(at),
        ))
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Unique(_) => MarketplaceError::NameTaken(input.name.clone()),
            other => other.into(),
        })?;
    get(conn, &id)
}

pub fn get(conn: &mut AnyConnection, id: &MarketplaceId) -> Result<Marketplace, MarketplaceError> {
    m::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| MarketplaceError::NotFound(id.to_string()))?
        .into_marketplace()
        .map_err(Into::into)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<Marketplace>, MarketplaceError> {
    let mut query = m::table.select(Row::as_select()).order(m::id).limit(page.limit + 1).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(m::id.gt(after.clone()));
    }
    let rows = query.load(conn)?.into_iter().map(Row::into_marketplace).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, page.limit, |m| m.id.to_string()))
}

fn all_active(conn: &mut AnyConnection) -> Result<Vec<Marketplace>, MarketplaceError> {
    m::table
        .filter(m::active.eq(true))
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(|r| r.into_marketplace().map_err(Into::into))
        .collect()
}

/// Replaces a marketplace (keeping secrets not given); quantities follow.
pub fn update(
    conn: &mut AnyConnection,
    id: &MarketplaceId,
    input: MarketplaceInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Marketplace, MarketplaceError> {
    let current = get(conn, id)?;
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(MarketplaceError::Stale { seen, current: Box::new(current) });
    }
    diesel::update(m::table.find(id).filter(m::version.eq(current.version)))
        .set((
            m::name.eq(&input.name),
            m::kind.eq(input.kind.as_str()),
            m::base_url.eq(&input.base_url),
            m::credentials.eq(input.credentials.unwrap_or(current.credentials).to_string()),
            m::webhook_secret.eq(input.webhook_secret.unwrap_or(current.webhook_secret)),
            m::share_percent.eq(input.share_percent),
            m::buffer_units.eq(input.buffer_units),
            m::rate_limit_per_sec.eq(input.rate_limit_per_sec),
            m::settings.eq(input.settings.to_string()),
            m::active.eq(input.active),
            m::version.eq(m::version + 1),
            m::updated_at.eq(timestamp(now)),
        ))
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Unique(_) => MarketplaceError::NameTaken(input.name.clone()),
            other => other.into(),
        })?;
    // Share, buffer or activity changed: every listing is recomputed.
    refresh_all(conn, id, false, now)?;
    get(conn, id)
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

/// Maps a SKU to its listing (creating or replacing); its quantity follows.
pub fn put_listing(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku_code: &str,
    listing_id: &str,
    seller_sku: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Listing, MarketplaceError> {
    get(conn, marketplace)?;
    let sku = catalog::get_sku(conn, sku_code)?;
    let seller_sku = seller_sku.unwrap_or(sku.code.as_str()).to_owned();
    diesel::delete(ml::table.find((marketplace, &sku.id))).execute(conn)?;
    diesel::insert_into(ml::table)
        .values((
            ml::marketplace_id.eq(marketplace),
            ml::sku_id.eq(&sku.id),
            ml::listing_id.eq(listing_id),
            ml::seller_sku.eq(&seller_sku),
        ))
        .execute(conn)
        .map_err(|e| match DbError::from(e) {
            DbError::Unique(_) => MarketplaceError::ListingTaken(listing_id.to_owned()),
            other => other.into(),
        })?;
    refresh(conn, Some(marketplace), std::slice::from_ref(&sku.id), false, now)?;
    Ok(ml::table.find((marketplace, &sku.id)).select(Listing::as_select()).first(conn)?)
}

pub fn remove_listing(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku_code: &str,
) -> Result<(), MarketplaceError> {
    let sku = catalog::get_sku(conn, sku_code)?;
    diesel::delete(ms::table.find((marketplace, &sku.id))).execute(conn)?;
    let removed = diesel::delete(ml::table.find((marketplace, &sku.id))).execute(conn)?;
    if removed == 0 {
        return Err(MarketplaceError::ListingNotFound(sku_code.to_owned()));
    }
    Ok(())
}

pub fn listings(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    page: &PageRequest,
) -> Result<Page<(Listing, String)>, MarketplaceError> {
    let mut query = ml::table
        .inner_join(skus::table)
        .filter(ml::marketplace_id.eq(marketplace))
        .order(ml::sku_id)
        .limit(page.limit + 1)
        .select((Listing::as_select(), skus::code))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(ml::sku_id.gt(after.clone()));
    }
    let rows: Vec<(Listing, String)> = query.load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |(l, _)| l.sku_id.to_string()))
}

/// What a marketplace is offered of a SKU: its share of what the network can
/// promise, less its buffer, never above what is available, and nothing when
/// the marketplace or the SKU is inactive. Pure.
pub fn offered(network_available: i32, share_percent: i32, buffer_units: i32, active: bool) -> i32 {
    if !active || network_available <= 0 {
        return 0;
    }
    let share = i64::from(network_available) * i64::from(share_percent.clamp(0, 100)) / 100;
    (share - i64::from(buffer_units)).clamp(0, i64::from(network_available)) as i32
}

/// What can be promised online per SKU: the sum over ship-enabled locations.
fn network_available(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<HashMap<SkuId, i32>, MarketplaceError> {
    let mut totals: HashMap<SkuId, i32> = skus.iter().map(|s| (s.clone(), 0)).collect();
    for level in inventory::levels_of(conn, skus)?.into_iter().filter(|l| l.ships) {
        *totals.entry(level.sku_id.clone()).or_default() += level.available();
    }
    Ok(totals)
}

/// A marketplace's share of one SKU, for explaining availability.
#[derive(Debug, Clone)]
pub struct Share {
    pub marketplace: String,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub quantity: i32,
}

/// How each active marketplace listing the SKU is offered it now.
pub fn shares_of(conn: &mut AnyConnection, sku: &SkuId) -> Result<Vec<Share>, MarketplaceError> {
    let listed: Vec<MarketplaceId> = ml::table.filter(ml::sku_id.eq(sku)).select(ml::marketplace_id).load(conn)?;
    let network = network_available(conn, std::slice::from_ref(sku))?.get(sku).copied().unwrap_or(0);
    let sku_active = catalog::skus_by_ids(conn, std::slice::from_ref(sku))?.first().is_some_and(|s| s.active);
    Ok(all_active(conn)?
        .into_iter()
        .filter(|m| listed.contains(&m.id))
        .map(|m| Share {
            quantity: offered(network, m.share_percent, m.buffer_units, m.active && sku_active),
            marketplace: m.name,
            share_percent: m.share_percent,
            buffer_units: m.buffer_units,
        })
        .collect())
}

/// Recomputes what listings of these SKUs should show (on one marketplace, or
/// all), and marks those that changed for pushing. `force` pushes even
/// unchanged quantities and revives dead-lettered ones (a full resync).
pub fn refresh(
    conn: &mut AnyConnection,
    only: Option<&MarketplaceId>,
    skus: &[SkuId],
    force: bool,
    now: DateTime<Utc>,
) -> Result<usize, MarketplaceError> {
    let mut query =
        ml::table.inner_join(m::table).inner_join(skus::table).filter(one_of(ml::sku_id, skus)).into_boxed();
    if let Some(marketplace) = only {
        query = query.filter(ml::marketplace_id.eq(marketplace.clone()));
    }
    let listed: Vec<(MarketplaceId, SkuId, i32, i32, bool, bool)> = query
        .select((ml::marketplace_id, ml::sku_id, m::share_percent, m::buffer_units, m::active, skus::active))
        .load(conn)?;
    if listed.is_empty() {
        return Ok(0);
    }
    let network = network_available(conn, skus)?;
    let at = timestamp(now);
    for (marketplace, sku, share, buffer, active, sku_active) in &listed {
        let wanted = offered(network.get(sku).copied().unwrap_or(0), *share, *buffer, *active && *sku_active);
        sync::want(conn, marketplace, sku, wanted, force, at)?;
    }
    Ok(listed.len())
}

/// Recomputes every listing of a marketplace.
pub fn refresh_all(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    force: bool,
    now: DateTime<Utc>,
) -> Result<usize, MarketplaceError> {
    let skus: Vec<SkuId> = ml::table.filter(ml::marketplace_id.eq(marketplace)).select(ml::sku_id).load(conn)?;
    refresh(conn, Some(marketplace), &skus, force, now)
}

/// The outbox consumer that keeps listings true to stock.
const STOCK_CONSUMER: &str = "marketplace-stock";

/// Reads stock events since the last pass and marks the listings whose
/// quantity changed; returns how many events were read. One transaction: the
/// offset moves with the work, so nothing is lost or read twice.
pub fn ingest_stock_events(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<usize, MarketplaceError> {
    conn.write(|conn| {
        if conn.is_postgres() {
            diesel::sql_query("SELECT pg_advisory_xact_lock(7308620010003)").execute(conn)?;
        }
        let after = events::offset(conn, STOCK_CONSUMER)?;
        let filter = events::EventFilter {
            after,
            limit: 2000,
            topic: Some(inventory::STOCK_CHANGED.to_owned()),
            ..Default::default()
        };
        let read = events::list(conn, &filter)?;
        let Some(last) = read.last().and_then(|e| e.seq) else { return Ok(0) };
        let skus: Vec<SkuId> =
            read.iter().filter_map(|e| e.sku_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        refresh(conn, None, &skus, false, now)?;
        events::set_offset(conn, STOCK_CONSUMER, last)?;
        Ok(read.len())
    })
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
    pub dead: Vec<sync::StockRow>,
    pub outbound_pending: i64,
    pub outbound_dead: Vec<sync::OutboundRow>,
    pub recent: Vec<PushLogEntry>,
}

pub fn sync_state(conn: &mut AnyConnection, marketplace: &MarketplaceId) -> Result<SyncState, MarketplaceError> {
    get(conn, marketplace)?;
    Ok(sync::state(conn, marketplace)?)
}
