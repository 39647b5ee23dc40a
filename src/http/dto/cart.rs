//! Customers and carts on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodeText, Email, MoneyDto, Phone, Reference, Text40, Text100, Text200, Validator, identifier, text, utc};
use crate::cart::{CartChange, CartStatus, DeliveryAddress, Intent, Quote, TaxView};
use crate::customer::{self, Customer, CustomerInput};
use crate::types::{Money, Quantity};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    /// The storefront's own customer id: required on POST; on PUT it comes
    /// from the path and is left out of the body.
    #[serde(default)]
    #[schema(value_type = Option<Reference>)]
    pub external_ref: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Email>)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<String>,
    #[serde(default)]
    pub marketing_consent: bool,
}

impl CustomerRequest {
    pub fn into_input(self, path_ref: Option<&str>) -> Result<CustomerInput, crate::http::problem::ApiError> {
        let mut v = Validator::default();
        let external_ref = match (path_ref, self.external_ref.as_deref()) {
            (Some(_), Some(_)) => {
                v.error("/external_ref", "comes from the URL on replace: leave it out of the body");
                None
            }
            (Some(r), _) | (None, Some(r)) => v.check("/external_ref", identifier(r, 200)),
            (None, None) => {
                v.error("/external_ref", "is required");
                None
            }
        };
        let name = self.name.as_deref().and_then(|n| v.check("/name", text(n, 200)));
        let email = self.email.as_deref().and_then(|e| v.check("/email", customer::normalize_email(e)));
        let phone = self.phone.as_deref().and_then(|p| v.check("/phone", customer::normalize_phone(p)));
        let Some(external_ref) = external_ref else { return Err(v.into_error()) };
        v.finish()?;
        Ok(CustomerInput { external_ref, name, email, phone, marketing_consent: self.marketing_consent })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartSummary {
    pub lines: usize,
    pub units: i32,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerResponse {
    pub external_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub marketing_consent: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The open cart, as every channel sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_cart: Option<CartSummary>,
    /// The latest orders, from every channel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recent_orders: Vec<OrderSummary>,
}

/// An order in a customer's history, whatever channel it came through.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    /// The channel that placed it.
    pub channel: String,
    pub status: String,
    pub total: MoneyDto,
    pub lines: Vec<OrderSummaryLine>,
    pub fulfilments: Vec<OrderSummaryFulfilment>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryLine {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    /// Units no longer due: cancelled, short or returned.
    pub taken_off: i32,
    pub total: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryFulfilment {
    pub id: String,
    pub method: String,
    pub status: String,
}

impl CustomerResponse {
    pub fn new(c: &Customer, open_cart: Option<CartSummary>, recent_orders: Vec<OrderSummary>) -> Self {
        Self {
            external_ref: c.external_ref.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            marketing_consent: c.marketing_consent,
            version: c.version,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
            open_cart,
            recent_orders,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomersResponse {
    pub items: Vec<CustomerResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineRequest {
    /// SKU code or GTIN.
    #[schema(value_type = CodeText)]
    pub sku: String,
    /// Units to add, 1 to 999 (a line holds at most 999 in all).
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    /// The line's new quantity, 1 to 999 (remove a line with DELETE).
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: i64,
}

/// Validates a cart quantity: 1 to 999.
pub fn cart_quantity(v: &mut Validator, pointer: &str, raw: i64) -> Option<Quantity> {
    let checked = Quantity::new(raw).and_then(|q| {
        if q.get() > crate::cart::MAX_LINE_QUANTITY {
            Err(format!("must be at most {}", crate::cart::MAX_LINE_QUANTITY))
        } else {
            Ok(q)
        }
    });
    v.check(pointer, checked)
}

/// How the customer wants the cart: `ship`, `pickup` (or curbside) or `same_day`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum FulfilmentRequest {
    Ship {
        address: DeliveryAddress,
    },
    Pickup {
        /// Location code.
        #[schema(value_type = CodeText)]
        location: String,
        #[serde(default)]
        curbside: bool,
    },
    SameDay {
        /// Needs latitude and longitude.
        address: DeliveryAddress,
        /// A slot id from `/v1/same-day/slots`.
        #[serde(default)]
        #[schema(value_type = Option<Text100>)]
        slot: Option<String>,
    },
}

/// Checks an address's fields (serde has checked its shape).
pub fn validate_address(v: &mut Validator, pointer: &str, address: &DeliveryAddress) {
    if let Some(recipient) = &address.recipient {
        v.check(&format!("{pointer}/recipient"), text(recipient, 200));
    }
    for (field, detail) in address.postal().validate() {
        v.error(format!("{pointer}/{field}"), detail);
    }
    match (address.latitude, address.longitude) {
        (Some(lat), Some(lon)) => {
            if let Err(e) = crate::types::GeoPoint::new(lat, lon) {
                v.error(format!("{pointer}/latitude"), e);
            }
        }
        (None, None) => {}
        _ => v.error(format!("{pointer}/latitude"), "latitude and longitude go together"),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum CartFulfilmentResponse {
    Ship {
        address: DeliveryAddress,
    },
    Pickup {
        location: String,
        location_name: String,
        curbside: bool,
        /// When the order would be ready if placed now (store hours, own time zone).
        #[serde(skip_serializing_if = "Option::is_none")]
        ready_by: Option<DateTime<Utc>>,
    },
    SameDay {
        address: DeliveryAddress,
        #[serde(skip_serializing_if = "Option::is_none")]
        slot: Option<String>,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionCodeRequest {
    #[schema(value_type = Text40)]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Token of the anonymous cart.
    #[schema(value_type = Text100)]
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlternativeResponse {
    pub location: String,
    pub available: i32,
    /// Absent when there is no point to measure from (no address yet, or
    /// one that could not be placed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineAvailabilityResponse {
    /// Can be served with the cart's current fulfilment intent.
    pub fulfillable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Units available on `basis`.
    pub available: i32,
    /// What `available` counts: `network` (ship-enabled locations, the same
    /// figure as the availability endpoint's `network_available`; also used
    /// before a fulfilment is chosen), `pickup_location` (the chosen store)
    /// or `same_day_store` (the best single store in same-day range).
    #[schema(example = "network")]
    pub basis: String,
    /// Other pickup locations that have enough, nearest first.
    pub alternatives: Vec<AlternativeResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineResponse {
    pub sku: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    pub quantity: i32,
    pub unit_price: MoneyDto,
    /// Unit price × quantity.
    pub line_total: MoneyDto,
    pub discount: MoneyDto,
    pub tax: MoneyDto,
    /// The line's tax rate in percent; absent when its class has no rate in
    /// the tax region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate_percent: Option<String>,
    /// What the customer pays for the line.
    pub total: MoneyDto,
    /// Channel the line was first added through.
    pub added_via: String,
    /// Channel of the line's last change.
    pub updated_via: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    pub availability: LineAvailabilityResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionApplied {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub amount: MoneyDto,
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Totals {
    pub subtotal: MoneyDto,
    pub discount: MoneyDto,
    pub tax: MoneyDto,
    pub total: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The key of an anonymous cart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub status: CartStatus,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub lines: Vec<CartLineResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<CartFulfilmentResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code: Option<String>,
    /// Why the promotion code does not count now, if it does not (it is
    /// also listed in `promotions` with `applied: false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_code_problem: Option<String>,
    /// Every promotion considered: applied ones with their amount, and the
    /// cart's code with the reason when it does not count on this channel
    /// or now.
    pub promotions: Vec<PromotionApplied>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    pub prices_include_tax: bool,
    /// Where tax is computed for: the destination, or before a fulfilment is
    /// chosen, the caller's store or the configured default region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_region: Option<String>,
    /// The standard rate in percent of the tax region, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate_percent: Option<String>,
    /// True while the tax is an estimate: no fulfilment is chosen yet.
    pub tax_estimated: bool,
    /// What to know about the tax shown: that it is an estimate, or which
    /// classes have no rate at the destination (checkout is refused there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_note: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Says what a reader of the totals must know about their tax.
fn tax_note(tax: &TaxView) -> Option<String> {
    let missing = tax
        .missing
        .iter()
        .map(|(region, class)| {
            format!("no tax rate is set for {class} goods in {region}; checkout there is refused until one is")
        })
        .collect::<Vec<_>>()
        .join("; ");
    match (&tax.region, tax.estimated) {
        (_, _) if !missing.is_empty() => Some(missing),
        (Some(region), true) => Some(format!("estimated for {region} until a fulfilment is chosen")),
        (None, _) => Some("no tax region is known yet: tax is shown once a fulfilment is chosen".to_owned()),
        (Some(_), false) => None,
    }
}

impl CartResponse {
    /// `customer_ref` is the owner's reference; `ready_by` the pickup promise.
    pub fn new(q: &Quote, customer_ref: Option<String>, ready_by: Option<DateTime<Utc>>) -> Self {
        let cart = &q.cart;
        let money = |minor: i64| -> MoneyDto {
            match cart.currency {
                Some(c) => Money::new(minor, c).into(),
                None => MoneyDto { amount: "0".into(), currency: String::new() },
            }
        };
        let lines = cart
            .lines
            .iter()
            .zip(&q.availability)
            .enumerate()
            .map(|(i, (line, availability))| {
                let priced = q.priced.as_ref().and_then(|p| p.lines.get(i));
                CartLineResponse {
                    sku: line.sku.code.to_string(),
                    name: line.sku.name.clone(),
                    gtin: line.sku.gtin.as_ref().map(|g| g.as_str().to_owned()),
                    quantity: line.quantity,
                    unit_price: line.sku.price.into(),
                    line_total: money(priced.map(|p| p.gross).unwrap_or_default()),
                    discount: money(priced.map(|p| p.discount).unwrap_or_default()),
                    tax: money(priced.map(|p| p.tax).unwrap_or_default()),
                    tax_rate_percent: q.tax.rates.get(i).copied().flatten().map(|r| r.normalize().to_string()),
                    total: money(priced.map(|p| p.total).unwrap_or_default()),
                    added_via: line.added_channel.clone(),
                    updated_via: line.updated_channel.clone(),
                    hold: line.hold_id.as_ref().map(ToString::to_string),
                    availability: LineAvailabilityResponse {
                        fulfillable: availability.fulfillable,
                        location: availability.location.clone(),
                        available: availability.available,
                        basis: availability.basis.as_str().to_owned(),
                        alternatives: availability
                            .alternatives
                            .iter()
                            .map(|a| AlternativeResponse {
                                location: a.location_code.clone(),
                                available: a.available,
                                distance_km: a.distance_km.map(|d| (d * 10.0).round() / 10.0),
                            })
                            .collect(),
                    },
                }
            })
            .collect();
        let fulfilment = cart.intent.as_ref().map(|intent| match intent {
            Intent::Ship { address } => CartFulfilmentResponse::Ship { address: address.clone() },
            Intent::Pickup { curbside, .. } => CartFulfilmentResponse::Pickup {
                location: q.pickup.as_ref().map(|l| l.code.to_string()).unwrap_or_default(),
                location_name: q.pickup.as_ref().map(|l| l.name.clone()).unwrap_or_default(),
                curbside: *curbside,
                ready_by,
            },
            Intent::SameDay { address, slot_id } => {
                CartFulfilmentResponse::SameDay { address: address.clone(), slot: slot_id.clone() }
            }
        });
        Self {
            id: cart.id.to_string(),
            customer: customer_ref,
            token: cart.token.clone(),
            status: cart.status,
            version: cart.version,
            currency: cart.currency.map(|c| c.code().to_owned()),
            lines,
            fulfilment,
            promotion_code: cart.promotion_code.clone(),
            promotion_code_problem: q.code_problem.as_ref().map(|p| p.reason.clone()),
            promotions: q
                .priced
                .iter()
                .flat_map(|p| &p.offers)
                .map(|o| PromotionApplied {
                    name: o.name.clone(),
                    code: o.code.clone(),
                    amount: money(o.amount),
                    applied: o.not_applied.is_none(),
                    reason: o.not_applied.clone(),
                })
                .chain(q.code_problem.iter().map(|p| PromotionApplied {
                    name: p.name.clone(),
                    code: cart.promotion_code.clone(),
                    amount: money(0),
                    applied: false,
                    reason: Some(p.reason.clone()),
                }))
                .collect(),
            totals: q.priced.as_ref().map(|p| Totals {
                subtotal: money(p.subtotal),
                discount: money(p.discount),
                tax: money(p.tax),
                total: money(p.total),
            }),
            prices_include_tax: q.prices_include_tax,
            tax_region: q.tax.region.clone(),
            tax_rate_percent: q.tax.standard_rate.map(|r| r.normalize().to_string()),
            tax_estimated: q.tax.estimated,
            tax_note: tax_note(&q.tax),
            updated_at: utc(cart.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartChangeResponse {
    /// The cart changed: this one, or an anonymous cart merged into it.
    pub cart: String,
    pub version: i32,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i32>,
    /// What else the change says: a fulfilment method, a code, an order number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The channel the change came through.
    pub channel: String,
    /// The API key that made it.
    pub actor: String,
    pub at: DateTime<Utc>,
}

impl CartChangeResponse {
    pub fn new(c: CartChange, sku_code: Option<String>) -> Self {
        Self {
            cart: c.cart_id.to_string(),
            version: c.version,
            action: c.action,
            sku: sku_code,
            quantity: c.quantity,
            detail: c.detail,
            channel: c.channel,
            actor: c.actor,
            at: utc(c.created_at),
        }
    }
}
