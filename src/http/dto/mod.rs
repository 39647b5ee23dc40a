//! Wire shapes: request bodies validated into domain inputs, and responses
//! built from domain values. Only `http/` knows these.

pub mod analytics;
pub mod cart;
pub mod catalog;
pub mod fulfilment;
pub mod inventory;
pub mod marketplace;
pub mod order;
pub mod pricing;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extractors::encode_cursor;
use super::problem::{ApiError, FieldError};
use crate::types::{Code, Currency, Money, Page};

/// Collects every field error of a request before answering, so a caller
/// fixes them all in one round.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Keeps the value, or records why it is wrong.
    pub fn check<T>(&mut self, pointer: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|detail| self.errors.push(FieldError::new(pointer, detail))).ok()
    }

    pub fn error(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.errors.push(FieldError::new(pointer, detail));
    }

    /// The 422 for what was recorded.
    pub fn into_error(self) -> ApiError {
        if self.errors.is_empty() {
            ApiError::bad_request("the request is invalid")
        } else {
            ApiError::validation(self.errors)
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }
}

/// The code of a resource: from the URL on replace (where a different code in
/// the body is an error: codes are permanent), else from the body.
pub fn resource_code(v: &mut Validator, path: Option<&str>, body: Option<&str>) -> Option<Code> {
    match (path, body) {
        (Some(_), Some(_)) => {
            v.error("/code", "comes from the URL on replace (codes cannot change): leave it out of the body");
            None
        }
        (Some(code), _) | (None, Some(code)) => v.check("/code", Code::parse(code)),
        (None, None) => {
            v.error("/code", "is required");
            None
        }
    }
}

crate::string_schemas! {
    /// An email address.
    Email = (3, 254, crate::customer::EMAIL_PATTERN);
    /// A phone number: 6 to 15 digits, optionally starting with `+`, single
    /// spaces, dots, slashes or hyphens between digits.
    Phone = (6, 30, crate::customer::PHONE_PATTERN);
}

pub use crate::text::{
    CodeText, DiscountPercent, RatePercent, Reference, Text20, Text40, Text64, Text100, Text200, Text500, identifier,
    text,
};

/// An amount of money on the wire: a decimal string and an ISO 4217 code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    /// Decimal string with the currency's minor digits, e.g. `"12.50"`.
    #[schema(example = "12.50")]
    pub amount: String,
    #[schema(example = "EUR")]
    pub currency: String,
}

impl From<Money> for MoneyDto {
    fn from(money: Money) -> Self {
        Self { amount: money.amount_string(), currency: money.currency.code().to_owned() }
    }
}

/// An amount sent by a caller. A JSON number is accepted too, but a decimal
/// string is exact: numbers pass through a binary float on many clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    pub amount: String,
    pub currency: String,
}

impl MoneyInput {
    /// Validates into [`Money`], recording errors under `pointer`.
    pub fn validate(&self, v: &mut Validator, pointer: &str) -> Option<Money> {
        let currency = v.check(&format!("{pointer}/currency"), Currency::parse(&self.currency))?;
        v.check(&format!("{pointer}/amount"), Money::parse(&self.amount, currency))
    }
}

// Written out: how many decimals an amount may have depends on its
// currency, so the contract is one alternative per number of minor digits.
impl utoipa::PartialSchema for MoneyInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let mut by_digits: std::collections::BTreeMap<u32, Vec<Currency>> = Default::default();
        for currency in Currency::all() {
            by_digits.entry(currency.minor_units()).or_default().push(currency);
        }
        let alternatives = by_digits.into_iter().map(|(digits, currencies)| {
            let amount = ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(Money::pattern(currencies[0])))
                .description(Some(format!("A decimal string with at most {digits} decimals, below 1,000,000,000")))
                .examples([if digits == 0 { "1250" } else { "12.50" }]);
            let codes = currencies.iter().map(|c| c.code());
            ObjectBuilder::new()
                .property("amount", amount)
                .required("amount")
                .property("currency", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes)))
                .required("currency")
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        });
        alternatives
            .fold(OneOfBuilder::new(), |one_of, alternative| one_of.item(alternative))
            .description(Some(
                "An amount and its ISO 4217 currency, e.g. {\"amount\": \"12.50\", \"currency\": \"EUR\"}",
            ))
            .into()
    }
}

impl utoipa::ToSchema for MoneyInput {}

/// A stored UTC timestamp as RFC 3339.
pub fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PageResponse<T> {
    pub fn from_page<D>(page: Page<D>, to_dto: impl FnMut(D) -> T) -> Self {
        let next_cursor = page.next.as_deref().map(encode_cursor);
        Self { items: page.items.into_iter().map(to_dto).collect(), next_cursor }
    }
}
