//! Reservations: holds of units at one location that are committed (a sale),
//! released, or expire by themselves. Status changes are guarded by the status
//! they expect, so a hold is released, expired or committed exactly once.

use std::collections::{BTreeMap, HashMap};

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

/// A hold ready to write: its row, what it holds of each stocked SKU, and
/// the ledger entries of each.
#[derive(Debug, Clone)]
pub struct Prepared {
    row: ReservationRow,
    /// Each stocked SKU once, by id, with the units held of it.
    lines: Vec<(SkuId, i32)>,
    /// What each kit (or the SKU alone) takes of the line at the same index.
    deltas: Vec<Vec<Delta>>,
    actor: Principal,
    purpose: Purpose,
    now: DateTime<Utc>,
}

impl Prepared {
    /// The one stock level this hold changes (location, SKU), when it is a
    /// hold of one SKU that is not taken through a kit: the holds that
    /// [`place_together`] can combine.
    pub fn single_level(&self) -> Option<(LocationId, SkuId)> {
        match (self.lines.as_slice(), self.deltas.as_slice()) {
            ([(sku, _)], [deltas]) if deltas.iter().all(|d| d.kit.is_none()) => {
                Some((self.row.location_id.clone(), sku.clone()))
            }
            _ => None,
        }
    }

    fn change(&self) -> Change<'_> {
        Change {
            reason: Some(self.purpose.as_str()),
            reference: Some(self.row.id.as_str()),
            actor: &self.actor,
            now: self.now,
        }
    }
}

/// Shapes a hold: the row to insert and what each line takes.
pub fn prepare(new: NewReservation, actor: &Principal, now: DateTime<Utc>) -> Prepared {
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
    let at = timestamp(now);
    let row = ReservationRow {
        id: ReservationId::generate(),
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
    let lines = wanted
        .iter()
        .map(|(sku, takers)| (sku.clone(), takers.iter().map(|d| d.quantity).fold(0, i32::saturating_add)))
        .collect();
    let deltas = wanted
        .into_values()
        .map(|takers| {
            takers.iter().map(|d| Delta::reserved(MovementKind::Reserve, d.quantity).of_kit(d.kit.as_ref())).collect()
        })
        .collect();
    Prepared { row, lines, deltas, actor: actor.clone(), purpose: new.purpose, now }
}

/// Places a hold on every line or on none: lines that cannot be held are all
/// reported, and the caller's transaction rolls back the others.
pub fn create(
    conn: &mut AnyConnection,
    new: NewReservation,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Placed, InventoryError> {
    place(conn, prepare(new, actor, now))
}

/// Writes a prepared hold: its row and lines with its levels' updates (one
/// statement on PostgreSQL), so that a level row, which a sale-day SKU makes
/// the hottest row of the database, stays locked only from that statement
/// to the commit.
pub fn place(conn: &mut AnyConnection, hold: Prepared) -> Result<Placed, InventoryError> {
    let change = hold.change();
    // Every line's guarded update, with its ledger rows and events; a line
    // that cannot be held fails the whole hold.
    let updates: Vec<(SkuId, Guard, Vec<Delta>)> = hold
        .lines
        .iter()
        .zip(&hold.deltas)
        .map(|((sku, q), deltas)| (sku.clone(), Guard::available(*q), deltas.clone()))
        .collect();
    let held = repo::apply_all(conn, &hold.row.location_id, &updates, &change, (&hold.row, &hold.lines))?;
    let mut short: Vec<Shortage> = Vec::new();
    for ((sku_id, quantity), held) in hold.lines.iter().zip(&held) {
        if held.is_none() {
            short.push(shortage(conn, sku_id, &hold.row.location_id, *quantity)?);
        }
    }
    if !short.is_empty() {
        return Err(InventoryError::Insufficient(short));
    }
    Ok(Placed { row: hold.row, lines: hold.lines })
}

/// Places holds of one level (each [`Prepared::single_level`], all the
/// same) together: their rows, their lines and one guarded update of the
/// level for their sum that writes each hold's own ledger row (one
/// statement on PostgreSQL). When the sum does not fit, nothing is placed and the
/// answer is `Insufficient` with no shortage measured (no caller sees it):
/// the caller then places them one by one, each measuring its own.
pub fn place_together(
    conn: &mut AnyConnection,
    (location, sku): &(LocationId, SkuId),
    holds: Vec<Prepared>,
) -> Result<Vec<Placed>, InventoryError> {
    let rows: Vec<repo::NewHold<'_>> = holds.iter().map(|h| (&h.row, h.lines.as_slice())).collect();
    let changes: Vec<Change<'_>> = holds.iter().map(Prepared::change).collect();
    let entries: Vec<repo::Entry<'_>> = holds
        .iter()
        .zip(&changes)
        .flat_map(|(h, change)| h.deltas.iter().flatten().map(move |d| (d, change)))
        .collect();
    let total = holds.iter().flat_map(|h| &h.lines).map(|(_, q)| *q).fold(0, i32::saturating_add);
    if repo::apply_entries(conn, sku, location, Guard::available(total), &entries, &rows)?.is_none() {
        return Err(InventoryError::Insufficient(Vec::new()));
    }
    Ok(holds.into_iter().map(|h| Placed { row: h.row, lines: h.lines }).collect())
}

/// A hold as `create` placed it: what it wrote, without reading back the
/// codes that most callers (orders, carts) do not need.
#[derive(Debug)]
pub struct Placed {
    row: ReservationRow,
    lines: Vec<(SkuId, i32)>,
}

impl Placed {
    pub fn id(&self) -> &ReservationId {
        &self.row.id
    }

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

/// A release of a reservation as its caller read it.
#[derive(Debug, Clone)]
pub struct Ending {
    pub seen: Reservation,
    pub actor: Principal,
    pub reason: &'static str,
    pub now: DateTime<Utc>,
}

impl Ending {
    /// The one stock level an active reservation of one line holds: the
    /// releases that [`release_together`] can combine.
    pub fn single_level(&self) -> Option<(LocationId, SkuId)> {
        match self.seen.lines.as_slice() {
            [line] if self.seen.status == ReservationStatus::Active && line.quantity > 0 => {
                Some((self.seen.location_id.clone(), line.sku_id.clone()))
            }
            _ => None,
        }
    }
}

/// Releases reservations of one level (each [`Ending::single_level`], all
/// the same) together: one status change for all of them, and one guarded
/// update of the level for the units they held that writes each release's
/// own ledger row. When any of them is no longer as its caller read it
/// (ended, expired, or changed), nothing is released and the answer is an
/// error: the caller then releases them one by one, as each would alone.
pub fn release_together(
    conn: &mut AnyConnection,
    (location, sku): &(LocationId, SkuId),
    endings: &[Ending],
) -> Result<Vec<Reservation>, InventoryError> {
    let at = endings.iter().map(|e| timestamp(e.now)).max().unwrap_or_default();
    let ids: Vec<&ReservationId> = endings.iter().map(|e| &e.seen.id).collect();
    let moved: HashMap<ReservationId, i32> =
        repo::end_reservations(conn, &ids, ReservationStatus::Released, at)?.into_iter().collect();
    if let Some(changed) = endings.iter().find(|e| moved.get(&e.seen.id) != Some(&(e.seen.version + 1))) {
        return Err(InventoryError::ReservationNotActive {
            id: changed.seen.id.to_string(),
            status: changed.seen.status,
        });
    }
    let deltas: Vec<Delta> =
        endings.iter().map(|e| Delta::reserved(MovementKind::Release, -e.seen.lines[0].quantity)).collect();
    let changes: Vec<Change<'_>> = endings
        .iter()
        .map(|e| Change { reason: Some(e.reason), reference: Some(e.seen.id.as_str()), actor: &e.actor, now: e.now })
        .collect();
    let entries: Vec<repo::Entry<'_>> = deltas.iter().zip(&changes).collect();
    let total = deltas.iter().map(|d| -d.reserved).fold(0, i32::saturating_add);
    if repo::apply_entries(conn, sku, location, Guard::reserved(total), &entries, &[])?.is_none() {
        // Only a count that found fewer units than were held gets here; the
        // releases one by one then say which.
        return Err(InventoryError::Insufficient(Vec::new()));
    }
    Ok(endings
        .iter()
        .map(|e| Reservation {
            status: ReservationStatus::Released,
            updated_at: at,
            version: e.seen.version + 1,
            ..e.seen.clone()
        })
        .collect())
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
