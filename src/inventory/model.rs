//! Inventory values: levels, ledger rows, reservations, shortages.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::{Component, Sku};
use crate::db::schema::{reservations, stock_levels, stock_movements};
use crate::text_enum;
use crate::types::{GeoPoint, LocationId, MarketplaceId, OrderId, ReservationId, SkuId};

text_enum! {
    /// Why a ledger row exists. receipt, sale, return, adjustment, count and the
    /// transfers move `on_hand`; reserve, release and commit move `reserved`.
    pub enum MovementKind {
        Receipt => "receipt",
        Sale => "sale",
        Return => "return",
        Adjustment => "adjustment",
        Count => "count",
        TransferOut => "transfer_out",
        TransferIn => "transfer_in",
        Reserve => "reserve",
        Release => "release",
        Commit => "commit",
    }
}

text_enum! {
    /// What a reservation holds stock for.
    pub enum Purpose {
        PosHold => "pos_hold",
        CartHold => "cart_hold",
        Order => "order",
        MarketplaceOrder => "marketplace_order",
    }
}

text_enum! {
    pub enum ReservationStatus {
        Active => "active",
        Committed => "committed",
        Released => "released",
        Expired => "expired",
    }
}

/// A sellable SKU as stock sees it: a unit takes one of itself off the
/// shelf or, for a kit, each component's units; a kit has no level of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku_id: SkuId,
    pub components: Vec<Component>,
}

impl Item {
    pub fn of(sku: &Sku) -> Self {
        Self { sku_id: sku.id.clone(), components: sku.components.clone() }
    }

    /// An ordinary SKU, known by its id.
    pub fn single(sku_id: &SkuId) -> Self {
        Self { sku_id: sku_id.clone(), components: Vec::new() }
    }

    pub fn is_kit(&self) -> bool {
        !self.components.is_empty()
    }

    /// The SKUs whose levels serve it.
    pub fn stocked(&self) -> impl Iterator<Item = &SkuId> {
        let own = (!self.is_kit()).then_some(&self.sku_id);
        own.into_iter().chain(self.components.iter().map(|c| &c.sku_id))
    }

    /// What `units` of it take from stock, each naming the kit that takes it.
    /// Quantities are at most 10^6 and components 10^3 per kit: no overflow.
    pub fn draws(&self, units: i32) -> Vec<Draw> {
        if !self.is_kit() {
            return vec![Draw { sku_id: self.sku_id.clone(), quantity: units, kit: None }];
        }
        self.components
            .iter()
            .map(|c| Draw {
                sku_id: c.sku_id.clone(),
                quantity: c.quantity.saturating_mul(units),
                kit: Some(self.sku_id.clone()),
            })
            .collect()
    }
}

/// Units of one stocked SKU that a line takes, and the kit it takes them for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub sku_id: SkuId,
    pub quantity: i32,
    pub kit: Option<SkuId>,
}

/// Stock of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = stock_levels)]
pub struct Level {
    pub sku_id: SkuId,
    pub location_id: LocationId,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
    pub aisle: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl Level {
    /// Where nothing was ever received.
    pub fn empty(sku: &SkuId, location: &LocationId) -> Self {
        Self {
            sku_id: sku.clone(),
            location_id: location.clone(),
            on_hand: 0,
            reserved: 0,
            safety_stock: 0,
            aisle: None,
            updated_at: NaiveDateTime::default(),
        }
    }

    /// Invariant: what can be promised never shows below zero, even when a
    /// count found fewer units than are reserved.
    pub fn available(&self) -> i32 {
        available(self.on_hand, self.reserved, self.safety_stock)
    }
}

/// `on_hand - reserved - safety_stock`, floored at zero.
pub fn available(on_hand: i32, reserved: i32, safety_stock: i32) -> i32 {
    (on_hand - reserved - safety_stock).max(0)
}

/// One row of the ledger.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_movements)]
pub struct Movement {
    pub id: i64,
    pub sku_id: SkuId,
    pub location_id: LocationId,
    pub kind: String,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub actor: String,
    pub channel: String,
    pub created_at: NaiveDateTime,
    /// The kit whose line moved this component.
    pub kit_sku_id: Option<SkuId>,
}

// None is NULL, not DEFAULT: SQLite takes a multi-row insert only without
// DEFAULT (diesel otherwise inserts row by row in a savepoint).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reservations, treat_none_as_default_value = false)]
pub struct ReservationRow {
    pub id: ReservationId,
    pub location_id: LocationId,
    pub purpose: String,
    pub status: String,
    pub customer_ref: Option<String>,
    pub reference: Option<String>,
    pub channel: String,
    pub created_by: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
    /// The order this hold allocates stock for: only the order moves it.
    pub order_id: Option<OrderId>,
    /// The marketplace whose key or webhook placed it.
    pub marketplace_id: Option<MarketplaceId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationLine {
    pub sku_id: SkuId,
    pub sku_code: String,
    pub quantity: i32,
}

/// A hold of units at one location, with its lines.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub id: ReservationId,
    pub location_id: LocationId,
    pub location_code: String,
    pub purpose: Purpose,
    pub status: ReservationStatus,
    pub customer_ref: Option<String>,
    pub reference: Option<String>,
    pub channel: String,
    pub created_by: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
    pub order_id: Option<OrderId>,
    pub marketplace_id: Option<MarketplaceId>,
    pub lines: Vec<ReservationLine>,
}

/// Another location that has what was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub location_code: String,
    pub available: i32,
    /// None when there is no point to measure from.
    pub distance_km: Option<f64>,
}

/// Up to three pickup locations other than `except` with at least `need`
/// units, from one SKU's `levels`: nearest to `origin` first, or with no
/// origin, most stock first.
pub fn pickup_alternatives(
    levels: &[&LevelAt],
    need: i32,
    except: Option<&LocationId>,
    origin: Option<GeoPoint>,
) -> Vec<Alternative> {
    let mut found: Vec<Alternative> = levels
        .iter()
        .filter(|l| l.pickup && l.available() >= need && except != Some(&l.location_id))
        .map(|l| Alternative {
            location_code: l.location_code.clone(),
            available: l.available(),
            distance_km: origin.map(|o| o.distance_km(l.point)),
        })
        .collect();
    found.sort_by(|a, b| match (a.distance_km, b.distance_km) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => b.available.cmp(&a.available).then_with(|| a.location_code.cmp(&b.location_code)),
    });
    found.truncate(3);
    found
}

/// A line that could not be served where it was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Shortage {
    pub sku_code: String,
    pub location_code: String,
    pub requested: i32,
    pub available: i32,
    pub alternatives: Vec<Alternative>,
}

/// A level with what the availability answers need of its location.
#[derive(Debug, Clone)]
pub struct LevelAt {
    pub sku_id: SkuId,
    pub location_id: LocationId,
    pub location_code: String,
    pub location_name: String,
    pub ships: bool,
    pub pickup: bool,
    pub point: GeoPoint,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
}

impl LevelAt {
    pub fn available(&self) -> i32 {
        available(self.on_hand, self.reserved, self.safety_stock)
    }
}
