//! Orders, fulfilments, lines, the audit trail and returns, as stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::state::{FulfilmentStatus, Method, OrderStatus};
use crate::db::DbError;
use crate::db::schema::{fulfilments, order_audit, order_lines, orders, return_lines, returns};
use crate::text_enum;
use crate::types::{
    CartId, Currency, CustomerId, FulfilmentId, LocationId, MarketplaceId, Money, OrderId, OrderLineId, ReservationId,
    ReturnId, SkuId,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
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
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fulfilments)]
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines)]
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
}

impl OrderLine {
    /// Units still due to the customer.
    pub fn open_quantity(&self) -> i32 {
        self.quantity - self.short_quantity - self.cancelled_quantity - self.returned_quantity
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
