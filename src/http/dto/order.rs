//! Orders, fulfilments, transitions, returns and POS sales on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cart::cart_quantity;
use super::catalog::{ComponentInput, ComponentResponse};
use super::{CodeText, MoneyDto, MoneyInput, Reference, Text100, Text200, Text500, Validator, text, utc};
use crate::cart::DeliveryAddress;
use crate::catalog::Location;
use crate::order::returns::Returned;
use crate::order::state::{self, Action, FulfilmentStatus, Method, OrderStatus};
use crate::order::{AuditEntry, Disposition, Order, Payment, RefundKind};
use crate::types::{Money, Quantity};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// The payment provider's authorisation reference.
    #[schema(value_type = Text200)]
    pub reference: String,
    /// What the provider authorised; must equal the order total.
    pub amount: MoneyInput,
}

impl PaymentRequest {
    pub fn validate(&self, v: &mut Validator, pointer: &str) -> Option<Payment> {
        let reference = v.check(&format!("{pointer}/reference"), text(&self.reference, 200));
        let amount = self.amount.validate(v, &format!("{pointer}/amount"));
        Some(Payment { reference: reference?, amount: amount? })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub payment: PaymentRequest,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosCheckoutRequest {
    /// The customer whose online cart is checked out at the counter.
    #[schema(value_type = Reference)]
    pub customer_ref: String,
    pub payment: PaymentRequest,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosSaleRequest {
    /// Scanned items: GTIN or SKU code (the same SKU twice is one line).
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<ItemRequest>,
    #[serde(default)]
    #[schema(value_type = Option<Reference>)]
    pub customer_ref: Option<String>,
    pub payment: PaymentRequest,
}

/// A SKU (code or GTIN) and a number of units sold.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// SKU code or GTIN.
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Units, 1 to 999.
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
}

/// How an endless-aisle order reaches the customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum EndlessAisleFulfilment {
    /// Shipped from wherever has it.
    Ship { address: DeliveryAddress },
    /// Sent to this store and held for pickup when it arrives.
    Pickup,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndlessAisleRequest {
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<ItemRequest>,
    #[serde(default)]
    #[schema(value_type = Option<Reference>)]
    pub customer_ref: Option<String>,
    pub fulfilment: EndlessAisleFulfilment,
    pub payment: PaymentRequest,
}

/// Validated order lines: (SKU code or GTIN, quantity).
pub fn order_items(v: &mut Validator, pointer: &str, items: &[ItemRequest]) -> Vec<(String, Quantity)> {
    if items.is_empty() || items.len() > crate::cart::MAX_LINES {
        v.error(pointer, format!("must hold 1 to {} items", crate::cart::MAX_LINES));
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let sku = v.check(&format!("{pointer}/{i}/sku"), text(&item.sku, 64));
            let quantity = cart_quantity(v, &format!("{pointer}/{i}/quantity"), item.quantity);
            Some((sku?, quantity?))
        })
        .collect()
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    #[schema(value_type = Option<Text500>)]
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    /// Carrier tracking number.
    #[serde(default)]
    #[schema(value_type = Option<Text100>)]
    pub tracking: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelLineRequest {
    /// Units to cancel, at most the line's open units; default all of them.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Text500>)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineRequest {
    /// Order line id.
    #[schema(value_type = Text100)]
    pub line: String,
    /// At most the line's delivered units not yet returned.
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
    pub disposition: Disposition,
    /// For a kit's line whose kits did not all come back whole: the
    /// components that did, each at most what the kits returned hold. Only
    /// these go back on the shelf; the refund is for `quantity` kits.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub components: Option<Vec<ComponentInput>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Location code where the goods come back (default: the POS/staff key's store, else the fulfilment's).
    #[serde(default)]
    #[schema(value_type = Option<CodeText>)]
    pub location: Option<String>,
    /// Each line once.
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<ReturnLineRequest>,
    #[serde(default)]
    #[schema(value_type = Option<Text500>)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineResponse {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: MoneyDto,
    pub discount: MoneyDto,
    pub tax: MoneyDto,
    pub total: MoneyDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picked: Option<i32>,
    pub short: i32,
    pub cancelled: i32,
    pub returned: i32,
    /// A kit's line: the units of each component one kit holds, as it was
    /// made when ordered (what the line's stock is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentResponse>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FulfilmentResponse {
    pub id: String,
    pub method: Method,
    pub status: FulfilmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Where the stock comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Where the customer collects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<DeliveryAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_by: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_deadline: Option<DateTime<Utc>>,
    /// Shown to the customer's storefront channels from when the order is ready until it is collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// What can happen next.
    pub allowed_actions: Vec<Action>,
    pub lines: Vec<OrderLineResponse>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderTotals {
    pub subtotal: MoneyDto,
    pub discount: MoneyDto,
    pub tax: MoneyDto,
    pub total: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResponse {
    pub reference: String,
    pub amount: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    pub id: String,
    /// Human-friendly and unique, e.g. `OS-7K3M9QXD`.
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Channel it was placed through.
    pub channel: String,
    /// Every channel that touched the cart it came from, and the one that
    /// placed it; the cart's change trail is at `/orders/{id}/cart-history`.
    pub channels: Vec<String>,
    pub status: OrderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub totals: OrderTotals,
    pub prices_include_tax: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketplace_order: Option<String>,
    pub fulfilments: Vec<FulfilmentResponse>,
    /// Money due back for units the customer will not get (cancelled, short
    /// at picking, never collected); `totals` already exclude it. Returns
    /// are under `/orders/{id}/returns`.
    pub refunds: Vec<RefundResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundResponse {
    pub id: String,
    pub kind: RefundKind,
    pub amount: MoneyDto,
    pub reason: String,
    pub lines: Vec<RefundLineResponse>,
    /// The channel of the change that made it due.
    pub channel: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundLineResponse {
    pub line: String,
    pub sku: String,
    pub quantity: i32,
    pub amount: MoneyDto,
}

/// Names the order response needs that the order does not carry.
pub struct OrderNames<'a> {
    pub customer_ref: Option<String>,
    pub locations: &'a [Location],
    /// Reveal pending pickup codes (the customer's channel reading the order).
    pub reveal_codes: bool,
}

impl OrderResponse {
    pub fn new(order: &Order, names: &OrderNames<'_>) -> Self {
        let money = |minor: i64| -> MoneyDto {
            order
                .money(minor)
                .map(Into::into)
                .unwrap_or(MoneyDto { amount: "0".into(), currency: order.row.currency.clone() })
        };
        let code_of = |id: &Option<crate::types::LocationId>| -> Option<String> {
            id.as_ref().and_then(|id| names.locations.iter().find(|l| &l.id == id)).map(|l| l.code.to_string())
        };
        let fulfilments = order
            .fulfilments
            .iter()
            .map(|f| {
                let method = f.method().unwrap_or(Method::Ship);
                let status = f.status().unwrap_or(FulfilmentStatus::NeedsAttention);
                FulfilmentResponse {
                    id: f.id.to_string(),
                    method,
                    status,
                    status_reason: f.status_reason.clone(),
                    location: code_of(&f.location_id),
                    pickup_location: code_of(&f.pickup_location_id),
                    address: f.address.as_deref().and_then(|a| serde_json::from_str(a).ok()),
                    slot: f.slot_id.clone(),
                    ready_by: f.ready_by.map(utc),
                    pickup_deadline: f.pickup_deadline.map(utc),
                    pickup_code: f.pickup_code_plain.clone().filter(|_| names.reveal_codes),
                    arrived_at: f.arrived_at.map(utc),
                    arrival_note: f.arrival_note.clone(),
                    tracking: f.tracking.clone(),
                    allowed_actions: state::moves(method, f.is_transfer(), status)
                        .into_iter()
                        .map(|(a, _)| a)
                        .filter(|a| *a != Action::Expire)
                        .collect(),
                    lines: order
                        .lines_of(&f.id)
                        .map(|l| OrderLineResponse {
                            id: l.id.to_string(),
                            sku: l.sku_code.clone(),
                            name: l.name.clone(),
                            quantity: l.quantity,
                            unit_price: money(l.unit_price_minor),
                            discount: money(l.discount_minor),
                            tax: money(l.tax_minor),
                            total: money(l.total_minor),
                            picked: l.picked_quantity,
                            short: l.short_quantity,
                            cancelled: l.cancelled_quantity,
                            returned: l.returned_quantity,
                            components: l
                                .item()
                                .ok()
                                .filter(|item| item.is_kit())
                                .map(|item| item.components.iter().map(ComponentResponse::from).collect()),
                        })
                        .collect(),
                    version: f.version,
                }
            })
            .collect();
        let r = &order.row;
        Self {
            id: r.id.to_string(),
            number: r.number.clone(),
            customer: names.customer_ref.clone(),
            channel: r.channel.clone(),
            status: order.status().unwrap_or(OrderStatus::NeedsAttention),
            status_reason: r.status_reason.clone(),
            totals: OrderTotals {
                subtotal: money(r.subtotal_minor),
                discount: money(r.discount_minor),
                tax: money(r.tax_minor),
                total: money(r.total_minor),
            },
            prices_include_tax: r.prices_include_tax,
            promotion_code: r.promotion_code.clone(),
            payment: r
                .payment_reference
                .clone()
                .map(|reference| PaymentResponse { reference, amount: money(r.payment_minor.unwrap_or_default()) }),
            marketplace_order: r.external_id.clone(),
            fulfilments,
            channels: r
                .channels
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_else(|| vec![r.channel.clone()]),
            refunds: order
                .refunds
                .iter()
                .map(|f| RefundResponse {
                    id: f.id.to_string(),
                    kind: RefundKind::parse(&f.kind).unwrap_or(RefundKind::Cancellation),
                    amount: money(f.amount_minor),
                    reason: f.reason.clone(),
                    lines: f
                        .lines()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|l| RefundLineResponse {
                            line: l.line.to_string(),
                            sku: l.sku,
                            quantity: l.quantity,
                            amount: money(l.amount_minor),
                        })
                        .collect(),
                    channel: f.channel.clone(),
                    created_at: utc(f.created_at),
                })
                .collect(),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
            version: r.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// API key id, or `system` for jobs.
    pub actor: String,
    pub channel: String,
    pub at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryResponse {
    fn from(a: AuditEntry) -> Self {
        Self {
            fulfilment: a.fulfilment_id.map(|f| f.to_string()),
            action: a.action,
            from: a.from_status,
            to: a.to_status,
            reason: a.reason,
            actor: a.actor,
            channel: a.channel,
            at: utc(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub order: String,
    pub entries: Vec<AuditEntryResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnLineResponse {
    pub line: String,
    pub quantity: i32,
    pub disposition: String,
    pub refund: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnResponse {
    pub id: String,
    pub order: String,
    pub refund: MoneyDto,
    pub lines: Vec<ReturnLineResponse>,
    pub created_at: DateTime<Utc>,
}

impl ReturnResponse {
    pub fn new(returned: &Returned, order: &Order) -> Self {
        let money = |minor: i64| -> MoneyDto {
            order
                .currency()
                .map(|c| Money::new(minor, c).into())
                .unwrap_or(MoneyDto { amount: "0".into(), currency: String::new() })
        };
        Self {
            id: returned.row.id.to_string(),
            order: order.row.number.clone(),
            refund: money(returned.row.refund_minor),
            lines: returned
                .lines
                .iter()
                .map(|l| ReturnLineResponse {
                    line: l.order_line_id.to_string(),
                    quantity: l.quantity,
                    disposition: l.disposition.clone(),
                    refund: money(l.refund_minor),
                })
                .collect(),
            created_at: utc(returned.row.created_at),
        }
    }
}
