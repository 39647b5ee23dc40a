//! Guarded level updates and the ledger. Nothing here reads a level and then
//! writes it back: each change is one conditional UPDATE whose WHERE clause is
//! the invariant, so concurrent writers can never push a level past it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::model::{Level, MovementKind};
use crate::access::Principal;
use crate::db::schema::{locations, stock_levels as sl, stock_movements as sm};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::events::{self, NewEvent};
use crate::per_backend;
use crate::types::{GeoPoint, LocationId, SkuId};

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
#[derive(Debug, Clone, Copy)]
pub struct Delta {
    pub kind: MovementKind,
    pub on_hand: i32,
    pub reserved: i32,
}

impl Delta {
    pub fn on_hand(kind: MovementKind, n: i32) -> Self {
        Self { kind, on_hand: n, reserved: 0 }
    }

    pub fn reserved(kind: MovementKind, n: i32) -> Self {
        Self { kind, on_hand: 0, reserved: n }
    }
}

/// Who changes stock, why and when: copied onto every ledger row.
pub struct Change<'a> {
    pub reason: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub actor: &'a Principal,
    pub now: DateTime<Utc>,
}

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
    let on_hand_delta: i32 = deltas.iter().map(|d| d.on_hand).sum();
    let reserved_delta: i32 = deltas.iter().map(|d| d.reserved).sum();
    let level = diesel::update(sl::table.find((sku, location)))
        .filter((sl::on_hand - sl::reserved - sl::safety_stock).ge(guard.available))
        .filter((sl::on_hand - sl::reserved).ge(guard.unreserved))
        .filter(sl::reserved.ge(guard.reserved))
        .filter(sl::on_hand.ge(guard.on_hand))
        .filter(sl::on_hand.le(guard.on_hand_max))
        .set((
            sl::on_hand.eq(sl::on_hand + on_hand_delta),
            sl::reserved.eq(sl::reserved + reserved_delta),
            sl::updated_at.eq(timestamp(change.now)),
        ))
        .returning(LEVEL)
        .get_result(conn)
        .optional()?;
    if let Some(level) = &level {
        // MultiBackend cannot batch-insert on SQLite, so one statement per row (one or two).
        for d in deltas {
            diesel::insert_into(sm::table)
                .values((
                    sm::sku_id.eq(sku),
                    sm::location_id.eq(location),
                    sm::kind.eq(d.kind.as_str()),
                    sm::on_hand_delta.eq(d.on_hand),
                    sm::reserved_delta.eq(d.reserved),
                    sm::reason.eq(change.reason),
                    sm::reference.eq(change.reference),
                    sm::actor.eq(change.actor.key_id.as_str()),
                    sm::channel.eq(change.actor.channel.as_str()),
                    sm::created_at.eq(timestamp(change.now)),
                ))
                .execute(conn)?;
        }
        announce(conn, level, change.now)?;
    }
    Ok(level)
}

/// Writes the outbox event for a level whose available quantity may have changed.
pub fn announce(conn: &mut AnyConnection, level: &Level, now: DateTime<Utc>) -> Result<(), DbError> {
    events::append(
        conn,
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
        },
        now,
    )
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

/// A level with what the availability answers need of its location.
#[derive(Debug, Clone, Queryable)]
pub struct LevelAt {
    pub sku_id: SkuId,
    pub location_id: LocationId,
    pub location_code: String,
    pub location_name: String,
    pub ships: bool,
    pub pickup: bool,
    pub latitude: f64,
    pub longitude: f64,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
}

impl LevelAt {
    pub fn available(&self) -> i32 {
        super::model::available(self.on_hand, self.reserved, self.safety_stock)
    }

    pub fn point(&self) -> GeoPoint {
        GeoPoint { latitude: self.latitude, longitude: self.longitude }
    }
}

/// Levels of these SKUs at every active location: one indexed query (primary
/// key prefix on `sku_id`, then the location's primary key).
pub fn levels_of(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<Vec<LevelAt>, DbError> {
    Ok(sl::table
        .inner_join(locations::table)
        .filter(one_of(sl::sku_id, skus))
        .filter(locations::active.eq(true))
        .select((
            sl::sku_id,
            sl::location_id,
            locations::code,
            locations::name,
            locations::ships,
            locations::pickup,
            locations::latitude,
            locations::longitude,
            sl::on_hand,
            sl::reserved,
            sl::safety_stock,
        ))
        .load(conn)?)
}

/// Ledger rows of one level, oldest first, after `after_id`.
pub fn movements(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
    after_id: i64,
    limit: i64,
) -> Result<Vec<super::model::Movement>, DbError> {
    Ok(sm::table
        .filter(sm::sku_id.eq(sku))
        .filter(sm::location_id.eq(location))
        .filter(sm::id.gt(after_id))
        .order(sm::id)
        .limit(limit)
        .select(super::model::Movement::as_select())
        .load(conn)?)
}
