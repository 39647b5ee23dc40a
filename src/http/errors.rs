//! Every domain error mapped to its problem document, here and only here.
//! The statuses and stable types are pinned by the test at the bottom.

use std::time::Duration;

use serde_json::Value;

use super::dto::cart::{CartResponse, CustomerResponse};
use super::dto::catalog::{LocationResponse, SkuResponse};
use super::dto::marketplace::MarketplaceResponse;
use super::dto::pricing::PromotionResponse;
use super::problem::ApiError;
use crate::access::AccessError;
use crate::cart::CartError;
use crate::catalog::CatalogError;
use crate::customer::CustomerError;
use crate::db::DbError;
use crate::inventory::{InventoryError, Shortage};
use crate::marketplace::MarketplaceError;
use crate::marketplace::connector::WebhookError;
use crate::order::OrderError;
use crate::order::same_day::SameDayError;
use crate::pricing::PricingError;
use crate::voice::VoiceError;

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => Self::not_found("the resource does not exist"),
            DbError::Unique(constraint) => Self::conflict(
                "duplicate",
                "Duplicate",
                format!("a record with the same unique value already exists ({constraint})"),
            ),
            DbError::Check(rule) => Self::conflict(
                "constraint-violated",
                "Constraint violated",
                format!("the change would break the rule '{rule}'; nothing was written"),
            )
            .with("rule", rule),
            DbError::ForeignKey(rule) => Self::conflict(
                "reference-violated",
                "Reference violated",
                format!(
                    "the change names a record that does not exist or is still in use ('{rule}'); nothing was written"
                ),
            )
            .with("rule", rule),
            DbError::Unavailable(_) => Self::unavailable(
                "the database is not reachable right now; nothing was written, retry shortly",
                Duration::from_secs(1),
                error,
            ),
            DbError::Busy => Self::unavailable(
                "too many writes are waiting; nothing was written, retry shortly",
                Duration::from_secs(1),
                error,
            ),
            other => Self::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        DbError::from(error).into()
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        let detail = error.to_string();
        match error {
            CatalogError::LocationNotFound(code) => {
                Self::missing("location-not-found", "Location not found", detail).with("location", code)
            }
            CatalogError::SkuNotFound(sku) => Self::missing("sku-not-found", "SKU not found", detail).with("sku", sku),
            CatalogError::LocationCodeTaken(_) | CatalogError::SkuCodeTaken(_) => {
                Self::conflict("code-taken", "Code already taken", detail)
            }
            CatalogError::GtinTaken(_) => Self::conflict("gtin-taken", "GTIN already taken", detail),
            CatalogError::LocationStale { current, .. } => Self::stale(detail, LocationResponse::from(&*current)),
            CatalogError::SkuStale { current, .. } => Self::stale(detail, SkuResponse::from(&*current)),
            CatalogError::ComponentUnknown(sku) => {
                // Not found, as any SKU named in a body that does not exist.
                Self::missing("kit-component-unknown", "Unknown kit component", detail).with("sku", sku)
            }
            // Conflicts with what the catalogue holds: the SKU named is a kit.
            CatalogError::KitInKit(sku) => Self::conflict("kit-in-kit", "Kit inside a kit", detail).with("sku", sku),
            CatalogError::ComponentTwice(sku) => {
                Self::conflict("kit-component-twice", "Kit component listed twice", detail).with("sku", sku)
            }
            CatalogError::KitKindFixed { .. } => Self::conflict("kit-kind-fixed", "A kit stays a kit", detail),
            CatalogError::Db(db) => db.into(),
        }
    }
}

/// The `lines` member of an `insufficient-stock` problem.
fn shortage_lines(shortages: &[Shortage]) -> Value {
    Value::Array(
        shortages
            .iter()
            .map(|s| {
                serde_json::json!({
                    "sku": s.sku_code,
                    "location": s.location_code,
                    "requested": s.requested,
                    "available": s.available,
                    "alternatives": s.alternatives.iter().map(|a| {
                        let mut alternative = serde_json::json!({ "location": a.location_code, "available": a.available });
                        if let Some(km) = a.distance_km {
                            alternative["distance_km"] = ((km * 10.0).round() / 10.0).into();
                        }
                        alternative
                    }).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> Self {
        let detail = error.to_string();
        match error {
            InventoryError::Insufficient(shortages) => {
                Self::conflict("insufficient-stock", "Insufficient stock", detail)
                    .with("lines", shortage_lines(&shortages))
            }
            InventoryError::ReservationNotFound(_) => {
                Self::missing("reservation-not-found", "Reservation not found", detail)
            }
            InventoryError::ReservationNotActive { status, .. } => {
                Self::conflict("reservation-not-active", "Reservation not active", detail)
                    .with("reservation_status", status)
            }
            InventoryError::ReservationExpired { .. } => {
                Self::conflict("reservation-expired", "Reservation expired", detail)
            }
            InventoryError::NotHeld { .. } => Self::conflict("not-held", "Not held", detail),
            InventoryError::SameLocation => Self::field("/to", detail),
            InventoryError::LocationInactive(_) => Self::conflict("location-inactive", "Location inactive", detail),
            InventoryError::SkuInactive(_) => Self::conflict("sku-inactive", "SKU inactive", detail),
            InventoryError::HoldTooLong { .. } => Self::field("/expires_in_seconds", detail),
            InventoryError::KitNotStocked(sku) => {
                Self::conflict("kit-not-stocked", "A kit has no stock of its own", detail).with("sku", sku)
            }
            InventoryError::Catalog(catalog) => catalog.into(),
            InventoryError::Db(db) => db.into(),
        }
    }
}

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let detail = error.to_string();
        match error {
            CustomerError::NotFound(_) => Self::missing("customer-not-found", "Customer not found", detail),
            CustomerError::RefTaken(_) => Self::conflict("customer-exists", "Customer exists", detail),
            CustomerError::Stale { current, .. } => {
                Self::stale(detail, CustomerResponse::new(&current, None, Vec::new()))
            }
            CustomerError::Db(db) => db.into(),
        }
    }
}

impl From<CartError> for ApiError {
    fn from(error: CartError) -> Self {
        let detail = error.to_string();
        match error {
            CartError::NotFound(_) => Self::missing("cart-not-found", "Cart not found", detail),
            CartError::Closed(status) => {
                Self::conflict("cart-closed", "Cart closed", detail).with("cart_status", status)
            }
            CartError::Stale { current, .. } => {
                let customer = None;
                Self::stale(detail, CartResponse::new(&current, customer, None))
            }
            CartError::CurrencyMismatch { .. } => Self::conflict("currency-mismatch", "Currency mismatch", detail),
            CartError::TooManyLines | CartError::QuantityTooLarge => Self::conflict("cart-limit", "Cart limit", detail),
            CartError::LineNotFound(_) => Self::missing("line-not-found", "Line not found", detail),
            CartError::SkuInactive(_) => Self::conflict("sku-inactive", "SKU inactive", detail),
            CartError::LocationCannot { .. } => Self::conflict("location-cannot", "Location cannot do this", detail),
            CartError::AddressNeedsCoordinates => Self::field("/address/latitude", detail),
            CartError::Pricing(e) => e.into(),
            CartError::Customer(e) => e.into(),
            CartError::Catalog(e) => e.into(),
            CartError::Inventory(e) => e.into(),
            CartError::Db(e) => e.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        let detail = error.to_string();
        match error {
            OrderError::NotFound(_) => Self::missing("order-not-found", "Order not found", detail),
            OrderError::FulfilmentNotFound(_) => Self::missing("fulfilment-not-found", "Fulfilment not found", detail),
            OrderError::LineNotFound(_) => Self::missing("line-not-found", "Line not found", detail),
            OrderError::CartEmpty => Self::conflict("cart-empty", "Cart empty", detail),
            OrderError::NoFulfilmentChosen => Self::conflict("fulfilment-missing", "Fulfilment not chosen", detail),
            OrderError::MixedCurrency => Self::conflict("currency-mismatch", "Currency mismatch", detail),
            OrderError::PaymentMismatch { expected, got } => {
                Self::conflict("payment-mismatch", "Payment mismatch", detail)
                    .with("expected", expected)
                    .with("authorised", got)
            }
            OrderError::IllegalTransition { from, allowed, .. } => {
                Self::conflict("illegal-transition", "Illegal transition", detail)
                    .with("fulfilment_status", from)
                    .with("allowed_actions", allowed)
            }
            OrderError::NotReturnable(_) => Self::conflict("not-returnable", "Not returnable", detail),
            OrderError::BadPick(_) => Self::conflict("pick-refused", "Pick refused", detail),
            OrderError::NotApplicable(_) => Self::conflict("not-applicable", "Not applicable", detail),
            OrderError::TooLarge(_) => Self::field("/lines", detail),
            OrderError::SameDay(e) => e.into(),
            OrderError::Cart(e) => e.into(),
            OrderError::Pricing(e) => e.into(),
            OrderError::Inventory(e) => e.into(),
            OrderError::Catalog(e) => e.into(),
            OrderError::Customer(e) => e.into(),
            OrderError::Db(e) => e.into(),
        }
    }
}

impl From<VoiceError> for ApiError {
    fn from(error: VoiceError) -> Self {
        let detail = error.to_string();
        match error {
            VoiceError::NotUnderstood { speech } => {
                Self::unprocessable("phrase-not-understood", "Phrase not understood", detail).with("speech", speech)
            }
            VoiceError::NeedsPhrase => Self::field("/phrase", detail),
            VoiceError::NeedsPayment => Self::field("/payment", detail),
            VoiceError::Cart(e) => e.into(),
            VoiceError::Order(e) => e.into(),
            VoiceError::Catalog(e) => e.into(),
            VoiceError::Db(e) => e.into(),
        }
    }
}

impl From<SameDayError> for ApiError {
    fn from(error: SameDayError) -> Self {
        let detail = error.to_string();
        match error {
            SameDayError::Unavailable { reason, next } => {
                let next_slot = next.map(|slot| {
                    serde_json::json!({
                        "slot": slot.id,
                        "location": slot.location_code,
                        "starts_at": slot.starts_at,
                        "ends_at": slot.ends_at,
                    })
                });
                Self::conflict("same-day-unavailable", "Same-day delivery unavailable", detail)
                    .with("reason", reason)
                    .with("next_slot", next_slot)
                    .with("alternatives", ["ship"])
            }
            SameDayError::SlotRequired => Self::conflict("slot-required", "Delivery slot required", detail),
            SameDayError::Catalog(e) => e.into(),
            SameDayError::Inventory(e) => e.into(),
            SameDayError::Db(e) => e.into(),
        }
    }
}

impl From<MarketplaceError> for ApiError {
    fn from(error: MarketplaceError) -> Self {
        let detail = error.to_string();
        match error {
            MarketplaceError::NotFound(_) => Self::missing("marketplace-not-found", "Marketplace not found", detail),
            MarketplaceError::NameTaken(_) => Self::conflict("name-taken", "Name already taken", detail),
            MarketplaceError::Stale { current, .. } => Self::stale(detail, MarketplaceResponse::from(&*current)),
            MarketplaceError::ListingTaken(_) => Self::conflict("listing-taken", "Listing already mapped", detail),
            MarketplaceError::ListingNotFound(_) => Self::missing("listing-not-found", "Listing not found", detail),
            MarketplaceError::UnknownLocation(_) => Self::missing("location-not-found", "Location not found", detail),
            MarketplaceError::UnknownListing(_) => Self::unprocessable("unknown-listing", "Unknown listing", detail),
            MarketplaceError::Secret { .. } => Self::internal(error),
            MarketplaceError::Order(e) => e.into(),
            MarketplaceError::Inventory(e) => e.into(),
            MarketplaceError::Catalog(e) => e.into(),
            MarketplaceError::Db(e) => e.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::BadSignature | WebhookError::Stale => Self::bad_signature(error.to_string()),
            WebhookError::Malformed(_) => Self::bad_request(error.to_string()),
            WebhookError::Invalid(detail) => Self::field("/body", detail),
        }
    }
}

impl From<PricingError> for ApiError {
    fn from(error: PricingError) -> Self {
        let detail = error.to_string();
        match error {
            PricingError::PromotionNotFound(_) => Self::missing("promotion-not-found", "Promotion not found", detail),
            PricingError::PromotionCodeTaken(_) => Self::conflict("code-taken", "Code already taken", detail),
            PricingError::PromotionStale { current, .. } => Self::stale(detail, PromotionResponse::new(&current, None)),
            PricingError::PromotionInvalid { reason, .. } => {
                Self::conflict("promotion-invalid", "Promotion code not usable", detail).with("reason", reason)
            }
            PricingError::NoTaxRate { region, class } => {
                Self::conflict("tax-rate-missing", "No tax rate for the destination", detail)
                    .with("region", region)
                    .with("tax_class", class)
            }
            PricingError::Db(e) => e.into(),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Db(db) => db.into(),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::CartStatus;
    use crate::http::problem::PROBLEM_BASE;
    use crate::inventory::ReservationStatus;
    use crate::order::same_day::Unavailable;
    use crate::order::state::{Action, FulfilmentStatus};

    /// Every error variant's status and stable slug, pinned.
    #[test]
    fn each_error_maps_to_its_status_and_type() {
        let s = |n: &str| n.to_owned();
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (DbError::NotFound.into(), 404, "not-found"),
            (DbError::Unique(s("x")).into(), 409, "duplicate"),
            (DbError::Check(s("on_hand >= 0")).into(), 409, "constraint-violated"),
            (DbError::ForeignKey(s("fk")).into(), 409, "reference-violated"),
            (DbError::Unavailable(s("down").into()).into(), 503, "unavailable"),
            (DbError::Busy.into(), 503, "unavailable"),
            (DbError::TaskFailed.into(), 500, "internal-error"),
            (DbError::Corrupt(s("x")).into(), 500, "internal-error"),
            (DbError::Migration(s("x")).into(), 500, "internal-error"),
            (CatalogError::LocationNotFound(s("L")).into(), 404, "location-not-found"),
            (CatalogError::SkuNotFound(s("S")).into(), 404, "sku-not-found"),
            (CatalogError::LocationCodeTaken(s("L")).into(), 409, "code-taken"),
            (CatalogError::SkuCodeTaken(s("S")).into(), 409, "code-taken"),
            (CatalogError::GtinTaken(s("G")).into(), 409, "gtin-taken"),
            (CatalogError::ComponentUnknown(s("S")).into(), 404, "kit-component-unknown"),
            (CatalogError::KitInKit(s("S")).into(), 409, "kit-in-kit"),
            (CatalogError::ComponentTwice(s("S")).into(), 409, "kit-component-twice"),
            (CatalogError::KitKindFixed { code: s("S"), kit: true }.into(), 409, "kit-kind-fixed"),
            (InventoryError::Insufficient(Vec::new()).into(), 409, "insufficient-stock"),
            (InventoryError::ReservationNotFound(s("R")).into(), 404, "reservation-not-found"),
            (
                InventoryError::ReservationNotActive { id: s("R"), status: ReservationStatus::Expired }.into(),
                409,
                "reservation-not-active",
            ),
            (
                InventoryError::ReservationExpired { id: s("R"), at: chrono::NaiveDateTime::default() }.into(),
                409,
                "reservation-expired",
            ),
            (InventoryError::NotHeld { reservation: s("R"), sku: s("S"), quantity: 1 }.into(), 409, "not-held"),
            (InventoryError::SameLocation.into(), 422, "validation-failed"),
            (InventoryError::LocationInactive(s("L")).into(), 409, "location-inactive"),
            (InventoryError::SkuInactive(s("S")).into(), 409, "sku-inactive"),
            (InventoryError::HoldTooLong { max_seconds: 1 }.into(), 422, "validation-failed"),
            (CustomerError::NotFound(s("C")).into(), 404, "customer-not-found"),
            (CustomerError::RefTaken(s("C")).into(), 409, "customer-exists"),
            (CartError::NotFound(s("C")).into(), 404, "cart-not-found"),
            (CartError::Closed(CartStatus::Merged).into(), 409, "cart-closed"),
            (CartError::TooManyLines.into(), 409, "cart-limit"),
            (CartError::QuantityTooLarge.into(), 409, "cart-limit"),
            (CartError::LineNotFound(s("S")).into(), 404, "line-not-found"),
            (CartError::SkuInactive(s("S")).into(), 409, "sku-inactive"),
            (CartError::LocationCannot { code: s("L"), what: "x" }.into(), 409, "location-cannot"),
            (CartError::AddressNeedsCoordinates.into(), 422, "validation-failed"),
            (PricingError::PromotionNotFound(s("P")).into(), 404, "promotion-not-found"),
            (PricingError::PromotionCodeTaken(s("P")).into(), 409, "code-taken"),
            (PricingError::PromotionInvalid { code: s("P"), reason: s("x") }.into(), 409, "promotion-invalid"),
            (PricingError::NoTaxRate { region: s("AT"), class: s("reduced") }.into(), 409, "tax-rate-missing"),
            (OrderError::NotFound(s("O")).into(), 404, "order-not-found"),
            (OrderError::FulfilmentNotFound(s("F")).into(), 404, "fulfilment-not-found"),
            (OrderError::LineNotFound(s("L")).into(), 404, "line-not-found"),
            (OrderError::CartEmpty.into(), 409, "cart-empty"),
            (OrderError::NoFulfilmentChosen.into(), 409, "fulfilment-missing"),
            (OrderError::MixedCurrency.into(), 409, "currency-mismatch"),
            (OrderError::PaymentMismatch { expected: s("1"), got: s("2") }.into(), 409, "payment-mismatch"),
            (
                OrderError::IllegalTransition {
                    from: FulfilmentStatus::Shipped,
                    action: Action::Cancel,
                    allowed: Vec::new(),
                }
                .into(),
                409,
                "illegal-transition",
            ),
            (OrderError::NotReturnable(s("x")).into(), 409, "not-returnable"),
            (OrderError::BadPick(s("x")).into(), 409, "pick-refused"),
            (OrderError::NotApplicable(s("x")).into(), 409, "not-applicable"),
            (OrderError::TooLarge(s("x")).into(), 422, "validation-failed"),
            (
                SameDayError::Unavailable { reason: Unavailable::AfterCutoff, next: None }.into(),
                409,
                "same-day-unavailable",
            ),
            (SameDayError::SlotRequired.into(), 409, "slot-required"),
            (MarketplaceError::NotFound(s("M")).into(), 404, "marketplace-not-found"),
            (MarketplaceError::NameTaken(s("M")).into(), 409, "name-taken"),
            (MarketplaceError::ListingTaken(s("L")).into(), 409, "listing-taken"),
            (MarketplaceError::ListingNotFound(s("L")).into(), 404, "listing-not-found"),
            (MarketplaceError::UnknownLocation(s("L")).into(), 404, "location-not-found"),
            (MarketplaceError::UnknownListing(s("L")).into(), 422, "unknown-listing"),
            (WebhookError::BadSignature.into(), 401, "invalid-signature"),
            (WebhookError::Stale.into(), 401, "invalid-signature"),
            (WebhookError::Malformed(s("x")).into(), 400, "bad-request"),
            (WebhookError::Invalid(s("x")).into(), 422, "validation-failed"),
            (VoiceError::NotUnderstood { speech: s("x") }.into(), 422, "phrase-not-understood"),
            (VoiceError::NeedsPhrase.into(), 422, "validation-failed"),
            (VoiceError::NeedsPayment.into(), 422, "validation-failed"),
        ];
        for (error, status, slug) in cases {
            let problem = error.to_problem();
            assert_eq!(
                (problem.status, problem.problem_type.as_str()),
                (status, format!("{PROBLEM_BASE}{slug}").as_str()),
                "{error}"
            );
            assert_eq!(problem.code, slug.replace('-', "_"));
        }
    }
}
