//! Reservations: holds of units at one location that are committed (a sale),
//! released, or expire by themselves. Status changes are guarded by the status
//! they expect, so a hold is released, expired or committed exactly once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::model::{MovementKind, Purpose, Reservation, ReservationLine, ReservationRow, ReservationStatus, Shortage};
use super::repo::{self, Change, Delta, Guard};
use super::{InventoryError, shortage};
use crate::access::Principal;
use crate::db::schema::{reservation_lines as rl, reservations as r};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{LocationId, Quantity, ReservationId, SkuId};

/// A hold to place.
#[derive(Debug, Clone)]
pub struct NewReservation {
    pub location_id: LocationId,
    pub purpose: Purpose,
    pub lines: Vec<(SkuId, Quantity)>,
    pub expires_at: Option<DateTime<Utc>>,
    pub customer_ref: Option<String>,
    pub reference: Option<String>,
}

/// Places a hold on every line or on none: lines that cannot be held are all
/// reported, and the caller's transaction rolls back the others.
pub fn create(
    conn: &mut AnyConnection,
    new: NewReservation,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    // Same SKU twice is one line; sorted by id so that concurrent
    // reservations lock rows in one order and cannot deadlock.
    let mut lines: BTreeMap<SkuId, i32> = BTreeMap::new();
    for (sku, quantity) in &new.lines {
        *lines.entry(sku.clone()).or_default() += quantity.get();
    }
    let id = ReservationId::generate();
    let at = timestamp(now);
    diesel::insert_into(r::table)
        .values((
            r::id.eq(&id),
            r::location_id.eq(&new.location_id),
            r::purpose.eq(new.purpose.as_str()),
            r::status.eq(ReservationStatus::Active.as_str()),
            r::customer_ref.eq(&new.customer_ref),
            r::reference.eq(&new.reference),
            r::channel.eq(actor.channel.as_str()),
            r::created_by.eq(actor.key_id.as_str()),
            r::expires_at.eq(new.expires_at.map(timestamp)),
            r::created_at.eq(at),
            r::updated_at.eq(at),
            r::version.eq(1),
        ))
        .execute(conn)?;
    for (sku, q) in &lines {
        diesel::insert_into(rl::table)
            .values((rl::reservation_id.eq(&id), rl::sku_id.eq(sku), rl::quantity.eq(*q)))
            .execute(conn)?;
    }
    let change = Change { reason: Some(new.purpose.as_str()), reference: Some(id.as_str()), actor, now };
    let mut short: Vec<Shortage> = Vec::new();
    for (sku, &quantity) in &lines {
        let held = repo::apply(
            conn,
            sku,
            &new.location_id,
            Guard::available(quantity),
            &[Delta::reserved(MovementKind::Reserve, quantity)],
            &change,
        )?;
        if held.is_none() {
            short.push(shortage(conn, sku, &new.location_id, quantity)?);
        }
    }
    if !short.is_empty() {
        return Err(InventoryError::Insufficient(short));
    }
    get(conn, &id)
}

pub fn get(conn: &mut AnyConnection, id: &ReservationId) -> Result<Reservation, InventoryError> {
    let row: ReservationRow = r::table
        .find(id)
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| InventoryError::ReservationNotFound(id.to_string()))?;
    let lines = rl::table
        .filter(rl::reservation_id.eq(id))
        .order(rl::sku_id)
        .select((rl::sku_id, rl::quantity))
        .load::<(SkuId, i32)>(conn)?
        .into_iter()
        .map(|(sku_id, quantity)| ReservationLine { sku_id, quantity })
        .collect();
    let corrupt = |e: String| InventoryError::Db(DbError::Corrupt(e));
    Ok(Reservation {
        purpose: Purpose::parse(&row.purpose).map_err(corrupt)?,
        status: ReservationStatus::parse(&row.status).map_err(corrupt)?,
        id: row.id,
        location_id: row.location_id,
        customer_ref: row.customer_ref,
        reference: row.reference,
        channel: row.channel,
        created_by: row.created_by,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        lines,
    })
}

/// Explains why a status change did not apply.
fn refuse(conn: &mut AnyConnection, id: &ReservationId, now: DateTime<Utc>) -> InventoryError {
    match get(conn, id) {
        Err(error) => error,
        Ok(current) if current.status != ReservationStatus::Active => {
            InventoryError::ReservationNotActive { id: id.to_string(), status: current.status }
        }
        Ok(current) => match current.expires_at {
            Some(at) if at <= timestamp(now) => InventoryError::ReservationExpired { id: id.to_string(), at },
            _ => InventoryError::ReservationNotActive { id: id.to_string(), status: current.status },
        },
    }
}

/// Moves an active, unexpired reservation to `to`; false when it was not.
fn transition(
    conn: &mut AnyConnection,
    id: &ReservationId,
    to: ReservationStatus,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let at = timestamp(now);
    let changed = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.is_null().or(r::expires_at.gt(at)))
        .set((r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1)))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Gives the held units back to the shelf.
pub fn release(
    conn: &mut AnyConnection,
    id: &ReservationId,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    end(conn, id, ReservationStatus::Released, actor, reason, now)
}

/// Turns the held units into a sale: on hand and reserved both go down. A
/// reservation past its expiry can never be committed.
pub fn commit(
    conn: &mut AnyConnection,
    id: &ReservationId,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    end(conn, id, ReservationStatus::Committed, actor, reason, now)
}

fn end(
    conn: &mut AnyConnection,
    id: &ReservationId,
    to: ReservationStatus,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    let reservation = get(conn, id)?;
    if !transition(conn, id, to, now)? {
        return Err(refuse(conn, id, now));
    }
    unhold(conn, &reservation, to, actor, reason, now)?;
    get(conn, id)
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

/// Releases `quantity` units of one line (an order line cancelled or short-picked).
pub fn release_part(
    conn: &mut AnyConnection,
    id: &ReservationId,
    sku: &SkuId,
    quantity: Quantity,
    actor: &Principal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    let q = quantity.get();
    let reservation = get(conn, id)?;
    if reservation.status != ReservationStatus::Active {
        return Err(InventoryError::ReservationNotActive { id: id.to_string(), status: reservation.status });
    }
    let changed = diesel::update(rl::table.find((id, sku)))
        .filter(rl::quantity.ge(q))
        .set(rl::quantity.eq(rl::quantity - q))
        .execute(conn)?;
    if changed == 0 {
        return Err(InventoryError::NotHeld { reservation: id.to_string(), sku: sku.to_string(), quantity: q });
    }
    let change = Change { reason: Some(reason), reference: Some(id.as_str()), actor, now };
    repo::apply(
        conn,
        sku,
        &reservation.location_id,
        Guard::reserved(q),
        &[Delta::reserved(MovementKind::Release, -q)],
        &change,
    )?;
    let remaining: i64 = rl::table
        .filter(rl::reservation_id.eq(id))
        .select(diesel::dsl::sum(rl::quantity))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0);
    if remaining == 0 {
        transition(conn, id, ReservationStatus::Released, now)?;
    }
    get(conn, id)
}

/// Sets a new expiry on an active, unexpired reservation.
pub fn extend(
    conn: &mut AnyConnection,
    id: &ReservationId,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    let at = timestamp(now);
    let changed = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.is_null().or(r::expires_at.gt(at)))
        .set((r::expires_at.eq(timestamp(expires_at)), r::updated_at.eq(at), r::version.eq(r::version + 1)))
        .execute(conn)?;
    if changed == 0 {
        return Err(refuse(conn, id, now));
    }
    get(conn, id)
}

/// Active reservations whose time is up, oldest first.
pub fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<ReservationId>, DbError> {
    Ok(r::table
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.le(timestamp(now)))
        .order(r::expires_at)
        .limit(limit)
        .select(r::id)
        .load(conn)?)
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
    let expired = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.le(timestamp(now)))
        .set((
            r::status.eq(ReservationStatus::Expired.as_str()),
            r::updated_at.eq(timestamp(now)),
            r::version.eq(r::version + 1),
        ))
        .execute(conn)?;
    if expired == 0 {
        return Ok(false);
    }
    unhold(conn, &reservation, ReservationStatus::Expired, actor, "expired", now)?;
    Ok(true)
}

/// Active holds on one level, for explaining it.
pub fn active_on(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
) -> Result<Vec<(ReservationRow, i32)>, DbError> {
    Ok(r::table
        .inner_join(rl::table)
        .filter(rl::sku_id.eq(sku))
        .filter(r::location_id.eq(location))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(rl::quantity.gt(0))
        .order(r::created_at)
        .select((ReservationRow::as_select(), rl::quantity))
        .load(conn)?)
}

/// Units held by active reservations, per level: what `reserved` must equal.
pub fn held_per_level(conn: &mut AnyConnection) -> Result<Vec<(SkuId, LocationId, i64)>, DbError> {
    Ok(r::table
        .inner_join(rl::table)
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .group_by((rl::sku_id, r::location_id))
        .select((rl::sku_id, r::location_id, diesel::dsl::sum(rl::quantity)))
        .load::<(SkuId, LocationId, Option<i64>)>(conn)?
        .into_iter()
        .map(|(s, l, q)| (s, l, q.unwrap_or(0)))
        .collect())
}
