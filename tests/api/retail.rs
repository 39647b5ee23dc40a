//! Retail correctness as a retailer checks it: tax by region and class,
//! refunds of cancellations, voice quantities and questions, the trail of a
//! cart into its order, staff views, one definition of "available", codes
//! and locations.

use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::{TestApp, location_body};
use crate::orders::{cart_ready, checkout, pickup};

crate::backend_tests!(
    tax_follows_the_most_specific_region_and_class_and_is_never_assumed,
    cancelling_recomputes_the_order_and_records_the_refund_due,
    voice_understands_large_numbers_and_asks_when_several_items_match,
    the_order_keeps_the_carts_trail_and_every_channel,
    staff_find_their_stores_orders_and_see_them_whole,
    available_says_what_it_counts_and_distance_only_when_known,
    codes_are_one_whatever_their_case_and_inactive_stores_say_so,
    extending_a_hold_never_shortens_it,
    a_marketplace_is_offered_only_its_locations_stock,
);

fn sku(code: &str, price: &str, tax_class: &str) -> Value {
    json!({"code": code, "name": format!("Item {code}"), "price": {"amount": price, "currency": "EUR"}, "tax_class": tax_class})
}

fn ship_to_region(region: Option<&str>, country: &str) -> Value {
    json!({"method": "ship", "address": {"line1": "Weg 1", "city": "Stadt", "postal_code": "12345", "region": region, "country": country}})
}

async fn tax_follows_the_most_specific_region_and_class_and_is_never_assumed(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    for (class, rate) in [("standard", "19"), ("reduced", "7")] {
        app.put("/v1/tax-rates/DE", &app.admin, json!({"rate_percent": rate, "tax_class": class}))
            .await
            .assert_status(200);
    }
    for (code, price, class) in [("BREAD", "1.07", "reduced"), ("RADIO", "119.00", "standard")] {
        app.post("/v1/skus", &app.admin, sku(code, price, class)).await.assert_status(201);
        app.receive("S1", code, 10).await;
    }
    // Bad input is refused, naming the field, and changes nothing.
    app.put("/v1/tax-rates/Bavaria", &app.admin, json!({"rate_percent": "7"}))
        .await
        .assert_problem(422, "validation_failed");
    app.put("/v1/tax-rates/DE", &app.admin, json!({"rate_percent": "7", "tax_class": "Food!"}))
        .await
        .assert_problem(422, "validation_failed");
    app.put("/v1/tax-rates/DE", &app.admin, json!({"rate_percent": "101"}))
        .await
        .assert_problem(422, "validation_failed");
    app.post("/v1/skus", &app.admin, sku("BAD", "1.00", "Reduced")).await.assert_problem(422, "validation_failed");
    let rates = app.get("/v1/tax-rates", &app.admin).await;
    assert!(
        rates.body["items"]
            .as_array()
            .unwrap()
            .contains(&json!({"region": "DE", "tax_class": "reduced", "rate_percent": "7"}))
    );

    // Before a fulfilment is chosen, the store's till estimates with its own region.
    app.put("/v1/customers/vat", &app.admin, json!({})).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    for code in ["BREAD", "RADIO"] {
        app.post("/v1/customers/vat/cart/lines", &pos, json!({"sku": code, "quantity": 1})).await.assert_status(200);
    }
    let estimated = app.get("/v1/customers/vat/cart", &pos).await;
    assert_eq!(estimated.body["tax_region"], "DE-BE", "{}", estimated.body);
    assert_eq!(estimated.body["tax_estimated"], true);
    assert!(estimated.body["tax_note"].as_str().unwrap().contains("estimated"));
    let line_rates: Vec<&str> =
        estimated.body["lines"].as_array().unwrap().iter().map(|l| l["tax_rate_percent"].as_str().unwrap()).collect();
    assert_eq!(line_rates, ["7", "19"], "Berlin takes Germany's rates, each line its class's");
    assert_eq!(estimated.body["totals"]["tax"]["amount"], "19.07", "0.07 + 19.00");
    // A storefront without a store or default region says it cannot estimate.
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let unknown = app.get("/v1/customers/vat/cart", &web).await;
    assert!(unknown.body.get("tax_region").is_none());
    assert!(unknown.body["tax_note"].as_str().unwrap().contains("no tax region"));

    // Bavaria has no rate of its own: Germany's applies (it used to be 0 %).
    let bavaria = app.put("/v1/customers/vat/cart/fulfilment", &web, ship_to_region(Some("DE-BY"), "DE")).await;
    assert_eq!(bavaria.body["tax_region"], "DE-BY");
    assert_eq!(bavaria.body["tax_estimated"], false);
    assert_eq!(bavaria.body["totals"]["tax"]["amount"], "19.07");

    // Austria has no rates: the cart says so and checkout is refused, writing nothing.
    let austria = app.put("/v1/customers/vat/cart/fulfilment", &web, ship_to_region(None, "AT")).await;
    assert!(austria.body["tax_note"].as_str().unwrap().contains("no tax rate is set"), "{}", austria.body);
    let version = austria.body["version"].as_i64().unwrap();
    let refused = checkout(&app, &web, "vat", version, "120.07", "vat-1").await;
    refused.assert_problem(409, "tax_rate_missing");
    assert_eq!(refused.body["region"], "AT");
    assert_eq!(app.get("/v1/orders?customer=vat", &app.admin).await.body["items"], json!([]));
    assert_eq!(app.get("/v1/customers/vat/cart", &web).await.body["status"], "open");
    // An explicit rate (zero included) is the retailer's decision.
    for (class, rate) in [("standard", "20"), ("reduced", "0")] {
        app.put("/v1/tax-rates/AT", &app.admin, json!({"rate_percent": rate, "tax_class": class})).await;
    }
    let placed = checkout(&app, &web, "vat", version, "120.07", "vat-2").await;
    placed.assert_status(201);
    assert_eq!(placed.body["totals"]["tax"]["amount"], "19.83", "119.00 × 20/120; bread at an explicit 0 %");
}

async fn cancelling_recomputes_the_order_and_records_the_refund_due(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("TRIO", "10.00").await;
    app.create_sku("SOLO", "5.00").await;
    app.receive("S1", "TRIO", 10).await;
    app.receive("S1", "SOLO", 10).await;
    // A euro off carts from 30.00, shared by the lines: TRIO's three units
    // then cost 29.14 together, which does not divide by three.
    app.post(
        "/v1/promotions",
        &app.admin,
        json!({"name": "Euro off", "kind": "fixed", "amount": {"amount": "1.00", "currency": "EUR"}, "min_subtotal": {"amount": "30.00", "currency": "EUR"}}),
    )
    .await
    .assert_status(201);
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "refunds", &[("TRIO", 3), ("SOLO", 1)], pickup("S1")).await;
    let order = checkout(&app, &web, "refunds", version, "34.00", "refunds-1").await;
    order.assert_status(201);
    assert_eq!(order.body["totals"]["total"]["amount"], "34.00");
    let id = order.body["id"].as_str().unwrap().to_owned();
    let lines = &order.body["fulfilments"][0]["lines"];
    let line_of = |code: &str| {
        lines.as_array().unwrap().iter().find(|l| l["sku"] == code).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let (trio, solo) = (line_of("TRIO"), line_of("SOLO"));
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let mut refunded = Vec::new();
    for _ in 0..3 {
        let after = app
            .post(
                &format!("/v1/orders/{id}/lines/{trio}/cancel"),
                &staff,
                json!({"quantity": 1, "reason": "out of budget"}),
            )
            .await;
        after.assert_status(200);
        let last = after.body["refunds"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["kind"].as_str(), last["reason"].as_str()), (Some("cancellation"), Some("out of budget")));
        assert_eq!(last["lines"][0]["quantity"], 1);
        refunded.push(last["amount"]["amount"].as_str().unwrap().to_owned());
    }
    assert_eq!(refunded, ["9.71", "9.72", "9.71"], "every cent of the line's 29.14, none twice");
    let now = app.get(&format!("/v1/orders/{id}"), &staff).await;
    assert_eq!(now.body["totals"]["total"]["amount"], "4.86");
    assert_eq!(now.body["status"], "placed", "SOLO is still to be picked up");
    // The last line cancelled: the order is cancelled, not "fulfilled".
    let all_gone = app
        .post(&format!("/v1/orders/{id}/lines/{solo}/cancel"), &staff, json!({"reason": "customer changed mind"}))
        .await;
    assert_eq!(all_gone.body["status"], "cancelled", "{}", all_gone.body);
    assert_eq!(all_gone.body["totals"]["total"]["amount"], "0.00");
    assert_eq!(all_gone.body["totals"]["subtotal"]["amount"], "0.00");
    let total: f64 = all_gone.body["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"]["amount"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total - 34.0).abs() < 1e-9, "refunds add up to what was paid: {total}");

    // A whole fulfilment cancelled refunds all of it at once.
    let version = cart_ready(&app, &web, "refunds", &[("SOLO", 2)], pickup("S1")).await;
    let second = checkout(&app, &web, "refunds", version, "10.00", "refunds-2").await;
    let second_id = second.body["id"].as_str().unwrap();
    let cancelled = app.post(&format!("/v1/orders/{second_id}/cancel"), &staff, json!({"reason": "shop closed"})).await;
    assert_eq!(cancelled.body["refunds"][0]["amount"]["amount"], "10.00");
    assert_eq!(cancelled.body["status_reason"], "shop closed");
    app.run_jobs().await;
    let events = app.get("/v1/events?topic=order.refund_due", &app.admin).await;
    let amounts: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().map(|e| e["data"]["amount"].as_str().unwrap()).collect();
    assert_eq!(amounts, ["9.71", "9.72", "9.71", "4.86", "10.00"], "{}", events.body);
    assert_eq!(app.available("SOLO", "S1").await, 10, "every cancelled unit is back");
}

async fn voice_understands_large_numbers_and_asks_when_several_items_match(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    for (code, name, spoken) in [
        ("BANANAS", "Bananas 1 kg", json!(["bananas"])),
        ("OAT-MILK", "Oat Milk 1 L", json!(["oat milk", "oatly"])),
        ("OAT-FLAKES", "Oat Flakes 500 g", json!(["oats", "oat flakes"])),
    ] {
        app.post(
            "/v1/skus",
            &app.admin,
            json!({"code": code, "name": name, "price": {"amount": "1.00", "currency": "EUR"}, "spoken_names": spoken}),
        )
        .await
        .assert_status(201);
        app.receive("S1", code, 500).await;
    }
    app.put("/v1/customers/speaker", &app.admin, json!({})).await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    let say = |phrase: &'static str| {
        app.post("/v1/voice/commands", &voice, json!({"customer_ref": "speaker", "intent": "add", "phrase": phrase}))
    };
    let hundred = say("a hundred bananas").await;
    assert_eq!(hundred.body["cart"]["lines"][0]["quantity"], 100, "{}", hundred.body);
    let too_many = say("ten thousand bananas").await;
    too_many.assert_problem(422, "phrase_not_understood");
    assert!(too_many.body["speech"].as_str().unwrap().contains("not 10000"), "{}", too_many.body);
    let ask = say("oat").await;
    assert_eq!(ask.body["outcome"], "ask", "{}", ask.body);
    let mut choices: Vec<&str> =
        ask.body["choices"].as_array().unwrap().iter().map(|c| c["sku"].as_str().unwrap()).collect();
    choices.sort_unstable();
    assert_eq!(choices, ["OAT-FLAKES", "OAT-MILK"]);
    let exact = say("two oats").await;
    assert_eq!(exact.body["cart"]["lines"][1]["sku"], "OAT-FLAKES", "a spoken name said exactly is clear");
}

async fn the_order_keeps_the_carts_trail_and_every_channel(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("TEA", "4.00").await;
    app.receive("S1", "TEA", 10).await;
    app.post(
        "/v1/promotions",
        &app.admin,
        json!({"code": "APPONLY", "name": "App welcome", "kind": "percent", "percent": "10", "channels": ["app"]}),
    )
    .await
    .assert_status(201);
    app.put("/v1/customers/trail", &app.admin, json!({})).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    app.post("/v1/customers/trail/cart/lines", &appkey, json!({"sku": "TEA", "quantity": 1})).await.assert_status(200);
    app.put("/v1/customers/trail/cart/promotion", &appkey, json!({"code": "APPONLY"})).await.assert_status(200);
    let on_web = app.post("/v1/customers/trail/cart/lines", &web, json!({"sku": "TEA", "quantity": 1})).await;
    assert_eq!(on_web.body["lines"][0]["added_via"], "app");
    assert_eq!(on_web.body["lines"][0]["updated_via"], "web");
    // The app's code does not count on the web, and the cart says why.
    let code = on_web.body["promotions"].as_array().unwrap().iter().find(|p| p["code"] == "APPONLY").unwrap().clone();
    assert_eq!(code["applied"], false);
    assert_eq!(code["reason"], "is only for app");
    assert_eq!(on_web.body["totals"]["total"]["amount"], "8.00");
    let version =
        app.put("/v1/customers/trail/cart/fulfilment", &web, pickup("S1")).await.body["version"].as_i64().unwrap();
    let order = checkout(&app, &web, "trail", version, "8.00", "trail-1").await;
    order.assert_status(201);
    assert_eq!(order.body["channels"], json!(["app", "web"]));
    let id = order.body["id"].as_str().unwrap();
    let trail = app.get(&format!("/v1/orders/{id}/cart-history"), &web).await;
    let steps: Vec<(&str, &str)> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["channel"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("create", "app"),
            ("add_line", "app"),
            ("apply_promotion", "app"),
            ("add_line", "web"),
            ("set_fulfilment", "web"),
            ("check_out", "web")
        ]
    );
}

async fn staff_find_their_stores_orders_and_see_them_whole(app: TestApp) {
    app.create_store("SHOP", 52.52, 13.40).await;
    app.create_store("DEPOT", 52.45, 13.35).await;
    app.create_sku("RARE", "20.00").await;
    app.receive("DEPOT", "RARE", 3).await;
    app.put("/v1/customers/ann", &app.admin, json!({"name": "Ann"})).await;
    let pos = app.key(Role::Pos, Some("SHOP"), None).await;
    let aisle = app
        .post("/v1/pos/orders", &pos, json!({"customer_ref": "ann", "items": [{"sku": "RARE", "quantity": 1}], "fulfilment": {"method": "ship", "address": {"line1": "Weg 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}, "payment": {"reference": "till", "amount": {"amount": "20.00", "currency": "EUR"}}}))
        .await;
    aisle.assert_status(201);
    assert_eq!(aisle.body["fulfilments"][0]["location"], "DEPOT", "shipped from elsewhere");
    let staff = app.key(Role::Staff, Some("SHOP"), None).await;
    let found = app.get("/v1/orders?customer=ann", &staff).await;
    assert_eq!(found.body["items"][0]["id"], aisle.body["id"], "the store's own till created it: {}", found.body);
    let view = app.get("/v1/customers/ann", &staff).await;
    let summary = &view.body["recent_orders"][0];
    assert_eq!(summary["channel"], "pos");
    assert_eq!(summary["lines"][0]["sku"], "RARE");
    assert_eq!(summary["lines"][0]["quantity"], 1);
    assert_eq!(summary["fulfilments"][0]["status"], "allocated");
    assert_eq!(summary["fulfilments"][0]["method"], "ship");
}

async fn available_says_what_it_counts_and_distance_only_when_known(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    let mut shelf_only = location_body("SHELF", 52.50, 13.30);
    shelf_only["capabilities"]["ships"] = json!(false);
    app.post("/v1/locations", &app.admin, shelf_only).await.assert_status(201);
    app.create_sku("CUP", "3.00").await;
    app.receive("S1", "CUP", 5).await;
    app.receive("SHELF", "CUP", 40).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let availability = app.get("/v1/availability?sku=CUP", &web).await;
    let network = availability.body["skus"][0]["network_available"].as_i64().unwrap();
    assert_eq!(network, 5, "online promises only from shipping locations");
    app.put("/v1/customers/cups", &app.admin, json!({})).await;
    let cart = app.post("/v1/customers/cups/cart/lines", &web, json!({"sku": "CUP", "quantity": 10})).await;
    let line = &cart.body["lines"][0]["availability"];
    assert_eq!((line["available"].as_i64(), line["basis"].as_str()), (Some(network), Some("network")), "{line}");
    // No address yet: alternatives carry no made-up distance.
    let shelf = line["alternatives"].as_array().unwrap().iter().find(|a| a["location"] == "SHELF").unwrap();
    assert!(shelf.get("distance_km").is_none(), "{shelf}");
    let at_store = app.put("/v1/customers/cups/cart/fulfilment", &web, pickup("S1")).await;
    let line = &at_store.body["lines"][0]["availability"];
    assert_eq!((line["available"].as_i64(), line["basis"].as_str()), (Some(5), Some("pickup_location")));
    assert!(line["alternatives"][0]["distance_km"].as_f64().is_some_and(|km| km > 0.0), "{line}");
}

async fn codes_are_one_whatever_their_case_and_inactive_stores_say_so(app: TestApp) {
    app.create_store("BER-MITTE", 52.52, 13.40).await.assert_status(201);
    app.post("/v1/locations", &app.admin, location_body("ber-mitte", 52.52, 13.40))
        .await
        .assert_problem(409, "code_taken");
    assert_eq!(app.get("/v1/locations/ber-mitte", &app.admin).await.body["code"], "BER-MITTE");
    app.create_sku("GUM", "1.00").await;
    app.receive("BER-MITTE", "GUM", 10).await;
    let pos = app.key(Role::Pos, Some("BER-MITTE"), None).await;
    app.post("/v1/locations/BER-MITTE/deactivate", &app.admin, json!({})).await.assert_status(200);
    let sale = app
        .post("/v1/pos/sales", &pos, json!({"items": [{"sku": "GUM", "quantity": 1}], "payment": {"reference": "till", "amount": {"amount": "1.00", "currency": "EUR"}}}))
        .await;
    sale.assert_problem(409, "location_inactive");
    let aisle = app
        .post("/v1/pos/orders", &pos, json!({"items": [{"sku": "GUM", "quantity": 1}], "fulfilment": {"method": "pickup"}, "payment": {"reference": "till", "amount": {"amount": "1.00", "currency": "EUR"}}}))
        .await;
    aisle.assert_problem(409, "location_inactive");
}

async fn extending_a_hold_never_shortens_it(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("HAT", "9.00").await;
    app.receive("S1", "HAT", 5).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let hold = app
        .post("/v1/pos/holds", &pos, json!({"items": [{"sku": "HAT", "quantity": 1}], "expires_in_seconds": 3600}))
        .await;
    hold.assert_status(201);
    let id = hold.body["id"].as_str().unwrap();
    let until = hold.body["expires_at"].clone();
    let shorter = app.post(&format!("/v1/reservations/{id}/extend"), &pos, json!({"expires_in_seconds": 60})).await;
    shorter.assert_status(200);
    assert_eq!(shorter.body["expires_at"], until, "a shorter extension leaves the hold as it was");
    let longer = app.post(&format!("/v1/reservations/{id}/extend"), &pos, json!({"expires_in_seconds": 7200})).await;
    assert!(longer.body["expires_at"].as_str() > until.as_str());
}

async fn a_marketplace_is_offered_only_its_locations_stock(app: TestApp) {
    app.create_store("BERLIN", 52.52, 13.40).await;
    let mut vienna = location_body("VIENNA", 48.21, 16.37);
    vienna["address"] = json!({"line1": "Ring 1", "city": "Wien", "postal_code": "1010", "country": "AT"});
    vienna["time_zone"] = json!("Europe/Vienna");
    app.post("/v1/locations", &app.admin, vienna).await.assert_status(201);
    app.create_sku("MUG", "6.00").await;
    app.receive("BERLIN", "MUG", 10).await;
    app.receive("VIENNA", "MUG", 30).await;
    let create = |name: &str, locations: Option<Value>| {
        let mut body = json!({"name": name, "kind": "amazon", "base_url": "http://127.0.0.1:9", "webhook_secret": "whsec_0123456789abcdef", "settings": {"seller_id": "A2SELLER", "marketplace_id": "X", "country": "DE"}});
        if let Some(l) = locations {
            body["locations"] = l;
        }
        app.post("/v1/marketplaces", &app.admin, body)
    };
    let german = create("amazon-de", None).await;
    german.assert_status(201);
    let everywhere = create("amazon-eu", Some(json!(["BERLIN", "vienna"]))).await;
    everywhere.assert_status(201);
    create("broken", Some(json!(["NOWHERE"]))).await.assert_problem(404, "location_not_found");
    for m in [&german, &everywhere] {
        let id = m.body["id"].as_str().unwrap();
        app.put(&format!("/v1/marketplaces/{id}/listings/MUG"), &app.admin, json!({"listing_id": "MUG-1"}))
            .await
            .assert_status(200);
    }
    let explained = app.get("/v1/availability/explain?sku=MUG&location=BERLIN", &app.admin).await;
    let offered: Vec<(&str, i64)> = explained.body["marketplaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["marketplace"].as_str().unwrap(), m["quantity"].as_i64().unwrap()))
        .collect();
    assert!(offered.contains(&("amazon-de", 10)), "its country's stock only: {offered:?}");
    assert!(offered.contains(&("amazon-eu", 40)), "its own set: {offered:?}");
}
