//! The marketplace connector contract: push quantities, confirm shipments and
//! cancellations, verify and read inbound webhooks. One trait, one adapter per
//! marketplace API style, dispatched by [`AnyConnector`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::{ConnectorKind, Marketplace, MarketplaceError};
use super::{amazon::Amazon, shopify::Shopify};
use crate::cart::DeliveryAddress;
use crate::secret::{self, Keyring};
use crate::types::{Money, Quantity};

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

impl CallError {
    /// The call could not even be made: the marketplace's stored secrets do
    /// not open with this instance's key. Retried, so it shows in the sync
    /// state and recovers once the key is right.
    pub fn unopened(error: &MarketplaceError) -> Self {
        tracing::error!(%error, "cannot call a marketplace");
        Self { status: None, message: "the stored secrets cannot be opened".into(), retryable: true, retry_after: None }
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
    // Only the status and its standard reason: the body of a server an admin
    // pointed us at is never echoed back (nor stored in the push log).
    Err(CallError {
        status: Some(status.as_u16()),
        message: format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or("error")),
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
    pub quantity: Quantity,
    /// What the marketplace charged for the whole line: the order keeps it
    /// to the cent, whatever a unit works out at.
    pub total: Money,
}

/// Most lines an inbound order may have.
pub const MAX_LINES: usize = 100;

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
        lines: Vec<(String, Quantity)>,
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
    /// What it does, in the marketplace's own ids (`order:<id>`,
    /// `cancel:<id>`, `refund:<id>`): one effect, whatever delivery ids it
    /// arrives under. None for what we do not act on.
    pub effect: Option<String>,
}

impl Delivery {
    /// A delivery whose effect follows from what it says.
    pub fn new(delivery_id: String, topic: String, inbound: Inbound, refund_id: Option<String>) -> Self {
        let effect = match &inbound {
            Inbound::Order(order) => Some(format!("order:{}", order.external_id)),
            Inbound::Cancelled { external_id } => Some(format!("cancel:{external_id}")),
            Inbound::Returned { external_id, .. } => {
                Some(format!("refund:{}", refund_id.as_deref().unwrap_or(external_id)))
            }
            Inbound::Ignored { .. } => None,
        };
        Self { delivery_id, topic, inbound, effect }
    }
}

/// A marketplace's id as its JSON carries it: a string or a whole number,
/// never anything else (an object would otherwise become its own text).
pub fn external_id(value: &serde_json::Value, what: &str) -> Result<String, WebhookError> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() && s.len() <= 100 => Ok(s.trim().to_owned()),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        _ => Err(WebhookError::Invalid(format!("{what} must be a string or a whole number"))),
    }
}

/// A sold quantity within the limits every order has.
pub fn sold_quantity(raw: i64, seller_sku: &str) -> Result<Quantity, WebhookError> {
    Quantity::new(raw).map_err(|e| WebhookError::Invalid(format!("the quantity of {seller_sku} {e}")))
}

/// Checks an order's lines against the limits of an order: at least one,
/// at most [`MAX_LINES`], and no SKU's units above [`Quantity::MAX`] in all.
pub fn check_lines(lines: &[SoldLine]) -> Result<(), WebhookError> {
    if lines.is_empty() {
        return Err(WebhookError::Invalid("the order has no lines".into()));
    }
    if lines.len() > MAX_LINES {
        return Err(WebhookError::Invalid(format!("an order may have at most {MAX_LINES} lines")));
    }
    let mut totals: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for line in lines {
        let total = totals.entry(&line.seller_sku).or_default();
        *total += i64::from(line.quantity.get());
        if *total > Quantity::MAX {
            return Err(WebhookError::Invalid(format!(
                "{} units of {} in all: an order takes at most {} of one SKU",
                total,
                line.seller_sku,
                Quantity::MAX
            )));
        }
    }
    if let Some(line) = lines.iter().find(|l| l.total.currency != lines[0].total.currency) {
        return Err(WebhookError::Invalid(format!("line {} is in another currency than the order", line.seller_sku)));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the webhook signature is missing or does not match")]
    BadSignature,
    #[error("the webhook timestamp is outside the replay window")]
    Stale,
    #[error("the webhook body cannot be read: {0}")]
    Malformed(String),
    #[error("the webhook body is refused: {0}")]
    Invalid(String),
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

/// A marketplace's secrets, opened for as long as a connector lives.
pub struct Secrets {
    pub credentials: serde_json::Value,
    pub webhook_secret: Vec<u8>,
}

impl Secrets {
    fn open(marketplace: &Marketplace, keyring: &Keyring) -> Result<Self, MarketplaceError> {
        let failed = |source| MarketplaceError::Secret { marketplace: marketplace.name.clone(), source };
        let credentials = match marketplace.credentials.is_empty() {
            true => serde_json::Value::Null,
            false => {
                let raw = keyring.open(&marketplace.credentials).map_err(failed)?;
                serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null)
            }
        };
        Ok(Self { credentials, webhook_secret: keyring.open(&marketplace.webhook_secret).map_err(failed)? })
    }

    /// The `access_token` of the credentials, if any.
    pub fn access_token(&self) -> String {
        self.credentials["access_token"].as_str().unwrap_or_default().to_owned()
    }
}

impl AnyConnector {
    /// The adapter of a marketplace's kind, with its secrets opened.
    pub fn of(marketplace: &Marketplace, keyring: &Keyring, timeout: Duration) -> Result<Self, MarketplaceError> {
        let secrets = Secrets::open(marketplace, keyring)?;
        Ok(match marketplace.kind {
            ConnectorKind::Shopify => Self::Shopify(Shopify::new(marketplace, secrets, timeout)),
            ConnectorKind::Amazon => Self::Amazon(Amazon::new(marketplace, secrets, timeout)),
        })
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

pub use crate::secret::hmac_sha256;

/// Compares a signature the caller sent with the one expected, in constant time.
pub fn signature_matches(expected: &[u8], sent: &[u8]) -> bool {
    secret::constant_time_eq(expected, sent)
}
