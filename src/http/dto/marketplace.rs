//! Marketplaces, listings and sync state on the wire. Credentials and the
//! webhook secret go in and never come out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodeText, Text100, Text200, Validator, text, utc};
use crate::http::problem::ApiError;
use crate::marketplace::{ConnectorKind, Marketplace, MarketplaceInput, SyncState};
use crate::secret::Keyring;
use crate::types::Code;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketplaceRequest {
    #[schema(value_type = Text100)]
    pub name: String,
    pub kind: ConnectorKind,
    /// Where the marketplace's API answers: https (plain http only to this
    /// machine, when `OMNISTOCK_MARKETPLACE__ALLOW_INSECURE_LOOPBACK` is set).
    #[schema(max_length = 500, pattern = r"^https://[^\x00-\x20\x7f-\x9f/?#@]+([/?#][^\x00-\x20\x7f-\x9f]*)?$")]
    pub base_url: String,
    /// API credentials, e.g. `{"access_token": "…"}`; kept when left out on replace.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<serde_json::Value>,
    /// Shared secret that signs its webhooks, 16 to 200 characters;
    /// required on create, kept when left out on replace.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 200)]
    pub webhook_secret: Option<String>,
    /// Percent of its locations' available quantity offered there (default 100).
    #[serde(default = "hundred")]
    #[schema(minimum = 0, maximum = 100)]
    pub share_percent: i32,
    /// Units held back from it (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub buffer_units: i32,
    /// Calls per second its API takes (default 5).
    #[serde(default = "five")]
    #[schema(minimum = 1, maximum = 1000)]
    pub rate_limit_per_sec: i32,
    /// Connector settings: Shopify `location_id`; Amazon `seller_id`,
    /// `marketplace_id`; `country` (ISO 3166-1 alpha-2) for all.
    #[serde(default)]
    #[schema(schema_with = settings_schema)]
    pub settings: serde_json::Value,
    #[serde(default = "yes")]
    pub active: bool,
    /// Codes of the locations whose stock it is offered and whose stock
    /// serves its orders (ship-enabled ones count). Left out: the locations
    /// in its `settings.country` (all of them when no country is set).
    #[serde(default)]
    #[schema(value_type = Option<Vec<CodeText>>, max_items = 500)]
    pub locations: Option<Vec<String>>,
}

/// Connector settings: an object (null: none) whose `country`, when given,
/// is a country code.
fn settings_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .property("country", ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Z]{2}$")))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(true)))
        .into()
}

fn hundred() -> i32 {
    100
}

fn five() -> i32 {
    5
}

fn yes() -> bool {
    true
}

/// Where a marketplace's API may be: an https URL with a host and no user
/// part; plain http only to this machine, and only when allowed (tests).
pub fn marketplace_url(raw: &str, allow_insecure_loopback: bool) -> Result<String, String> {
    let url = raw.trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or("must be an https:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Exactly the contract's pattern: no control characters or ASCII blanks anywhere.
    let unprintable = |c: char| c.is_control() || c == ' ';
    if raw.chars().count() > 500 || authority.is_empty() || authority.contains('@') || raw.chars().any(unprintable) {
        return Err("must be an https:// URL with a host (and no user or password)".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => Ok(url.to_owned()),
        "http" if loopback && allow_insecure_loopback => Ok(url.to_owned()),
        _ => Err("must be an https:// URL".into()),
    }
}

impl MarketplaceRequest {
    /// Validates the request; secrets are sealed with `keyring` and never
    /// stored or held as given.
    pub fn into_input(
        self,
        creating: bool,
        keyring: &Keyring,
        allow_insecure_loopback: bool,
    ) -> Result<MarketplaceInput, ApiError> {
        let mut v = Validator::default();
        let name = v.check("/name", text(&self.name, 100));
        let base_url = v.check("/base_url", marketplace_url(&self.base_url, allow_insecure_loopback));
        if !(0..=100).contains(&self.share_percent) {
            v.error("/share_percent", "must be 0 to 100");
        }
        if !(0..=1_000_000).contains(&self.buffer_units) {
            v.error("/buffer_units", "must be 0 to 1000000");
        }
        if !(1..=1000).contains(&self.rate_limit_per_sec) {
            v.error("/rate_limit_per_sec", "must be 1 to 1000");
        }
        match &self.webhook_secret {
            Some(secret) if !(16..=200).contains(&secret.chars().count()) => {
                v.error("/webhook_secret", "must be 16 to 200 characters")
            }
            None if creating => v.error("/webhook_secret", "is required"),
            _ => {}
        }
        if self.credentials.as_ref().is_some_and(|c| !c.is_object()) {
            v.error("/credentials", "must be an object");
        }
        if !(self.settings.is_object() || self.settings.is_null()) {
            v.error("/settings", "must be an object");
        }
        if self.settings.get("country").is_some_and(|c| {
            !c.as_str().is_some_and(|c| crate::types::parse_region(c).is_ok_and(|r| r == c && c.len() == 2))
        }) {
            v.error("/settings/country", "must be an ISO 3166-1 alpha-2 code such as DE");
        }
        let mut locations = None;
        if let Some(codes) = &self.locations {
            if codes.len() > 500 {
                v.error("/locations", "at most 500 locations");
            }
            let parsed: Vec<Code> = codes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| v.check(&format!("/locations/{i}"), Code::parse(c)))
                .collect();
            locations = Some(parsed);
        }
        let (Some(name), Some(base_url)) = (name, base_url) else { return Err(v.into_error()) };
        v.finish()?;
        Ok(MarketplaceInput {
            locations,
            name,
            kind: self.kind,
            base_url,
            credentials: self.credentials.map(|c| keyring.seal(c.to_string().as_bytes())),
            webhook_secret: self.webhook_secret.map(|s| keyring.seal(s.as_bytes())),
            share_percent: self.share_percent,
            buffer_units: self.buffer_units,
            rate_limit_per_sec: self.rate_limit_per_sec,
            settings: if self.settings.is_null() { serde_json::json!({}) } else { self.settings },
            active: self.active,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketplaceResponse {
    pub id: String,
    pub name: String,
    pub kind: ConnectorKind,
    pub base_url: String,
    pub share_percent: i32,
    pub buffer_units: i32,
    pub rate_limit_per_sec: i32,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub active: bool,
    /// The locations it is limited to; absent: those in its country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<String>>,
    /// Credentials are stored (they are never shown).
    pub has_credentials: bool,
    /// Where the marketplace sends its webhooks.
    pub webhook_url: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

impl From<&Marketplace> for MarketplaceResponse {
    fn from(m: &Marketplace) -> Self {
        Self {
            id: m.id.to_string(),
            name: m.name.clone(),
            kind: m.kind,
            base_url: m.base_url.clone(),
            share_percent: m.share_percent,
            buffer_units: m.buffer_units,
            rate_limit_per_sec: m.rate_limit_per_sec,
            settings: m.settings.clone(),
            active: m.active,
            locations: m.locations.clone(),
            has_credentials: !m.credentials.is_empty(),
            webhook_url: format!("/v1/marketplaces/{}/webhooks", m.id),
            version: m.version,
            created_at: utc(m.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    /// Their id for stock pushes (Shopify inventory item id, Amazon seller SKU).
    #[schema(value_type = Text200)]
    pub listing_id: String,
    /// The SKU their orders name (default: our SKU code).
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub seller_sku: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingResponse {
    pub sku: String,
    pub listing_id: String,
    pub seller_sku: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedPush {
    pub sku: String,
    pub quantity: i32,
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedConfirmation {
    pub order: String,
    pub kind: String,
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushAttempt {
    pub listing: String,
    pub quantity: i32,
    /// `ok`, `retry` (backing off) or `dead` (parked).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub pending: i64,
    pub synced: i64,
    /// Pushes parked after too many failures; a resync retries them.
    pub dead_letters: Vec<ParkedPush>,
    pub confirmations_pending: i64,
    pub confirmations_dead: Vec<ParkedConfirmation>,
    /// The latest push attempts, newest first.
    pub recent: Vec<PushAttempt>,
}

impl SyncResponse {
    pub fn new(state: SyncState, sku_code: impl Fn(&crate::types::SkuId) -> String) -> Self {
        Self {
            pending: state.pending,
            synced: state.synced,
            dead_letters: state
                .dead
                .iter()
                .map(|d| ParkedPush {
                    sku: sku_code(&d.sku_id),
                    quantity: d.quantity,
                    attempts: d.attempts,
                    last_error: d.last_error.clone(),
                    updated_at: utc(d.updated_at),
                })
                .collect(),
            confirmations_pending: state.outbound_pending,
            confirmations_dead: state
                .outbound_dead
                .iter()
                .map(|o| ParkedConfirmation {
                    order: o.order_id.to_string(),
                    kind: o.kind.clone(),
                    attempts: o.attempts,
                    last_error: o.last_error.clone(),
                })
                .collect(),
            recent: state
                .recent
                .iter()
                .map(|r| PushAttempt {
                    listing: r.listing_id.clone(),
                    quantity: r.quantity,
                    outcome: r.outcome.clone(),
                    status_code: r.status_code,
                    error: r.error.clone(),
                    at: utc(r.created_at),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResyncResponse {
    /// Listings queued for pushing.
    pub queued: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    /// `created`, `duplicate`, `cancelled`, `not_cancellable`, `returned` or `ignored`.
    pub status: &'static str,
    /// The order's `id`, as in every other answer about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The order's human number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_status: Option<String>,
}
