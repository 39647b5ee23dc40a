//! Inventory: stock levels with a ledger, reservations with expiry,
//! available-to-promise. Every channel trusts these numbers.
//!
//! Invariant: a level changes only through `repo::apply`, a guarded UPDATE
//! that writes its ledger rows and outbox event in the same transaction, so
//! each level always equals the sum of its ledger and never goes negative.

pub mod atp;
mod combine;
pub mod model;
mod repo;
pub mod reservation;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use combine::HoldCombiner;
pub use model::{
    Alternative, Draw, Item, Level, LevelAt, Movement, MovementKind, Purpose, Reservation, ReservationStatus, Shortage,
    pickup_alternatives,
};
pub use repo::STOCK_CHANGED;

use crate::access::Principal;
use crate::catalog::{self, CatalogError, Location, Sku};
use crate::config::HoldsConfig;
use crate::db::{AnyConnection, DbError};
use crate::types::{GeoPoint, LocationId, Page, PageRequest, Quantity, SkuId};
use repo::{Change, Delta, Guard};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{}", describe_shortages(.0))]
    Insufficient(Vec<Shortage>),
    #[error("no reservation '{0}'")]
    ReservationNotFound(String),
    #[error("reservation '{id}' is {status}, not active")]
    ReservationNotActive { id: String, status: ReservationStatus },
    #[error("reservation '{id}' expired at {at} UTC")]
    ReservationExpired { id: String, at: NaiveDateTime },
    #[error("reservation '{reservation}' does not hold {quantity} of SKU {sku}")]
    NotHeld { reservation: String, sku: String, quantity: i32 },
    #[error("a transfer needs two different locations")]
    SameLocation,
    #[error("location '{0}' is deactivated")]
    LocationInactive(String),
    #[error("SKU '{0}' is deactivated and cannot be sold")]
    SkuInactive(String),
    #[error("a hold may last at most {max_seconds} seconds")]
    HoldTooLong { max_seconds: u64 },
    #[error("SKU '{0}' is a kit: it has no stock of its own; receive, count and move its components")]
    KitNotStocked(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(InventoryError);

fn describe_shortages(shortages: &[Shortage]) -> String {
    let parts: Vec<String> = shortages
        .iter()
        .map(|s| format!("{} × {} at {} (available {})", s.requested, s.sku_code, s.location_code, s.available))
        .collect();
    format!("insufficient stock for {}", parts.join("; "))
}

/// Describes a line that could not be served: what is there, and up to three
/// other active pickup locations, nearest first, that could serve it.
fn shortage_measured(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    requested: i32,
    measure: fn(&Level) -> i32,
) -> Result<Shortage, InventoryError> {
    let level = repo::find_level(conn, sku, location)?;
    let here = catalog::locations_by_ids(conn, std::slice::from_ref(location))?;
    let sku_code = catalog::skus_by_ids(conn, std::slice::from_ref(sku))?
        .into_iter()
        .next()
        .map(|s| s.code.into_string())
        .unwrap_or_else(|| sku.to_string());
    let origin = here.first().map(|l| l.point);
    let levels = levels_of(conn, &[Item::single(sku)])?;
    let alternatives = pickup_alternatives(&levels.iter().collect::<Vec<_>>(), requested, Some(location), origin);
    Ok(Shortage {
        sku_code,
        location_code: here.first().map(|l| l.code.to_string()).unwrap_or_else(|| location.to_string()),
        requested,
        available: level.as_ref().map(measure).unwrap_or(0).max(0),
        alternatives,
    })
}

/// A shortage of what can be promised.
pub fn shortage(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    requested: i32,
) -> Result<Shortage, InventoryError> {
    shortage_measured(conn, sku, location, requested, Level::available)
}

/// A shortage of what is on the shelf and held for nobody.
fn shortage_unreserved(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    requested: i32,
) -> Result<Shortage, InventoryError> {
    shortage_measured(conn, sku, location, requested, |l| l.on_hand - l.reserved)
}

/// Looks SKUs up as [`catalog::resolve_skus`] does, for a movement of their
/// own stock: a kit has none, so it is refused.
pub fn resolve_stocked(conn: &mut AnyConnection, codes: &[String]) -> Result<Vec<Sku>, InventoryError> {
    let skus = catalog::resolve_skus(conn, codes)?;
    match skus.iter().find(|s| s.is_kit()) {
        Some(kit) => Err(InventoryError::KitNotStocked(kit.code.to_string())),
        None => Ok(skus),
    }
}

/// One SKU, by code or GTIN, for a movement or setting of its own stock.
pub fn stocked_sku(conn: &mut AnyConnection, code: &str) -> Result<Sku, InventoryError> {
    resolve_stocked(conn, &[code.to_owned()])?.pop().ok_or_else(|| InventoryError::Db(DbError::NotFound))
}

/// Resolves a location that may take stock movements.
pub fn active_location(conn: &mut AnyConnection, code: &str) -> Result<catalog::Location, InventoryError> {
    let location = catalog::get_location(conn, code)?;
    if !location.active {
        return Err(InventoryError::LocationInactive(code.to_owned()));
    }
    Ok(location)
}

/// When a new hold of `purpose` ends: as asked, else the purpose's default.
pub fn expiry(
    purpose: Purpose,
    requested: Option<Duration>,
    holds: &HoldsConfig,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, InventoryError> {
    let lifetime = match (requested, purpose) {
        (Some(asked), _) if asked > holds.max => {
            return Err(InventoryError::HoldTooLong { max_seconds: holds.max.as_secs() });
        }
        (Some(asked), _) => Some(asked),
        (None, Purpose::PosHold) => Some(holds.pos_hold),
        (None, Purpose::CartHold) => Some(holds.cart_hold),
        (None, Purpose::Order) => holds.order,
        (None, Purpose::MarketplaceOrder) => holds.marketplace_order,
    };
    Ok(lifetime.map(|d| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())))
}

/// Stock arriving from a supplier.
pub fn receive(
    conn: &mut AnyConnection,
    location: &LocationId,
    lines: &[(SkuId, Quantity)],
    reference: Option<&str>,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Vec<Level>, InventoryError> {
    let change = Change { reason: Some("receipt"), reference, actor, now };
    lines
        .iter()
        .map(|(sku, q)| add(conn, sku, location, Delta::on_hand(MovementKind::Receipt, q.get()), &change))
        .collect()
}

/// Adds units to a level, creating it if needed; nothing can refuse an arrival.
fn add(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    delta: Delta,
    change: &Change<'_>,
) -> Result<Level, InventoryError> {
    repo::ensure_level(conn, sku, location, change.now)?;
    repo::apply(conn, sku, location, Guard::NONE, &[delta], change)?
        .ok_or_else(|| InventoryError::Db(DbError::NotFound))
}

/// Takes `n` units off the shelf that nobody holds; refused when they are not there.
fn remove(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    delta: Delta,
    change: &Change<'_>,
) -> Result<Level, InventoryError> {
    let n = -delta.on_hand;
    match repo::apply(conn, sku, location, Guard::unreserved(n), &[delta], change)? {
        Some(level) => Ok(level),
        None => Err(InventoryError::Insufficient(vec![shortage_unreserved(conn, sku, location, n)?])),
    }
}

/// A correction by `delta` units (damage, theft, found stock) with its reason.
pub fn adjust(
    conn: &mut AnyConnection,
    location: &LocationId,
    sku: &SkuId,
    delta: i32,
    reason: &str,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Level, InventoryError> {
    let change = Change { reason: Some(reason), reference: None, actor, now };
    let change_by = Delta::on_hand(MovementKind::Adjustment, delta);
    if delta >= 0 {
        add(conn, sku, location, change_by, &change)
    } else {
        remove(conn, sku, location, change_by, &change)
    }
}

/// A physical count: `on_hand` becomes `counted` and the ledger records the
/// difference. Returns the level and the difference.
pub fn count(
    conn: &mut AnyConnection,
    location: &LocationId,
    sku: &SkuId,
    counted: i32,
    reason: Option<&str>,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<(Level, i32), InventoryError> {
    let change = Change { reason: Some(reason.unwrap_or("count")), reference: None, actor, now };
    repo::ensure_level(conn, sku, location, now)?;
    // Compare-and-set on the on_hand just read: a concurrent change makes the
    // update miss, and the count is re-based on the new value.
    loop {
        let before = repo::find_level(conn, sku, location)?.ok_or(InventoryError::Db(DbError::NotFound))?;
        let difference = counted - before.on_hand;
        if difference == 0 {
            return Ok((before, 0));
        }
        let deltas = [Delta::on_hand(MovementKind::Count, difference)];
        if let Some(level) = repo::apply(conn, sku, location, Guard::on_hand_is(before.on_hand), &deltas, &change)? {
            return Ok((level, difference));
        }
    }
}

/// Moves units between two locations in one transaction.
pub fn transfer(
    conn: &mut AnyConnection,
    from: &LocationId,
    to: &LocationId,
    lines: &[(SkuId, Quantity)],
    reference: Option<&str>,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Vec<(Level, Level)>, InventoryError> {
    if from == to {
        return Err(InventoryError::SameLocation);
    }
    let change = Change { reason: Some("transfer"), reference, actor, now };
    lines
        .iter()
        .map(|(sku, q)| {
            let out = remove(conn, sku, from, Delta::on_hand(MovementKind::TransferOut, -q.get()), &change)?;
            let arrived = add(conn, sku, to, Delta::on_hand(MovementKind::TransferIn, q.get()), &change)?;
            Ok((out, arrived))
        })
        .collect()
}

/// Units coming back from a customer onto the shelf (a kit's: its components).
pub fn restock_return(
    conn: &mut AnyConnection,
    location: &LocationId,
    draws: &[Draw],
    reference: &str,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<(), InventoryError> {
    let change = Change { reason: Some("return"), reference: Some(reference), actor, now };
    for draw in draws.iter().filter(|d| d.quantity > 0) {
        let delta = Delta::on_hand(MovementKind::Return, draw.quantity).of_kit(draw.kit.as_ref());
        add(conn, &draw.sku_id, location, delta, &change)?;
    }
    Ok(())
}

/// A sale of units taken from the shelf, with no hold before it (a counter
/// sale); a kit takes every component or nothing.
pub fn sell(
    conn: &mut AnyConnection,
    location: &LocationId,
    item: &Item,
    quantity: Quantity,
    reference: &str,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<(), InventoryError> {
    let change = Change { reason: Some("counter sale"), reference: Some(reference), actor, now };
    for draw in item.draws(quantity.get()) {
        let delta = Delta::on_hand(MovementKind::Sale, -draw.quantity).of_kit(draw.kit.as_ref());
        remove(conn, &draw.sku_id, location, delta, &change)?;
    }
    Ok(())
}

/// Sets safety stock (and the aisle the pick list shows).
pub fn set_settings(
    conn: &mut AnyConnection,
    location: &LocationId,
    sku: &SkuId,
    safety_stock: i32,
    aisle: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Level, InventoryError> {
    Ok(repo::set_settings(conn, sku, location, safety_stock, aisle, now)?)
}

pub fn level(conn: &mut AnyConnection, location: &LocationId, sku: &SkuId) -> Result<Level, InventoryError> {
    Ok(repo::find_level(conn, sku, location)?.unwrap_or_else(|| Level::empty(sku, location)))
}

/// Levels at one location with their SKU codes, by SKU id.
pub fn levels_at(
    conn: &mut AnyConnection,
    location: &LocationId,
    page: &PageRequest,
) -> Result<Page<(Level, String)>, InventoryError> {
    let levels = repo::levels_at(conn, location, page.after.as_deref(), page.limit + 1)?;
    let ids: Vec<SkuId> = levels.iter().map(|l| l.sku_id.clone()).collect();
    let codes = catalog::sku_codes(conn, &ids)?;
    let rows = levels
        .into_iter()
        .map(|l| {
            let code = codes.get(&l.sku_id).cloned().unwrap_or_else(|| l.sku_id.to_string());
            (l, code)
        })
        .collect();
    Ok(Page::from_rows(rows, page.limit, |(l, _)| l.sku_id.to_string()))
}

/// Ledger rows of one level, each with the code of the kit that moved it.
pub fn movements(
    conn: &mut AnyConnection,
    location: &LocationId,
    sku: &SkuId,
    page: &PageRequest,
) -> Result<Page<(Movement, Option<String>)>, InventoryError> {
    let after = page.after.as_deref().and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
    let rows = repo::movements(conn, sku, location, after, page.limit + 1)?;
    let mut kits: Vec<SkuId> = rows.iter().filter_map(|m| m.kit_sku_id.clone()).collect();
    kits.sort();
    kits.dedup();
    let codes = if kits.is_empty() { HashMap::new() } else { catalog::sku_codes(conn, &kits)? };
    let named = rows
        .into_iter()
        .map(|m| {
            let kit = m.kit_sku_id.as_ref().map(|k| codes.get(k).cloned().unwrap_or_else(|| k.to_string()));
            (m, kit)
        })
        .collect();
    Ok(Page::from_rows(named, page.limit, |(m, _)| m.id.to_string()))
}

/// Availability of SKUs (by code or GTIN), optionally with pickup options near a point.
pub fn availability(
    conn: &mut AnyConnection,
    codes: &[String],
    near: Option<GeoPoint>,
) -> Result<atp::Availability, InventoryError> {
    let skus = catalog::resolve_skus(conn, codes)?;
    let items: Vec<Item> = skus.iter().map(Item::of).collect();
    let levels = levels_of(conn, &items)?;
    Ok(atp::summarise(&skus, &levels, near))
}

/// Levels of these items at every active location, with what allocation and
/// availability need of the location.
pub fn levels_of(conn: &mut AnyConnection, items: &[Item]) -> Result<Vec<LevelAt>, InventoryError> {
    let locations = catalog::active_locations(conn)?;
    levels_among(conn, items, locations.iter())
}

/// Levels of these items at `locations`, the active locations the caller
/// has already read (one statement fewer than [`levels_of`]). A kit gets a
/// level per location that has all its components (`atp::kit_levels`).
pub fn levels_among<'l>(
    conn: &mut AnyConnection,
    items: &[Item],
    locations: impl IntoIterator<Item = &'l Location>,
) -> Result<Vec<LevelAt>, InventoryError> {
    let mut stocked: Vec<SkuId> = items.iter().flat_map(Item::stocked).cloned().collect();
    stocked.sort();
    stocked.dedup();
    let levels = located(repo::counts_of(conn, &stocked)?, locations);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items.iter().filter(|i| seen.insert(&i.sku_id)) {
        if item.is_kit() {
            out.extend(atp::kit_levels(item, &levels));
        } else {
            out.extend(levels.iter().filter(|l| l.sku_id == item.sku_id).cloned());
        }
    }
    Ok(out)
}

/// The levels at active `locations`, with what the answers need of each.
fn located<'l>(levels: Vec<repo::Counts>, locations: impl IntoIterator<Item = &'l Location>) -> Vec<LevelAt> {
    let locations: HashMap<&LocationId, &Location> = locations.into_iter().map(|l| (&l.id, l)).collect();
    levels
        .into_iter()
        .filter_map(|level| {
            let at = locations.get(&level.location_id)?;
            Some(LevelAt {
                location_code: at.code.to_string(),
                location_name: at.name.clone(),
                ships: at.capabilities.ships,
                pickup: at.capabilities.pickup,
                point: at.point,
                sku_id: level.sku_id,
                location_id: level.location_id,
                on_hand: level.on_hand,
                reserved: level.reserved,
                safety_stock: level.safety_stock,
            })
        })
        .collect()
}

/// The aisle each of these stocked SKUs is kept in at `location` (None: not recorded).
pub fn aisles(
    conn: &mut AnyConnection,
    location: &LocationId,
    skus: &[SkuId],
) -> Result<HashMap<SkuId, Option<String>>, InventoryError> {
    Ok(repo::levels_of(conn, skus)?
        .into_iter()
        .filter(|l| &l.location_id == location)
        .map(|l| (l.sku_id, l.aisle))
        .collect())
}

/// How many holds are active, by purpose.
pub fn active_holds_by_purpose(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, InventoryError> {
    Ok(repo::active_by_purpose(conn)?)
}

/// Why `item` has what it has at `location`: its level and holds, or for a
/// kit each component's level, the scarcest first.
pub fn explain(
    conn: &mut AnyConnection,
    item: &Item,
    location: &LocationId,
) -> Result<atp::Explanation, InventoryError> {
    if !item.is_kit() {
        let own = level(conn, location, &item.sku_id)?;
        let reservations = repo::active_on(conn, &item.sku_id, location)?;
        return Ok(atp::Explanation { level: own, reservations, components: Vec::new() });
    }
    let ids: Vec<SkuId> = item.components.iter().map(|c| c.sku_id.clone()).collect();
    let levels: Vec<Level> = repo::levels_of(conn, &ids)?.into_iter().filter(|l| &l.location_id == location).collect();
    let mut components: Vec<atp::ComponentExplained> = item
        .components
        .iter()
        .map(|c| {
            let found = levels.iter().find(|l| l.sku_id == c.sku_id).cloned();
            atp::ComponentExplained::new(c.clone(), found.unwrap_or_else(|| Level::empty(&c.sku_id, location)))
        })
        .collect();
    components.sort_by_key(|c| c.kits);
    // A kit holds nothing itself: its own figures are zero, with no query.
    Ok(atp::Explanation { level: Level::empty(&item.sku_id, location), reservations: Vec::new(), components })
}

/// A level that disagrees with its ledger or with its active reservations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMismatch {
    pub sku_code: String,
    pub location_code: String,
    pub on_hand: i64,
    pub ledger_on_hand: i64,
    pub reserved: i64,
    pub ledger_reserved: i64,
    pub held_by_reservations: i64,
}

/// Proves every level equals the sum of its ledger, and that `reserved`
/// equals what active reservations hold. Empty means all is well.
pub fn check_ledger(conn: &mut AnyConnection) -> Result<(usize, Vec<LedgerMismatch>), InventoryError> {
    let levels = repo::all_levels(conn)?;
    let ledger: HashMap<(SkuId, LocationId), (i64, i64)> =
        repo::ledger_sums(conn)?.into_iter().map(|(s, l, o, r)| ((s, l), (o, r))).collect();
    let held: HashMap<(SkuId, LocationId), i64> =
        repo::held_per_level(conn)?.into_iter().map(|(s, l, q)| ((s, l), q)).collect();
    // Named by their ids until the codes of the few that disagree are read.
    let mismatch =
        |(sku, location): &(SkuId, LocationId), on_hand, (ledger_on_hand, ledger_reserved), reserved, held| {
            LedgerMismatch {
                sku_code: sku.to_string(),
                location_code: location.to_string(),
                on_hand,
                ledger_on_hand,
                reserved,
                ledger_reserved,
                held_by_reservations: held,
            }
        };
    let mut found: Vec<((SkuId, LocationId), LedgerMismatch)> = Vec::new();
    let mut seen = HashSet::new();
    for level in &levels {
        let key = (level.sku_id.clone(), level.location_id.clone());
        let sums = ledger.get(&key).copied().unwrap_or((0, 0));
        let held_by_reservations = held.get(&key).copied().unwrap_or(0);
        let (on_hand, reserved) = (i64::from(level.on_hand), i64::from(level.reserved));
        if (on_hand, reserved) != sums || reserved != held_by_reservations {
            found.push((key.clone(), mismatch(&key, on_hand, sums, reserved, held_by_reservations)));
        }
        seen.insert(key);
    }
    for (key, sums) in &ledger {
        if !seen.contains(key) {
            found.push((key.clone(), mismatch(key, 0, *sums, 0, 0)));
        }
    }
    // Codes only for what disagrees: a whole catalogue's ids would exceed
    // the bind parameters a statement may carry.
    let sku_ids: Vec<SkuId> = found.iter().map(|((sku, _), _)| sku.clone()).collect();
    let sku_codes = catalog::sku_codes(conn, &sku_ids)?;
    let location_ids: Vec<LocationId> = found.iter().map(|((_, location), _)| location.clone()).collect();
    let location_codes: HashMap<LocationId, String> =
        catalog::locations_by_ids(conn, &location_ids)?.into_iter().map(|l| (l.id, l.code.into_string())).collect();
    let mismatches = found
        .into_iter()
        .map(|((sku, location), mut m)| {
            m.sku_code = sku_codes.get(&sku).cloned().unwrap_or(m.sku_code);
            m.location_code = location_codes.get(&location).cloned().unwrap_or(m.location_code);
            m
        })
        .collect();
    Ok((levels.len(), mismatches))
}
