//! Guarded level updates and the ledger. Nothing here reads a level and then
//! writes it back: each change is one conditional UPDATE whose WHERE clause is
//! the invariant, so concurrent writers can never push a level past it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use chrono::NaiveDateTime;

use super::model::{Level, Movement, MovementKind, ReservationRow, ReservationStatus};
use crate::access::Principal;
use crate::db::schema::{reservation_lines as rl, reservations as r, stock_levels as sl, stock_movements as sm};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::events::{self, NewEvent};
use crate::per_backend;
use crate::types::{LocationId, ReservationId, SkuId};

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

/// A level changed by [`apply_in_one`], with the index of its update.
#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    n: i32,
    #[diesel(embed)]
    level: Level,
}

/// One level's guarded update, with its ledger entries.
type LevelUpdate<'a> = (&'a SkuId, Guard, &'a [Entry<'a>]);

/// [`apply_all`] on PostgreSQL: the holds' rows and lines, every level's
/// guarded update, their ledger rows and their outbox events in one
/// statement (data-modifying CTEs), which writes a level's rows only when
/// its update matched. One round trip where there were five for a hold of
/// one level, and a level's row lock, which every hold of a sale-day SKU
/// queues for, is held from this statement to the commit and no longer.
/// The answer has each update's level, or `None` where its guard did not
/// hold.
fn apply_in_one(
    conn: &mut diesel::PgConnection,
    location: &LocationId,
    updates: &[LevelUpdate<'_>],
    holds: &[NewHold<'_>],
) -> Result<Vec<Option<Level>>, DbError> {
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    // The types of each VALUES row's placeholders, in its columns' order.
    const LEVEL: &str = "text int int timestamp int int int int int";
    const LEDGER_ROW: &str = "text int int text text text text text timestamp";
    const HOLD: &str = "text text text text text text text text timestamp timestamp timestamp int text text";
    const HOLD_LINE: &str = "text text int";
    // "(<lead>$3::text, $4::int, …)": the next placeholders, one per type.
    let mut next = 2;
    let mut tuple = |lead: String, types: &str| -> String {
        let casts: Vec<String> = types
            .split(' ')
            .map(|t| {
                next += 1;
                format!("${next}::{t}")
            })
            .collect();
        format!("({lead}{})", casts.join(", "))
    };
    let levels: Vec<String> = (0..updates.len()).map(|i| tuple(format!("{i}, "), LEVEL)).collect();
    let rows: Vec<String> = updates
        .iter()
        .enumerate()
        .flat_map(|(i, (_, _, entries))| (0..entries.len()).map(move |m| (i, m)))
        .map(|(i, m)| tuple(format!("{i}, {m}, "), LEDGER_ROW))
        .collect();
    let held: Vec<String> = holds.iter().map(|_| tuple(String::new(), HOLD)).collect();
    let held_lines: Vec<String> =
        holds.iter().flat_map(|(_, lines)| lines.iter()).map(|_| tuple(String::new(), HOLD_LINE)).collect();
    let holding = match held_lines.is_empty() {
        true => String::new(),
        false => format!(
            "held AS (
                INSERT INTO reservations (id, location_id, purpose, status, customer_ref, reference, channel,
                    created_by, expires_at, created_at, updated_at, version, order_id, marketplace_id)
                VALUES {}
            ), held_lines AS (
                INSERT INTO reservation_lines (reservation_id, sku_id, quantity) VALUES {}
            ),",
            held.join(", "),
            held_lines.join(", ")
        ),
    };
    // Several levels are locked first, in SKU order, as every other writer
    // of several levels locks them: the update's own join order is the
    // planner's, and two orders could deadlock. One level needs no order.
    let (locked, locked_join) = match updates.len() {
        1 => ("", ""),
        _ => (
            "locked AS (
                SELECT s.sku_id FROM stock_levels s JOIN u ON u.sku_id = s.sku_id
                WHERE s.location_id = $1 ORDER BY s.sku_id FOR UPDATE OF s
            ),",
            "JOIN locked ON locked.sku_id = u.sku_id",
        ),
    };
    // The payload is stock_event's; `available` is model::available
    // (floored at zero), which SQLite's path computes in Rust.
    let sql = format!(
        "WITH u (n, sku_id, on_hand_delta, reserved_delta, at,
                available, unreserved, reserved, on_hand, on_hand_max) AS (VALUES {levels}),
        {holding}
        {locked}
        level AS (
            UPDATE stock_levels s SET on_hand = s.on_hand + u.on_hand_delta,
                reserved = s.reserved + u.reserved_delta, updated_at = u.at
            FROM u {locked_join}
            WHERE s.sku_id = u.sku_id AND s.location_id = $1
              AND s.on_hand - s.reserved - s.safety_stock >= u.available AND s.on_hand - s.reserved >= u.unreserved
              AND s.reserved >= u.reserved AND s.on_hand >= u.on_hand AND s.on_hand <= u.on_hand_max
            RETURNING u.n, s.sku_id, s.location_id, s.on_hand, s.reserved, s.safety_stock, s.aisle, s.updated_at
        ), ledger AS (
            INSERT INTO stock_movements (sku_id, location_id, kind, on_hand_delta, reserved_delta,
                kit_sku_id, reason, reference, actor, channel, created_at)
            SELECT level.sku_id, level.location_id, d.kind, d.on_hand_delta, d.reserved_delta,
                d.kit_sku_id, d.reason, d.reference, d.actor, d.channel, d.created_at
            FROM level JOIN (VALUES {rows}) AS d (n, m, kind, on_hand_delta, reserved_delta,
                kit_sku_id, reason, reference, actor, channel, created_at) ON d.n = level.n
            ORDER BY d.n, d.m
        ), event AS (
            INSERT INTO events (topic, sku_id, location_id, payload, created_at)
            SELECT $2, sku_id, location_id, json_build_object('on_hand', on_hand, 'reserved', reserved,
                'safety_stock', safety_stock, 'available', greatest(on_hand - reserved - safety_stock, 0))::text,
                updated_at
            FROM level ORDER BY n
        )
        SELECT n, sku_id, location_id, on_hand, reserved, safety_stock, aisle, updated_at FROM level",
        levels = levels.join(", "),
        rows = rows.join(", "),
    );
    let mut query =
        diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>().bind::<Text, _>(location).bind::<Text, _>(STOCK_CHANGED);
    for (sku, guard, entries) in updates {
        let (on_hand, reserved, at) = totals(entries);
        query = query
            .bind::<Text, _>(*sku)
            .bind::<Integer, _>(on_hand)
            .bind::<Integer, _>(reserved)
            .bind::<Timestamp, _>(at)
            .bind::<Integer, _>(guard.available)
            .bind::<Integer, _>(guard.unreserved)
            .bind::<Integer, _>(guard.reserved)
            .bind::<Integer, _>(guard.on_hand)
            .bind::<Integer, _>(guard.on_hand_max);
    }
    for (d, change) in updates.iter().flat_map(|(_, _, entries)| entries.iter()) {
        query = query
            .bind::<Text, _>(d.kind.as_str())
            .bind::<Integer, _>(d.on_hand)
            .bind::<Integer, _>(d.reserved)
            .bind::<Nullable<Text>, _>(d.kit.as_ref())
            .bind::<Nullable<Text>, _>(change.reason)
            .bind::<Nullable<Text>, _>(change.reference)
            .bind::<Text, _>(change.actor.key_id.as_str())
            .bind::<Text, _>(change.actor.channel.as_str())
            .bind::<Timestamp, _>(timestamp(change.now));
    }
    for (row, _) in holds {
        query = query
            .bind::<Text, _>(&row.id)
            .bind::<Text, _>(&row.location_id)
            .bind::<Text, _>(&row.purpose)
            .bind::<Text, _>(&row.status)
            .bind::<Nullable<Text>, _>(&row.customer_ref)
            .bind::<Nullable<Text>, _>(&row.reference)
            .bind::<Text, _>(&row.channel)
            .bind::<Text, _>(&row.created_by)
            .bind::<Nullable<Timestamp>, _>(row.expires_at)
            .bind::<Timestamp, _>(row.created_at)
            .bind::<Timestamp, _>(row.updated_at)
            .bind::<Integer, _>(row.version)
            .bind::<Nullable<Text>, _>(&row.order_id)
            .bind::<Nullable<Text>, _>(&row.marketplace_id);
    }
    for ((row, _), (sku, quantity)) in holds.iter().flat_map(|hold| hold.1.iter().map(move |line| (hold, line))) {
        query = query.bind::<Text, _>(&row.id).bind::<Text, _>(sku).bind::<Integer, _>(*quantity);
    }
    let mut levels: Vec<Option<Level>> = vec![None; updates.len()];
    for applied in query.load::<Applied>(conn)? {
        if let Some(slot) = usize::try_from(applied.n).ok().and_then(|n| levels.get_mut(n)) {
            *slot = Some(applied.level);
        }
    }
    Ok(levels)
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
    Ok(diesel::update(sl::table.find((sku, location)))
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
        .returning(LEVEL)
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
    match rows.as_slice() {
        [] => {}
        [one] => {
            diesel::insert_into(sm::table).values(*one).execute(conn)?;
        }
        // The multi-backend connection cannot batch; each backend's own can.
        many => {
            per_backend!(conn, |c| diesel::insert_into(sm::table).values(many).execute(c))?;
        }
    }
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
    Ok(sl::table.find((sku, location)).select(Level::as_select()).first(conn).optional()?)
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
pub fn counts_of(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<Vec<Counts>, DbError> {
    Ok(sl::table.filter(one_of(sl::sku_id, skus)).select(Counts::as_select()).load(conn)?)
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

/// Reservations and their lines: one statement for the rows, one for the lines.
fn insert_reservations(conn: &mut AnyConnection, held: &[NewHold<'_>]) -> Result<(), DbError> {
    if held.is_empty() {
        return Ok(());
    }
    let rows: Vec<&ReservationRow> = held.iter().map(|(row, _)| *row).collect();
    let values: Vec<_> = held
        .iter()
        .flat_map(|(row, lines)| {
            lines.iter().map(|(sku, q)| (rl::reservation_id.eq(&row.id), rl::sku_id.eq(sku), rl::quantity.eq(*q)))
        })
        .collect();
    // The multi-backend connection cannot batch; each backend's own can.
    match rows.as_slice() {
        [one] => diesel::insert_into(r::table).values(*one).execute(conn)?,
        many => per_backend!(conn, |c| diesel::insert_into(r::table).values(many.to_vec()).execute(c))?,
    };
    match values.as_slice() {
        [one] => diesel::insert_into(rl::table).values(*one).execute(conn)?,
        many => per_backend!(conn, |c| diesel::insert_into(rl::table).values(many).execute(c))?,
    };
    Ok(())
}

pub fn find_reservation(conn: &mut AnyConnection, id: &ReservationId) -> Result<Option<ReservationRow>, DbError> {
    Ok(r::table.find(id).select(ReservationRow::as_select()).first(conn).optional()?)
}

/// A reservation's lines: (SKU, quantity), by SKU id.
pub fn reservation_lines(conn: &mut AnyConnection, id: &ReservationId) -> Result<Vec<(SkuId, i32)>, DbError> {
    Ok(rl::table.filter(rl::reservation_id.eq(id)).order(rl::sku_id).select((rl::sku_id, rl::quantity)).load(conn)?)
}

/// Which active reservations a status change may take, by when it expires.
#[derive(Clone, Copy)]
pub enum When {
    /// Release and commit: only before its expiry.
    Unexpired,
    /// Expiry: only after it.
    Due,
}

/// Moves an active reservation still at `version` to `to`; its new version,
/// or None when it was no longer active, in time or at that version.
pub fn end_reservation(
    conn: &mut AnyConnection,
    id: &ReservationId,
    version: i32,
    to: ReservationStatus,
    when: When,
    at: NaiveDateTime,
) -> Result<Option<i32>, DbError> {
    let target =
        r::table.find(id).filter(r::status.eq(ReservationStatus::Active.as_str())).filter(r::version.eq(version));
    let set = (r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1));
    Ok(match when {
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
    })
}

/// [`end_reservation`] (`When::Unexpired`) of several at once, each only if
/// still active and unexpired at `at`: the ids it moved, with their new
/// versions (which say whether a reservation was still at the version read).
pub fn end_reservations(
    conn: &mut AnyConnection,
    ids: &[&ReservationId],
    to: ReservationStatus,
    at: NaiveDateTime,
) -> Result<Vec<(ReservationId, i32)>, DbError> {
    Ok(diesel::update(
        r::table
            .filter(r::id.eq_any(ids))
            .filter(r::status.eq(ReservationStatus::Active.as_str()))
            .filter(r::expires_at.is_null().or(r::expires_at.gt(at))),
    )
    .set((r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1)))
    .returning((r::id, r::version))
    .load(conn)?)
}

/// Takes `quantity` units off one line of an active reservation and bumps
/// its version (so a concurrent release or commit that read the old lines
/// starts again); false when it is not active or does not hold that many.
pub fn take_from_line(
    conn: &mut AnyConnection,
    id: &ReservationId,
    sku: &SkuId,
    quantity: i32,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let bumped = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .set((r::version.eq(r::version + 1), r::updated_at.eq(at)))
        .execute(conn)?;
    if bumped == 0 {
        return Ok(false);
    }
    Ok(diesel::update(rl::table.find((id, sku)))
        .filter(rl::quantity.ge(quantity))
        .set(rl::quantity.eq(rl::quantity - quantity))
        .execute(conn)?
        == 1)
}

/// Marks an active reservation that holds nothing any more as released.
pub fn release_if_empty(conn: &mut AnyConnection, id: &ReservationId, at: NaiveDateTime) -> Result<(), DbError> {
    let held = rl::table.filter(rl::reservation_id.eq(id)).filter(rl::quantity.gt(0)).select(rl::sku_id);
    diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(held)))
        .set((r::status.eq(ReservationStatus::Released.as_str()), r::version.eq(r::version + 1), r::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Moves the expiry of an active, unexpired reservation out to `until`;
/// false when it is not active, already expired, holds without an expiry,
/// or already lasts at least that long (an extension never shortens).
pub fn extend_reservation(
    conn: &mut AnyConnection,
    id: &ReservationId,
    until: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.gt(at))
        .filter(r::expires_at.lt(until))
        .set((r::expires_at.eq(until), r::updated_at.eq(at), r::version.eq(r::version + 1)))
        .execute(conn)?
        == 1)
}

/// Active reservations whose time is up, oldest first.
pub fn due_reservations(
    conn: &mut AnyConnection,
    at: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ReservationId>, DbError> {
    Ok(r::table
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.le(at))
        .order(r::expires_at)
        .limit(limit)
        .select(r::id)
        .load(conn)?)
}

/// Active holds on one level, with their quantity of the SKU, oldest first.
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

/// Active holds by purpose, for the metrics (the `reservations_expiry` index
/// starts with the status).
pub fn active_by_purpose(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, DbError> {
    Ok(r::table
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .group_by(r::purpose)
        .select((r::purpose, diesel::dsl::count_star()))
        .load(conn)?)
}
