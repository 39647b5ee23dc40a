//! The manager's numbers: per-channel analytics over real orders.

use chrono::Duration;
use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::orders::{cart_ready, checkout, fulfilment_id, pickup, ship_to};

crate::backend_tests!(channel_figures_add_up_per_channel_and_store, analytics_keeps_to_its_roles_and_windows,);

fn channel<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).unwrap_or(&Value::Null)
}

async fn channel_figures_add_up_per_channel_and_store(app: TestApp) {
    app.create_store("NEAR", 52.5250, 13.4100).await;
    app.create_store("FAR", 52.4000, 13.2000).await;
    app.create_sku("TEA", "4.00").await;
    app.receive("NEAR", "TEA", 20).await;
    app.receive("FAR", "TEA", 20).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;

    // Ada starts on the app and buys on the web, for pickup at NEAR.
    app.put("/v1/customers/ada", &app.admin, json!({"name": "Ada"})).await;
    app.post("/v1/customers/ada/cart/lines", &appkey, json!({"sku": "TEA", "quantity": 1})).await.assert_status(200);
    let version = cart_ready(&app, &web, "ada", &[("TEA", 1)], pickup("NEAR")).await;
    let order = checkout(&app, &web, "ada", version, "8.00", "an-1").await;
    order.assert_status(201);
    let fulfilment = fulfilment_id(&order, 0);
    let staff = app.key(Role::Staff, Some("NEAR"), None).await;
    app.clock.advance(Duration::minutes(30));
    app.post(&format!("/v1/locations/NEAR/pickups/{fulfilment}/ready"), &staff, json!({})).await.assert_status(200);
    // Bob buys two on the app, shipped; Cy's app order is cancelled.
    let version = cart_ready(&app, &appkey, "bob", &[("TEA", 2)], ship_to(52.52, 13.40)).await;
    checkout(&app, &appkey, "bob", version, "8.00", "an-2").await.assert_status(201);
    let version = cart_ready(&app, &appkey, "cy", &[("TEA", 1)], ship_to(52.52, 13.40)).await;
    let cancelled = checkout(&app, &appkey, "cy", version, "4.00", "an-3").await;
    let id = cancelled.body["id"].as_str().unwrap();
    app.post(&format!("/v1/orders/{id}/cancel"), &app.admin, json!({"reason": "changed mind"}))
        .await
        .assert_status(200);

    let report = app.get("/v1/analytics/channels", &app.admin).await;
    report.assert_status(200);
    assert!(report.body["location"].is_null());
    let web_figures = channel(&report.body, "web");
    assert_eq!(web_figures["orders"], 1);
    assert_eq!(web_figures["units"], 2);
    assert_eq!(web_figures["revenue"][0]["total"], json!({"amount": "8.00", "currency": "EUR"}));
    assert_eq!(web_figures["fulfilment_methods"], json!([{"method": "pickup", "fulfilments": 1, "share": 1.0}]));
    assert_eq!(web_figures["median_minutes_to_ready"], 30.0);
    assert_eq!(web_figures["multichannel_customers"], 1, "Ada used the app and the web");
    let app_figures = channel(&report.body, "app");
    assert_eq!(app_figures["orders"], 2);
    assert_eq!(app_figures["cancelled"], 1);
    assert_eq!(app_figures["units"], 2, "cancelled units do not count");
    assert_eq!(app_figures["revenue"][0]["total"]["amount"], "8.00");
    assert_eq!(app_figures["revenue"][0]["average_order_value"]["amount"], "8.00");
    assert_eq!(app_figures["multichannel_customers"], 0);
    // Ada's cart was started on the app: the app started three carts, all ordered.
    assert_eq!(app_figures["carts"], json!({"started": 3, "ordered": 3, "conversion": 1.0}));

    // Staff see their store: only the pickup at NEAR.
    let own = app.get("/v1/analytics/channels", &staff).await;
    own.assert_status(200);
    assert_eq!(own.body["location"], "NEAR");
    assert_eq!(channel(&own.body, "web")["orders"], 1);
    let far = app.key(Role::Staff, Some("FAR"), None).await;
    let other = app.get("/v1/analytics/channels", &far).await;
    assert_eq!(other.body["location"], "FAR");
    assert!(channel(&other.body, "web").is_null(), "the pickup at NEAR is not FAR's");
    app.get("/v1/analytics/channels?location=FAR", &staff).await.assert_problem(403, "forbidden");

    // A window before any order is empty.
    let before = app.get("/v1/analytics/channels?from=2026-01-01&to=2026-01-31", &app.admin).await;
    assert_eq!(before.body["channels"], json!([]));
}

async fn analytics_keeps_to_its_roles_and_windows(app: TestApp) {
    app.create_store("NEAR", 52.5250, 13.4100).await;
    let pos = app.key(Role::Pos, Some("NEAR"), None).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.get("/v1/analytics/channels", &pos).await.assert_problem(403, "forbidden");
    app.get("/v1/analytics/channels", &web).await.assert_problem(403, "forbidden");
    let backwards = app.get("/v1/analytics/channels?from=2026-06-10&to=2026-06-01", &app.admin).await;
    backwards.assert_status(422);
    app.get("/v1/analytics/channels?from=2024-01-01&to=2026-06-01", &app.admin).await.assert_status(422);
    app.get("/v1/analytics/channels?from=yesterday", &app.admin).await.assert_problem(422, "validation_failed");
    app.get("/v1/analytics/channels?location=NOWHERE", &app.admin).await.assert_status(404);
}
