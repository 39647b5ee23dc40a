//! In the style of Amazon's Selling Partner API: the Listings Items API
//! (`PATCH …/fulfillment_availability`) for one SKU, a `JSON_LISTINGS_FEED`
//! through the Feeds API for several, shipment confirmation through the Orders
//! API, and `ORDER_CHANGE` notifications relayed from SQS to our webhook,
//! signed `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` (`X-Omnistock-Signature`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::connector::{
    CallError, Confirmation, Connector, Delivery, Headers, Inbound, MarketOrder, Secrets, SoldLine, StockUpdate,
    WebhookError, check, check_lines, hmac_sha256, signature_matches, sold_quantity,
};
use super::model::Marketplace;
use crate::types::{Currency, Money};

pub struct Amazon {
    base_url: String,
    token: String,
    seller_id: String,
    marketplace_id: String,
    secret: Vec<u8>,
    timeout: Duration,
}

impl Amazon {
    pub fn new(m: &Marketplace, secrets: Secrets, timeout: Duration) -> Self {
        Self {
            base_url: m.base_url.trim_end_matches('/').to_owned(),
            token: secrets.access_token(),
            seller_id: m.settings["seller_id"].as_str().unwrap_or_default().to_owned(),
            marketplace_id: m.settings["marketplace_id"].as_str().unwrap_or_default().to_owned(),
            secret: secrets.webhook_secret,
            timeout,
        }
    }

    fn patches(quantity: i32) -> Value {
        json!([{
            "op": "replace",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
        }])
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
        let response = request
            .header("x-amz-access-token", &self.token)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| CallError::from_reqwest(&e))?;
        check(response).await
    }

    async fn feed(&self, client: &reqwest::Client, updates: &[StockUpdate]) -> Result<(), CallError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Document {
            feed_document_id: String,
            url: String,
        }
        let created = self
            .send(
                client
                    .post(format!("{}/feeds/2021-06-30/documents", self.base_url))
                    .json(&json!({"contentType": "application/json; charset=UTF-8"})),
            )
            .await?;
        let document: Document = created.json().await.map_err(|e| CallError {
            status: None,
            message: format!("unreadable feed document answer: {e}"),
            retryable: true,
            retry_after: None,
        })?;
        let messages: Vec<Value> = updates
            .iter()
            .enumerate()
            .map(|(i, u)| {
                json!({"messageId": i + 1, "sku": u.listing_id, "operationType": "PATCH", "productType": "PRODUCT", "patches": Self::patches(u.quantity)})
            })
            .collect();
        let body = json!({"header": {"sellerId": self.seller_id, "version": "2.0"}, "messages": messages});
        // The upload goes to the pre-signed URL as is: no access token.
        let uploaded = client
            .put(&document.url)
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| CallError::from_reqwest(&e))?;
        check(uploaded).await?;
        let feed = json!({"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [self.marketplace_id], "inputFeedDocumentId": document.feed_document_id});
        self.send(client.post(format!("{}/feeds/2021-06-30/feeds", self.base_url)).json(&feed)).await.map(|_| ())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    notification_type: String,
    payload: Value,
    notification_metadata: Metadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    notification_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderChange {
    amazon_order_id: String,
    summary: Summary,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    order_status: String,
    #[serde(default)]
    order_items: Vec<OrderItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderItem {
    #[serde(rename = "SellerSKU")]
    seller_sku: String,
    quantity: i64,
    #[serde(default)]
    item_price: Option<Price>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Price {
    amount: String,
    currency_code: String,
}

fn malformed(e: impl std::fmt::Display) -> WebhookError {
    WebhookError::Malformed(e.to_string())
}

fn invalid(e: impl std::fmt::Display) -> WebhookError {
    WebhookError::Invalid(e.to_string())
}

impl Connector for Amazon {
    fn batch_size(&self) -> usize {
        100
    }

    async fn push(&self, client: &reqwest::Client, updates: &[StockUpdate]) -> Result<(), CallError> {
        match updates {
            [] => Ok(()),
            [one] => {
                let url = format!("{}/listings/2021-08-01/items/{}/{}", self.base_url, self.seller_id, one.listing_id);
                let body = json!({"productType": "PRODUCT", "patches": Self::patches(one.quantity)});
                self.send(client.patch(url).query(&[("marketplaceIds", &self.marketplace_id)]).json(&body))
                    .await
                    .map(|_| ())
            }
            many => self.feed(client, many).await,
        }
    }

    async fn confirm(&self, client: &reqwest::Client, confirmation: &Confirmation) -> Result<(), CallError> {
        match confirmation {
            Confirmation::Shipped { external_id, tracking, lines } => {
                let items: Vec<Value> = lines.iter().map(|(sku, q)| json!({"sellerSku": sku, "quantity": q})).collect();
                let body = json!({
                    "marketplaceId": self.marketplace_id,
                    "packageDetail": {"packageReferenceId": "1", "carrierCode": "Other", "trackingNumber": tracking, "orderItems": items}
                });
                let url = format!("{}/orders/v0/orders/{external_id}/shipmentConfirmation", self.base_url);
                self.send(client.post(url).json(&body)).await.map(|_| ())
            }
            Confirmation::Cancelled { external_id, reason } => {
                let body = json!({"marketplaceId": self.marketplace_id, "cancelReason": reason});
                let url = format!("{}/orders/v0/orders/{external_id}/cancellation", self.base_url);
                self.send(client.post(url).json(&body)).await.map(|_| ())
            }
        }
    }

    fn verify(&self, headers: &Headers, body: &[u8], now: DateTime<Utc>, window: Duration) -> Result<(), WebhookError> {
        let signature = headers.get("x-omnistock-signature").ok_or(WebhookError::BadSignature)?;
        let mut stamp = None;
        let mut sent = None;
        for part in signature.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => stamp = t.parse::<i64>().ok(),
                Some(("v1", v)) => sent = Some(v.to_owned()),
                _ => {}
            }
        }
        let (Some(stamp), Some(sent)) = (stamp, sent) else { return Err(WebhookError::BadSignature) };
        let mut signed = format!("{stamp}.").into_bytes();
        signed.extend_from_slice(body);
        let expected = crate::secret::hex(&hmac_sha256(&self.secret, &signed));
        if !signature_matches(expected.as_bytes(), sent.to_ascii_lowercase().as_bytes()) {
            return Err(WebhookError::BadSignature);
        }
        let at = DateTime::from_timestamp(stamp, 0).ok_or(WebhookError::Stale)?;
        if (now - at).abs().to_std().map_or(true, |age| age > window) {
            return Err(WebhookError::Stale);
        }
        Ok(())
    }

    fn parse(&self, _headers: &Headers, body: &[u8]) -> Result<Delivery, WebhookError> {
        let notification: Notification = serde_json::from_slice(body).map_err(malformed)?;
        let delivery_id = notification.notification_metadata.notification_id;
        let topic = notification.notification_type;
        if topic != "ORDER_CHANGE" {
            return Ok(Delivery::new(delivery_id, topic.clone(), Inbound::Ignored { topic }, None));
        }
        let change: OrderChange =
            serde_json::from_value(notification.payload["OrderChangeNotification"].clone()).map_err(malformed)?;
        let inbound = match change.summary.order_status.as_str() {
            "Canceled" | "Cancelled" => Inbound::Cancelled { external_id: change.amazon_order_id },
            "Pending" | "Unshipped" | "PartiallyShipped" => {
                let lines = change
                    .summary
                    .order_items
                    .into_iter()
                    .map(|item| {
                        let quantity = sold_quantity(item.quantity, &item.seller_sku)?;
                        let price = item.item_price.ok_or_else(|| invalid("an order item has no ItemPrice"))?;
                        let currency = Currency::parse(&price.currency_code).map_err(invalid)?;
                        // Amazon's ItemPrice is what the whole line cost.
                        let total = Money::parse(&price.amount, currency).map_err(invalid)?;
                        Ok(SoldLine { seller_sku: item.seller_sku, quantity, total })
                    })
                    .collect::<Result<Vec<_>, WebhookError>>()?;
                check_lines(&lines)?;
                Inbound::Order(Box::new(MarketOrder {
                    external_id: change.amazon_order_id,
                    lines,
                    address: None,
                    buyer: None,
                }))
            }
            other => Inbound::Ignored { topic: format!("ORDER_CHANGE {other}") },
        };
        Ok(Delivery::new(delivery_id, topic, inbound, None))
    }
}
