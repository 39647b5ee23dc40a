//! Reservations: holds of units at one location that are committed (a sale),
//! released, or expire by themselves. Status changes are guarded by the status
//! they expect, so a hold is released, expired or committed exactly once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::model::{
    Draw, Item, MovementKind, Purpose, Reservation, ReservationLine, ReservationRow, ReservationStatus, Shortage,
};
use super::repo::{self, Change, Delta, Guard, When};
use super::{InventoryError, shortage};
use crate::access::Principal;
use crate::catalog::{self, Sku};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{LocationId, OrderId, Quantity, ReservationId, SkuId};

/// A hold to place.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub location_id: LocationId,
    pub purpose: Purpose,
    /// What to hold; a kit holds each of its components.
    pub lines: Vec<(Item, Quantity)>,
    pub expires_at: Option<DateTime<Utc>>,
    pub customer_ref: Option<String>,
    pub reference: Option<String>,
    /// The order the hold allocates stock for, when an order places it.
    pub order_id: Option<OrderId>,
}

/// Places a hold on every line or on none: lines that cannot be held are all
/// reported, and the caller's transaction rolls back the others.
///
/// Everything that does not touch a stock level comes first, so that a level
/// row, which a sale-day SKU makes the hottest row of the database, stays
/// locked (on PostgreSQL) only for its update, its ledger row and its event.
pub fn create(
    conn: &mut AnyConnection,
    new: NewReservation,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Placed, InventoryError> {
    // Each stocked SKU is one line, whether asked for alone or in kits (all
    // or nothing, like any line); sorted by id so that concurrent
    // reservations lock rows in one order and cannot deadlock. What each
    // kit takes stays apart, for its own ledger row.
    let mut wanted: BTreeMap<SkuId, Vec<Draw>> = BTreeMap::new();
    for (item, quantity) in &new.lines {
        for draw in item.draws(quantity.get()) {
            let takers = wanted.entry(draw.sku_id.clone()).or_default();
            match takers.iter_mut().find(|d| d.kit == draw.kit) {
                Some(same) => same.quantity = same.quantity.saturating_add(draw.quantity),
                None => takers.push(draw),
            }
        }
    }
    let id = ReservationId::generate();
    let at = timestamp(now);
    let row = ReservationRow {
        id: id.clone(),
        location_id: new.location_id,
        purpose: new.purpose.as_str().to_owned(),
        status: ReservationStatus::Active.as_str().to_owned(),
        customer_ref: new.customer_ref,
        reference: new.reference,
        channel: actor.channel.as_str().to_owned(),
        created_by: actor.key_id.to_string(),
        expires_at: new.expires_at.map(timestamp),
        created_at: at,
        updated_at: at,
        version: 1,
        order_id: new.order_id,
        marketplace_id: actor.marketplace_id.clone(),
    };
    // A sum past i32 saturates, and no level can hold that many.
    let lines: Vec<(SkuId, i32)> = wanted
        .iter()
        .map(|(sku, takers)| (sku.clone(), takers.iter().map(|d| d.quantity).fold(0, i32::saturating_add)))
        .collect();
    repo::insert_reservation(conn, &row, &lines)?;
    let change = Change { reason: Some(new.purpose.as_str()), reference: Some(id.as_str()), actor, now };
    // Every line's guarded update, then their ledger rows and events in one
    // statement each; a line that cannot be held fails the whole hold.
    let updates: Vec<(SkuId, Guard, Vec<Delta>)> = lines
        .iter()
        .zip(wanted.values())
        .map(|((sku, q), takers)| {
            let deltas = takers
                .iter()
                .map(|d| Delta::reserved(MovementKind::Reserve, d.quantity).of_kit(d.kit.as_ref()))
                .collect();
            (sku.clone(), Guard::available(*q), deltas)
        })
        .collect();
    let held = repo::apply_all(conn, &row.location_id, &updates, &change)?;
    let mut short: Vec<Shortage> = Vec::new();
    for ((sku_id, quantity), held) in lines.iter().zip(&held) {
        if held.is_none() {
            short.push(shortage(conn, sku_id, &row.location_id, *quantity)?);
        }
    }
    if !short.is_empty() {
        return Err(InventoryError::Insufficient(short));
    }
    Ok(Placed { id, row, lines })
}

/// A hold as `create` placed it: what it wrote, without reading back the
/// codes that most callers (orders, carts) do not need.
#[derive(Debug)]
pub struct Placed {
    pub id: ReservationId,
    row: ReservationRow,
    lines: Vec<(SkuId, i32)>,
}

impl Placed {
    /// The whole reservation, named with the location code and the SKUs
    /// the caller already resolved (a kit's components are named in it).
    pub fn describe(self, location_code: &str, skus: &[Sku]) -> Result<Reservation, InventoryError> {
        let code_of = |id: &SkuId| {
            let alone = skus.iter().find(|s| &s.id == id).map(|s| s.code.to_string());
            let in_kit =
                || skus.iter().flat_map(|s| &s.components).find(|c| &c.sku_id == id).map(|c| c.sku_code.clone());
            alone.or_else(in_kit).unwrap_or_else(|| id.to_string())
        };
        let lines = self
            .lines
            .into_iter()
            .map(|(sku_id, quantity)| ReservationLine { sku_code: code_of(&sku_id), sku_id, quantity })
            .collect();
        assemble(self.row, location_code.to_owned(), lines)
    }
}

pub fn get(conn: &mut AnyConnection, id: &ReservationId) -> Result<Reservation, InventoryError> {
    let row = repo::find_reservation(conn, id)?.ok_or_else(|| InventoryError::ReservationNotFound(id.to_string()))?;
    let held = repo::reservation_lines(conn, id)?;
    let ids: Vec<SkuId> = held.iter().map(|(sku, _)| sku.clone()).collect();
    let codes = catalog::sku_codes(conn, &ids)?;
    let lines = held
        .into_iter()
        .map(|(sku_id, quantity)| ReservationLine {
            sku_code: codes.get(&sku_id).cloned().unwrap_or_else(|| sku_id.to_string()),
            sku_id,
            quantity,
        })
        .collect();
    let code = location_code(conn, &row.location_id)?;
    assemble(row, code, lines)
}

fn location_code(conn: &mut AnyConnection, id: &LocationId) -> Result<String, InventoryError> {
    Ok(catalog::locations_by_ids(conn, std::slice::from_ref(id))?
        .into_iter()
        .next()
        .map(|l| l.code.into_string())
        .unwrap_or_else(|| id.to_string()))
}

/// A reservation from its stored row, its location's code and its lines.
fn assemble(
    row: ReservationRow,
    location_code: String,
    lines: Vec<ReservationLine>,
) -> Result<Reservation, InventoryError> {
    let corrupt = |e: String| InventoryError::Db(DbError::Corrupt(e));
    Ok(Reservation {
        purpose: Purpose::parse(&row.purpose).map_err(corrupt)?,
        status: ReservationStatus::parse(&row.status).map_err(corrupt)?,
        id: row.id,
        location_id: row.location_id,
        location_code,
        customer_ref: row.customer_ref,
        reference: row.reference,
        channel: row.channel,
        created_by: row.created_by,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        order_id: row.order_id,
        marketplace_id: row.marketplace_id,
        lines,
    })
}

/// Why an active reservation could not change: what it is now.
fn refusal(current: &Reservation, now: DateTime<Utc>) -> InventoryError {
    match current.expires_at {
        Some(at) if current.status == ReservationStatus::Active && at <= timestamp(now) => {
            InventoryError::ReservationExpired { id: current.id.to_string(), at }
        }
        _ => InventoryError::ReservationNotActive { id: current.id.to_string(), status: current.status },
    }
}

/// Moves `seen` to `to` if it is still active, in time and unchanged since it
/// was read (release_part changes lines and bumps the version); returns the
/// reservation as it now is, or `None` with nothing written.
fn transition(
    conn: &mut AnyConnection,
    seen: &Reservation,
    to: ReservationStatus,
    when: When,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>, DbError> {
    let at = timestamp(now);
    let version = repo::end_reservation(conn, &seen.id, seen.version, to, when, at)?;
    Ok(version.map(|version| Reservation { status: to, updated_at: at, version, ..seen.clone() }))
}

/// Gives the held units back to the shelf.
pub fn release(
    conn: &mut AnyConnection,
    reservation: &Reservation,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    end(conn, reservation, ReservationStatus::Released, actor, reason, now)
}

/// Turns the held units into a sale: on hand and reserved both go down. A
/// reservation past its expiry can never be committed.
pub fn commit(
    conn: &mut AnyConnection,
    reservation: &Reservation,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    end(conn, reservation, ReservationStatus::Committed, actor, reason, now)
}

fn end(
    conn: &mut AnyConnection,
    reservation: &Reservation,
    to: ReservationStatus,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    let mut seen = reservation.clone();
    loop {
        if let Some(ended) = transition(conn, &seen, to, When::Unexpired, now)? {
            unhold(conn, &seen, to, actor, reason, now)?;
            return Ok(ended);
        }
        let current = get(conn, &seen.id)?;
        if current.status != ReservationStatus::Active || current.version == seen.version {
            return Err(refusal(&current, now));
        }
        // Changed meanwhile but still active: end it as it is now.
        seen = current;
    }
}

/// Moves every held line off `reserved`: back to the shelf, or out as a sale.
fn unhold(
    conn: &mut AnyConnection,
    reservation: &Reservation,
    to: ReservationStatus,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), InventoryError> {
    let change = Change { reason: Some(reason), reference: Some(reservation.id.as_str()), actor, now };
    for line in reservation.lines.iter().filter(|l| l.quantity > 0) {
        let q = line.quantity;
        let (guard, deltas) = match to {
            ReservationStatus::Committed => (
                Guard::committable(q),
                vec![Delta::reserved(MovementKind::Commit, -q), Delta::on_hand(MovementKind::Sale, -q)],
            ),
            _ => (Guard::reserved(q), vec![Delta::reserved(MovementKind::Release, -q)]),
        };
        if repo::apply(conn, &line.sku_id, &reservation.location_id, guard, &deltas, &change)?.is_none() {
            // Only a count that found fewer units than were held gets here.
            return Err(InventoryError::Insufficient(vec![shortage(conn, &line.sku_id, &reservation.location_id, q)?]));
        }
    }
    Ok(())
}

/// Releases `quantity` units of one line (an order line cancelled or
/// short-picked); a kit's line releases each component it holds.
pub fn release_part(
    conn: &mut AnyConnection,
    id: &ReservationId,
    item: &Item,
    quantity: Quantity,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    let reservation = get(conn, id)?;
    let change = Change { reason: Some(reason), reference: Some(id.as_str()), actor, now };
    for draw in item.draws(quantity.get()) {
        let q = draw.quantity;
        if !repo::take_from_line(conn, id, &draw.sku_id, q, timestamp(now))? {
            return Err(match reservation.status {
                ReservationStatus::Active => {
                    InventoryError::NotHeld { reservation: id.to_string(), sku: draw.sku_id.to_string(), quantity: q }
                }
                status => InventoryError::ReservationNotActive { id: id.to_string(), status },
            });
        }
        let delta = Delta::reserved(MovementKind::Release, -q).of_kit(draw.kit.as_ref());
        repo::apply(conn, &draw.sku_id, &reservation.location_id, Guard::reserved(q), &[delta], &change)?;
    }
    repo::release_if_empty(conn, id, timestamp(now))?;
    get(conn, id)
}

/// Moves the expiry of an active, unexpired reservation out to `expires_at`;
/// one that already lasts longer (or has no expiry) is left as it is.
pub fn extend(
    conn: &mut AnyConnection,
    id: &ReservationId,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    repo::extend_reservation(conn, id, timestamp(expires_at), timestamp(now))?;
    let current = get(conn, id)?;
    match current.expires_at {
        _ if current.status != ReservationStatus::Active => Err(refusal(&current, now)),
        Some(at) if at <= timestamp(now) => Err(refusal(&current, now)),
        _ => Ok(current),
    }
}

/// Active reservations whose time is up, oldest first.
pub fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<ReservationId>, DbError> {
    repo::due_reservations(conn, timestamp(now), limit)
}

/// Expires one due reservation, giving its units back; false if it was no
/// longer active (committed or released meanwhile).
pub fn expire(
    conn: &mut AnyConnection,
    id: &ReservationId,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<bool, InventoryError> {
    let reservation = get(conn, id)?;
    if transition(conn, &reservation, ReservationStatus::Expired, When::Due, now)?.is_none() {
        return Ok(false);
    }
    unhold(conn, &reservation, ReservationStatus::Expired, actor, "expired", now)?;
    Ok(true)
}
