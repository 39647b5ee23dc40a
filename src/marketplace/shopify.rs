//! In the style of Shopify's Admin REST API: `inventory_levels/set.json` for
//! stock, fulfillments and cancel for confirmations, and webhooks signed with
//! base64 HMAC-SHA256 of the raw body (`X-Shopify-Hmac-Sha256`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::connector::{
    CallError, Confirmation, Connector, Delivery, Headers, Inbound, MarketOrder, Secrets, SoldLine, StockUpdate,
    WebhookError, check, check_lines, external_id, hmac_sha256, signature_matches, sold_quantity,
};
use super::model::Marketplace;
use crate::cart::DeliveryAddress;
use crate::types::{Currency, Money};

const API: &str = "admin/api/2024-07";

pub struct Shopify {
    base_url: String,
    token: String,
    location_id: Value,
    secret: Vec<u8>,
    timeout: Duration,
}

/// Shopify ids are numbers; send them as numbers when they are.
fn id_value(raw: &str) -> Value {
    raw.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(raw))
}

impl Shopify {
    pub fn new(m: &Marketplace, secrets: Secrets, timeout: Duration) -> Self {
        Self {
            base_url: m.base_url.trim_end_matches('/').to_owned(),
            token: secrets.access_token(),
            location_id: id_value(m.settings["location_id"].as_str().unwrap_or_default()),
            secret: secrets.webhook_secret,
            timeout,
        }
    }

    async fn post(&self, client: &reqwest::Client, path: &str, body: &Value) -> Result<(), CallError> {
        let response = client
            .post(format!("{}/{API}/{path}", self.base_url))
            .header("X-Shopify-Access-Token", &self.token)
            .timeout(self.timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| CallError::from_reqwest(&e))?;
        check(response).await.map(|_| ())
    }
}

#[derive(Deserialize)]
struct ShopifyOrder {
    id: Value,
    /// Set once the order is cancelled: the signed body, not the topic
    /// header (which the signature does not cover), says so.
    #[serde(default)]
    cancelled_at: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    line_items: Vec<ShopifyLine>,
    #[serde(default)]
    shipping_address: Option<ShopifyAddress>,
    #[serde(default)]
    customer: Option<Value>,
}

#[derive(Deserialize)]
struct ShopifyLine {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    price: Option<Value>,
}

#[derive(Deserialize)]
struct ShopifyAddress {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address1: Option<String>,
    #[serde(default)]
    address2: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    zip: Option<String>,
    #[serde(default)]
    province_code: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct ShopifyRefund {
    id: Value,
    order_id: Value,
    #[serde(default)]
    refund_line_items: Vec<ShopifyRefundLine>,
}

#[derive(Deserialize)]
struct ShopifyRefundLine {
    quantity: i64,
    line_item: ShopifyLine,
}

fn malformed(e: impl std::fmt::Display) -> WebhookError {
    WebhookError::Malformed(e.to_string())
}

fn invalid(e: impl std::fmt::Display) -> WebhookError {
    WebhookError::Invalid(e.to_string())
}

impl Connector for Shopify {
    fn batch_size(&self) -> usize {
        1
    }

    async fn push(&self, client: &reqwest::Client, updates: &[StockUpdate]) -> Result<(), CallError> {
        for update in updates {
            let body = json!({
                "location_id": self.location_id,
                "inventory_item_id": id_value(&update.listing_id),
                "available": update.quantity,
            });
            self.post(client, "inventory_levels/set.json", &body).await?;
        }
        Ok(())
    }

    async fn confirm(&self, client: &reqwest::Client, confirmation: &Confirmation) -> Result<(), CallError> {
        match confirmation {
            Confirmation::Shipped { external_id, tracking, .. } => {
                let body = json!({"fulfillment": {"location_id": self.location_id, "tracking_number": tracking, "notify_customer": true}});
                self.post(client, &format!("orders/{external_id}/fulfillments.json"), &body).await
            }
            Confirmation::Cancelled { external_id, reason } => {
                let body = json!({"reason": "other", "email": true, "note": reason});
                self.post(client, &format!("orders/{external_id}/cancel.json"), &body).await
            }
        }
    }

    fn verify(&self, headers: &Headers, body: &[u8], now: DateTime<Utc>, window: Duration) -> Result<(), WebhookError> {
        let sent = headers
            .get("x-shopify-hmac-sha256")
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or(WebhookError::BadSignature)?;
        if !signature_matches(&hmac_sha256(&self.secret, body), &sent) {
            return Err(WebhookError::BadSignature);
        }
        if let Some(at) = headers.get("x-shopify-triggered-at") {
            let at = DateTime::parse_from_rfc3339(at).map_err(|_| WebhookError::Stale)?.with_timezone(&Utc);
            if (now - at).abs().to_std().map_or(true, |age| age > window) {
                return Err(WebhookError::Stale);
            }
        }
        Ok(())
    }

    fn parse(&self, headers: &Headers, body: &[u8]) -> Result<Delivery, WebhookError> {
        let delivery_id =
            headers.get("x-shopify-webhook-id").ok_or_else(|| malformed("X-Shopify-Webhook-Id is missing"))?;
        let topic = headers.get("x-shopify-topic").ok_or_else(|| malformed("X-Shopify-Topic is missing"))?;
        let mut refund_id = None;
        let inbound = match topic {
            "orders/create" | "orders/paid" => {
                let order: ShopifyOrder = serde_json::from_slice(body).map_err(malformed)?;
                if order.cancelled_at.is_some() {
                    return Err(WebhookError::Invalid("the order in the body is cancelled".into()));
                }
                let currency = Currency::parse(order.currency.as_deref().unwrap_or_default()).map_err(invalid)?;
                let lines = order
                    .line_items
                    .iter()
                    .map(|l| {
                        let seller_sku = l.sku.clone().ok_or_else(|| invalid("a line item has no sku"))?;
                        let quantity = sold_quantity(l.quantity, &seller_sku)?;
                        let price = match &l.price {
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Number(n)) => n.to_string(),
                            None => "0".into(),
                            Some(_) => return Err(invalid(format!("the price of {seller_sku} is not an amount"))),
                        };
                        let unit = Money::parse(&price, currency).map_err(invalid)?;
                        let total = unit
                            .minor
                            .checked_mul(i64::from(quantity.get()))
                            .map(|minor| Money::new(minor, currency))
                            .ok_or_else(|| invalid(format!("the total of {seller_sku} is too large")))?;
                        Ok(SoldLine { seller_sku, quantity, total })
                    })
                    .collect::<Result<Vec<_>, WebhookError>>()?;
                check_lines(&lines)?;
                let address = order.shipping_address.map(|a| DeliveryAddress {
                    recipient: a.name,
                    line1: a.address1.unwrap_or_default(),
                    line2: a.address2,
                    city: a.city.unwrap_or_default(),
                    postal_code: a.zip.unwrap_or_default(),
                    region: a.province_code.zip(a.country_code.clone()).map(|(p, c)| format!("{c}-{p}")),
                    country: a.country_code.unwrap_or_default(),
                    latitude: a.latitude,
                    longitude: a.longitude,
                });
                Inbound::Order(Box::new(MarketOrder {
                    external_id: external_id(&order.id, "the order id")?,
                    lines,
                    address,
                    buyer: order.customer,
                }))
            }
            "orders/cancelled" => {
                let order: ShopifyOrder = serde_json::from_slice(body).map_err(malformed)?;
                if order.cancelled_at.is_none() {
                    return Err(WebhookError::Invalid("the order in the body is not cancelled".into()));
                }
                Inbound::Cancelled { external_id: external_id(&order.id, "the order id")? }
            }
            "refunds/create" => {
                let refund: ShopifyRefund = serde_json::from_slice(body).map_err(malformed)?;
                refund_id = Some(external_id(&refund.id, "the refund id")?);
                let lines = refund
                    .refund_line_items
                    .into_iter()
                    .filter_map(|l| l.line_item.sku.map(|sku| (sku, l.quantity)))
                    .map(|(sku, quantity)| Ok((sold_quantity(quantity, &sku)?, sku)))
                    .map(|line: Result<_, WebhookError>| line.map(|(quantity, sku)| (sku, quantity)))
                    .collect::<Result<Vec<_>, _>>()?;
                Inbound::Returned { external_id: external_id(&refund.order_id, "the order id")?, lines }
            }
            other => Inbound::Ignored { topic: other.to_owned() },
        };
        Ok(Delivery::new(delivery_id.to_owned(), topic.to_owned(), inbound, refund_id))
    }
}
