//! Carts, lines, fulfilment intents and the change history.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::Sku;
use crate::catalog::location::Address;
use crate::db::schema::cart_changes;
use crate::text::Text200;
use crate::text_enum;
use crate::types::{CartId, Currency, CustomerId, GeoPoint, LocationId, ReservationId};

text_enum! {
    pub enum CartStatus {
        Open => "open",
        CheckedOut => "checked_out",
        Merged => "merged",
    }
}

text_enum! {
    /// What a change to a cart did.
    pub enum CartAction {
        Create => "create",
        AddLine => "add_line",
        SetQuantity => "set_quantity",
        RemoveLine => "remove_line",
        SetFulfilment => "set_fulfilment",
        ApplyPromotion => "apply_promotion",
        RemovePromotion => "remove_promotion",
        Merge => "merge",
        MergedInto => "merged_into",
        CheckOut => "check_out",
    }
}

/// Where to deliver: a postal address with the coordinates the storefront
/// geocoded (same-day needs them to find a store in range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text200>)]
    pub recipient: Option<String>,
    #[schema(value_type = Text200)]
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text200>)]
    pub line2: Option<String>,
    #[schema(value_type = Text200)]
    pub city: String,
    #[schema(value_type = Text200)]
    pub postal_code: String,
    /// ISO 3166-2 subdivision of `country` (e.g. `DE-BY`): the tax region when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Z]{2}-[A-Z0-9]{1,3}$")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// With `longitude`; same-day delivery needs both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    /// With `latitude`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
}

impl DeliveryAddress {
    pub fn postal(&self) -> Address {
        Address {
            line1: self.line1.clone(),
            line2: self.line2.clone(),
            city: self.city.clone(),
            postal_code: self.postal_code.clone(),
            region: self.region.clone(),
            country: self.country.clone(),
        }
    }

    pub fn point(&self) -> Option<GeoPoint> {
        match (self.latitude, self.longitude) {
            (Some(latitude), Some(longitude)) => GeoPoint::new(latitude, longitude).ok(),
            _ => None,
        }
    }
}

/// How the customer wants the cart: stored with the cart, used at checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Intent {
    Ship { address: DeliveryAddress },
    Pickup { location_id: LocationId, curbside: bool },
    SameDay { address: DeliveryAddress, slot_id: Option<String> },
}

#[derive(Debug, Clone)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: i32,
    pub hold_id: Option<ReservationId>,
    pub added_channel: String,
    /// The channel of the line's latest change (the adding one until then).
    pub updated_channel: String,
    pub added_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct Cart {
    pub id: CartId,
    pub customer_id: Option<CustomerId>,
    pub token: Option<String>,
    pub status: CartStatus,
    pub currency: Option<Currency>,
    pub intent: Option<Intent>,
    pub promotion_code: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub lines: Vec<CartLine>,
    /// Every channel that has changed the cart (or a cart merged into it),
    /// alphabetically.
    pub channels: Vec<String>,
}

impl Cart {
    /// Mirrors a line just written: a new line was added through `via.0`
    /// and changed through `via.1`; an existing one keeps its first channel.
    /// Lines stay in the order they are read in: by when added, then SKU id.
    pub fn put_line(
        &mut self,
        sku: &Sku,
        quantity: i32,
        hold_id: Option<ReservationId>,
        via: (&str, &str),
        at: NaiveDateTime,
    ) {
        match self.lines.iter_mut().find(|l| l.sku.id == sku.id) {
            Some(line) => {
                line.quantity = quantity;
                line.hold_id = hold_id;
                line.updated_channel = via.1.to_owned();
                line.updated_at = at;
            }
            None => {
                self.lines.push(CartLine {
                    sku: sku.clone(),
                    quantity,
                    hold_id,
                    added_channel: via.0.to_owned(),
                    updated_channel: via.1.to_owned(),
                    added_at: at,
                    updated_at: at,
                });
                self.lines.sort_by(|a, b| (a.added_at, &a.sku.id).cmp(&(b.added_at, &b.sku.id)));
            }
        }
    }
}

/// One entry of a cart's history: who changed what, through which channel.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = cart_changes)]
pub struct CartChange {
    pub id: i64,
    /// The cart changed: the one read, or an anonymous cart merged into it.
    pub cart_id: crate::types::CartId,
    pub version: i32,
    pub action: String,
    pub sku_id: Option<crate::types::SkuId>,
    pub quantity: Option<i32>,
    pub detail: Option<String>,
    pub channel: String,
    pub actor: String,
    pub created_at: NaiveDateTime,
}
