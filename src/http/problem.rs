//! RFC 9457 problem documents: the one `ResponseError` of the service. Every
//! domain error is mapped to a status and a stable type here, and only here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cart::CartError;
use crate::catalog::CatalogError;
use crate::customer::CustomerError;
use crate::db::DbError;
use crate::fulfilment::same_day::SameDayError;
use crate::http::dto::cart::{CartResponse, CustomerResponse, PromotionResponse};
use crate::http::dto::catalog::{LocationResponse, SkuResponse};
use crate::http::dto::marketplace::MarketplaceResponse;
use crate::inventory::{InventoryError, Shortage};
use crate::marketplace::MarketplaceError;
use crate::marketplace::connector::WebhookError;
use crate::order::OrderError;
use crate::voice::VoiceError;

/// Base of every problem `type`; the stable slug follows it.
pub const PROBLEM_BASE: &str = "https://omnistock.dev/problems/";

/// One field that failed validation, located by JSON Pointer (RFC 6901).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

/// The problem document as sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://omnistock.dev/problems/<slug>`; the slug is stable.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The slug in snake_case, for switch statements.
    pub code: String,
    /// Further members that depend on the type (`errors`, `lines`, `current`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// An error answer. Boxed: it travels through every `?` of the request path.
#[derive(Debug)]
pub struct ApiError(Box<ErrorData>);

#[derive(Debug)]
struct ErrorData {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    headers: Vec<(header::HeaderName, String)>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(ErrorData {
            status,
            slug,
            title,
            detail: detail.into(),
            extensions: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Adds a member to the document (never one of the standard members).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        debug_assert!(!matches!(key, "type" | "title" | "status" | "detail" | "code"), "reserved member {key}");
        self.0.extensions.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn slug(&self) -> &'static str {
        self.0.slug
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", detail)
    }

    /// 422 with one entry per field that is wrong.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", display_pointer(&one.pointer), one.detail),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", "Validation failed", detail)
            .with("errors", errors)
    }

    pub fn field(pointer: &str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(pointer, detail)])
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn conflict(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, title, detail)
    }

    /// 412 carrying the resource as it is now, so the caller can merge and retry.
    pub fn stale(detail: impl Into<String>, current: impl Serialize) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "stale-version", "Precondition failed", detail)
            .with("current", current)
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "the request failed inside the service; it has been logged",
        );
        error.0.cause = Some(Box::new(cause));
        error
    }

    fn unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the database is not reachable right now; retry shortly",
        );
        error.0.cause = Some(Box::new(cause));
        error
    }

    pub fn to_problem(&self) -> Problem {
        let e = &self.0;
        Problem {
            problem_type: format!("{PROBLEM_BASE}{}", e.slug),
            title: e.title.to_owned(),
            status: e.status.as_u16(),
            detail: e.detail.clone(),
            code: e.slug.replace('-', "_"),
            extensions: e.extensions.clone(),
        }
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "body" } else { pointer.trim_start_matches('/') }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.slug, self.0.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        if e.status.is_server_error() {
            // The cause chain goes to the log, never to the caller.
            let mut chain = String::new();
            let mut source: Option<&(dyn std::error::Error + 'static)> = e.cause.as_deref().map(|c| c as _);
            while let Some(error) = source {
                chain.push_str(&format!(": {error}"));
                source = error.source();
            }
            tracing::error!(status = e.status.as_u16(), code = e.slug, "request failed{chain}");
        }
        let mut response = HttpResponse::build(e.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        for (name, value) in &e.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        response.body(serde_json::to_string(&self.to_problem()).unwrap_or_default())
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => Self::not_found("the resource does not exist"),
            DbError::Unique(constraint) => Self::conflict(
                "duplicate",
                "Duplicate",
                format!("a record with the same unique value already exists ({constraint})"),
            ),
            DbError::Pool(_) => Self::unavailable(error),
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
                Self::new(StatusCode::NOT_FOUND, "location-not-found", "Location not found", detail)
                    .with("location", code)
            }
            CatalogError::SkuNotFound(sku) => {
                Self::new(StatusCode::NOT_FOUND, "sku-not-found", "SKU not found", detail).with("sku", sku)
            }
            CatalogError::LocationCodeTaken(_) | CatalogError::SkuCodeTaken(_) => {
                Self::conflict("code-taken", "Code already taken", detail)
            }
            CatalogError::GtinTaken(_) => Self::conflict("gtin-taken", "GTIN already taken", detail),
            CatalogError::LocationStale { current, .. } => Self::stale(detail, LocationResponse::from(&*current)),
            CatalogError::SkuStale { current, .. } => Self::stale(detail, SkuResponse::from(&*current)),
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
                    "alternatives": s.alternatives.iter().map(|a| serde_json::json!({
                        "location": a.location_code,
                        "available": a.available,
                        "distance_km": (a.distance_km * 10.0).round() / 10.0,
                    })).collect::<Vec<_>>(),
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
                Self::new(StatusCode::NOT_FOUND, "reservation-not-found", "Reservation not found", detail)
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
            InventoryError::Catalog(catalog) => catalog.into(),
            InventoryError::Db(db) => db.into(),
        }
    }
}

impl From<CustomerError> for ApiError {
    fn from(error: CustomerError) -> Self {
        let detail = error.to_string();
        match error {
            CustomerError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "customer-not-found", "Customer not found", detail)
            }
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
            CartError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "cart-not-found", "Cart not found", detail),
            CartError::Closed(status) => {
                Self::conflict("cart-closed", "Cart closed", detail).with("cart_status", status)
            }
            CartError::Stale { current, .. } => {
                let customer = None;
                Self::stale(detail, CartResponse::new(&current, customer, None))
            }
            CartError::CurrencyMismatch { .. } => Self::conflict("currency-mismatch", "Currency mismatch", detail),
            CartError::TooManyLines | CartError::QuantityTooLarge => Self::conflict("cart-limit", "Cart limit", detail),
            CartError::LineNotFound(_) => Self::new(StatusCode::NOT_FOUND, "line-not-found", "Line not found", detail),
            CartError::SkuInactive(_) => Self::conflict("sku-inactive", "SKU inactive", detail),
            CartError::LocationCannot { .. } => Self::conflict("location-cannot", "Location cannot do this", detail),
            CartError::AddressNeedsCoordinates => Self::field("/address/latitude", detail),
            CartError::PromotionNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "promotion-not-found", "Promotion not found", detail)
            }
            CartError::PromotionCodeTaken(_) => Self::conflict("code-taken", "Code already taken", detail),
            CartError::PromotionStale { current, .. } => Self::stale(detail, PromotionResponse::new(&current, None)),
            CartError::PromotionInvalid { reason, .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "promotion-invalid", "Promotion code not usable", detail)
                    .with("reason", reason)
            }
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
            OrderError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "order-not-found", "Order not found", detail),
            OrderError::FulfilmentNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "fulfilment-not-found", "Fulfilment not found", detail)
            }
            OrderError::LineNotFound(_) => Self::new(StatusCode::NOT_FOUND, "line-not-found", "Line not found", detail),
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
            OrderError::BadPick(_) => Self::field("/lines", detail),
            OrderError::NotApplicable(_) => Self::conflict("not-applicable", "Not applicable", detail),
            OrderError::SameDay(e) => e.into(),
            OrderError::Cart(e) => e.into(),
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
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "phrase-not-understood", "Phrase not understood", detail)
                    .with("speech", speech)
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
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "same-day-unavailable",
                    "Same-day delivery unavailable",
                    detail,
                )
                .with("reason", reason)
                .with("next_slot", next_slot)
                .with("alternatives", ["ship"])
            }
            SameDayError::SlotRequired => Self::field("/slot", detail),
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
            MarketplaceError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "marketplace-not-found", "Marketplace not found", detail)
            }
            MarketplaceError::NameTaken(_) => Self::conflict("name-taken", "Name already taken", detail),
            MarketplaceError::Stale { current, .. } => Self::stale(detail, MarketplaceResponse::from(&*current)),
            MarketplaceError::ListingTaken(_) => Self::conflict("listing-taken", "Listing already mapped", detail),
            MarketplaceError::ListingNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "listing-not-found", "Listing not found", detail)
            }
            MarketplaceError::UnknownListing(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown-listing", "Unknown listing", detail)
            }
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
            WebhookError::BadSignature | WebhookError::Stale => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid-signature", "Invalid signature", error.to_string())
            }
            WebhookError::Malformed(_) => Self::bad_request(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart::CartStatus;
    use crate::fulfilment::same_day::Unavailable;
    use crate::inventory::ReservationStatus;
    use crate::order::state::{Action, FulfilmentStatus};

    /// Every error variant's status and stable slug, pinned.
    #[test]
    fn each_error_maps_to_its_status_and_type() {
        let s = |n: &str| n.to_owned();
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (DbError::NotFound.into(), 404, "not-found"),
            (DbError::Unique(s("x")).into(), 409, "duplicate"),
            (DbError::TaskFailed.into(), 500, "internal-error"),
            (DbError::Corrupt(s("x")).into(), 500, "internal-error"),
            (DbError::Migration(s("x")).into(), 500, "internal-error"),
            (CatalogError::LocationNotFound(s("L")).into(), 404, "location-not-found"),
            (CatalogError::SkuNotFound(s("S")).into(), 404, "sku-not-found"),
            (CatalogError::LocationCodeTaken(s("L")).into(), 409, "code-taken"),
            (CatalogError::SkuCodeTaken(s("S")).into(), 409, "code-taken"),
            (CatalogError::GtinTaken(s("G")).into(), 409, "gtin-taken"),
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
            (CartError::PromotionNotFound(s("P")).into(), 404, "promotion-not-found"),
            (CartError::PromotionCodeTaken(s("P")).into(), 409, "code-taken"),
            (CartError::PromotionInvalid { code: s("P"), reason: s("x") }.into(), 422, "promotion-invalid"),
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
            (OrderError::BadPick(s("x")).into(), 422, "validation-failed"),
            (OrderError::NotApplicable(s("x")).into(), 409, "not-applicable"),
            (
                SameDayError::Unavailable { reason: Unavailable::AfterCutoff, next: None }.into(),
                422,
                "same-day-unavailable",
            ),
            (SameDayError::SlotRequired.into(), 422, "validation-failed"),
            (MarketplaceError::NotFound(s("M")).into(), 404, "marketplace-not-found"),
            (MarketplaceError::NameTaken(s("M")).into(), 409, "name-taken"),
            (MarketplaceError::ListingTaken(s("L")).into(), 409, "listing-taken"),
            (MarketplaceError::ListingNotFound(s("L")).into(), 404, "listing-not-found"),
            (MarketplaceError::UnknownListing(s("L")).into(), 422, "unknown-listing"),
            (WebhookError::BadSignature.into(), 401, "invalid-signature"),
            (WebhookError::Stale.into(), 401, "invalid-signature"),
            (WebhookError::Malformed(s("x")).into(), 400, "bad-request"),
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

    #[test]
    fn a_server_error_shows_no_internals() {
        let problem = ApiError::from(DbError::Corrupt("secret table detail".into())).to_problem();
        assert!(!problem.detail.contains("secret table detail"));
    }
}
