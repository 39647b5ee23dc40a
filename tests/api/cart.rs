//! Customers and the one cart across channels: versions, history, merge,
//! pricing, promotions, tax, availability, holds.

use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Send, TestApp, postgres_url, spawn_app_with};

crate::backend_tests!(
    the_same_cart_through_every_channel,
    sixteen_concurrent_adds_from_four_channels_all_land,
    an_anonymous_cart_merges_on_sign_in,
    an_order_names_every_channel_its_cart_was_changed_through,
    promotions_apply_identically_in_every_channel,
    tax_and_rounding_per_line,
    bad_cart_input_leaves_the_cart_unchanged,
    lines_say_where_they_can_be_fulfilled,
    customers_are_found_by_email_and_phone,
    voice_commands_work_the_same_cart,
);

async fn customer(app: &TestApp, reference: &str) {
    app.put(
        &format!("/v1/customers/{reference}"),
        &app.admin,
        json!({"name": "Ada", "email": "ada@example.com", "phone": "+49 30 1234567"}),
    )
    .await
    .assert_status(201);
}

async fn the_same_cart_through_every_channel(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    for (sku, name, price, spoken) in [
        ("BREAD", "Sourdough Bread", "2.49", json!(["bread"])),
        ("EGGS", "Free-Range Eggs", "3.49", json!(["eggs"])),
        ("OAT-MILK", "Oat Milk 1 L", "2.29", json!(["oat milk", "oatly"])),
        ("ALMOND-MILK", "Almond Milk 1 L", "2.79", json!(["almond milk"])),
    ] {
        app.post(
            "/v1/skus",
            &app.admin,
            json!({"code": sku, "name": name, "price": {"amount": price, "currency": "EUR"}, "spoken_names": spoken}),
        )
        .await
        .assert_status(201);
        app.receive("S1", sku, 10).await;
    }
    customer(&app, "cust-1").await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.post("/v1/customers/cust-1/cart/lines", &appkey, json!({"sku": "BREAD", "quantity": 1}))
        .await
        .assert_status(200);
    app.post("/v1/customers/cust-1/cart/lines", &appkey, json!({"sku": "EGGS", "quantity": 2}))
        .await
        .assert_status(200);
    app.post("/v1/customers/cust-1/cart/lines", &voice, json!({"sku": "OAT-MILK", "quantity": 1}))
        .await
        .assert_status(200);

    let seen = app.get("/v1/customers/cust-1/cart", &web).await;
    seen.assert_status(200);
    let lines: Vec<(&str, &str)> = seen.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["sku"].as_str().unwrap(), l["added_via"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [("BREAD", "app"), ("EGGS", "app"), ("OAT-MILK", "voice")]);
    assert_eq!(seen.body["totals"]["total"], json!({"amount": "11.76", "currency": "EUR"}));
    assert_eq!(seen.header("etag"), Some("\"4\""));

    let history = app.get("/v1/customers/cust-1/cart/history", &web).await;
    let changes: Vec<(&str, &str, Option<&str>)> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["channel"].as_str().unwrap(), c["sku"].as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("create", "app", None),
            ("add_line", "app", Some("BREAD")),
            ("add_line", "app", Some("EGGS")),
            ("add_line", "voice", Some("OAT-MILK"))
        ]
    );
    app.put("/v1/customers/cust-1/cart/lines/EGGS", &web, json!({"quantity": 3})).await.assert_status(200);
    let removed = app.delete("/v1/customers/cust-1/cart/lines/BREAD", &web).await;
    assert_eq!(removed.body["lines"].as_array().unwrap().len(), 2);
    assert_eq!(removed.body["lines"][0]["quantity"], 3);
}

async fn sixteen_concurrent_adds_from_four_channels_all_land(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    customer(&app, "busy").await;
    let keys = [
        app.key(Role::Storefront, None, Some(Channel::Web)).await,
        app.key(Role::Storefront, None, Some(Channel::App)).await,
        app.key(Role::Storefront, None, Some(Channel::Voice)).await,
        app.key(Role::Pos, Some("S1"), None).await,
    ];
    for i in 0..16 {
        app.create_sku(&format!("C-{i}"), "1.00").await;
    }
    app.get("/v1/customers/busy/cart", &keys[0]).await.assert_status(200);
    let adds = (0..16).map(|i| {
        app.post("/v1/customers/busy/cart/lines", &keys[i % 4], json!({"sku": format!("C-{i}"), "quantity": 1}))
    });
    for answer in join_all(adds).await {
        answer.assert_status(200);
    }
    let cart = app.get("/v1/customers/busy/cart", &keys[0]).await;
    assert_eq!(cart.body["lines"].as_array().unwrap().len(), 16, "no change was lost");
    assert_eq!(cart.body["version"], 17);
    let mut channels: Vec<&str> =
        cart.body["lines"].as_array().unwrap().iter().map(|l| l["added_via"].as_str().unwrap()).collect();
    channels.sort();
    channels.dedup();
    assert_eq!(channels, ["app", "pos", "voice", "web"]);
    // A new customer's first adds, all at once: one cart is created, and
    // each add lands in it (none is refused as stale, none is lost).
    customer(&app, "fresh").await;
    let firsts = (0..8).map(|i| {
        app.post("/v1/customers/fresh/cart/lines", &keys[i % 4], json!({"sku": format!("C-{i}"), "quantity": 1}))
    });
    for answer in join_all(firsts).await {
        answer.assert_status(200);
    }
    let fresh = app.get("/v1/customers/fresh/cart", &keys[0]).await;
    assert_eq!(fresh.body["lines"].as_array().unwrap().len(), 8, "{}", fresh.body);
    assert_eq!(fresh.body["version"], 9);

    // Each channel works its own lines of the same cart at once: add, change,
    // remove. No step may miss the line its own earlier step wrote.
    let app = &app;
    let cycles = (0..16).map(|i| {
        let (key, sku) = (&keys[i % 4], format!("C-{i}"));
        async move {
            let path = format!("/v1/customers/fresh/cart/lines/{sku}");
            app.post("/v1/customers/fresh/cart/lines", key, json!({"sku": sku, "quantity": 1}))
                .await
                .assert_status(200);
            app.put(&path, key, json!({"quantity": 3})).await.assert_status(200);
            app.delete(&path, key).await.assert_status(200);
        }
    });
    join_all(cycles).await;
    let emptied = app.get("/v1/customers/fresh/cart", &keys[0]).await;
    assert_eq!(emptied.body["lines"], json!([]), "{}", emptied.body);
    assert_eq!(emptied.body["version"], 9 + 48);

    let stale = app
        .send(
            Method::POST,
            "/v1/customers/busy/cart/lines",
            Send {
                key: Some(&keys[1]),
                body: Some(json!({"sku": "C-1", "quantity": 1})),
                if_match: Some("\"16\"".into()),
                ..Default::default()
            },
        )
        .await;
    stale.assert_problem(412, "stale_version");
    assert_eq!(stale.body["current"]["version"], 17);
    assert_eq!(stale.body["current"]["lines"].as_array().unwrap().len(), 16);
    let fresh = app
        .send(
            Method::POST,
            "/v1/customers/busy/cart/lines",
            Send {
                key: Some(&keys[1]),
                body: Some(json!({"sku": "C-1", "quantity": 1})),
                if_match: Some("\"17\"".into()),
                idempotency_key: Some("line-op-1"),
                ..Default::default()
            },
        )
        .await;
    fresh.assert_status(200);
    let replay = app
        .send(
            Method::POST,
            "/v1/customers/busy/cart/lines",
            Send {
                key: Some(&keys[1]),
                body: Some(json!({"sku": "C-1", "quantity": 1})),
                if_match: Some("\"17\"".into()),
                idempotency_key: Some("line-op-1"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(replay.body, fresh.body, "a retried line operation is applied once");
    assert_eq!(replay.body["lines"][1]["quantity"], 2);
}

async fn an_anonymous_cart_merges_on_sign_in(app: TestApp) {
    app.create_sku("A", "1.00").await;
    app.create_sku("B", "2.00").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let anonymous = app.post("/v1/carts", &web, json!(null)).await;
    anonymous.assert_status(201);
    let token = anonymous.body["token"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/carts/{token}/lines"), &web, json!({"sku": "A", "quantity": 2})).await.assert_status(200);
    app.post(&format!("/v1/carts/{token}/lines"), &web, json!({"sku": "B", "quantity": 1})).await.assert_status(200);
    customer(&app, "signed-in").await;
    app.post("/v1/customers/signed-in/cart/lines", &web, json!({"sku": "A", "quantity": 1})).await.assert_status(200);

    // The customer signs in on the app: the merge is the app's change.
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    let merged = app.post("/v1/customers/signed-in/cart/merge", &appkey, json!({"token": token})).await;
    merged.assert_status(200);
    let via: Vec<(&str, &str)> = merged.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["added_via"].as_str().unwrap(), l["updated_via"].as_str().unwrap()))
        .collect();
    assert_eq!(
        via,
        [("web", "app"), ("web", "app")],
        "lines keep where they were added; the merge is their latest change"
    );
    let quantities: Vec<(&str, i64)> = merged.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["sku"].as_str().unwrap(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(quantities, [("A", 3), ("B", 1)]);
    assert_eq!(merged.body["totals"]["total"]["amount"], "5.00");
    let old = app.get(&format!("/v1/carts/{token}"), &web).await;
    assert_eq!(old.body["status"], "merged");
    app.post(&format!("/v1/carts/{token}/lines"), &web, json!({"sku": "A", "quantity": 1}))
        .await
        .assert_problem(409, "cart_closed");
    app.post("/v1/customers/signed-in/cart/merge", &web, json!({"token": token}))
        .await
        .assert_problem(409, "cart_closed");
    // The trail of the signed-in cart now tells the anonymous cart's story too.
    let history = app.get("/v1/customers/signed-in/cart/history", &web).await;
    let trail: Vec<(&str, &str, bool)> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["channel"].as_str().unwrap(), c["cart"] == merged.body["id"]))
        .collect();
    assert_eq!(
        trail,
        [
            ("create", "web", false),
            ("add_line", "web", false),
            ("add_line", "web", false),
            ("create", "web", true),
            ("add_line", "web", true),
            ("merge", "app", true),
            ("merged_into", "app", false),
        ]
    );
}

/// The order records the channels of its cart's whole trail: the kiosk that
/// started the anonymous cart, the web that added to the customer's, the
/// app that merged them; and the channel placing it.
async fn an_order_names_every_channel_its_cart_was_changed_through(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("A", "1.00").await;
    app.receive("S1", "A", 5).await;
    let kiosk = app.key(Role::Storefront, None, Some(Channel::Kiosk)).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    let token = app.post("/v1/carts", &kiosk, json!(null)).await.body["token"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/carts/{token}/lines"), &kiosk, json!({"sku": "A", "quantity": 1})).await.assert_status(200);
    customer(&app, "many").await;
    app.post("/v1/customers/many/cart/lines", &web, json!({"sku": "A", "quantity": 1})).await.assert_status(200);
    app.post("/v1/customers/many/cart/merge", &appkey, json!({"token": token})).await.assert_status(200);
    let cart = app.put("/v1/customers/many/cart/fulfilment", &appkey, crate::orders::pickup("S1")).await;
    let version = cart.body["version"].as_i64().unwrap();
    let order = crate::orders::checkout(&app, &voice, "many", version, "2.00", "many-1").await;
    order.assert_status(201);
    assert_eq!(order.body["channels"], json!(["app", "kiosk", "voice", "web"]));
}

async fn promotions_apply_identically_in_every_channel(app: TestApp) {
    app.create_sku("TEA", "4.00").await;
    app.create_sku("MUG", "8.00").await;
    customer(&app, "promo").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    app.post(
        "/v1/promotions",
        &app.admin,
        json!({"code": "save10", "name": "10 % off", "kind": "percent", "percent": "10"}),
    )
    .await
    .assert_status(201);
    app.post(
        "/v1/promotions",
        &app.admin,
        json!({"name": "Tea deal", "kind": "fixed", "amount": {"amount": "0.50", "currency": "EUR"}, "sku": "TEA"}),
    )
    .await
    .assert_status(201);
    app.post(
        "/v1/promotions",
        &app.admin,
        json!({"code": "APPONLY", "name": "App exclusive", "kind": "percent", "percent": "20", "channels": ["app"]}),
    )
    .await
    .assert_status(201);
    app.post("/v1/promotions", &app.admin, json!({"code": "OLD", "name": "Old", "kind": "percent", "percent": "5", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-02-01T00:00:00Z"}))
        .await
        .assert_status(201);

    app.post("/v1/customers/promo/cart/lines", &web, json!({"sku": "TEA", "quantity": 2})).await;
    app.post("/v1/customers/promo/cart/lines", &web, json!({"sku": "MUG", "quantity": 1})).await;
    let applied = app.put("/v1/customers/promo/cart/promotion", &web, json!({"code": "SAVE10"})).await;
    applied.assert_status(200);
    let mut totals = Vec::new();
    for key in [&web, &appkey, &voice] {
        let cart = app.get("/v1/customers/promo/cart", key).await;
        totals.push(cart.body["totals"].clone());
    }
    assert!(totals.iter().all(|t| *t == totals[0]), "every channel sees the same price: {totals:?}");
    // 2 × 4.00 − 2 × 0.50 + 8.00 = 15.00; 10 % of that = 1.50; total 13.50
    assert_eq!(totals[0]["discount"]["amount"], "2.50");
    assert_eq!(totals[0]["total"]["amount"], "13.50");

    let refused = app.put("/v1/customers/promo/cart/promotion", &web, json!({"code": "APPONLY"})).await;
    refused.assert_problem(409, "promotion_invalid");
    assert_eq!(refused.body["reason"], "is only for app");
    app.put("/v1/customers/promo/cart/promotion", &web, json!({"code": "OLD"}))
        .await
        .assert_problem(409, "promotion_invalid");
    app.put("/v1/customers/promo/cart/promotion", &web, json!({"code": "NOPE"}))
        .await
        .assert_problem(409, "promotion_invalid");
    let unchanged = app.get("/v1/customers/promo/cart", &web).await;
    assert_eq!(unchanged.body["promotion_code"], "SAVE10");
    let removed = app.delete("/v1/customers/promo/cart/promotion", &web).await;
    assert_eq!(removed.body["totals"]["total"]["amount"], "15.00");
}

async fn tax_and_rounding_per_line(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.put("/v1/tax-rates/DE-BE", &app.admin, json!({"rate_percent": "19"})).await.assert_status(200);
    app.create_sku("P1", "0.99").await;
    app.create_sku("P2", "3.33").await;
    customer(&app, "tax").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.post("/v1/customers/tax/cart/lines", &web, json!({"sku": "P1", "quantity": 3})).await;
    app.post("/v1/customers/tax/cart/lines", &web, json!({"sku": "P2", "quantity": 1})).await;
    let picked =
        app.put("/v1/customers/tax/cart/fulfilment", &web, json!({"method": "pickup", "location": "S1"})).await;
    picked.assert_status(200);
    assert_eq!(picked.body["tax_region"], "DE-BE");
    assert_eq!(picked.body["tax_rate_percent"], "19");
    // Tax-inclusive: 2.97 × 19/119 = 0.4742 → 0.47; 3.33 × 19/119 = 0.5316 → 0.53.
    let taxes: Vec<&str> =
        picked.body["lines"].as_array().unwrap().iter().map(|l| l["tax"]["amount"].as_str().unwrap()).collect();
    assert_eq!(taxes, ["0.47", "0.53"]);
    assert_eq!(picked.body["totals"]["tax"]["amount"], "1.00");
    assert_eq!(picked.body["totals"]["total"]["amount"], "6.30");
    assert!(picked.body["fulfilment"]["ready_by"].is_string());
}

async fn bad_cart_input_leaves_the_cart_unchanged(app: TestApp) {
    app.create_sku("OK", "1.00").await;
    app.post(
        "/v1/skus",
        &app.admin,
        json!({"code": "DOLLAR", "name": "Dollar item", "price": {"amount": "1.00", "currency": "USD"}}),
    )
    .await
    .assert_status(201);
    customer(&app, "careful").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.post("/v1/customers/careful/cart/lines", &web, json!({"sku": "OK", "quantity": 1})).await.assert_status(200);
    let before = app.get("/v1/customers/careful/cart", &web).await;
    let add = |body: serde_json::Value| app.post("/v1/customers/careful/cart/lines", &web, body);
    add(json!({"sku": "NOPE", "quantity": 1})).await.assert_problem(404, "sku_not_found");
    add(json!({"sku": "OK", "quantity": 0})).await.assert_problem(422, "validation_failed");
    add(json!({"sku": "OK", "quantity": 1000})).await.assert_problem(422, "validation_failed");
    add(json!({"sku": "OK", "quantity": 999})).await.assert_problem(409, "cart_limit");
    add(json!({"sku": "DOLLAR", "quantity": 1})).await.assert_problem(409, "currency_mismatch");
    app.put("/v1/customers/careful/cart/lines/NOPE", &web, json!({"quantity": 2}))
        .await
        .assert_problem(404, "sku_not_found");
    // A SKU that exists but has no line in the cart: neither set nor removed.
    app.put("/v1/customers/careful/cart/lines/DOLLAR", &web, json!({"quantity": 2}))
        .await
        .assert_problem(404, "line_not_found");
    app.delete("/v1/customers/careful/cart/lines/DOLLAR", &web).await.assert_problem(404, "line_not_found");
    app.post("/v1/customers/nobody/cart/lines", &web, json!({"sku": "OK", "quantity": 1}))
        .await
        .assert_problem(404, "customer_not_found");
    app.put("/v1/customers/careful/cart/fulfilment", &web, json!({"method": "pickup", "location": "NOWHERE"}))
        .await
        .assert_problem(404, "location_not_found");
    app.put("/v1/customers/careful/cart/fulfilment", &web, json!({"method": "teleport"}))
        .await
        .assert_problem(422, "validation_failed");
    app.put("/v1/customers/careful/cart/fulfilment", &web, json!({"method": "same_day", "address": {"line1": "x", "city": "Berlin", "postal_code": "10115", "country": "DE"}}))
        .await
        .assert_problem(422, "validation_failed");
    let after = app.get("/v1/customers/careful/cart", &web).await;
    assert_eq!(after.body, before.body, "nothing changed");

    // A full cart takes more units of its lines, but no 101st line.
    customer(&app, "full").await;
    for i in 0..100 {
        let sku = format!("L-{i}");
        app.create_sku(&sku, "1.00").await;
        app.post("/v1/customers/full/cart/lines", &web, json!({"sku": sku, "quantity": 1})).await.assert_status(200);
    }
    let full = app.get("/v1/customers/full/cart", &web).await;
    app.post("/v1/customers/full/cart/lines", &web, json!({"sku": "OK", "quantity": 1}))
        .await
        .assert_problem(409, "cart_limit");
    assert_eq!(app.get("/v1/customers/full/cart", &web).await.body, full.body, "nothing changed");
    let more = app.post("/v1/customers/full/cart/lines", &web, json!({"sku": "L-7", "quantity": 2})).await;
    assert_eq!(more.body["lines"][7]["quantity"], 3, "{}", more.body);
}

async fn lines_say_where_they_can_be_fulfilled(app: TestApp) {
    app.create_store("EMPTY", 52.52, 13.40).await;
    app.create_store("FULL", 52.50, 13.38).await;
    app.create_sku("RARE", "9.00").await;
    app.receive("FULL", "RARE", 4).await;
    customer(&app, "where").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.post("/v1/customers/where/cart/lines", &web, json!({"sku": "RARE", "quantity": 2})).await;
    let cart =
        app.put("/v1/customers/where/cart/fulfilment", &web, json!({"method": "pickup", "location": "EMPTY"})).await;
    let availability = &cart.body["lines"][0]["availability"];
    assert_eq!(availability["fulfillable"], false);
    assert_eq!(availability["location"], "EMPTY");
    assert_eq!(availability["alternatives"][0]["location"], "FULL");
    let cart = app
        .put(
            "/v1/customers/where/cart/fulfilment",
            &web,
            json!({"method": "pickup", "location": "FULL", "curbside": true}),
        )
        .await;
    assert_eq!(cart.body["lines"][0]["availability"]["fulfillable"], true);
    assert_eq!(cart.body["fulfilment"]["curbside"], true);
}

async fn customers_are_found_by_email_and_phone(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    customer(&app, "findme").await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let found = app.get("/v1/customers?email=ADA@example.com", &pos).await;
    found.assert_status(200);
    assert_eq!(found.body["items"][0]["external_ref"], "findme");
    let by_phone = app.get("/v1/customers?phone=%2B49%2030%201234567", &pos).await;
    assert_eq!(by_phone.body["items"].as_array().unwrap().len(), 1);
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.get("/v1/customers?email=ada@example.com", &web).await.assert_problem(403, "forbidden");
    app.post("/v1/customers", &web, json!({"external_ref": "findme"})).await.assert_problem(409, "customer_exists");
    app.post("/v1/customers", &web, json!({"external_ref": "x", "email": "not-an-email"}))
        .await
        .assert_problem(422, "validation_failed");
    let stale = app
        .send(
            Method::PUT,
            "/v1/customers/findme",
            Send {
                key: Some(&web),
                body: Some(json!({"name": "Ada L."})),
                if_match: Some("\"7\"".into()),
                ..Default::default()
            },
        )
        .await;
    stale.assert_problem(412, "stale_version");
    assert_eq!(stale.body["current"]["name"], "Ada");
    // A storefront's own id may hold a slash or any letter: the Location
    // header encodes it as one segment and leads back to the customer.
    let created = app.post("/v1/customers", &web, json!({"external_ref": "shop/¸ 4"})).await;
    created.assert_status(201);
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(location, "/v1/customers/shop%2F%C2%B8%204");
    assert_eq!(app.get(&location, &web).await.body["external_ref"], "shop/¸ 4");
}

#[tokio::test]
async fn cart_holds_reserve_while_the_line_is_in_the_cart() {
    cart_holds_reserve_on(Backend::Sqlite).await;
    if postgres_url().is_some() {
        cart_holds_reserve_on(Backend::Postgres).await;
    }
}

async fn cart_holds_reserve_on(backend: Backend) {
    let app = spawn_app_with(backend, &[("OMNISTOCK_CART__HOLDS", "true")]).await;
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("HELD", "1.00").await;
    app.receive("S1", "HELD", 3).await;
    customer(&app, "holder").await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let cart = app.post("/v1/customers/holder/cart/lines", &web, json!({"sku": "HELD", "quantity": 2})).await;
    assert!(cart.body["lines"][0]["hold"].is_string());
    assert_eq!(app.available("HELD", "S1").await, 1);
    let added = app.post("/v1/customers/holder/cart/lines", &web, json!({"sku": "HELD", "quantity": 1})).await;
    assert_ne!(added.body["lines"][0]["hold"], cart.body["lines"][0]["hold"], "a new hold for 3 units");
    assert_eq!(app.available("HELD", "S1").await, 0);
    app.put("/v1/customers/holder/cart/lines/HELD", &web, json!({"quantity": 1})).await.assert_status(200);
    assert_eq!(app.available("HELD", "S1").await, 2);
    app.put("/v1/customers/holder/cart/lines/HELD", &web, json!({"quantity": 3})).await.assert_status(200);
    assert_eq!(app.available("HELD", "S1").await, 0);
    app.delete("/v1/customers/holder/cart/lines/HELD", &web).await.assert_status(200);
    assert_eq!(app.available("HELD", "S1").await, 3);
    app.assert_ledger_balanced().await;
}

async fn voice_commands_work_the_same_cart(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    for (sku, name, spoken) in [
        ("OAT", "Oat Milk 1 L", json!(["oat milk"])),
        ("ALMOND", "Almond Milk 1 L", json!(["almond milk"])),
        ("BANANA", "Bananas 1 kg", json!(["bananas"])),
    ] {
        app.post(
            "/v1/skus",
            &app.admin,
            json!({"code": sku, "name": name, "price": {"amount": "2.00", "currency": "EUR"}, "spoken_names": spoken}),
        )
        .await
        .assert_status(201);
        app.receive("S1", sku, 10).await;
    }
    customer(&app, "talker").await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let say = |intent: &str, phrase: Option<&str>| {
        app.post("/v1/voice/commands", &voice, json!({"customer_ref": "talker", "intent": intent, "phrase": phrase}))
    };
    let added = say("add", Some("two oat milks please")).await;
    assert_eq!(added.body["cart"]["lines"][0]["quantity"], 2);
    say("add", Some("3 banana")).await.assert_status(200);
    let ask = say("add", Some("milk")).await;
    assert_eq!(ask.body["outcome"], "ask");
    let choices: Vec<&str> =
        ask.body["choices"].as_array().unwrap().iter().map(|c| c["sku"].as_str().unwrap()).collect();
    assert_eq!(choices.len(), 2);
    assert!(ask.body["speech"].as_str().unwrap().starts_with("Did you mean"));
    let before = app.get("/v1/customers/talker/cart", &web).await;
    assert_eq!(before.body["lines"].as_array().unwrap().len(), 2, "nothing added on ambiguity");
    let nothing = say("add", Some("a unicorn")).await;
    nothing.assert_problem(422, "phrase_not_understood");
    assert!(nothing.body["speech"].as_str().unwrap().contains("couldn't find"));
    assert_eq!(
        app.get("/v1/customers/talker/cart", &web).await.body["version"],
        before.body["version"],
        "cart unchanged"
    );
    let removed = say("remove", Some("one banana")).await;
    assert_eq!(removed.body["cart"]["lines"][1]["quantity"], 2);
    let listed = say("what_is_in_my_cart", None).await;
    assert_eq!(listed.body["speech"], "Your cart has 2 Oat Milk 1 L and 2 Bananas 1 kg, 8.00 EUR in total.");
    app.post("/v1/voice/commands", &web, json!({"customer_ref": "talker", "intent": "what_is_in_my_cart"}))
        .await
        .assert_problem(403, "forbidden");
    app.put("/v1/customers/talker/cart/fulfilment", &web, json!({"method": "pickup", "location": "S1"})).await;
    let bought = app
        .post("/v1/voice/commands", &voice, json!({"customer_ref": "talker", "intent": "checkout", "payment": {"reference": "alexa-pay-1", "amount": {"amount": "8.00", "currency": "EUR"}}}))
        .await;
    bought.assert_status(200);
    assert_eq!(bought.body["order"]["channel"], "voice");
    let whereabouts = say("where_is_my_order", None).await;
    assert!(whereabouts.body["speech"].as_str().unwrap().contains("has been received"), "{}", whereabouts.body);
}
