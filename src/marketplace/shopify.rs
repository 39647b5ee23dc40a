//! In the style of Shopify's Admin REST API: `inventory_levels/set.json` for
//! stock, fulfillments and cancel for confirmations, and webhooks signed with
//! base64 HMAC-SHA256 of the raw body (`X-Shopify-Hmac-Sha256`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Marketplace;
use super::connector::{
    CallError, Confirmation, Connector, Delivery, Headers, Inbound, MarketOrder, SoldLine, StockUpdate, WebhookError,
    check, hmac_sha256, signature_matches,
};
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
    pub fn new(m: &Marketplace, timeout: Duration) -> Self {
        Self {
            base_url: m.base_url.trim_end_matches('/').to_owned(),
            token: m.credentials["access_token"].as_str().unwrap_or_default().to_owned(),
            location_id: id_value(m.settings["location_id"].as_str().unwrap_or_default()),
            secret: m.webhook_secret.as_bytes().to_vec(),
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
    order_id: Value,
    #[serde(default)]
    refund_line_items: Vec<ShopifyRefundLine>,
}

#[derive(Deserialize)]
struct ShopifyRefundLine {
    quantity: i64,
    line_item: ShopifyLine,
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

fn malformed(e: impl std::fmt::Display) -> WebhookError {
    WebhookError::Malformed(e.to_string())
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
        let inbound = match topic {
            "orders/create" | "orders/paid" => {
                let order: ShopifyOrder = serde_json::from_slice(body).map_err(malformed)?;
                let currency = Currency::parse(order.currency.as_deref().unwrap_or_default()).map_err(malformed)?;
                let lines = order
                    .line_items
                    .iter()
                    .map(|l| {
                        let price = l.price.as_ref().map(text).unwrap_or_else(|| "0".into());
                        Ok(SoldLine {
                            seller_sku: l.sku.clone().ok_or_else(|| malformed("a line item has no sku"))?,
                            quantity: l.quantity,
                            unit_price: Money::parse(&price, currency).map_err(malformed)?,
                        })
                    })
                    .collect::<Result<Vec<_>, WebhookError>>()?;
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
                    external_id: text(&order.id),
                    lines,
                    address,
                    buyer: order.customer,
                }))
            }
            "orders/cancelled" => {
                let order: ShopifyOrder = serde_json::from_slice(body).map_err(malformed)?;
                Inbound::Cancelled { external_id: text(&order.id) }
            }
            "refunds/create" => {
                let refund: ShopifyRefund = serde_json::from_slice(body).map_err(malformed)?;
                let lines = refund
                    .refund_line_items
                    .into_iter()
                    .filter_map(|l| l.line_item.sku.map(|sku| (sku, l.quantity)))
                    .collect();
                Inbound::Returned { external_id: text(&refund.order_id), lines }
            }
            other => Inbound::Ignored { topic: other.to_owned() },
        };
        Ok(Delivery { delivery_id: delivery_id.to_owned(), topic: topic.to_owned(), inbound })
    }
}
