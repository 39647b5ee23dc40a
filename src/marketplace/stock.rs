//! What each listing should offer: a marketplace's share of what its
//! locations can promise (its own set, or those in its country), less its
//! buffer, recomputed whenever stock or the marketplace changes, and handed
//! to [`sync`] to push.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::model::{Marketplace, MarketplaceError, Share};
use super::{repo, sync};
use crate::catalog::{self, Location, Sku};
use crate::db::{AnyConnection, timestamp};
use crate::events;
use crate::inventory::{self, Item, LevelAt};
use crate::types::{LocationId, MarketplaceId, SkuId};

/// The outbox consumer that keeps listings true to stock.
pub(super) const STOCK_CONSUMER: &str = "marketplace-stock";

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

/// What these SKUs' levels can promise a marketplace: per SKU, the sum over
/// its sources (ship-enabled locations it may sell from).
struct Network {
    levels: Vec<LevelAt>,
    locations: Arc<Vec<Location>>,
    sources: HashMap<MarketplaceId, Vec<LocationId>>,
}

impl Network {
    fn read(conn: &mut AnyConnection, skus: &[Sku]) -> Result<Self, MarketplaceError> {
        let items: Vec<Item> = skus.iter().map(Item::of).collect();
        Ok(Self {
            levels: inventory::levels_of(conn, &items)?,
            locations: catalog::active_locations(conn)?,
            sources: HashMap::new(),
        })
    }

    fn available(&mut self, marketplace: &Marketplace, sku: &SkuId) -> i32 {
        let sources =
            self.sources.entry(marketplace.id.clone()).or_insert_with(|| marketplace.sources(&self.locations));
        self.levels
            .iter()
            .filter(|l| &l.sku_id == sku && sources.contains(&l.location_id))
            .map(LevelAt::available)
            .sum()
    }
}

/// How each active marketplace listing the SKU is offered it now.
pub fn shares_of(conn: &mut AnyConnection, sku: &Sku) -> Result<Vec<Share>, MarketplaceError> {
    let listed = repo::listings_of(conn, std::slice::from_ref(&sku.id), None)?;
    let mut network = Network::read(conn, std::slice::from_ref(sku))?;
    Ok(listed
        .into_iter()
        .filter(|(_, m)| m.active)
        .map(|(_, m)| Share {
            quantity: offered(network.available(&m, &sku.id), m.share_percent, m.buffer_units, m.active && sku.active),
            marketplace: m.name,
            share_percent: m.share_percent,
            buffer_units: m.buffer_units,
        })
        .collect())
}

/// Recomputes what listings of these SKUs, and of the kits made of them,
/// should show (on one marketplace, or all), and marks those that changed
/// for pushing. `force` pushes even unchanged quantities and revives
/// dead-lettered ones (a full resync).
pub fn refresh(
    conn: &mut AnyConnection,
    only: Option<&MarketplaceId>,
    skus: &[SkuId],
    force: bool,
    now: DateTime<Utc>,
) -> Result<usize, MarketplaceError> {
    // A component's stock moves what every kit holding it can offer.
    let mut skus: Vec<SkuId> = skus.to_vec();
    skus.extend(catalog::kits_containing(conn, &skus)?);
    skus.sort();
    skus.dedup();
    let listed = repo::listings_of(conn, &skus, only)?;
    if listed.is_empty() {
        return Ok(0);
    }
    let catalogued = catalog::skus_by_ids(conn, &skus)?;
    let mut network = Network::read(conn, &catalogued)?;
    let active: BTreeSet<&SkuId> = catalogued.iter().filter(|s| s.active).map(|s| &s.id).collect();
    let at = timestamp(now);
    for (listing, marketplace) in &listed {
        let sku = &listing.sku_id;
        let live = marketplace.active && active.contains(sku);
        let available = network.available(marketplace, sku);
        let wanted = offered(available, marketplace.share_percent, marketplace.buffer_units, live);
        sync::want(conn, &marketplace.id, sku, wanted, force, at)?;
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
    let skus = repo::listed_skus(conn, marketplace)?;
    refresh(conn, Some(marketplace), &skus, force, now)
}

/// Reads stock events since the last pass and marks the listings whose
/// quantity changed; returns how many events were read.
pub fn ingest_stock_events(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<usize, MarketplaceError> {
    events::consume(conn, STOCK_CONSUMER, inventory::STOCK_CHANGED, 2000, |conn, read| {
        let skus: Vec<SkuId> =
            read.iter().filter_map(|e| e.sku_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        refresh(conn, None, &skus, false, now).map(|_| ())
    })
}
