//! Orders, fulfilments, lines, the audit trail and returns, as stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::state::{FulfilmentStatus, Method, OrderStatus};
use crate::db::DbError;
use crate::db::schema::{fulfilments, order_audit, order_lines, order_refunds, orders, return_lines, returns};
use crate::inventory::Item;
use crate::text_enum;
use crate::types::{
    CartId, Currency, CustomerId, FulfilmentId, LocationId, MarketplaceId, Money, OrderId, OrderLineId, RefundId,
    ReservationId, ReturnId, SkuId,
};

// None is NULL, not DEFAULT: one SQL text whatever is set, which the
// prepared-statement cache keeps (an insert naming DEFAULT is prepared anew
// every time).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct OrderRow {
    pub id: OrderId,
    pub number: String,
    pub customer_id: Option<CustomerId>,
    pub channel: String,
    pub placed_by: String,
    pub cart_id: Option<CartId>,
    pub marketplace_id: Option<MarketplaceId>,
    pub external_id: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub currency: String,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub prices_include_tax: bool,
    pub promotion_code: Option<String>,
    pub payment_reference: Option<String>,
    pub payment_minor: Option<i64>,
    pub contact: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The store whose till placed the order (POS sales, endless aisle).
    pub store_id: Option<LocationId>,
    /// Every channel that touched the order's cart and the one that placed
    /// it (JSON array).
    pub channels: Option<String>,
}

// None is NULL, not DEFAULT: one SQL text whatever is set, which the
// prepared-statement cache keeps (an insert naming DEFAULT is prepared anew
// every time).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fulfilments, treat_none_as_default_value = false)]
pub struct Fulfilment {
    pub id: FulfilmentId,
    pub order_id: OrderId,
    pub method: String,
    pub location_id: Option<LocationId>,
    pub pickup_location_id: Option<LocationId>,
    pub status: String,
    pub status_reason: Option<String>,
    pub reservation_id: Option<ReservationId>,
    pub address: Option<String>,
    pub slot_id: Option<String>,
    pub ready_by: Option<NaiveDateTime>,
    pub pickup_code_hash: Option<String>,
    pub pickup_code_plain: Option<String>,
    pub pickup_code_attempts: i32,
    pub pickup_deadline: Option<NaiveDateTime>,
    pub expiry_warned: bool,
    pub arrived_at: Option<NaiveDateTime>,
    pub arrival_note: Option<String>,
    pub tracking: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Fulfilment {
    /// A fulfilment just made: nothing picked, no code, deadline, arrival or tracking.
    pub fn blank(order_id: OrderId, method: Method, status: FulfilmentStatus, at: NaiveDateTime) -> Self {
        Self {
            id: FulfilmentId::generate(),
            order_id,
            method: method.as_str().to_owned(),
            location_id: None,
            pickup_location_id: None,
            status: status.as_str().to_owned(),
            status_reason: None,
            reservation_id: None,
            address: None,
            slot_id: None,
            ready_by: None,
            pickup_code_hash: None,
            pickup_code_plain: None,
            pickup_code_attempts: 0,
            pickup_deadline: None,
            expiry_warned: false,
            arrived_at: None,
            arrival_note: None,
            tracking: None,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    pub fn method(&self) -> Result<Method, DbError> {
        Method::parse(&self.method).map_err(DbError::Corrupt)
    }

    pub fn status(&self) -> Result<FulfilmentStatus, DbError> {
        FulfilmentStatus::parse(&self.status).map_err(DbError::Corrupt)
    }

    /// A pickup whose stock travels from another location to the store.
    pub fn is_transfer(&self) -> bool {
        self.pickup_location_id.is_some() && self.location_id != self.pickup_location_id
    }
}

// None is NULL, not DEFAULT: SQLite takes a multi-row insert only without
// DEFAULT (diesel otherwise inserts row by row in a savepoint).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
pub struct OrderLine {
    pub id: OrderLineId,
    pub order_id: OrderId,
    pub fulfilment_id: FulfilmentId,
    pub sku_id: SkuId,
    pub sku_code: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub picked_quantity: Option<i32>,
    pub short_quantity: i32,
    pub cancelled_quantity: i32,
    pub returned_quantity: i32,
    /// A kit's components as they were when it was ordered (JSON): what the
    /// line holds, whatever the kit is made of today. None for a single SKU.
    pub components: Option<String>,
}

impl OrderLine {
    /// What one unit of the line takes from stock.
    pub fn item(&self) -> Result<Item, DbError> {
        let components = match &self.components {
            Some(raw) => serde_json::from_str(raw)
                .map_err(|e| DbError::Corrupt(format!("components of order line {}: {e}", self.id)))?,
            None => Vec::new(),
        };
        Ok(Item { sku_id: self.sku_id.clone(), components })
    }

    /// Units still due to the customer.
    pub fn open_quantity(&self) -> i32 {
        self.quantity - self.short_quantity - self.cancelled_quantity - self.returned_quantity
    }

    /// The money of `units` of this line taken off after `before` others
    /// were (by cancellation, short pick or return alike): exact shares by
    /// quantity, so taking every unit off gives back the line's amounts to
    /// the cent whatever the order of the steps.
    pub fn share(&self, before: i32, units: i32, prices_include_tax: bool) -> Amounts {
        let gross = self.total_minor + self.discount_minor - if prices_include_tax { 0 } else { self.tax_minor };
        let taken =
            |n: i32, amount: i64| crate::pricing::allocate(amount, &[i64::from(n), i64::from(self.quantity - n)])[0];
        let part = |amount: i64| taken(before + units, amount) - taken(before, amount);
        Amounts {
            gross: part(gross),
            discount: part(self.discount_minor),
            tax: part(self.tax_minor),
            total: part(self.total_minor),
        }
    }
}

/// Money of some units: before promotions, their discount, their tax and
/// what the customer pays for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    pub gross: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

impl std::ops::Add for Amounts {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            gross: self.gross + o.gross,
            discount: self.discount + o.discount,
            tax: self.tax + o.tax,
            total: self.total + o.total,
        }
    }
}

/// Money due back to the customer for units they will not get.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_refunds)]
pub struct RefundRow {
    pub id: RefundId,
    pub order_id: OrderId,
    pub kind: String,
    pub amount_minor: i64,
    pub reason: String,
    /// JSON array of [`RefundLine`].
    pub lines: String,
    pub channel: String,
    pub created_at: NaiveDateTime,
}

impl RefundRow {
    pub fn lines(&self) -> Result<Vec<RefundLine>, DbError> {
        serde_json::from_str(&self.lines).map_err(|e| DbError::Corrupt(format!("refund {} lines: {e}", self.id)))
    }
}

/// One line of a refund: which units, and what they cost.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefundLine {
    pub line: OrderLineId,
    pub sku: String,
    pub quantity: i32,
    pub amount_minor: i64,
}

text_enum! {
    /// Why money is due back.
    pub enum RefundKind {
        Cancellation => "cancellation",
        ShortPick => "short_pick",
        Expiry => "expiry",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_audit)]
pub struct AuditEntry {
    pub id: i64,
    pub order_id: OrderId,
    pub fulfilment_id: Option<FulfilmentId>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub reason: Option<String>,
    pub actor: String,
    pub channel: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = returns)]
pub struct ReturnRow {
    pub id: ReturnId,
    pub order_id: OrderId,
    pub location_id: Option<LocationId>,
    pub reason: Option<String>,
    pub refund_minor: i64,
    pub channel: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = return_lines)]
pub struct ReturnLine {
    pub return_id: ReturnId,
    pub order_line_id: OrderLineId,
    pub quantity: i32,
    pub disposition: String,
    pub refund_minor: i64,
}

/// An order with its fulfilments and lines.
#[derive(Debug, Clone)]
pub struct Order {
    pub row: OrderRow,
    pub fulfilments: Vec<Fulfilment>,
    pub lines: Vec<OrderLine>,
    pub refunds: Vec<RefundRow>,
}

impl Order {
    pub fn currency(&self) -> Result<Currency, DbError> {
        Currency::parse(&self.row.currency).map_err(DbError::Corrupt)
    }

    pub fn money(&self, minor: i64) -> Result<Money, DbError> {
        Ok(Money::new(minor, self.currency()?))
    }

    pub fn status(&self) -> Result<OrderStatus, DbError> {
        OrderStatus::parse(&self.row.status).map_err(DbError::Corrupt)
    }

    pub fn lines_of<'a>(&'a self, fulfilment: &'a FulfilmentId) -> impl Iterator<Item = &'a OrderLine> + 'a {
        self.lines.iter().filter(move |l| &l.fulfilment_id == fulfilment)
    }
}

text_enum! {
    /// What happens to a returned unit.
    pub enum Disposition {
        Restock => "restock",
        WriteOff => "write_off",
    }
}
