//! Marketplace connectors against real local HTTP servers (`peer.rs`): stock
//! pushes (coalesced, batched, retried, dead-lettered), signed order webhooks,
//! confirmations back.

use std::time::Duration;

use crate::helpers::{Answer, Backend, Send, TestApp, spawn_app_with};
use crate::orders::{checkout, fulfilment_id};
use crate::peer::{Peer, Received};
use base64::Engine;
use chrono::Duration as Span;
use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use omnistock::marketplace::connector::hmac_sha256;
use reqwest::Method;
use serde_json::{Value, json};

crate::backend_tests!(
    journey_four_duplicates_forgeries_and_quantities_reaching_both_marketplaces,
    quick_changes_coalesce_into_one_push_and_batch_where_the_api_allows,
    a_failing_marketplace_is_retried_with_backoff_then_dead_lettered,
    a_pos_sale_of_the_last_unit_drives_every_marketplace_to_zero,
    a_short_marketplace_order_needs_attention_and_zeroes_the_listing,
    cancellations_and_shipments_travel_both_ways,
    buyers_from_every_channel_race_for_ten_units,
    a_signed_body_cannot_be_replayed_as_something_else,
    orders_beyond_limits_or_in_other_currencies_change_nothing_they_should_not,
    concurrent_deliveries_of_one_order_are_one_order,
    secrets_are_sealed_and_never_echoed,
);

pub const SECRET: &str = "whsec_0123456789abcdef";
const SET_PATH: &str = "/admin/api/2024-07/inventory_levels/set.json";

pub async fn marketplace(app: &TestApp, name: &str, kind: &str, server: &Peer, share: i32, buffer: i32) -> String {
    let settings = match kind {
        "shopify" => json!({"location_id": "905684977"}),
        _ => json!({"seller_id": "A2SELLER", "marketplace_id": "A1PA6795UKMFR9", "country": "DE"}),
    };
    let created = app
        .post(
            "/v1/marketplaces",
            &app.admin,
            json!({"name": name, "kind": kind, "base_url": server.uri(), "credentials": {"access_token": "shpat_secret"}, "webhook_secret": SECRET, "share_percent": share, "buffer_units": buffer, "rate_limit_per_sec": 50, "settings": settings}),
        )
        .await;
    created.assert_status(201);
    assert!(
        created.body.get("credentials").is_none() && created.body.get("webhook_secret").is_none(),
        "secrets never come back"
    );
    assert_eq!(created.body["has_credentials"], true);
    created.body["id"].as_str().unwrap().to_owned()
}

pub async fn list(app: &TestApp, marketplace: &str, sku: &str, listing: &str) {
    app.put(&format!("/v1/marketplaces/{marketplace}/listings/{sku}"), &app.admin, json!({"listing_id": listing}))
        .await
        .assert_status(200);
}

pub async fn fake_shopify() -> Peer {
    let server = Peer::start().await;
    server.answer("POST", SET_PATH, 200, json!({"inventory_level": {}}));
    server.answer("POST", "/admin/api/2024-07/orders/", 201, "");
    server
}

async fn fake_amazon() -> Peer {
    let server = Peer::start().await;
    server.answer("PATCH", "/listings/2021-08-01/items/A2SELLER/", 200, json!({"status": "ACCEPTED"}));
    let upload = format!("{}/upload/doc-1", server.uri());
    server.answer("POST", "/feeds/2021-06-30/documents", 201, json!({"feedDocumentId": "doc-1", "url": upload}));
    server.answer("PUT", "/upload/doc-1", 200, "");
    server.answer("POST", "/feeds/2021-06-30/feeds", 202, json!({"feedId": "feed-1"}));
    server
}

async fn requests(server: &Peer, wanted: &str) -> Vec<Received> {
    server.received().into_iter().filter(|r| r.path.contains(wanted)).collect()
}

fn body(request: &Received) -> Value {
    request.json()
}

/// The quantities a fake Shopify was last told, by inventory item.
pub async fn shopify_quantity(server: &Peer, item: &str) -> Option<i64> {
    requests(server, SET_PATH)
        .await
        .iter()
        .rev()
        .map(body)
        .find(|b| b["inventory_item_id"].to_string().trim_matches('"') == item)
        .and_then(|b| b["available"].as_i64())
}

async fn amazon_quantity(server: &Peer, sku: &str) -> Option<i64> {
    requests(server, &format!("/items/A2SELLER/{sku}"))
        .await
        .last()
        .map(body)
        .and_then(|b| b["patches"][0]["value"][0]["quantity"].as_i64())
}

/// Waits (up to five seconds) for a background push to land.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn shopify_order(id: u64, lines: &[(&str, i64, &str)]) -> Vec<u8> {
    let items: Vec<Value> =
        lines.iter().map(|(sku, q, price)| json!({"sku": sku, "quantity": q, "price": price})).collect();
    serde_json::to_vec(&json!({
        "id": id,
        "name": format!("#{id}"),
        "currency": "EUR",
        "line_items": items,
        "shipping_address": {"name": "Grace Hopper", "address1": "Unter den Linden 1", "city": "Berlin", "zip": "10117", "country_code": "DE", "latitude": 52.517, "longitude": 13.389},
        "customer": {"email": "grace@example.com"}
    }))
    .unwrap()
}

pub async fn shopify_webhook(
    app: &TestApp,
    marketplace: &str,
    topic: &str,
    delivery: &str,
    body: &[u8],
    secret: &str,
) -> Answer {
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), body));
    let response = app
        .client
        .post(app.url(&format!("/v1/marketplaces/{marketplace}/webhooks")))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", delivery)
        .header("x-shopify-hmac-sha256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    crate::helpers::read(response).await
}

async fn amazon_notification(
    app: &TestApp,
    marketplace: &str,
    notification: &str,
    order: &str,
    status: &str,
    items: &[(&str, i64, &str)],
) -> Answer {
    let items: Vec<Value> = items
        .iter()
        .map(|(sku, q, price)| json!({"OrderItemId": format!("item-{sku}"), "SellerSKU": sku, "Quantity": q, "ItemPrice": {"Amount": price, "CurrencyCode": "EUR"}}))
        .collect();
    let body = serde_json::to_vec(&json!({
        "NotificationType": "ORDER_CHANGE",
        "NotificationVersion": "1.0",
        "Payload": {"OrderChangeNotification": {"SellerId": "A2SELLER", "AmazonOrderId": order, "OrderChangeType": "OrderStatusChange", "Summary": {"OrderStatus": status, "OrderItems": items}}},
        "NotificationMetadata": {"NotificationId": notification, "PublishTime": "2026-06-15T07:00:00Z"}
    }))
    .unwrap();
    let stamp = app.ctx.now().timestamp();
    let mut signed = format!("{stamp}.").into_bytes();
    signed.extend_from_slice(&body);
    let signature = omnistock::secret::hex(&hmac_sha256(SECRET.as_bytes(), &signed));
    let response = app
        .client
        .post(app.url(&format!("/v1/marketplaces/{marketplace}/webhooks")))
        .header("x-omnistock-signature", format!("t={stamp},v1={signature}"))
        .body(body)
        .send()
        .await
        .unwrap();
    crate::helpers::read(response).await
}

async fn journey_four_duplicates_forgeries_and_quantities_reaching_both_marketplaces(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("LAMP", "30.00").await;
    app.receive("WH", "LAMP", 10).await;
    let (shopify, amazon) = (fake_shopify().await, fake_amazon().await);
    let shop = marketplace(&app, "shop", "shopify", &shopify, 50, 1).await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    list(&app, &shop, "LAMP", "808950810").await;
    list(&app, &amzn, "LAMP", "LAMP").await;
    app.run_jobs().await;
    assert_eq!(shopify_quantity(&shopify, "808950810").await, Some(4), "half of 10, less a buffer of 1");
    assert_eq!(amazon_quantity(&amazon, "LAMP").await, Some(10));

    let order = shopify_order(450789469, &[("LAMP", 2, "29.00")]);
    let (first, second) = tokio::join!(
        shopify_webhook(&app, &shop, "orders/create", "delivery-1", &order, SECRET),
        shopify_webhook(&app, &shop, "orders/create", "delivery-1", &order, SECRET),
    );
    let third = shopify_webhook(&app, &shop, "orders/create", "delivery-1", &order, SECRET).await;
    let forged = shopify_webhook(
        &app,
        &shop,
        "orders/create",
        "delivery-9",
        &shopify_order(999, &[("LAMP", 5, "1.00")]),
        "not-the-secret",
    )
    .await;
    forged.assert_problem(401, "invalid_signature");
    let mut statuses: Vec<&str> =
        [&first, &second, &third].iter().map(|a| a.body["status"].as_str().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, ["created", "duplicate", "duplicate"]);
    let orders = app.get("/v1/orders?channel=marketplace", &app.admin).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1, "exactly one order");
    let placed = &orders.body["items"][0];
    assert_eq!(placed["marketplace_order"], "450789469");
    assert_eq!(placed["totals"]["total"]["amount"], "58.00", "the marketplace's prices");
    assert_eq!(placed["fulfilments"][0]["status"], "allocated", "stock allocated at once");
    assert_eq!(app.available("LAMP", "WH").await, 8);
    // The new quantity reaches both marketplaces right after the order, without waiting for a job.
    // The push log is written after the marketplace answers, so a request
    // seen by the marketplace is not yet a logged push: wait for both.
    let logged = || async {
        let sync = app.get(&format!("/v1/marketplaces/{amzn}/sync"), &app.admin).await;
        (sync.body["recent"][0]["quantity"] == 8).then_some(sync)
    };
    eventually("both marketplaces to hear of 8, and the push to be logged", || async {
        shopify_quantity(&shopify, "808950810").await == Some(3)
            && amazon_quantity(&amazon, "LAMP").await == Some(8)
            && logged().await.is_some()
    })
    .await;
    let sync = logged().await.expect("logged");
    assert_eq!(sync.body["recent"][0]["outcome"], "ok");
    let explained = app.get("/v1/availability/explain?sku=LAMP&location=WH", &app.admin).await;
    let shares: Vec<(String, i64)> = explained.body["marketplaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["marketplace"].as_str().unwrap().to_owned(), m["quantity"].as_i64().unwrap()))
        .collect();
    assert!(shares.contains(&("shop".to_owned(), 3)) && shares.contains(&("amzn".to_owned(), 8)), "{shares:?}");
    app.assert_ledger_balanced().await;
}

async fn quick_changes_coalesce_into_one_push_and_batch_where_the_api_allows(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("CUP", "5.00").await;
    app.create_sku("PLATE", "7.00").await;
    let (shopify, amazon) = (fake_shopify().await, fake_amazon().await);
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    list(&app, &shop, "CUP", "1001").await;
    list(&app, &amzn, "CUP", "CUP").await;
    list(&app, &amzn, "PLATE", "PLATE").await;
    app.run_jobs().await;
    let before = (requests(&shopify, SET_PATH).await.len(), amazon.received().len());
    for _ in 0..10 {
        app.receive("WH", "CUP", 1).await;
    }
    app.receive("WH", "PLATE", 4).await;
    app.run_jobs().await;
    let shop_pushes = requests(&shopify, SET_PATH).await.len() - before.0;
    assert_eq!(shop_pushes, 1, "ten changes, one push");
    assert_eq!(shopify_quantity(&shopify, "1001").await, Some(10), "the last value");
    let amazon_calls = amazon.received();
    let feed: Vec<&Received> = amazon_calls[before.1..].iter().collect();
    let paths: Vec<&str> = feed.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/feeds/2021-06-30/documents", "/upload/doc-1", "/feeds/2021-06-30/feeds"],
        "two listings, one feed"
    );
    let document = body(feed[1]);
    let mut sent: Vec<(String, i64)> = document["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sku"].as_str().unwrap().to_owned(), m["patches"][0]["value"][0]["quantity"].as_i64().unwrap()))
        .collect();
    sent.sort();
    assert_eq!(sent, [("CUP".to_owned(), 10), ("PLATE".to_owned(), 4)]);
    assert!(feed[0].headers.contains_key("x-amz-access-token"));
    assert!(!feed[1].headers.contains_key("x-amz-access-token"), "the pre-signed upload carries no token");
}

async fn a_failing_marketplace_is_retried_with_backoff_then_dead_lettered(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("FAN", "40.00").await;
    let flaky = Peer::start().await;
    flaky.answer_times("POST", SET_PATH, 429, 1);
    flaky.answer_times("POST", SET_PATH, 500, 1);
    flaky.answer("POST", SET_PATH, 200, "");
    let broken = Peer::start().await;
    broken.answer("PATCH", "/", 503, "");
    let shop = marketplace(&app, "flaky", "shopify", &flaky, 100, 0).await;
    let amzn = marketplace(&app, "broken", "amazon", &broken, 100, 0).await;
    list(&app, &shop, "FAN", "77").await;
    list(&app, &amzn, "FAN", "FAN").await;
    app.receive("WH", "FAN", 3).await;

    app.run_jobs().await;
    assert_eq!(requests(&flaky, SET_PATH).await.len(), 1, "429");
    app.run_jobs().await;
    assert_eq!(requests(&flaky, SET_PATH).await.len(), 1, "backing off: not due yet");
    app.clock.advance(Span::minutes(10));
    app.run_jobs().await;
    assert_eq!(requests(&flaky, SET_PATH).await.len(), 2, "500");
    app.clock.advance(Span::minutes(10));
    app.run_jobs().await;
    assert_eq!(requests(&flaky, SET_PATH).await.len(), 3, "200");
    app.clock.advance(Span::minutes(10));
    app.run_jobs().await;
    assert_eq!(requests(&flaky, SET_PATH).await.len(), 3, "arrived once; nothing more to send");
    let sync = app.get(&format!("/v1/marketplaces/{shop}/sync"), &app.admin).await;
    let outcomes: Vec<(&str, Option<i64>)> = sync.body["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap(), r["status_code"].as_i64()))
        .collect();
    assert_eq!(outcomes, [("ok", None), ("retry", Some(500)), ("retry", Some(429))]);
    assert_eq!((sync.body["synced"].as_i64(), sync.body["pending"].as_i64()), (Some(1), Some(0)));

    for _ in 0..8 {
        app.clock.advance(Span::minutes(10));
        app.run_jobs().await;
    }
    let parked = app.get(&format!("/v1/marketplaces/{amzn}/sync"), &app.admin).await;
    assert_eq!(parked.body["dead_letters"][0]["sku"], "FAN");
    assert!(parked.body["dead_letters"][0]["last_error"].as_str().unwrap().contains("503"));
    let attempts = parked.body["dead_letters"][0]["attempts"].as_i64().unwrap();
    assert_eq!(requests(&broken, "/listings").await.len() as i64, attempts, "no more calls once parked");
    let resync = app.post(&format!("/v1/marketplaces/{amzn}/resync"), &app.admin, json!(null)).await;
    assert_eq!(resync.body["queued"], 1);
    assert_eq!(
        app.get(&format!("/v1/marketplaces/{amzn}/sync"), &app.admin).await.body["pending"],
        1,
        "a resync revives it"
    );
}

async fn a_pos_sale_of_the_last_unit_drives_every_marketplace_to_zero(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("LAST", "15.00").await;
    app.receive("S1", "LAST", 1).await;
    let (shopify, amazon) = (fake_shopify().await, fake_amazon().await);
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    list(&app, &shop, "LAST", "55").await;
    list(&app, &amzn, "LAST", "LAST").await;
    app.run_jobs().await;
    assert_eq!((shopify_quantity(&shopify, "55").await, amazon_quantity(&amazon, "LAST").await), (Some(1), Some(1)));
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    app.post("/v1/pos/sales", &pos, json!({"items": [{"sku": "LAST", "quantity": 1}], "payment": {"reference": "till", "amount": {"amount": "15.00", "currency": "EUR"}}}))
        .await
        .assert_status(201);
    // The sale wakes the push worker at once; it may be mid-pass when the test runs its own.
    app.run_jobs().await;
    eventually("every marketplace to hear of 0", || async {
        (shopify_quantity(&shopify, "55").await, amazon_quantity(&amazon, "LAST").await) == (Some(0), Some(0))
    })
    .await;
}

async fn a_short_marketplace_order_needs_attention_and_zeroes_the_listing(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("RARE", "99.00").await;
    app.receive("WH", "RARE", 2).await;
    let (shopify, amazon) = (fake_shopify().await, fake_amazon().await);
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    list(&app, &shop, "RARE", "31").await;
    list(&app, &amzn, "RARE", "RARE").await;
    app.run_jobs().await;
    let sold =
        amazon_notification(&app, &amzn, "n-1", "902-3159896-1390916", "Unshipped", &[("RARE", 3, "297.00")]).await;
    sold.assert_status(200);
    assert_eq!(sold.body["status"], "created");
    assert_eq!(sold.body["order_status"], "needs_attention");
    let order = app.get(&format!("/v1/orders/{}", sold.body["order"].as_str().unwrap()), &app.admin).await;
    let statuses: Vec<&str> =
        order.body["fulfilments"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"allocated") && statuses.contains(&"needs_attention"));
    assert!(order.body["status_reason"].as_str().unwrap().contains("1 × RARE could not be allocated"));
    eventually("both listings at zero", || async {
        shopify_quantity(&shopify, "31").await == Some(0) && amazon_quantity(&amazon, "RARE").await == Some(0)
    })
    .await;
    let stale =
        amazon_notification(&app, &amzn, "n-1", "902-3159896-1390916", "Unshipped", &[("RARE", 3, "297.00")]).await;
    assert_eq!(stale.body["status"], "duplicate");
    let unknown =
        amazon_notification(&app, &amzn, "n-2", "902-0000000-0000000", "Unshipped", &[("NOT-LISTED", 1, "1.00")]).await;
    unknown.assert_problem(422, "unknown_listing");
    // Amazon's ItemPrice is the line's total: 10.00 for three stays 10.00 to the cent.
    app.create_sku("TRIO", "4.00").await;
    app.receive("WH", "TRIO", 5).await;
    list(&app, &amzn, "TRIO", "TRIO").await;
    let trio =
        amazon_notification(&app, &amzn, "n-3", "902-1111111-1111111", "Unshipped", &[("TRIO", 3, "10.00")]).await;
    trio.assert_status(200);
    let order = app.get(&format!("/v1/orders/{}", trio.body["order"].as_str().unwrap()), &app.admin).await;
    assert_eq!(order.body["totals"]["total"]["amount"], "10.00", "{}", order.body);
    assert_eq!(order.body["fulfilments"][0]["lines"][0]["total"]["amount"], "10.00");
}

async fn cancellations_and_shipments_travel_both_ways(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("BOOK", "12.00").await;
    app.receive("WH", "BOOK", 5).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "BOOK", "5151").await;
    let created =
        shopify_webhook(&app, &shop, "orders/create", "d-1", &shopify_order(1001, &[("BOOK", 1, "12.00")]), SECRET)
            .await;
    assert_eq!(created.body["status"], "created");
    let cancelled = shopify_webhook(
        &app,
        &shop,
        "orders/cancelled",
        "d-2",
        &serde_json::to_vec(&json!({"id": 1001, "cancelled_at": "2026-06-15T07:05:00Z", "cancel_reason": "customer"}))
            .unwrap(),
        SECRET,
    )
    .await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(app.available("BOOK", "WH").await, 5, "released");

    let second =
        shopify_webhook(&app, &shop, "orders/create", "d-3", &shopify_order(1002, &[("BOOK", 2, "12.00")]), SECRET)
            .await;
    let order = app.get(&format!("/v1/orders/{}", second.body["order"].as_str().unwrap()), &app.admin).await;
    let staff = app.key(Role::Staff, Some("WH"), None).await;
    let f = fulfilment_id(&order, 0);
    for step in ["start-picking", "pack"] {
        app.post(&format!("/v1/fulfilments/{f}/{step}"), &staff, json!({})).await.assert_status(200);
    }
    app.post(&format!("/v1/fulfilments/{f}/ship"), &staff, json!({"tracking": "DHL-42"})).await.assert_status(200);
    let third =
        shopify_webhook(&app, &shop, "orders/create", "d-4", &shopify_order(1003, &[("BOOK", 1, "12.00")]), SECRET)
            .await;
    app.post(
        &format!("/v1/orders/{}/cancel", third.body["order"].as_str().unwrap()),
        &app.admin,
        json!({"reason": "damaged in store"}),
    )
    .await
    .assert_status(200);
    app.run_jobs().await;
    let shipped = requests(&shopify, "/orders/1002/fulfillments.json").await;
    assert_eq!(shipped.len(), 1);
    assert_eq!(body(&shipped[0])["fulfillment"]["tracking_number"], "DHL-42");
    assert_eq!(requests(&shopify, "/orders/1003/cancel.json").await.len(), 1, "our cancellation is confirmed");
    let echoed = requests(&shopify, "/orders/1001/cancel.json").await;
    assert!(echoed.is_empty(), "theirs is not echoed back: {:?}", echoed.iter().map(body).collect::<Vec<_>>());
    app.run_jobs().await;
    assert_eq!(requests(&shopify, "/orders/1002/fulfillments.json").await.len(), 1, "confirmed once");

    let returned = shopify_webhook(
        &app,
        &shop,
        "refunds/create",
        "d-5",
        &serde_json::to_vec(
            &json!({"id": 509562969, "order_id": 1002, "refund_line_items": [{"quantity": 1, "line_item": {"sku": "BOOK"}}]}),
        )
        .unwrap(),
        SECRET,
    )
    .await;
    assert_eq!(returned.body["status"], "returned", "{}", returned.body);
    assert_eq!(
        app.get("/v1/locations/WH/stock/BOOK", &app.admin).await.body["on_hand"],
        4,
        "one of two shipped came back"
    );
    app.assert_ledger_balanced().await;
}

async fn buyers_from_every_channel_race_for_ten_units(app: TestApp) {
    app.create_store("RACE", 52.52, 13.40).await;
    app.create_sku("HOT", "9.00").await;
    app.receive("RACE", "HOT", 10).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "HOT", "1").await;
    let keys = [
        app.key(Role::Storefront, None, Some(Channel::Web)).await,
        app.key(Role::Storefront, None, Some(Channel::App)).await,
        app.key(Role::Pos, Some("RACE"), None).await,
    ];
    let buyers = crate::helpers::carts_with(&app, 99, 48, "HOT", "RACE").await;
    let storefront = buyers
        .iter()
        .enumerate()
        .map(|(i, (customer, version))| checkout(&app, &keys[i % 3], customer, *version, "9.00", customer));
    let bodies: Vec<Vec<u8>> = (0..16).map(|i| shopify_order(5000 + i, &[("HOT", 1, "9.00")])).collect();
    let deliveries: Vec<String> = (0..16).map(|i| format!("race-{i}")).collect();
    let (app_ref, shop_ref) = (&app, &shop);
    let market =
        bodies.iter().zip(&deliveries).map(|(b, d)| shopify_webhook(app_ref, shop_ref, "orders/create", d, b, SECRET));
    let (checkouts, webhooks) = tokio::join!(join_all(storefront), join_all(market));
    let won_online = checkouts.iter().filter(|a| a.status == 201).count();
    for refused in checkouts.iter().filter(|a| a.status != 201) {
        refused.assert_problem(409, "insufficient_stock");
    }
    let allocated_market = webhooks.iter().filter(|a| a.body["order_status"] == "placed").count();
    let short_market = webhooks.iter().filter(|a| a.body["order_status"] == "needs_attention").count();
    let odd: Vec<&Value> = webhooks
        .iter()
        .filter(|a| a.body["order_status"] != "placed" && a.body["order_status"] != "needs_attention")
        .map(|a| &a.body)
        .collect();
    assert_eq!(allocated_market + short_market, 16, "every marketplace order is taken: it was already sold: {odd:?}");
    assert_eq!(won_online + allocated_market, 10, "exactly the ten units are allocated");
    let level = app.get("/v1/locations/RACE/stock/HOT", &app.admin).await;
    assert_eq!(
        (level.body["on_hand"].as_i64(), level.body["reserved"].as_i64()),
        (Some(10), Some(10)),
        "nothing oversold"
    );
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn old_signed_webhooks_are_refused_as_replays() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let amazon = fake_amazon().await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    let body = br#"{"NotificationType":"ORDER_CHANGE"}"#;
    let stamp = app.ctx.now().timestamp() - 3600;
    let mut signed = format!("{stamp}.").into_bytes();
    signed.extend_from_slice(body);
    let signature = omnistock::secret::hex(&hmac_sha256(SECRET.as_bytes(), &signed));
    let answer = app
        .send(
            Method::POST,
            &format!("/v1/marketplaces/{amzn}/webhooks"),
            Send { raw: Some(body.to_vec()), ..Default::default() },
        )
        .await;
    answer.assert_problem(401, "invalid_signature");
    let replay = app
        .client
        .post(app.url(&format!("/v1/marketplaces/{amzn}/webhooks")))
        .header("x-omnistock-signature", format!("t={stamp},v1={signature}"))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    crate::helpers::read(replay).await.assert_problem(401, "invalid_signature");
}

/// The signature covers the body, not the topic header: what a delivery does
/// comes from what its body says, and the marketplace's own ids make each
/// effect happen once, whatever delivery ids it arrives under.
async fn a_signed_body_cannot_be_replayed_as_something_else(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("MUG", "8.00").await;
    app.receive("WH", "MUG", 10).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "MUG", "777").await;
    let order = shopify_order(5001, &[("MUG", 2, "8.00")]);
    let created = shopify_webhook(&app, &shop, "orders/create", "d-1", &order, SECRET).await;
    assert_eq!(created.body["status"], "created");
    let number = created.body["order"].as_str().unwrap().to_owned();
    // The captured order body under another topic and a new delivery id.
    let swapped = shopify_webhook(&app, &shop, "orders/cancelled", "d-2", &order, SECRET).await;
    swapped.assert_problem(422, "validation_failed");
    let still = app.get(&format!("/v1/orders/{number}"), &app.admin).await;
    assert_eq!(still.body["status"], "placed", "the order stands");
    // An object where an id belongs is refused, not turned into text.
    let object_id = serde_json::to_vec(
        &json!({"id": {"$gt": ""}, "currency": "EUR", "line_items": [{"sku": "MUG", "quantity": 1, "price": "8.00"}]}),
    )
    .unwrap();
    shopify_webhook(&app, &shop, "orders/create", "d-3", &object_id, SECRET)
        .await
        .assert_problem(422, "validation_failed");

    let staff = app.key(Role::Staff, Some("WH"), None).await;
    let f = fulfilment_id(&still, 0);
    for step in ["start-picking", "pack", "ship"] {
        app.post(&format!("/v1/fulfilments/{f}/{step}"), &staff, json!({})).await.assert_status(200);
    }
    let refund = serde_json::to_vec(
        &json!({"id": 9001, "order_id": 5001, "refund_line_items": [{"quantity": 1, "line_item": {"sku": "MUG"}}]}),
    )
    .unwrap();
    let first = shopify_webhook(&app, &shop, "refunds/create", "d-4", &refund, SECRET).await;
    assert_eq!(first.body["status"], "returned", "{}", first.body);
    let again = shopify_webhook(&app, &shop, "refunds/create", "d-5", &refund, SECRET).await;
    assert_eq!(
        (again.body["status"].as_str(), again.body["order"].as_str()),
        (Some("duplicate"), Some(number.as_str()))
    );
    let level = app.get("/v1/locations/WH/stock/MUG", &app.admin).await;
    assert_eq!(level.body["on_hand"], 9, "two shipped, one came back once");
    app.assert_ledger_balanced().await;
}

/// A body beyond an order's limits is refused whole; prices keep the
/// marketplace's currency; a deactivated marketplace's webhooks change nothing.
async fn orders_beyond_limits_or_in_other_currencies_change_nothing_they_should_not(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("PEN", "2.00").await;
    app.receive("WH", "PEN", 10).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "PEN", "888").await;
    let huge = shopify_order(6001, &[("PEN", 600_000, "2.00"), ("PEN", 600_000, "2.00")]);
    shopify_webhook(&app, &shop, "orders/create", "d-1", &huge, SECRET).await.assert_problem(422, "validation_failed");
    assert_eq!(app.get("/v1/orders?channel=marketplace", &app.admin).await.body["items"], json!([]), "nothing written");
    assert_eq!(app.available("PEN", "WH").await, 10);

    let mut dollars: Value = serde_json::from_slice(&shopify_order(6002, &[("PEN", 3, "2.50")])).unwrap();
    dollars["currency"] = json!("USD");
    let usd =
        shopify_webhook(&app, &shop, "orders/create", "d-2", &serde_json::to_vec(&dollars).unwrap(), SECRET).await;
    assert_eq!(usd.body["status"], "created", "{}", usd.body);
    let order = app.get(&format!("/v1/orders/{}", usd.body["order"].as_str().unwrap()), &app.admin).await;
    assert_eq!(order.body["status"], "needs_attention");
    assert_eq!(order.body["totals"]["total"], json!({"amount": "7.50", "currency": "USD"}), "never relabelled");
    assert!(order.body["status_reason"].as_str().unwrap().contains("USD"), "{}", order.body);

    let amazon = fake_amazon().await;
    let amzn = marketplace(&app, "amzn", "amazon", &amazon, 100, 0).await;
    list(&app, &amzn, "PEN", "PEN").await;
    let line = amazon_notification(&app, &amzn, "n-1", "111-1", "Unshipped", &[("PEN", 3, "10.00")]).await;
    assert_eq!(line.body["status"], "created");
    let sold = app.get(&format!("/v1/orders/{}", line.body["order"].as_str().unwrap()), &app.admin).await;
    assert_eq!(sold.body["totals"]["total"]["amount"], "10.00", "what the marketplace charged, to the cent");

    let mut settings = app.get(&format!("/v1/marketplaces/{shop}"), &app.admin).await.body;
    settings["active"] = json!(false);
    let body = json!({"name": "shop", "kind": "shopify", "base_url": settings["base_url"], "active": false, "settings": settings["settings"]});
    app.put(&format!("/v1/marketplaces/{shop}"), &app.admin, body).await.assert_status(200);
    let late =
        shopify_webhook(&app, &shop, "orders/create", "d-3", &shopify_order(6003, &[("PEN", 1, "2.00")]), SECRET).await;
    late.assert_problem(410, "marketplace_inactive");
    assert_eq!(app.available("PEN", "WH").await, 7, "only the Amazon order took stock");
}

/// The same order under eight delivery ids at once: one order, every
/// delivery answered 200.
async fn concurrent_deliveries_of_one_order_are_one_order(app: TestApp) {
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("CAP", "9.00").await;
    app.receive("WH", "CAP", 10).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "CAP", "999").await;
    let order = shopify_order(7001, &[("CAP", 1, "9.00")]);
    let deliveries: Vec<String> = (0..8).map(|i| format!("delivery-{i}")).collect();
    let answers =
        join_all(deliveries.iter().map(|d| shopify_webhook(&app, &shop, "orders/create", d, &order, SECRET))).await;
    let mut statuses: Vec<(u16, &str)> =
        answers.iter().map(|a| (a.status.as_u16(), a.body["status"].as_str().unwrap_or_default())).collect();
    statuses.sort();
    assert_eq!(statuses[0], (200, "created"), "{answers:?}");
    assert!(statuses[1..].iter().all(|s| *s == (200, "duplicate")), "{answers:?}");
    let number = answers.iter().find(|a| a.body["status"] == "created").unwrap().body["order"].clone();
    assert!(answers.iter().all(|a| a.body["order"] == number), "every answer names the one order");
    assert_eq!(app.available("CAP", "WH").await, 9);
}

/// Credentials and webhook secrets are sealed at rest and never shown; the
/// API is https only; a failing marketplace's body is never echoed.
async fn secrets_are_sealed_and_never_echoed(app: TestApp) {
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    let stored: (String, String) = {
        use omnistock::db::schema::marketplaces as m;
        let id = shop.clone();
        app.ctx
            .db
            .read(move |conn| {
                use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
                m::table
                    .filter(m::id.eq(id))
                    .select((m::credentials, m::webhook_secret))
                    .first(conn)
                    .map_err(omnistock::db::DbError::from)
            })
            .await
            .unwrap()
    };
    assert!(stored.0.starts_with("v1:") && stored.1.starts_with("v1:"), "{stored:?}");
    assert!(!stored.0.contains("shpat_secret") && !stored.1.contains(SECRET));
    for url in ["http://example.com", "ftp://127.0.0.1", "https://user:pw@example.com", "http://10.0.0.1:80"] {
        app.post(
            "/v1/marketplaces",
            &app.admin,
            json!({"name": "bad", "kind": "shopify", "base_url": url, "webhook_secret": SECRET}),
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    let chatty = Peer::start().await;
    chatty.answer("POST", "/", 400, "internal: db=prod-db-7 token=abc");
    let noisy = marketplace(&app, "noisy", "shopify", &chatty, 100, 0).await;
    app.create_store("WH", 52.52, 13.40).await;
    app.create_sku("BOX", "1.00").await;
    list(&app, &noisy, "BOX", "1").await;
    app.receive("WH", "BOX", 1).await;
    app.run_jobs().await;
    let sync = app.get(&format!("/v1/marketplaces/{noisy}/sync"), &app.admin).await;
    let shown = sync.body.to_string();
    assert!(!shown.contains("prod-db-7") && !shown.contains("token=abc"), "{shown}");
    assert_eq!(sync.body["recent"][0]["error"], "HTTP 400 Bad Request");
}
