//! Checkout, allocation, the fulfilment state machine, POS sales, endless
//! aisle, cancellations and returns.

use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Answer, Send, TestApp};

crate::backend_tests!(
    sixty_four_buyers_race_for_the_last_ten_units,
    one_idempotency_key_sent_eight_times_creates_one_order,
    checkout_needs_the_version_the_customer_saw_and_the_right_payment,
    every_transition_legal_and_illegal,
    cancelling_releases_and_shipping_sells,
    shipping_splits_across_locations_when_no_single_one_has_everything,
    pos_counter_sale_and_counter_checkout_sell_at_once,
    endless_aisle_ships_or_transfers_from_another_location,
    a_return_restocks_and_shows_in_availability,
    two_concurrent_returns_of_the_last_unit_take_it_once,
    orders_are_listed_with_filters,
);

/// Creates a customer whose cart holds these lines with this fulfilment intent;
/// returns the cart's version.
pub async fn cart_ready(app: &TestApp, key: &str, customer: &str, lines: &[(&str, i64)], fulfilment: Value) -> i64 {
    app.put(&format!("/v1/customers/{customer}"), &app.admin, json!({"name": customer})).await;
    for (sku, quantity) in lines {
        app.post(&format!("/v1/customers/{customer}/cart/lines"), key, json!({"sku": sku, "quantity": quantity}))
            .await
            .assert_status(200);
    }
    let cart = app.put(&format!("/v1/customers/{customer}/cart/fulfilment"), key, fulfilment).await;
    cart.assert_status(200);
    cart.body["version"].as_i64().unwrap()
}

pub fn pickup(location: &str) -> Value {
    json!({"method": "pickup", "location": location})
}

pub fn ship_to(latitude: f64, longitude: f64) -> Value {
    json!({"method": "ship", "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "region": "DE-BE", "country": "DE", "latitude": latitude, "longitude": longitude}})
}

/// Checks the cart out paying `amount` EUR.
pub async fn checkout(
    app: &TestApp,
    key: &str,
    customer: &str,
    version: i64,
    amount: &str,
    idempotency: &str,
) -> Answer {
    app.send(Method::POST, &format!("/v1/customers/{customer}/cart/checkout"), Send {
        key: Some(key),
        body: Some(json!({"payment": {"reference": format!("psp-{idempotency}"), "amount": {"amount": amount, "currency": "EUR"}}})),
        idempotency_key: Some(idempotency),
        if_match: Some(format!("\"{version}\"")),
        ..Default::default()
    })
    .await
}

pub fn fulfilment_id(order: &Answer, index: usize) -> String {
    order.body["fulfilments"][index]["id"].as_str().unwrap().to_owned()
}

async fn sixty_four_buyers_race_for_the_last_ten_units(app: TestApp) {
    app.create_store("RACE", 52.52, 13.40).await;
    app.create_store("OTHER", 52.50, 13.38).await;
    let keys = [
        app.key(Role::Storefront, None, Some(Channel::Web)).await,
        app.key(Role::Storefront, None, Some(Channel::App)).await,
        app.key(Role::Pos, Some("RACE"), None).await,
        app.key(Role::Storefront, None, Some(Channel::Voice)).await,
    ];
    for round in 0..20 {
        let sku = format!("LAST-{round}");
        app.create_sku(&sku, "4.99").await;
        app.receive("RACE", &sku, 10).await;
        app.receive("OTHER", &sku, 3).await;
        let buyers: Vec<(String, i64)> = crate::helpers::carts_with(&app, round, 64, &sku, "RACE").await;
        let attempts = buyers.iter().enumerate().map(|(i, (customer, version))| {
            checkout(&app, &keys[i % keys.len()], customer, *version, "4.99", customer)
        });
        let answers = join_all(attempts).await;
        let placed = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(placed, 10, "round {round}: exactly ten orders");
        let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 201).collect();
        assert_eq!(refused.len(), 54);
        for answer in refused {
            answer.assert_problem(409, "insufficient_stock");
            let line = &answer.body["lines"][0];
            assert_eq!((line["sku"].as_str(), line["location"].as_str()), (Some(sku.as_str()), Some("RACE")));
            assert_eq!(line["alternatives"][0]["location"], "OTHER", "names another store that has it");
        }
        let level = app.get(&format!("/v1/locations/RACE/stock/{sku}"), &app.admin).await;
        assert_eq!(
            (level.body["on_hand"].as_i64(), level.body["reserved"].as_i64(), level.body["available"].as_i64()),
            (Some(10), Some(10), Some(0))
        );
    }
    app.assert_ledger_balanced().await;
}

async fn one_idempotency_key_sent_eight_times_creates_one_order(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("ONE", "3.00").await;
    app.receive("S1", "ONE", 5).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "eight", &[("ONE", 1)], pickup("S1")).await;
    let answers = join_all((0..8).map(|_| checkout(&app, &web, "eight", version, "3.00", "same-key"))).await;
    for answer in &answers {
        answer.assert_status(201);
        assert_eq!(answer.body["number"], answers[0].body["number"]);
    }
    let orders = app.get("/v1/orders?customer=eight", &app.admin).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1, "one order");
    assert_eq!(app.available("ONE", "S1").await, 4);
    let next_cart = app.get("/v1/customers/eight/cart", &web).await;
    assert_eq!(next_cart.body["lines"].as_array().unwrap().len(), 0, "the next cart is empty");
}

async fn checkout_needs_the_version_the_customer_saw_and_the_right_payment(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("TEA", "2.50").await;
    app.receive("S1", "TEA", 5).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "careful", &[("TEA", 2)], pickup("S1")).await;
    let wrong = checkout(&app, &web, "careful", version, "4.99", "k1").await;
    wrong.assert_problem(409, "payment_mismatch");
    assert_eq!(wrong.body["expected"], "5.00 EUR");
    let stale = checkout(&app, &web, "careful", version - 1, "5.00", "k2").await;
    stale.assert_problem(412, "stale_version");
    assert_eq!(stale.body["current"]["version"], version);
    let no_version = app
        .send(
            Method::POST,
            "/v1/customers/careful/cart/checkout",
            Send {
                key: Some(&web),
                body: Some(json!({"payment": {"reference": "x", "amount": {"amount": "5.00", "currency": "EUR"}}})),
                idempotency_key: Some("k3"),
                ..Default::default()
            },
        )
        .await;
    no_version.assert_problem(428, "precondition_required");
    let no_key = app
        .send(
            Method::POST,
            "/v1/customers/careful/cart/checkout",
            Send {
                key: Some(&web),
                body: Some(json!({"payment": {"reference": "x", "amount": {"amount": "5.00", "currency": "EUR"}}})),
                if_match: Some(format!("\"{version}\"")),
                ..Default::default()
            },
        )
        .await;
    no_key.assert_problem(400, "bad_request");
    assert_eq!(app.available("TEA", "S1").await, 5, "nothing was written");
    let cart = app.get("/v1/customers/careful/cart", &web).await;
    assert_eq!(cart.body["version"], version);

    let placed = checkout(&app, &web, "careful", version, "5.00", "k4").await;
    placed.assert_status(201);
    assert!(placed.body["number"].as_str().unwrap().starts_with("OS-"));
    assert_eq!(placed.body["channel"], "web");
    assert_eq!(placed.body["status"], "placed");
    assert_eq!(placed.body["fulfilments"][0]["method"], "pickup");
    assert_eq!(placed.body["fulfilments"][0]["location"], "S1");
    assert!(placed.body["fulfilments"][0]["ready_by"].is_string());
    assert_eq!(placed.body["totals"]["total"]["amount"], "5.00");
    let empty = checkout(&app, &web, "careful", version + 1, "5.00", "k5").await;
    empty.assert_problem(409, "cart_empty");
}

async fn every_transition_legal_and_illegal(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("BOX", "10.00").await;
    app.receive("S1", "BOX", 20).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "walker", &[("BOX", 1)], ship_to(52.5, 13.4)).await;
    let order = checkout(&app, &web, "walker", version, "10.00", "walk").await;
    let id = fulfilment_id(&order, 0);
    let endpoints = ["start-picking", "pack", "ship", "out-for-delivery", "deliver", "cancel"];
    // (status, the one legal forward endpoint)
    let path = [("allocated", "start-picking"), ("picking", "pack"), ("packed", "ship"), ("shipped", "deliver")];
    for (status, forward) in path {
        for endpoint in endpoints.iter().filter(|e| **e != forward && **e != "cancel") {
            let refused = app.post(&format!("/v1/fulfilments/{id}/{endpoint}"), &staff, json!({})).await;
            refused.assert_problem(409, "illegal_transition");
            assert_eq!(refused.body["fulfilment_status"], status);
            assert!(!refused.body["allowed_actions"].as_array().unwrap().is_empty());
        }
        let moved = app.post(&format!("/v1/fulfilments/{id}/{forward}"), &staff, json!({})).await;
        moved.assert_status(200);
    }
    let done = app.post(&format!("/v1/fulfilments/{id}/cancel"), &staff, json!({})).await;
    done.assert_problem(409, "illegal_transition");
    assert_eq!(done.body["allowed_actions"], json!([]));
    let audit = app.get(&format!("/v1/orders/{}/audit", order.body["id"].as_str().unwrap()), &staff).await;
    let moves: Vec<(&str, &str)> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["to"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        moves,
        [
            ("placed", "allocated"),
            ("start_picking", "picking"),
            ("pack", "packed"),
            ("ship", "shipped"),
            ("deliver", "delivered")
        ]
    );
    assert_eq!(audit.body["entries"][1]["channel"], "staff");
    let order_now = app.get(&format!("/v1/orders/{}", order.body["number"].as_str().unwrap()), &app.admin).await;
    assert_eq!(order_now.body["status"], "fulfilled");
}

async fn cancelling_releases_and_shipping_sells(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("JAM", "3.00").await;
    app.receive("S1", "JAM", 6).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let version = cart_ready(&app, &web, "canceller", &[("JAM", 2)], ship_to(52.5, 13.4)).await;
    let order = checkout(&app, &web, "canceller", version, "6.00", "c1").await;
    assert_eq!(app.available("JAM", "S1").await, 4);
    let line = order.body["fulfilments"][0]["lines"][0]["id"].as_str().unwrap().to_owned();
    let id = order.body["id"].as_str().unwrap().to_owned();
    let partly = app
        .post(&format!("/v1/orders/{id}/lines/{line}/cancel"), &web, json!({"quantity": 1, "reason": "changed mind"}))
        .await;
    partly.assert_status(200);
    assert_eq!(partly.body["fulfilments"][0]["lines"][0]["cancelled"], 1);
    assert_eq!(app.available("JAM", "S1").await, 5);
    let cancelled = app.post(&format!("/v1/orders/{id}/cancel"), &web, json!({"reason": "no longer needed"})).await;
    cancelled.assert_status(200);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(app.available("JAM", "S1").await, 6);

    let version = cart_ready(&app, &web, "shipper", &[("JAM", 2)], ship_to(52.5, 13.4)).await;
    let order = checkout(&app, &web, "shipper", version, "6.00", "c2").await;
    let f = fulfilment_id(&order, 0);
    for step in ["start-picking", "pack"] {
        app.post(&format!("/v1/fulfilments/{f}/{step}"), &staff, json!({})).await.assert_status(200);
    }
    let shipped = app.post(&format!("/v1/fulfilments/{f}/ship"), &staff, json!({"tracking": "DHL-123"})).await;
    assert_eq!(shipped.body["fulfilments"][0]["tracking"], "DHL-123");
    let level = app.get("/v1/locations/S1/stock/JAM", &staff).await;
    assert_eq!(
        (level.body["on_hand"].as_i64(), level.body["reserved"].as_i64()),
        (Some(4), Some(0)),
        "shipping sold the units"
    );
    let late = app.post(&format!("/v1/orders/{}/cancel", order.body["id"].as_str().unwrap()), &web, json!({})).await;
    late.assert_problem(409, "illegal_transition");
    let ledger = app.get("/v1/locations/S1/stock/JAM/movements?limit=200", &staff).await;
    assert!(ledger.body["items"].as_array().unwrap().iter().any(|m| m["kind"] == "sale"));
    app.assert_ledger_balanced().await;
}

async fn shipping_splits_across_locations_when_no_single_one_has_everything(app: TestApp) {
    app.create_store("NORTH", 52.60, 13.40).await;
    app.create_store("SOUTH", 52.40, 13.40).await;
    app.create_sku("LEFT", "1.00").await;
    app.create_sku("RIGHT", "2.00").await;
    app.receive("NORTH", "LEFT", 5).await;
    app.receive("SOUTH", "RIGHT", 5).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "splitter", &[("LEFT", 2), ("RIGHT", 1)], ship_to(52.5, 13.4)).await;
    let order = checkout(&app, &web, "splitter", version, "4.00", "s1").await;
    order.assert_status(201);
    let mut at: Vec<(&str, &str)> = order.body["fulfilments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["location"].as_str().unwrap(), f["lines"][0]["sku"].as_str().unwrap()))
        .collect();
    at.sort();
    assert_eq!(at, [("NORTH", "LEFT"), ("SOUTH", "RIGHT")]);
    app.receive("SOUTH", "LEFT", 5).await;
    let version = cart_ready(&app, &web, "together", &[("LEFT", 1), ("RIGHT", 1)], ship_to(52.5, 13.4)).await;
    let order = checkout(&app, &web, "together", version, "3.00", "s2").await;
    assert_eq!(order.body["fulfilments"].as_array().unwrap().len(), 1, "one location had everything");
    assert_eq!(order.body["fulfilments"][0]["location"], "SOUTH");
}

async fn pos_counter_sale_and_counter_checkout_sell_at_once(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    let gtin = "4006381333931";
    app.post(
        "/v1/skus",
        &app.admin,
        json!({"code": "SCAN", "name": "Scanned", "gtin": gtin, "price": {"amount": "1.50", "currency": "EUR"}}),
    )
    .await
    .assert_status(201);
    app.receive("S1", "SCAN", 5).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let sale = app
        .post("/v1/pos/sales", &pos, json!({"items": [{"sku": gtin, "quantity": 1}, {"sku": gtin, "quantity": 1}], "payment": {"reference": "till-1", "amount": {"amount": "3.00", "currency": "EUR"}}}))
        .await;
    sale.assert_status(201);
    assert_eq!(sale.body["channel"], "pos");
    assert_eq!(sale.body["status"], "fulfilled");
    assert_eq!(sale.body["fulfilments"][0]["status"], "collected");
    assert_eq!(sale.body["fulfilments"][0]["lines"][0]["quantity"], 2);
    let level = app.get("/v1/locations/S1/stock/SCAN", &pos).await;
    assert_eq!(level.body["on_hand"], 3);

    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.put("/v1/customers/walk-in", &app.admin, json!({})).await;
    let cart = app.post("/v1/customers/walk-in/cart/lines", &web, json!({"sku": "SCAN", "quantity": 2})).await;
    let version = cart.body["version"].as_i64().unwrap();
    let at_counter = app
        .send(Method::POST, "/v1/pos/checkout", Send {
            key: Some(&pos),
            body: Some(json!({"customer_ref": "walk-in", "payment": {"reference": "till-2", "amount": {"amount": "3.00", "currency": "EUR"}}})),
            if_match: Some(format!("\"{version}\"")),
            ..Default::default()
        })
        .await;
    at_counter.assert_status(201);
    assert_eq!(at_counter.body["customer"], "walk-in");
    assert_eq!(at_counter.body["fulfilments"][0]["method"], "counter");
    assert_eq!(app.get("/v1/locations/S1/stock/SCAN", &pos).await.body["on_hand"], 1);
    app.post("/v1/pos/sales", &pos, json!({"items": [{"sku": "SCAN", "quantity": 2}], "payment": {"reference": "x", "amount": {"amount": "3.00", "currency": "EUR"}}}))
        .await
        .assert_problem(409, "insufficient_stock");
    app.assert_ledger_balanced().await;
}

async fn endless_aisle_ships_or_transfers_from_another_location(app: TestApp) {
    app.create_store("SHOP", 52.52, 13.40).await;
    app.create_store("DEPOT", 52.45, 13.35).await;
    app.create_sku("RARE", "20.00").await;
    app.receive("DEPOT", "RARE", 3).await;
    let pos = app.key(Role::Pos, Some("SHOP"), None).await;
    let pay = json!({"reference": "till", "amount": {"amount": "20.00", "currency": "EUR"}});
    let shipped = app
        .post("/v1/pos/orders", &pos, json!({"items": [{"sku": "RARE", "quantity": 1}], "fulfilment": {"method": "ship", "address": {"line1": "Weg 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}, "payment": pay}))
        .await;
    shipped.assert_status(201);
    assert_eq!(shipped.body["fulfilments"][0]["location"], "DEPOT");
    let held = app
        .post(
            "/v1/pos/orders",
            &pos,
            json!({"items": [{"sku": "RARE", "quantity": 1}], "fulfilment": {"method": "pickup"}, "payment": pay}),
        )
        .await;
    held.assert_status(201);
    let f = &held.body["fulfilments"][0];
    assert_eq!((f["location"].as_str(), f["pickup_location"].as_str()), (Some("DEPOT"), Some("SHOP")));
    let staff = app.key(Role::Staff, Some("DEPOT"), None).await;
    let id = f["id"].as_str().unwrap();
    for step in ["start-picking", "pack", "ship"] {
        app.post(&format!("/v1/fulfilments/{id}/{step}"), &staff, json!({})).await.assert_status(200);
    }
    let now = app.get(&format!("/v1/orders/{}", held.body["id"].as_str().unwrap()), &pos).await;
    assert_eq!(now.body["fulfilments"][0]["status"], "shipped");
    assert_eq!(now.body["status"], "in_progress", "on its way to the store, not yet with the customer");
    assert_eq!(now.body["fulfilments"][0]["allowed_actions"], json!(["mark_ready"]));
}

async fn a_return_restocks_and_shows_in_availability(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("SHOE", "59.99").await;
    app.receive("S1", "SHOE", 2).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let sale = app
        .post("/v1/pos/sales", &pos, json!({"items": [{"sku": "SHOE", "quantity": 2}], "payment": {"reference": "t", "amount": {"amount": "119.98", "currency": "EUR"}}}))
        .await;
    assert_eq!(app.available("SHOE", "S1").await, 0);
    let id = sale.body["id"].as_str().unwrap();
    let line = sale.body["fulfilments"][0]["lines"][0]["id"].as_str().unwrap();
    app.post(
        &format!("/v1/orders/{id}/returns"),
        &pos,
        json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock"}, {"line": line, "quantity": 1, "disposition": "restock"}]}),
    )
    .await
    .assert_problem(409, "not_returnable");
    assert_eq!(app.available("SHOE", "S1").await, 0, "a refused return restocks nothing");
    let returned = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &pos,
            json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock"}], "reason": "too small"}),
        )
        .await;
    returned.assert_status(201);
    assert_eq!(returned.body["refund"], json!({"amount": "59.99", "currency": "EUR"}));
    assert_eq!(app.available("SHOE", "S1").await, 1, "the returned pair is for sale again");
    let written_off = app
        .post(
            &format!("/v1/orders/{id}/returns"),
            &pos,
            json!({"lines": [{"line": line, "quantity": 1, "disposition": "write_off"}]}),
        )
        .await;
    assert_eq!(written_off.body["refund"]["amount"], "59.99");
    assert_eq!(app.available("SHOE", "S1").await, 1);
    app.post(
        &format!("/v1/orders/{id}/returns"),
        &pos,
        json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock"}]}),
    )
    .await
    .assert_problem(409, "not_returnable");
    let ledger = app.get("/v1/locations/S1/stock/SHOE/movements", &app.admin).await;
    let kinds: Vec<&str> =
        ledger.body["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receipt", "sale", "return", "return", "adjustment"]);
    app.assert_ledger_balanced().await;
}

/// Two returns of a line's last unit at once: the guarded count lets one in
/// and refuses the other with a problem, never a database error.
async fn two_concurrent_returns_of_the_last_unit_take_it_once(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("HAT", "20.00").await;
    app.receive("S1", "HAT", 10).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    for round in 0..5 {
        let sale = app
            .post("/v1/pos/sales", &pos, json!({"items": [{"sku": "HAT", "quantity": 1}], "payment": {"reference": format!("r{round}"), "amount": {"amount": "20.00", "currency": "EUR"}}}))
            .await;
        sale.assert_status(201);
        let id = sale.body["id"].as_str().unwrap();
        let line = sale.body["fulfilments"][0]["lines"][0]["id"].as_str().unwrap();
        let path = format!("/v1/orders/{id}/returns");
        let body = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock"}]});
        let answers = join_all([app.post(&path, &pos, body.clone()), app.post(&path, &pos, body)]).await;
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {answers:?}");
        answers.iter().find(|a| a.status == 409).unwrap().assert_problem(409, "not_returnable");
    }
    assert_eq!(app.available("HAT", "S1").await, 10, "each hat came back once");
    app.assert_ledger_balanced().await;
}

async fn orders_are_listed_with_filters(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_store("S2", 52.50, 13.30).await;
    app.create_sku("ITEM", "1.00").await;
    app.receive("S1", "ITEM", 10).await;
    app.receive("S2", "ITEM", 10).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    for (i, (key, store)) in [(&web, "S1"), (&appkey, "S1"), (&web, "S2")].iter().enumerate() {
        let customer = format!("lister-{i}");
        let version = cart_ready(&app, key, &customer, &[("ITEM", 1)], pickup(store)).await;
        checkout(&app, key, &customer, version, "1.00", &customer).await.assert_status(201);
    }
    let by_channel = app.get("/v1/orders?channel=web", &app.admin).await;
    assert_eq!(by_channel.body["items"].as_array().unwrap().len(), 2);
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let mine = app.get("/v1/orders", &staff).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2, "staff see their store's orders");
    app.get("/v1/orders?location=S2", &staff).await.assert_problem(403, "forbidden");
    let page = app.get("/v1/orders?limit=2", &app.admin).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/orders?limit=2&cursor={cursor}"), &app.admin).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    app.get("/v1/orders?status=bogus", &app.admin).await.assert_problem(422, "validation_failed");
    let customer = app.get("/v1/customers/lister-0", &staff).await;
    assert_eq!(customer.body["recent_orders"][0]["channel"], "web");
}
