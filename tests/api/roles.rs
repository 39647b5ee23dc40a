//! Every role against every endpoint of the contract: a key without the role
//! gets 403, a key with it gets past authorisation, no key gets 401. The
//! endpoints come from the served OpenAPI document, so a new endpoint without
//! a row here fails the test.

use std::collections::HashMap;

use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Send, TestApp};

crate::backend_tests!(every_role_against_every_endpoint, every_key_against_the_resources_of_others);

/// Who may call each endpoint: A admin, S staff, P pos, W web storefront,
/// V voice storefront, M marketplace. `-` means no key is needed.
const TABLE: &[(&str, &str)] = &[
    ("GET /healthz", "-"),
    ("GET /readyz", "-"),
    ("GET /metrics", "-"),
    ("POST /v1/marketplaces/{id}/webhooks", "-"),
    ("GET /v1/availability", "ASPWVM"),
    ("GET /v1/availability/explain", "ASP"),
    ("POST /v1/carts", "APWV"),
    ("GET /v1/carts/{token}", "ASPWV"),
    ("POST /v1/carts/{token}/lines", "APWV"),
    ("PUT /v1/carts/{token}/lines/{sku}", "APWV"),
    ("DELETE /v1/carts/{token}/lines/{sku}", "APWV"),
    ("GET /v1/customers", "ASP"),
    ("POST /v1/customers", "APWV"),
    ("GET /v1/customers/{ref}", "ASPWV"),
    ("PUT /v1/customers/{ref}", "APWV"),
    ("GET /v1/customers/{ref}/cart", "ASPWV"),
    ("POST /v1/customers/{ref}/cart/checkout", "APWV"),
    ("PUT /v1/customers/{ref}/cart/fulfilment", "APWV"),
    ("DELETE /v1/customers/{ref}/cart/fulfilment", "APWV"),
    ("GET /v1/customers/{ref}/cart/history", "ASPWV"),
    ("POST /v1/customers/{ref}/cart/lines", "APWV"),
    ("PUT /v1/customers/{ref}/cart/lines/{sku}", "APWV"),
    ("DELETE /v1/customers/{ref}/cart/lines/{sku}", "APWV"),
    ("POST /v1/customers/{ref}/cart/merge", "APWV"),
    ("PUT /v1/customers/{ref}/cart/promotion", "APWV"),
    ("DELETE /v1/customers/{ref}/cart/promotion", "APWV"),
    ("GET /v1/events", "ASWV"),
    ("GET /v1/analytics/channels", "AS"),
    ("POST /v1/fulfilments/{id}/cancel", "ASWVM"),
    ("POST /v1/fulfilments/{id}/deliver", "AS"),
    ("POST /v1/fulfilments/{id}/out-for-delivery", "AS"),
    ("POST /v1/fulfilments/{id}/pack", "AS"),
    ("POST /v1/fulfilments/{id}/reallocate", "AS"),
    ("POST /v1/fulfilments/{id}/ship", "AS"),
    ("POST /v1/fulfilments/{id}/start-picking", "AS"),
    ("GET /v1/locations", "ASPWVM"),
    ("POST /v1/locations", "A"),
    ("GET /v1/locations/{code}", "ASPWVM"),
    ("PUT /v1/locations/{code}", "A"),
    ("POST /v1/locations/{code}/deactivate", "A"),
    ("GET /v1/locations/{code}/pick-list", "AS"),
    ("GET /v1/locations/{code}/pickups", "ASP"),
    ("POST /v1/locations/{code}/pickups/{id}/collect", "ASP"),
    ("POST /v1/locations/{code}/pickups/{id}/picks", "AS"),
    ("POST /v1/locations/{code}/pickups/{id}/ready", "AS"),
    ("POST /v1/locations/{code}/pickups/{id}/reissue-code", "AS"),
    ("GET /v1/locations/{code}/stock", "ASP"),
    ("POST /v1/locations/{code}/stock/adjustments", "AS"),
    ("POST /v1/locations/{code}/stock/counts", "AS"),
    ("POST /v1/locations/{code}/stock/receipts", "AS"),
    ("POST /v1/locations/{code}/stock/transfers", "AS"),
    ("GET /v1/locations/{code}/stock/{sku}", "ASP"),
    ("PUT /v1/locations/{code}/stock/{sku}", "AS"),
    ("GET /v1/locations/{code}/stock/{sku}/movements", "AS"),
    ("GET /v1/marketplaces", "A"),
    ("POST /v1/marketplaces", "A"),
    ("GET /v1/marketplaces/{id}", "A"),
    ("PUT /v1/marketplaces/{id}", "A"),
    ("GET /v1/marketplaces/{id}/listings", "A"),
    ("PUT /v1/marketplaces/{id}/listings/{sku}", "A"),
    ("DELETE /v1/marketplaces/{id}/listings/{sku}", "A"),
    ("POST /v1/marketplaces/{id}/resync", "A"),
    ("GET /v1/marketplaces/{id}/sync", "A"),
    ("GET /v1/orders", "ASPWVM"),
    ("GET /v1/orders/{id}", "ASPWVM"),
    ("GET /v1/orders/{id}/audit", "ASPWVM"),
    ("GET /v1/orders/{id}/cart-history", "ASPWVM"),
    ("POST /v1/orders/{id}/cancel", "ASWVM"),
    ("POST /v1/orders/{id}/fulfilments/{fulfilment}/arrived", "ASPWV"),
    ("POST /v1/orders/{id}/lines/{line}/cancel", "ASWVM"),
    ("POST /v1/orders/{id}/returns", "ASPM"),
    ("POST /v1/pos/checkout", "P"),
    ("POST /v1/pos/holds", "P"),
    ("POST /v1/pos/orders", "P"),
    ("POST /v1/pos/sales", "P"),
    ("GET /v1/promotions", "A"),
    ("POST /v1/promotions", "A"),
    ("GET /v1/promotions/{id}", "A"),
    ("PUT /v1/promotions/{id}", "A"),
    ("POST /v1/reservations", "ASPWVM"),
    ("GET /v1/reservations/{id}", "ASPWVM"),
    ("POST /v1/reservations/{id}/commit", "ASPWVM"),
    ("POST /v1/reservations/{id}/extend", "ASPWVM"),
    ("POST /v1/reservations/{id}/release", "ASPWVM"),
    ("GET /v1/same-day/slots", "ASPWVM"),
    ("GET /v1/skus", "ASPWVM"),
    ("POST /v1/skus", "A"),
    ("GET /v1/skus/{code}", "ASPWVM"),
    ("PUT /v1/skus/{code}", "A"),
    ("POST /v1/skus/{code}/deactivate", "A"),
    ("GET /v1/tax-rates", "A"),
    ("PUT /v1/tax-rates/{region}", "A"),
    ("POST /v1/voice/commands", "V"),
];

fn concrete(path: &str) -> String {
    path.replace("{code}", "S1")
        .replace("{ref}", "nobody")
        .replace("{token}", "ct_none")
        .replace("{sku}", "NOPE")
        .replace("{region}", "DE")
        .replace("{id}", "none")
        .replace("{line}", "none")
        .replace("{fulfilment}", "none")
}

async fn every_role_against_every_endpoint(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    let keys: Vec<(char, String)> = vec![
        ('A', app.admin.clone()),
        ('S', app.key(Role::Staff, Some("S1"), None).await),
        ('P', app.key(Role::Pos, Some("S1"), None).await),
        ('W', app.key(Role::Storefront, None, Some(Channel::Web)).await),
        ('V', app.key(Role::Storefront, None, Some(Channel::Voice)).await),
        ('M', app.marketplace_key("matrix-market").await),
    ];
    let spec: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let table: HashMap<&str, &str> = TABLE.iter().copied().collect();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for verb in item.as_object().unwrap().keys() {
            let endpoint = format!("{} {path}", verb.to_uppercase());
            let allowed =
                table.get(endpoint.as_str()).unwrap_or_else(|| panic!("no row for {endpoint} in the role table"));
            if *allowed == "-" {
                continue;
            }
            let method = Method::from_bytes(verb.to_uppercase().as_bytes()).unwrap();
            let url = concrete(path);
            let body = (method != Method::GET).then(|| json!({}));
            let anonymous = app.send(method.clone(), &url, Send { body: body.clone(), ..Default::default() }).await;
            assert_eq!(anonymous.status, 401, "{endpoint} without a key: {}", anonymous.body);
            for (role, key) in &keys {
                let answer = app
                    .send(method.clone(), &url, Send { key: Some(key), body: body.clone(), ..Default::default() })
                    .await;
                if allowed.contains(*role) {
                    assert!(
                        answer.status != 401 && answer.status != 403,
                        "{endpoint} as {role} should pass authorisation, got {}: {}",
                        answer.status,
                        answer.body
                    );
                } else {
                    assert_eq!(answer.status, 403, "{endpoint} as {role} should be forbidden: {}", answer.body);
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        table.len(),
        spec["paths"].as_object().unwrap().values().map(|i| i.as_object().unwrap().len()).sum::<usize>(),
        "no stale rows"
    );
    assert!(checked > 400);
}

/// Ownership, as a matrix: each key against the resources of others. Rows
/// name the keys that get past authorization (any answer but 401 and 403);
/// every other key must get 403.
async fn every_key_against_the_resources_of_others(app: TestApp) {
    use crate::marketplace::{SECRET, fake_shopify, list, marketplace, shopify_order, shopify_webhook};
    use crate::orders::{cart_ready, checkout, fulfilment_id, pickup};

    app.create_store("S1", 52.52, 13.40).await;
    app.create_store("S2", 52.50, 13.30).await;
    app.create_sku("WIDGET", "5.00").await;
    app.create_sku("GADGET", "7.00").await;
    app.create_sku("RARE", "9.00").await;
    app.receive("S1", "WIDGET", 20).await;
    app.receive("S2", "GADGET", 20).await;
    let (server_a, server_b) = (fake_shopify().await, fake_shopify().await);
    let market_a = marketplace(&app, "market-a", "shopify", &server_a, 100, 0).await;
    let market_b = marketplace(&app, "market-b", "shopify", &server_b, 100, 0).await;
    for (m, sku) in [(&market_a, "WIDGET"), (&market_b, "RARE")] {
        list(&app, m, sku, &format!("{sku}-listing")).await;
    }
    let keys: Vec<(&str, String)> = vec![
        ("A", app.admin.clone()),
        ("s1", app.key(Role::Staff, Some("S1"), None).await),
        ("s2", app.key(Role::Staff, Some("S2"), None).await),
        ("p1", app.key(Role::Pos, Some("S1"), None).await),
        ("p2", app.key(Role::Pos, Some("S2"), None).await),
        ("web", app.key(Role::Storefront, None, Some(Channel::Web)).await),
        ("app", app.key(Role::Storefront, None, Some(Channel::App)).await),
        ("mA", app.key_for(Role::Marketplace, None, None, Some("market-a")).await),
        ("mB", app.key_for(Role::Marketplace, None, None, Some("market-b")).await),
    ];
    let key = |label: &str| keys.iter().find(|(l, _)| *l == label).unwrap().1.clone();

    // A customer's pickup at S1, placed on the web.
    let version = cart_ready(&app, &key("web"), "cust", &[("WIDGET", 1)], pickup("S1")).await;
    let web_order = checkout(&app, &key("web"), "cust", version, "5.00", "web-1").await;
    web_order.assert_status(201);
    let web_id = web_order.body["id"].as_str().unwrap().to_owned();
    let web_fulfilment = fulfilment_id(&web_order, 0);
    // Marketplace A's order, shipped from S1; marketplace B's, which nobody can serve.
    let a_order =
        shopify_webhook(&app, &market_a, "orders/create", "a-1", &shopify_order(11, &[("WIDGET", 1, "5.00")]), SECRET)
            .await;
    let a_id = a_order.body["order"].as_str().unwrap().to_owned();
    let b_order =
        shopify_webhook(&app, &market_b, "orders/create", "b-1", &shopify_order(12, &[("RARE", 1, "9.00")]), SECRET)
            .await;
    let b_fulfilment = fulfilment_id(
        &app.get(&format!("/v1/orders/{}", b_order.body["order"].as_str().unwrap()), &app.admin).await,
        0,
    );
    // A counter sale at S2, with no customer.
    let sale = app
        .post("/v1/pos/sales", &key("p2"), json!({"items": [{"sku": "GADGET", "quantity": 1}], "payment": {"reference": "till", "amount": {"amount": "7.00", "currency": "EUR"}}}))
        .await;
    sale.assert_status(201);
    let sale_id = sale.body["id"].as_str().unwrap().to_owned();
    let sale_line = sale.body["fulfilments"][0]["lines"][0]["id"].as_str().unwrap().to_owned();
    // Holds: S1's counter, a web cart, marketplace A, and the web order's own.
    let hold = |key: String, purpose: &'static str| {
        let app = &app;
        async move {
            let answer = app
                .post(
                    "/v1/reservations",
                    &key,
                    json!({"location": "S1", "purpose": purpose, "lines": [{"sku": "WIDGET", "quantity": 1}]}),
                )
                .await;
            answer.assert_status(201);
            answer.body["id"].as_str().unwrap().to_owned()
        }
    };
    let counter_hold = hold(key("p1"), "pos_hold").await;
    let cart_hold = hold(key("web"), "cart_hold").await;
    let market_hold = hold(key("mA"), "marketplace_order").await;
    let explained = app.get("/v1/availability/explain?sku=WIDGET&location=S1", &app.admin).await;
    let order_hold = explained.body["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["purpose"] == "order")
        .and_then(|r| r["reservation"].as_str())
        .unwrap()
        .to_owned();

    let rows: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, format!("/v1/orders/{web_id}"), None, "A s1 p1 web app"),
        (Method::GET, format!("/v1/orders/{web_id}/audit"), None, "A s1 p1 web app"),
        (Method::GET, format!("/v1/orders/{a_id}"), None, "A s1 p1 mA"),
        (Method::GET, format!("/v1/orders/{sale_id}"), None, "A s2 p2"),
        (Method::GET, format!("/v1/reservations/{counter_hold}"), None, "A s1 p1"),
        (Method::GET, format!("/v1/reservations/{cart_hold}"), None, "A s1 p1 web app"),
        (Method::GET, format!("/v1/reservations/{market_hold}"), None, "A s1 p1 mA"),
        (Method::GET, format!("/v1/marketplaces/{market_a}/listings"), None, "A mA"),
        (Method::POST, format!("/v1/reservations/{order_hold}/release"), None, "A s1"),
        (
            Method::POST,
            format!("/v1/reservations/{cart_hold}/extend"),
            Some(json!({"expires_in_seconds": 60})),
            "A web app",
        ),
        (Method::POST, format!("/v1/reservations/{counter_hold}/release"), None, "A s1 p1"),
        (Method::POST, format!("/v1/reservations/{market_hold}/release"), None, "A mA"),
        (Method::POST, format!("/v1/fulfilments/{web_fulfilment}/start-picking"), None, "A s1"),
        (Method::POST, format!("/v1/fulfilments/{b_fulfilment}/reallocate"), None, "A"),
        (Method::POST, format!("/v1/orders/{a_id}/cancel"), Some(json!({})), "A s1 mA"),
        (Method::POST, format!("/v1/orders/{web_id}/cancel"), Some(json!({})), "A s1 web app"),
        (
            Method::POST,
            format!("/v1/orders/{sale_id}/returns"),
            Some(json!({"lines": [{"line": sale_line, "quantity": 1, "disposition": "restock"}]})),
            "A s1 s2 p1 p2",
        ),
    ];
    for (method, path, body, allowed) in rows {
        let allowed: Vec<&str> = allowed.split(' ').collect();
        for (label, secret) in &keys {
            let answer = app
                .send(method.clone(), &path, Send { key: Some(secret), body: body.clone(), ..Default::default() })
                .await;
            if allowed.contains(label) {
                assert!(
                    !matches!(answer.status.as_u16(), 401 | 403),
                    "{method} {path} as {label} should pass: {} {}",
                    answer.status,
                    answer.body
                );
            } else {
                answer.assert_problem(403, "forbidden");
            }
            if path.ends_with(&format!("{order_hold}/release")) && allowed.contains(label) {
                answer.assert_problem(409, "held_for_order");
            }
        }
    }
    let web_now = app.get(&format!("/v1/orders/{web_id}"), &app.admin).await;
    assert_eq!(web_now.body["status"], "cancelled", "cancelled through the order, its hold released with it");
    app.assert_ledger_balanced().await;
}
