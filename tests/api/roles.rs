//! Every role against every endpoint of the contract: a key without the role
//! gets 403, a key with it gets past authorisation, no key gets 401. The
//! endpoints come from the served OpenAPI document, so a new endpoint without
//! a row here fails the test.

use std::collections::HashMap;

use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Send, TestApp};

crate::backend_tests!(every_role_against_every_endpoint);

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
