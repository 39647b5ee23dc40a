//! The marketplace connector contract: push quantities, confirm shipments and
//! cancellations, verify and read inbound webhooks. One trait, one adapter per
//! marketplace API style, dispatched by [`AnyConnector`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ConnectorKind, Marketplace, amazon::Amazon, shopify::Shopify};
use crate::cart::DeliveryAddress;
use crate::secret;
use crate::types::Money;

/// Request headers by lower-case name, as the HTTP layer hands them over.
#[derive(Debug, Clone, Default)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }
}

/// One listing's new quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockUpdate {
    pub listing_id: String,
    pub quantity: i32,
}

/// Why a call to the marketplace failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub status: Option<u16>,
    pub message: String,
    /// 429, 5xx and timeouts are worth retrying; other answers are not.
    pub retryable: bool,
    /// The marketplace's Retry-After, when it sent one.
    pub retry_after: Option<Duration>,
}

impl CallError {
    pub fn from_reqwest(error: &reqwest::Error) -> Self {
        Self {
            status: error.status().map(|s| s.as_u16()),
            message: if error.is_timeout() { "timed out".into() } else { "could not connect".into() },
            retryable: true,
            retry_after: None,
        }
    }
}

/// Turns a response into Ok or a classified error.
pub async fn check(response: reqwest::Response) -> Result<reqwest::Response, CallError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    Err(CallError {
        status: Some(status.as_u16()),
        message: format!("HTTP {}: {}", status.as_u16(), body.chars().take(200).collect::<String>()),
        retryable: status.as_u16() == 429 || status.is_server_error(),
        retry_after,
    })
}

/// What we tell a marketplace about its order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Confirmation {
    Shipped { external_id: String, tracking: Option<String>, lines: Vec<(String, i32)> },
    Cancelled { external_id: String, reason: String },
}

/// An order line as the marketplace sold it.
#[derive(Debug, Clone, PartialEq)]
pub struct SoldLine {
    /// Their SKU for it.
    pub seller_sku: String,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MarketOrder {
    pub external_id: String,
    pub lines: Vec<SoldLine>,
    pub address: Option<DeliveryAddress>,
    pub buyer: Option<serde_json::Value>,
}

/// What an inbound webhook says.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Order(Box<MarketOrder>),
    Cancelled {
        external_id: String,
    },
    Returned {
        external_id: String,
        lines: Vec<(String, i64)>,
    },
    /// A topic we do not act on; acknowledged and kept as seen.
    Ignored {
        topic: String,
    },
}

/// An inbound webhook, verified: who sent it once, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub delivery_id: String,
    pub topic: String,
    pub inbound: Inbound,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the webhook signature is missing or does not match")]
    BadSignature,
    #[error("the webhook timestamp is outside the replay window")]
    Stale,
    #[error("the webhook body cannot be read: {0}")]
    Malformed(String),
}

/// The contract every marketplace adapter fulfils.
pub trait Connector {
    /// Most updates one push carries (1 where the API has no batch call).
    fn batch_size(&self) -> usize;
    /// Sets listings' available quantities.
    fn push(&self, client: &reqwest::Client, updates: &[StockUpdate]) -> impl Future<Output = Result<(), CallError>>;
    /// Tells the marketplace about a shipment or cancellation of its order.
    fn confirm(
        &self,
        client: &reqwest::Client,
        confirmation: &Confirmation,
    ) -> impl Future<Output = Result<(), CallError>>;
    /// Verifies the raw body's signature (constant time) and, where the format
    /// has one, that its timestamp is within `window` of `now`.
    fn verify(&self, headers: &Headers, body: &[u8], now: DateTime<Utc>, window: Duration) -> Result<(), WebhookError>;
    /// Reads a verified body.
    fn parse(&self, headers: &Headers, body: &[u8]) -> Result<Delivery, WebhookError>;
}

/// The adapter of a marketplace's kind.
pub enum AnyConnector {
    Shopify(Shopify),
    Amazon(Amazon),
}

impl AnyConnector {
    pub fn of(marketplace: &Marketplace, timeout: Duration) -> Self {
        match marketplace.kind {
            ConnectorKind::Shopify => Self::Shopify(Shopify::new(marketplace, timeout)),
            ConnectorKind::Amazon => Self::Amazon(Amazon::new(marketplace, timeout)),
        }
    }
}

impl Connector for AnyConnector {
    fn batch_size(&self) -> usize {
        match self {
            Self::Shopify(c) => c.batch_size(),
            Self::Amazon(c) => c.batch_size(),
        }
    }

    async fn push(&self, client: &reqwest::Client, updates: &[StockUpdate]) -> Result<(), CallError> {
        match self {
            Self::Shopify(c) => c.push(client, updates).await,
            Self::Amazon(c) => c.push(client, updates).await,
        }
    }

    async fn confirm(&self, client: &reqwest::Client, confirmation: &Confirmation) -> Result<(), CallError> {
        match self {
            Self::Shopify(c) => c.confirm(client, confirmation).await,
            Self::Amazon(c) => c.confirm(client, confirmation).await,
        }
    }

    fn verify(&self, headers: &Headers, body: &[u8], now: DateTime<Utc>, window: Duration) -> Result<(), WebhookError> {
        match self {
            Self::Shopify(c) => c.verify(headers, body, now, window),
            Self::Amazon(c) => c.verify(headers, body, now, window),
        }
    }

    fn parse(&self, headers: &Headers, body: &[u8]) -> Result<Delivery, WebhookError> {
        match self {
            Self::Shopify(c) => c.parse(headers, body),
            Self::Amazon(c) => c.parse(headers, body),
        }
    }
}

/// HMAC-SHA256 of `message` with `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Compares a signature the caller sent with the one expected, in constant time.
pub fn signature_matches(expected: &[u8], sent: &[u8]) -> bool {
    secret::constant_time_eq(expected, sent)
}
