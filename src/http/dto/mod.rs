//! Wire shapes: request bodies validated into domain inputs, and responses
//! built from domain values. Only `http/` knows these.

pub mod cart;
pub mod catalog;
pub mod fulfilment;
pub mod inventory;
pub mod marketplace;
pub mod order;

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
        (Some(path), Some(body)) if path != body => {
            v.error("/code", "differs from the code in the URL; codes cannot be changed");
            None
        }
        (Some(code), _) | (None, Some(code)) => v.check("/code", Code::parse(code)),
        (None, None) => {
            v.error("/code", "is required");
            None
        }
    }
}

/// Free text such as a name: trimmed, 1 to `max` characters.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        Err(format!("must be 1 to {max} characters"))
    } else {
        Ok(trimmed.to_owned())
    }
}

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
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    #[schema(value_type = String, example = "12.50")]
    pub amount: serde_json::Value,
    #[schema(example = "EUR")]
    pub currency: String,
}

impl MoneyInput {
    /// Validates into [`Money`], recording errors under `pointer`.
    pub fn validate(&self, v: &mut Validator, pointer: &str) -> Option<Money> {
        let currency = v.check(&format!("{pointer}/currency"), Currency::parse(&self.currency))?;
        let parsed = match &self.amount {
            serde_json::Value::String(s) => Money::parse(s, currency),
            serde_json::Value::Number(n) => Money::parse(&n.to_string(), currency),
            _ => Err("must be a decimal string such as \"12.50\"".into()),
        };
        v.check(&format!("{pointer}/amount"), parsed)
    }
}

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
