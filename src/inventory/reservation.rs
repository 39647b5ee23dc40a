//! Reservations: holds of units at one location that are committed (a sale),
//! released, or expire by themselves. Status changes are guarded by the status
//! they expect, so a hold is released, expired or committed exactly once.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::model::{MovementKind, Purpose, Reservation, ReservationLine, ReservationRow, ReservationStatus, Shortage};
use super::repo::{self, Change, Delta, Guard};
use super::{InventoryError, shortage};
use crate::access::Principal;
use crate::db::schema::{locations, reservation_lines as rl, reservations as r, skus};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
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
///
/// Everything that does not touch a stock level comes first, so that a level
/// row, which a sale-day SKU makes the hottest row of the database, stays
/// locked (on PostgreSQL) only for its update, its ledger row and its event.
pub fn create(
    conn: &mut AnyConnection,
    new: NewReservation,
    actor: &Principal,
    now: DateTime<Utc>,
) -> Result<Reservation, InventoryError> {
    // Same SKU twice is one line; sorted by id so that concurrent
    // reservations lock rows in one order and cannot deadlock.
    let mut wanted: BTreeMap<SkuId, i32> = BTreeMap::new();
    for (sku, quantity) in &new.lines {
        *wanted.entry(sku.clone()).or_default() += quantity.get();
    }
    let location_code: String = locations::table.find(&new.location_id).select(locations::code).first(conn)?;
    let ids: Vec<SkuId> = wanted.keys().cloned().collect();
    let codes: HashMap<SkuId, String> =
        skus::table.filter(one_of(skus::id, &ids)).select((skus::id, skus::code)).load(conn)?.into_iter().collect();
    let id = ReservationId::generate();
    let at = timestamp(now);
    let reservation = Reservation {
        id: id.clone(),
        location_id: new.location_id,
        location_code,
        purpose: new.purpose,
        status: ReservationStatus::Active,
        customer_ref: new.customer_ref,
        reference: new.reference,
        channel: actor.channel.as_str().to_owned(),
        created_by: actor.key_id.to_string(),
        expires_at: new.expires_at.map(timestamp),
        created_at: at,
        updated_at: at,
        version: 1,
        lines: wanted
            .into_iter()
            .map(|(sku_id, quantity)| ReservationLine {
                sku_code: codes.get(&sku_id).cloned().unwrap_or_default(),
                sku_id,
                quantity,
            })
            .collect(),
    };
    diesel::insert_into(r::table)
        .values((
            r::id.eq(&id),
            r::location_id.eq(&reservation.location_id),
            r::purpose.eq(reservation.purpose.as_str()),
            r::status.eq(reservation.status.as_str()),
            r::customer_ref.eq(&reservation.customer_ref),
            r::reference.eq(&reservation.reference),
            r::channel.eq(&reservation.channel),
            r::created_by.eq(&reservation.created_by),
            r::expires_at.eq(reservation.expires_at),
            r::created_at.eq(at),
            r::updated_at.eq(at),
            r::version.eq(reservation.version),
        ))
        .execute(conn)?;
    for line in &reservation.lines {
        diesel::insert_into(rl::table)
            .values((rl::reservation_id.eq(&id), rl::sku_id.eq(&line.sku_id), rl::quantity.eq(line.quantity)))
            .execute(conn)?;
    }
    let change = Change { reason: Some(new.purpose.as_str()), reference: Some(id.as_str()), actor, now };
    let mut short: Vec<Shortage> = Vec::new();
    for line in &reservation.lines {
        let held = repo::apply(
            conn,
            &line.sku_id,
            &reservation.location_id,
            Guard::available(line.quantity),
            &[Delta::reserved(MovementKind::Reserve, line.quantity)],
            &change,
        )?;
        if held.is_none() {
            short.push(shortage(conn, &line.sku_id, &reservation.location_id, line.quantity)?);
        }
    }
    if !short.is_empty() {
        return Err(InventoryError::Insufficient(short));
    }
    Ok(reservation)
}

pub fn get(conn: &mut AnyConnection, id: &ReservationId) -> Result<Reservation, InventoryError> {
    let (row, location_code): (ReservationRow, String) = r::table
        .inner_join(locations::table)
        .filter(r::id.eq(id))
        .select((ReservationRow::as_select(), locations::code))
        .first(conn)
        .optional()?
        .ok_or_else(|| InventoryError::ReservationNotFound(id.to_string()))?;
    let lines = rl::table
        .inner_join(skus::table)
        .filter(rl::reservation_id.eq(id))
        .order(rl::sku_id)
        .select((rl::sku_id, skus::code, rl::quantity))
        .load::<(SkuId, String, i32)>(conn)?
        .into_iter()
        .map(|(sku_id, sku_code, quantity)| ReservationLine { sku_id, sku_code, quantity })
        .collect();
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

/// Which moves out of `active` a reservation may make: release and commit
/// only before its expiry, expiring only after.
#[derive(Clone, Copy)]
enum When {
    Unexpired,
    Due,
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
    let target = r::table
        .find(&seen.id)
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::version.eq(seen.version));
    let set = (r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1));
    let version: Option<i32> = match when {
        When::Unexpired => diesel::update(target.filter(r::expires_at.is_null().or(r::expires_at.gt(at))))
            .set(set)
            .returning(r::version)
            .get_result(conn)
            .optional()?,
        When::Due => diesel::update(target.filter(r::expires_at.le(at)))
            .set(set)
            .returning(r::version)
            .get_result(conn)
            .optional()?,
    };
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
    // A new version tells a concurrent release or commit that the lines it read are stale.
    let bumped = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .set((r::version.eq(r::version + 1), r::updated_at.eq(timestamp(now))))
        .execute(conn)?;
    if bumped == 0 {
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
        diesel::update(r::table.find(id))
            .set((r::status.eq(ReservationStatus::Released.as_str()), r::version.eq(r::version + 1)))
            .execute(conn)?;
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
        return Err(refusal(&get(conn, id)?, now));
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
    if transition(conn, &reservation, ReservationStatus::Expired, When::Due, now)?.is_none() {
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
