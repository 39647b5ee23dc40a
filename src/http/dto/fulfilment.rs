//! Store pickups, pick lists and same-day slots on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Text20, Text100, Text200, utc};
use crate::fulfilment::pickup::{PickItem, QueueEntry};
use crate::order::same_day::Slot;
use crate::order::state::{FulfilmentStatus, Method};

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupLine {
    pub line: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupEntry {
    pub fulfilment: String,
    pub order: String,
    pub method: Method,
    pub status: FulfilmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<DateTime<Utc>>,
    /// Bay or car, as the customer said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_by: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_deadline: Option<DateTime<Utc>>,
    /// The pickup is locked after too many wrong codes.
    pub locked: bool,
    pub lines: Vec<PickupLine>,
}

impl From<&QueueEntry> for PickupEntry {
    fn from(entry: &QueueEntry) -> Self {
        let f = &entry.fulfilment;
        Self {
            fulfilment: f.id.to_string(),
            order: entry.order.row.number.clone(),
            method: f.method().unwrap_or(Method::Pickup),
            status: f.status().unwrap_or(FulfilmentStatus::NeedsAttention),
            arrived_at: f.arrived_at.map(utc),
            arrival_note: f.arrival_note.clone(),
            ready_by: f.ready_by.map(utc),
            pickup_deadline: f.pickup_deadline.map(utc),
            locked: f.pickup_code_attempts >= crate::fulfilment::pickup::MAX_CODE_ATTEMPTS,
            lines: entry
                .order
                .lines_of(&f.id)
                .filter(|l| l.open_quantity() > 0)
                .map(|l| PickupLine {
                    line: l.id.to_string(),
                    sku: l.sku_code.clone(),
                    name: l.name.clone(),
                    quantity: l.open_quantity(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupQueueResponse {
    /// Curbside arrivals first, then by ready-by time.
    pub items: Vec<PickupEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickFor {
    pub order: String,
    pub fulfilment: String,
    pub quantity: i32,
    /// The kit these units go into (its SKU code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickListItem {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub orders: Vec<PickFor>,
}

impl From<PickItem> for PickListItem {
    fn from(item: PickItem) -> Self {
        Self {
            sku: item.sku_code,
            name: item.name,
            quantity: item.quantity,
            orders: item
                .orders
                .into_iter()
                .map(|(order, fulfilment, quantity, kit)| PickFor {
                    order,
                    fulfilment: fulfilment.to_string(),
                    quantity,
                    kit,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AisleGroup {
    /// None: the aisle is not known.
    pub aisle: Option<String>,
    pub items: Vec<PickListItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickListResponse {
    pub location: String,
    pub aisles: Vec<AisleGroup>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickedLine {
    #[schema(value_type = Text100)]
    pub line: String,
    /// Units found on the shelf, at most the line's open units; fewer is a short pick.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub picked: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PicksRequest {
    /// Each line once.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<PickedLine>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    /// The code the customer shows.
    #[schema(value_type = Text20)]
    pub code: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalRequest {
    /// Bay number or car, e.g. "bay 3, red Golf".
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotResponse {
    /// Pass as `slot` in the same-day fulfilment of the cart.
    pub slot: String,
    pub location: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub remaining: i32,
}

impl From<&Slot> for SlotResponse {
    fn from(s: &Slot) -> Self {
        Self {
            slot: s.id.clone(),
            location: s.location_code.clone(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            remaining: s.capacity - s.booked,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsResponse {
    pub slots: Vec<SlotResponse>,
}
