//! Guarded level updates and the ledger. Nothing here reads a level and then
//! writes it back: each change is one conditional UPDATE whose WHERE clause is
//! the invariant, so concurrent writers can never push a level past it.
//! PostgreSQL writes a change in one statement (`in_one.rs`); the queries of
//! the reservation tables are in `reservations.rs`.

mod in_one;
mod reservations;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use self::in_one::{LevelUpdate, apply_in_one};
use self::reservations::insert_reservations;
pub use self::reservations::*;
use super::model::{Level, Movement, MovementKind, ReservationRow};
use crate::access::Principal;
use crate::db::kept::Kept;
use crate::db::schema::{stock_levels as sl, stock_movements as sm};
use crate::db::{AnyConnection, DbError, one_of, reference, timestamp};
use crate::events::{self, NewEvent};
use crate::per_backend;
use crate::types::{LocationId, SkuId};

pub const STOCK_CHANGED: &str = "stock.changed";

/// The columns of [`Level`], for RETURNING (MultiBackend cannot return a `Selectable`).
const LEVEL: (sl::sku_id, sl::location_id, sl::on_hand, sl::reserved, sl::safety_stock, sl::aisle, sl::updated_at) =
    (sl::sku_id, sl::location_id, sl::on_hand, sl::reserved, sl::safety_stock, sl::aisle, sl::updated_at);

/// Conditions a level must meet for an update to apply; each is a lower
/// bound, plus an upper bound on `on_hand` for compare-and-set counts.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    available: i32,
    unreserved: i32,
    reserved: i32,
    on_hand: i32,
    on_hand_max: i32,
}

impl Guard {
    pub const NONE: Guard = Guard {
        available: i32::MIN,
        unreserved: i32::MIN,
        reserved: i32::MIN,
        on_hand: i32::MIN,
        on_hand_max: i32::MAX,
    };

    /// `on_hand - reserved - safety_stock >= n`: n units can be promised.
    pub fn available(n: i32) -> Self {
        Self { available: n, ..Self::NONE }
    }

    /// `on_hand - reserved >= n`: n units are on the shelf and held for nobody.
    pub fn unreserved(n: i32) -> Self {
        Self { unreserved: n, ..Self::NONE }
    }

    /// `reserved >= n`.
    pub fn reserved(n: i32) -> Self {
        Self { reserved: n, ..Self::NONE }
    }

    /// n held units can leave the building.
    pub fn committable(n: i32) -> Self {
        Self { reserved: n, on_hand: n, ..Self::NONE }
    }

    /// `on_hand` is exactly what was read (compare-and-set).
    pub fn on_hand_is(n: i32) -> Self {
        Self { on_hand: n, on_hand_max: n, ..Self::NONE }
    }
}

/// One ledger row's worth of change.
#[derive(Debug, Clone)]
pub struct Delta {
    pub kind: MovementKind,
    pub on_hand: i32,
    pub reserved: i32,
    /// The kit whose line moves this component.
    pub kit: Option<SkuId>,
}

impl Delta {
    pub fn on_hand(kind: MovementKind, n: i32) -> Self {
        Self { kind, on_hand: n, reserved: 0, kit: None }
    }

    pub fn reserved(kind: MovementKind, n: i32) -> Self {
        Self { kind, on_hand: 0, reserved: n, kit: None }
    }

    pub fn of_kit(self, kit: Option<&SkuId>) -> Self {
        Self { kit: kit.cloned(), ..self }
    }
}

/// Who changes stock, why and when: copied onto every ledger row.
pub struct Change<'a> {
    pub reason: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub actor: &'a Principal,
    pub now: DateTime<Utc>,
}

/// One ledger row of a level change: what moves, and who moves it, why and when.
pub type Entry<'a> = (&'a Delta, &'a Change<'a>);

/// A new reservation and its lines (SKU, units), stored by the level change
/// that takes its units.
pub type NewHold<'a> = (&'a ReservationRow, &'a [(SkuId, i32)]);

/// Applies `deltas` to the level if `guard` holds, writing one ledger row per
/// delta and an outbox event, all in the caller's transaction. `None` means
/// the guard did not hold (or there is no level yet) and nothing was written.
pub fn apply(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    guard: Guard,
    deltas: &[Delta],
    change: &Change<'_>,
) -> Result<Option<Level>, DbError> {
    let entries: Vec<Entry<'_>> = deltas.iter().map(|d| (d, change)).collect();
    apply_entries(conn, sku, location, guard, &entries, &[])
}

/// [`apply`] of entries that may each have their own change: the holds of
/// several callers combined into one guarded update of their sum, stored
/// with it (`holds`; when the guard does not hold they are stored all the
/// same, and the caller's rollback takes them back).
pub fn apply_entries(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    guard: Guard,
    entries: &[Entry<'_>],
    holds: &[NewHold<'_>],
) -> Result<Option<Level>, DbError> {
    if let AnyConnection::Postgres(pg) = conn {
        return Ok(apply_in_one(pg, location, &[(sku, guard, entries)], holds)?.pop().flatten());
    }
    insert_reservations(conn, holds)?;
    let level = update_level(conn, sku, location, guard, entries)?;
    if let Some(level) = &level {
        record(conn, &[(level, entries)])?;
    }
    Ok(level)
}

/// [`apply`] for several levels of one location, with the hold that takes
/// their units stored alongside. Where a guard did not hold the answer is
/// `None`, and the caller refuses the whole change and rolls it back (the
/// hold with it). On PostgreSQL it all is one statement (see
/// [`apply_in_one`]); on SQLite, where statements are calls into the
/// process and a CTE cannot write, the hold comes first, then every guarded
/// update, then all their ledger rows in one statement and all their events
/// in another.
pub fn apply_all(
    conn: &mut AnyConnection,
    location: &LocationId,
    updates: &[(SkuId, Guard, Vec<Delta>)],
    change: &Change<'_>,
    hold: NewHold<'_>,
) -> Result<Vec<Option<Level>>, DbError> {
    let entries: Vec<Vec<Entry<'_>>> =
        updates.iter().map(|(_, _, deltas)| deltas.iter().map(|d| (d, change)).collect()).collect();
    if let AnyConnection::Postgres(pg) = conn {
        let updates: Vec<LevelUpdate<'_>> =
            updates.iter().zip(&entries).map(|((sku, guard, _), entries)| (sku, *guard, entries.as_slice())).collect();
        return apply_in_one(pg, location, &updates, &[hold]);
    }
    insert_reservations(conn, &[hold])?;
    let mut levels = Vec::with_capacity(updates.len());
    for ((sku, guard, _), entries) in updates.iter().zip(&entries) {
        levels.push(update_level(conn, sku, location, *guard, entries)?);
    }
    if levels.iter().all(Option::is_some) {
        let changed: Vec<(&Level, &[Entry<'_>])> =
            levels.iter().flatten().zip(&entries).map(|(level, entries)| (level, entries.as_slice())).collect();
        record(conn, &changed)?;
    }
    Ok(levels)
}

/// The sums of the entries' deltas (on hand, reserved) and the latest of
/// their times, which the level takes as its `updated_at`.
fn totals(entries: &[Entry<'_>]) -> (i32, i32, NaiveDateTime) {
    let on_hand = entries.iter().map(|(d, _)| d.on_hand).fold(0, i32::saturating_add);
    let reserved = entries.iter().map(|(d, _)| d.reserved).fold(0, i32::saturating_add);
    let at = entries.iter().map(|(_, c)| timestamp(c.now)).max().unwrap_or_default();
    (on_hand, reserved, at)
}

/// The guarded update of one level: the level after it, or `None`.
fn update_level(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    guard: Guard,
    entries: &[Entry<'_>],
) -> Result<Option<Level>, DbError> {
    let (on_hand_delta, reserved_delta, at) = totals(entries);
    Ok(Kept(
        diesel::update(sl::table.find((sku, location)))
            .filter((sl::on_hand - sl::reserved - sl::safety_stock).ge(guard.available))
            .filter((sl::on_hand - sl::reserved).ge(guard.unreserved))
            .filter(sl::reserved.ge(guard.reserved))
            .filter(sl::on_hand.ge(guard.on_hand))
            .filter(sl::on_hand.le(guard.on_hand_max))
            .set((
                sl::on_hand.eq(sl::on_hand + on_hand_delta),
                sl::reserved.eq(sl::reserved + reserved_delta),
                sl::updated_at.eq(at),
            ))
            .returning(LEVEL),
    )
    .get_result(conn)
    .optional()?)
}

/// The ledger rows (one per entry) and the outbox events (one per level) of
/// levels just changed: one statement each, whatever the number of levels.
fn record(conn: &mut AnyConnection, changed: &[(&Level, &[Entry<'_>])]) -> Result<(), DbError> {
    let rows: Vec<_> = changed
        .iter()
        .flat_map(|(level, entries)| {
            entries.iter().map(move |(d, change)| {
                (
                    sm::sku_id.eq(&level.sku_id),
                    sm::location_id.eq(&level.location_id),
                    sm::kind.eq(d.kind.as_str()),
                    sm::on_hand_delta.eq(d.on_hand),
                    sm::reserved_delta.eq(d.reserved),
                    sm::reason.eq(change.reason),
                    sm::reference.eq(change.reference),
                    sm::actor.eq(change.actor.key_id.as_str()),
                    sm::channel.eq(change.actor.channel.as_str()),
                    sm::created_at.eq(timestamp(change.now)),
                    sm::kit_sku_id.eq(d.kit.as_ref()),
                )
            })
        })
        .collect();
    crate::insert_rows!(conn, sm::table, &rows)?;
    let latest = changed.iter().flat_map(|(_, entries)| entries.iter().map(|(_, c)| c.now)).max();
    let Some(now) = latest else { return Ok(()) };
    events::append_all(conn, changed.iter().map(|(level, _)| stock_event(level)).collect(), now)
}

/// The outbox event of a level whose available quantity may have changed.
fn stock_event(level: &Level) -> NewEvent<'_> {
    NewEvent {
        topic: STOCK_CHANGED,
        sku_id: Some(&level.sku_id),
        location_id: Some(&level.location_id),
        order_id: None,
        payload: json!({
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "safety_stock": level.safety_stock,
            "available": level.available(),
        }),
    }
}

/// Writes the outbox event for a level whose available quantity may have changed.
pub fn announce(conn: &mut AnyConnection, level: &Level, now: DateTime<Utc>) -> Result<(), DbError> {
    events::append(conn, stock_event(level), now)
}

/// Makes sure a level row exists (all zero) so that stock can arrive there.
pub fn ensure_level(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let row = (
        sl::sku_id.eq(sku),
        sl::location_id.eq(location),
        sl::on_hand.eq(0),
        sl::reserved.eq(0),
        sl::safety_stock.eq(0),
        sl::updated_at.eq(timestamp(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(sl::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(())
}

pub fn find_level(conn: &mut AnyConnection, sku: &SkuId, location: &LocationId) -> Result<Option<Level>, DbError> {
    Ok(sl::table.find((sku, location)).select(Level::as_select()).get_result(conn).optional()?)
}

/// Sets safety stock and aisle; not a ledger change, but it moves what is available.
pub fn set_settings(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    safety_stock: i32,
    aisle: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Level, DbError> {
    ensure_level(conn, sku, location, now)?;
    let level = diesel::update(sl::table.find((sku, location)))
        .set((sl::safety_stock.eq(safety_stock), sl::aisle.eq(aisle), sl::updated_at.eq(timestamp(now))))
        .returning(LEVEL)
        .get_result(conn)?;
    announce(conn, &level, now)?;
    Ok(level)
}

/// The stock columns of the levels of these SKUs: one indexed query
/// (primary key prefix on `sku_id`).
pub fn levels_of(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<Vec<Level>, DbError> {
    Ok(sl::table.filter(one_of(sl::sku_id, skus)).select(Level::as_select()).load(conn)?)
}

/// A level's counts: what availability and allocation read of it, many
/// times a request. Without `updated_at`, which SQLite stores as text that
/// every row would parse (5 % of the server's CPU in the availability bench).
#[derive(Queryable, Selectable)]
#[diesel(table_name = sl)]
pub struct Counts {
    pub sku_id: SkuId,
    pub location_id: LocationId,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
}

/// The counts of the levels of these SKUs: one indexed query, as [`levels_of`].
/// In an optimistic read (an availability, a cart) its rows say whether the
/// reference token is still the one assumed, so the read needs no statement
/// of its own to trust its cache.
pub fn counts_of(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<Vec<Counts>, DbError> {
    let levels = sl::table.filter(one_of(sl::sku_id, skus));
    let Some(still_assumed) = reference::still_assumed() else {
        return Ok(levels.select(Counts::as_select()).load(conn)?);
    };
    let rows: Vec<(Counts, bool)> = levels.select((Counts::as_select(), still_assumed)).load(conn)?;
    if let Some((_, still)) = rows.first() {
        reference::checked(*still);
    }
    Ok(rows.into_iter().map(|(counts, _)| counts).collect())
}

/// Levels at one location, by SKU id, after `after` (a page).
pub fn levels_at(
    conn: &mut AnyConnection,
    location: &LocationId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Level>, DbError> {
    let mut query = sl::table
        .filter(sl::location_id.eq(location))
        .order(sl::sku_id)
        .limit(limit)
        .select(Level::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(sl::sku_id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Every level (for the ledger check).
pub fn all_levels(conn: &mut AnyConnection) -> Result<Vec<Level>, DbError> {
    Ok(sl::table.select(Level::as_select()).load(conn)?)
}

/// The sums of the ledger's deltas per level: (SKU, location, on hand, reserved).
pub fn ledger_sums(conn: &mut AnyConnection) -> Result<Vec<(SkuId, LocationId, i64, i64)>, DbError> {
    Ok(sm::table
        .group_by((sm::sku_id, sm::location_id))
        .select((
            sm::sku_id,
            sm::location_id,
            diesel::dsl::sum(sm::on_hand_delta),
            diesel::dsl::sum(sm::reserved_delta),
        ))
        .load::<(SkuId, LocationId, Option<i64>, Option<i64>)>(conn)?
        .into_iter()
        .map(|(s, l, o, r)| (s, l, o.unwrap_or(0), r.unwrap_or(0)))
        .collect())
}

/// Ledger rows of one level, oldest first, after `after_id`.
pub fn movements(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Movement>, DbError> {
    Ok(sm::table
        .filter(sm::sku_id.eq(sku))
        .filter(sm::location_id.eq(location))
        .filter(sm::id.gt(after_id))
        .order(sm::id)
        .limit(limit)
        .select(Movement::as_select())
        .load(conn)?)
}
