//! Outbox events as stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::events;
use crate::types::{LocationId, OrderId, SkuId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub seq: Option<i64>,
    pub topic: String,
    pub sku_id: Option<SkuId>,
    pub location_id: Option<LocationId>,
    pub order_id: Option<OrderId>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// What a reader asks for.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub after: i64,
    pub limit: i64,
    /// A topic (`stock.changed`) or a family of topics (`stock`).
    pub topic: Option<String>,
    pub location_id: Option<LocationId>,
    pub order_id: Option<OrderId>,
}
