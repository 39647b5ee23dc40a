//! A level change on PostgreSQL in one statement: the holds it stores, the
//! guarded updates, their ledger rows and their outbox events.

use diesel::prelude::*;

use super::{Entry, Guard, NewHold, STOCK_CHANGED, totals};
use crate::db::kept::{self, Kept};
use crate::db::{DbError, timestamp};
use crate::inventory::model::Level;
use crate::types::{LocationId, SkuId};

/// A level changed by [`apply_in_one`], with the index of its update.
#[derive(QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    n: i32,
    #[diesel(embed)]
    level: Level,
}

/// One level's guarded update, with its ledger entries.
pub(super) type LevelUpdate<'a> = (&'a SkuId, Guard, &'a [Entry<'a>]);

/// [`super::apply_all`] on PostgreSQL: the holds' rows and lines, every level's
/// guarded update, their ledger rows and their outbox events in one
/// statement (data-modifying CTEs), which writes a level's rows only when
/// its update matched. One round trip where there were five for a hold of
/// one level, and a level's row lock, which every hold of a sale-day SKU
/// queues for, is held from this statement to the commit and no longer.
/// The answer has each update's level, or `None` where its guard did not
/// hold.
pub(super) fn apply_in_one(
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
    let applied: Vec<Applied> = match updates.len() + holds.len() <= kept::MOST_ROWS {
        true => Kept(query).load(conn)?,
        false => query.load(conn)?,
    };
    let mut levels: Vec<Option<Level>> = vec![None; updates.len()];
    for applied in applied {
        if let Some(slot) = usize::try_from(applied.n).ok().and_then(|n| levels.get_mut(n)) {
            *slot = Some(applied.level);
        }
    }
    Ok(levels)
}
