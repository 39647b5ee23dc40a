//! Stock levels, movements, reservations and availability on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodeText, Text40, Text200, Validator, text, utc};
use crate::inventory::atp::{Availability, Explanation};
use crate::inventory::{Level, Movement, Purpose, ReservationStatus};
use crate::types::Quantity;

/// Most lines one request may carry.
const MAX_LINES: usize = 200;

/// A SKU (code or GTIN) and a number of units.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// SKU code or GTIN.
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Whole units, 1 to 1,000,000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
}

/// Validates lines into (SKU code or GTIN, quantity), recording errors under `pointer`.
pub fn validate_lines(v: &mut Validator, pointer: &str, lines: &[LineRequest]) -> Vec<(String, Quantity)> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        v.error(pointer, format!("must hold 1 to {MAX_LINES} lines"));
    }
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let sku = v.check(&format!("{pointer}/{i}/sku"), text(&line.sku, 64));
            let quantity = v.check(&format!("{pointer}/{i}/quantity"), Quantity::new(line.quantity));
            Some((sku?, quantity?))
        })
        .collect()
}

/// Optional free text such as a reference or reason: absent or null is
/// none; anything sent must be valid text (a blank string is an error, not
/// a way of saying nothing).
pub fn optional_text(v: &mut Validator, pointer: &str, raw: &Option<String>, max: usize) -> Option<String> {
    raw.as_deref().and_then(|r| v.check(pointer, text(r, max)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineRequest>,
    /// Delivery note or purchase order number.
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Units to add (positive) or remove (negative), at most 1,000,000 either way; not zero.
    #[schema(schema_with = nonzero_delta)]
    pub delta: i64,
    /// Why: damaged, theft, found, …
    #[schema(value_type = Text200)]
    pub reason: String,
}

/// -1,000,000 to -1 or 1 to 1,000,000.
fn nonzero_delta() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let range =
        |min: i64, max: i64| ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max));
    OneOfBuilder::new().item(range(-1_000_000, -1)).item(range(1, 1_000_000)).into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountLine {
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Units counted on the shelf, 0 to 1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub counted: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<CountLine>,
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Code of the receiving location.
    #[schema(value_type = CodeText)]
    pub to: String,
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineRequest>,
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockSettingsRequest {
    /// Units never promised to anyone, 0 to 1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub safety_stock: i64,
    /// Where the SKU sits in this location, for pick lists.
    #[serde(default)]
    #[schema(value_type = Option<Text40>)]
    pub aisle: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelResponse {
    pub sku: String,
    pub location: String,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
    /// `on_hand - reserved - safety_stock`, never below 0.
    pub available: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aisle: Option<String>,
}

impl LevelResponse {
    pub fn new(level: &Level, sku: &str, location: &str) -> Self {
        Self {
            sku: sku.to_owned(),
            location: location.to_owned(),
            on_hand: level.on_hand,
            reserved: level.reserved,
            safety_stock: level.safety_stock,
            available: level.available(),
            aisle: level.aisle.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LevelsResponse {
    pub levels: Vec<LevelResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    pub levels: Vec<LevelResponse>,
    /// Counted minus what the system had, per line, as written to the ledger.
    pub differences: Vec<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub from: Vec<LevelResponse>,
    pub to: Vec<LevelResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MovementResponse {
    pub id: i64,
    pub kind: String,
    pub on_hand_delta: i32,
    pub reserved_delta: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// API key id, or `system` for jobs.
    pub actor: String,
    pub channel: String,
    pub created_at: DateTime<Utc>,
    /// The kit whose line moved this component (its SKU code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kit: Option<String>,
}

impl From<(Movement, Option<String>)> for MovementResponse {
    fn from((m, kit): (Movement, Option<String>)) -> Self {
        Self {
            kit,
            id: m.id,
            kind: m.kind,
            on_hand_delta: m.on_hand_delta,
            reserved_delta: m.reserved_delta,
            reason: m.reason,
            reference: m.reference,
            actor: m.actor,
            channel: m.channel,
            created_at: utc(m.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// Location code.
    #[schema(value_type = CodeText)]
    pub location: String,
    pub purpose: Purpose,
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineRequest>,
    /// Lifetime in seconds, up to `OMNISTOCK_HOLDS__MAX` (30 days by
    /// default); default per purpose (pos_hold 30 min, cart_hold 15 min,
    /// orders until released).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub expires_in_seconds: Option<u64>,
    /// The storefront's customer reference, if any.
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub customer_ref: Option<String>,
    /// The caller's own reference (an order number, a basket id).
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub reference: Option<String>,
}

/// A hold for a customer at the counter, at the POS key's own store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosHoldRequest {
    /// Scanned items: GTIN or SKU code.
    #[schema(min_items = 1, max_items = 200)]
    pub items: Vec<LineRequest>,
    /// Must be the key's own store when given.
    #[serde(default)]
    #[schema(value_type = Option<CodeText>)]
    pub location: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub customer_ref: Option<String>,
    /// Lifetime in seconds (default 30 minutes), up to `OMNISTOCK_HOLDS__MAX`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub expires_in_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// New lifetime from now, in seconds, up to `OMNISTOCK_HOLDS__MAX`
    /// (30 days by default). A hold that already lasts longer keeps its time.
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub expires_in_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationLineResponse {
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationResponse {
    pub id: String,
    pub location: String,
    pub purpose: Purpose,
    pub status: ReservationStatus,
    pub lines: Vec<ReservationLineResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Channel it was placed through.
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationAvailabilityResponse {
    pub location: String,
    pub available: i32,
    pub ships: bool,
    pub pickup: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SkuAvailabilityResponse {
    pub sku: String,
    /// What can be promised online: the sum over ship-enabled locations.
    pub network_available: i32,
    pub locations: Vec<LocationAvailabilityResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemAvailability {
    pub sku: String,
    pub available: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupOptionResponse {
    pub location: String,
    pub name: String,
    pub distance_km: f64,
    pub items: Vec<ItemAvailability>,
    /// Every SKU asked can be picked up here.
    pub has_all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityResponse {
    pub skus: Vec<SkuAvailabilityResponse>,
    /// With `lat` and `lon`: pickup locations, nearest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pickup_near: Vec<PickupOptionResponse>,
}

impl From<Availability> for AvailabilityResponse {
    fn from(a: Availability) -> Self {
        Self {
            skus: a
                .skus
                .into_iter()
                .map(|s| SkuAvailabilityResponse {
                    sku: s.sku_code,
                    network_available: s.network_available,
                    locations: s
                        .locations
                        .into_iter()
                        .map(|l| LocationAvailabilityResponse {
                            location: l.location_code,
                            available: l.available,
                            ships: l.ships,
                            pickup: l.pickup,
                        })
                        .collect(),
                })
                .collect(),
            pickup_near: a
                .pickup_near
                .into_iter()
                .map(|p| PickupOptionResponse {
                    location: p.location_code,
                    name: p.location_name,
                    distance_km: (p.distance_km * 100.0).round() / 100.0,
                    items: p.items.into_iter().map(|(sku, available)| ItemAvailability { sku, available }).collect(),
                    has_all: p.has_all,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldExplained {
    pub reservation: String,
    pub purpose: String,
    pub quantity: i32,
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A marketplace's slice of the network's available quantity.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketplaceShare {
    pub marketplace: String,
    pub share_percent: i32,
    pub buffer_units: i32,
    /// What is offered there now.
    pub quantity: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    pub sku: String,
    pub location: String,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
    pub available: i32,
    /// Every active hold that makes up `reserved`.
    pub reservations: Vec<HoldExplained>,
    /// How the network's available quantity is offered on each marketplace.
    pub marketplaces: Vec<MarketplaceShare>,
    /// A kit's components here, the scarcest (the limiting one) first; a
    /// kit holds no stock of its own, so its own figures are zero.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentExplainedResponse>,
    /// The component that decides how many kits can be promised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiting_component: Option<String>,
    /// The sum, in words.
    pub explanation: String,
}

/// One component of a kit at the location explained.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentExplainedResponse {
    pub sku: String,
    /// Units of it in one kit.
    pub per_kit: i32,
    pub on_hand: i32,
    pub reserved: i32,
    pub safety_stock: i32,
    pub available: i32,
    /// Kits it alone would allow: ⌊available ÷ per_kit⌋.
    pub kits: i32,
}

impl ExplainResponse {
    pub fn new(e: &Explanation, sku: &str, location: &str, marketplaces: Vec<MarketplaceShare>) -> Self {
        Self {
            sku: sku.to_owned(),
            location: location.to_owned(),
            on_hand: e.level.on_hand,
            reserved: e.level.reserved,
            safety_stock: e.level.safety_stock,
            available: e.available(),
            components: e
                .components
                .iter()
                .map(|c| ComponentExplainedResponse {
                    sku: c.component.sku_code.clone(),
                    per_kit: c.component.quantity,
                    on_hand: c.level.on_hand,
                    reserved: c.level.reserved,
                    safety_stock: c.level.safety_stock,
                    available: c.level.available(),
                    kits: c.kits,
                })
                .collect(),
            limiting_component: e.limiting().map(|c| c.component.sku_code.clone()),
            reservations: e
                .reservations
                .iter()
                .map(|(r, quantity)| HoldExplained {
                    reservation: r.id.to_string(),
                    purpose: r.purpose.clone(),
                    quantity: *quantity,
                    channel: r.channel.clone(),
                    customer_ref: r.customer_ref.clone(),
                    expires_at: r.expires_at.map(utc),
                })
                .collect(),
            marketplaces,
            explanation: e.sentence(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// Unique: de-duplicate by it.
    pub id: i64,
    /// Commit order: resume with `after=<seq>`.
    pub seq: i64,
    pub topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    pub items: Vec<EventResponse>,
    /// Pass as `cursor` for the next page; absent when the feed has nothing
    /// more for now (poll again later with `after=last_seq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The `seq` of the last event here (or `after` when there are none):
    /// pass as `after` to continue.
    pub last_seq: i64,
}
