//! Kits: a SKU sold as a set of other SKUs, whose availability comes from
//! its components and whose sale takes every component or none.

use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp};
use crate::marketplace::{
    eventually, fake_shopify, list, marketplace, shopify_order, shopify_quantity, shopify_webhook,
};
use crate::orders::{cart_ready, checkout, pickup, ship_to};

crate::backend_tests!(
    a_kit_is_defined_from_ordinary_skus_and_bad_definitions_write_nothing,
    a_kit_is_as_available_as_its_scarcest_component,
    checkout_of_a_kit_holds_each_component_and_cancelling_gives_them_back,
    a_kit_comes_back_whole_or_in_part,
    pos_holds_and_reservations_take_every_component_or_none,
    kits_and_their_components_race_for_the_last_units,
    a_kit_ships_whole_from_one_location_or_not_at_all,
    a_marketplace_lists_a_kit_sells_it_and_hears_when_a_component_moves,
);

fn kit_body(code: &str, price: &str, components: Value) -> Value {
    json!({"code": code, "name": format!("Kit {code}"), "price": {"amount": price, "currency": "EUR"}, "components": components})
}

/// A store with MUG ×2 + TEA ×1 as the kit GIFT, and `mugs` and `teas` on its shelf.
async fn gift_set(app: &TestApp, mugs: i64, teas: i64) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("MUG", "5.00").await;
    app.create_sku("TEA", "3.00").await;
    app.post(
        "/v1/skus",
        &app.admin,
        kit_body("GIFT", "12.00", json!([{"sku": "MUG", "quantity": 2}, {"sku": "TEA", "quantity": 1}])),
    )
    .await
    .assert_status(201);
    if mugs > 0 {
        app.receive("S1", "MUG", mugs).await;
    }
    if teas > 0 {
        app.receive("S1", "TEA", teas).await;
    }
}

async fn level(app: &TestApp, sku: &str) -> (i64, i64) {
    let level = app.get(&format!("/v1/locations/S1/stock/{sku}"), &app.admin).await;
    (level.body["on_hand"].as_i64().unwrap_or(0), level.body["reserved"].as_i64().unwrap_or(0))
}

async fn a_kit_is_defined_from_ordinary_skus_and_bad_definitions_write_nothing(app: TestApp) {
    gift_set(&app, 0, 0).await;
    let kit = app.get("/v1/skus/GIFT", &app.admin).await;
    assert_eq!(kit.body["components"], json!([{"sku": "MUG", "quantity": 2}, {"sku": "TEA", "quantity": 1}]));
    let plain = app.get("/v1/skus/MUG", &app.admin).await;
    assert!(plain.body.get("components").is_none(), "an ordinary SKU has no components: {}", plain.body);

    let bad = |components: Value| kit_body("BAD", "1.00", components);
    let one = json!([{"sku": "MUG", "quantity": 1}]);
    app.post("/v1/skus", &app.admin, bad(one)).await.assert_problem(422, "validation_failed");
    let zero = json!([{"sku": "MUG", "quantity": 0}, {"sku": "TEA", "quantity": 1}]);
    app.post("/v1/skus", &app.admin, bad(zero)).await.assert_problem(422, "validation_failed");
    let negative = json!([{"sku": "MUG", "quantity": -2}, {"sku": "TEA", "quantity": 1}]);
    app.post("/v1/skus", &app.admin, bad(negative)).await.assert_problem(422, "validation_failed");
    let twice = json!([{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 1}]);
    app.post("/v1/skus", &app.admin, bad(twice)).await.assert_problem(409, "kit_component_twice");
    let many: Vec<Value> = (0..21).map(|i| json!({"sku": format!("X{i}"), "quantity": 1})).collect();
    app.post("/v1/skus", &app.admin, bad(json!(many))).await.assert_problem(422, "validation_failed");
    let unknown = json!([{"sku": "MUG", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]);
    let answer = app.post("/v1/skus", &app.admin, bad(unknown)).await;
    answer.assert_problem(404, "kit_component_unknown");
    assert_eq!(answer.body["sku"], "NOPE");
    let nested = json!([{"sku": "GIFT", "quantity": 1}, {"sku": "TEA", "quantity": 1}]);
    app.post("/v1/skus", &app.admin, bad(nested)).await.assert_problem(409, "kit_in_kit");
    app.get("/v1/skus/BAD", &app.admin).await.assert_status(404);

    // A kit stays a kit, an ordinary SKU stays ordinary.
    let plain_body = json!({"name": "Mug", "price": {"amount": "5.00", "currency": "EUR"}});
    app.put("/v1/skus/GIFT", &app.admin, plain_body).await.assert_problem(409, "kit_kind_fixed");
    let mug_as_kit = json!({"name": "Mug", "price": {"amount": "5.00", "currency": "EUR"}, "components": [{"sku": "TEA", "quantity": 1}, {"sku": "GIFT", "quantity": 1}]});
    app.put("/v1/skus/MUG", &app.admin, mug_as_kit).await.assert_problem(409, "kit_in_kit");
    let mug_as_kit = json!({"name": "Mug", "price": {"amount": "5.00", "currency": "EUR"}, "components": [{"sku": "TEA", "quantity": 1}, {"sku": "TEA2", "quantity": 1}]});
    app.create_sku("TEA2", "1.00").await;
    app.put("/v1/skus/MUG", &app.admin, mug_as_kit).await.assert_problem(409, "kit_kind_fixed");
    assert!(app.get("/v1/skus/MUG", &app.admin).await.body.get("components").is_none());

    // A kit has no stock of its own to receive, count or adjust.
    let receipt = json!({"lines": [{"sku": "GIFT", "quantity": 1}]});
    app.post("/v1/locations/S1/stock/receipts", &app.admin, receipt).await.assert_problem(409, "kit_not_stocked");
    let count = json!({"lines": [{"sku": "GIFT", "counted": 3}]});
    app.post("/v1/locations/S1/stock/counts", &app.admin, count).await.assert_problem(409, "kit_not_stocked");
    assert_eq!(level(&app, "GIFT").await, (0, 0));
}

async fn a_kit_is_as_available_as_its_scarcest_component(app: TestApp) {
    gift_set(&app, 7, 12).await;
    app.create_store("S2", 52.50, 13.38).await;
    app.receive("S2", "MUG", 10).await; // no tea at S2: no kit there
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let answer = app.get("/v1/availability?sku=GIFT", &web).await;
    answer.assert_status(200);
    let gift = &answer.body["skus"][0];
    assert_eq!(gift["network_available"], 3, "⌊7 ÷ 2⌋ mugs: {gift}");
    let at: Vec<(&str, i64)> = gift["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["location"].as_str().unwrap(), l["available"].as_i64().unwrap()))
        .collect();
    assert_eq!(at, [("S1", 3)], "S2 has mugs but no tea");
    assert_eq!(app.available("GIFT", "S1").await, 3);

    let explained = app.get("/v1/availability/explain?sku=GIFT&location=S1", &app.admin).await;
    explained.assert_status(200);
    assert_eq!(explained.body["available"], 3);
    assert_eq!(explained.body["limiting_component"], "MUG");
    assert_eq!(explained.body["components"][0]["kits"], 3);
    assert_eq!(explained.body["components"][1]["kits"], 12);
    assert!(explained.body["explanation"].as_str().unwrap().starts_with("3 kits: MUG limits it"));

    // A single mug sold leaves 6 mugs: still 3 kits; two more leave 4: 2 kits.
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let sale = |n: i64| json!({"items": [{"sku": "MUG", "quantity": n}], "payment": {"reference": "t", "amount": {"amount": format!("{}.00", 5 * n), "currency": "EUR"}}});
    app.post("/v1/pos/sales", &pos, sale(1)).await.assert_status(201);
    assert_eq!(app.available("GIFT", "S1").await, 3);
    app.post("/v1/pos/sales", &pos, sale(2)).await.assert_status(201);
    assert_eq!(app.available("GIFT", "S1").await, 2);

    // Changing what the kit is made of is allowed; carts see the new figure.
    app.put("/v1/customers/ada", &app.admin, json!({"name": "Ada"})).await;
    app.post("/v1/customers/ada/cart/lines", &web, json!({"sku": "GIFT", "quantity": 1})).await.assert_status(200);
    let one_mug = kit_body("GIFT", "12.00", json!([{"sku": "MUG", "quantity": 1}, {"sku": "TEA", "quantity": 1}]));
    let mut one_mug = one_mug;
    one_mug.as_object_mut().unwrap().remove("code");
    app.put("/v1/skus/GIFT", &app.admin, one_mug).await.assert_status(200);
    let cart = app.get("/v1/customers/ada/cart", &web).await;
    assert_eq!(cart.body["lines"][0]["availability"]["available"], 4, "{}", cart.body);
}

async fn checkout_of_a_kit_holds_each_component_and_cancelling_gives_them_back(app: TestApp) {
    gift_set(&app, 4, 3).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "kim", &[("GIFT", 2), ("TEA", 1)], pickup("S1")).await;
    let order = checkout(&app, &web, "kim", version, "27.00", "kit-1").await;
    order.assert_status(201);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((4, 4), (3, 3)));
    assert_eq!(app.available("GIFT", "S1").await, 0);
    let lines = order.body["fulfilments"][0]["lines"].as_array().unwrap().clone();
    let kit_line = lines.iter().find(|l| l["sku"] == "GIFT").unwrap();
    assert_eq!(kit_line["components"], json!([{"sku": "MUG", "quantity": 2}, {"sku": "TEA", "quantity": 1}]));

    // The ledger rows of the components name the kit.
    let movements = app.get("/v1/locations/S1/stock/MUG/movements", &app.admin).await;
    let reserve = movements.body["items"].as_array().unwrap().iter().find(|m| m["kind"] == "reserve").unwrap().clone();
    assert_eq!((reserve["kit"].as_str(), reserve["reserved_delta"].as_i64()), (Some("GIFT"), Some(4)));

    // The pick list lists the components, the kit they go into.
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let picks = app.get("/v1/locations/S1/pick-list", &staff).await;
    picks.assert_status(200);
    let text = picks.body.to_string();
    assert!(text.contains("\"MUG\"") && text.contains("\"kit\":\"GIFT\""), "{text}");
    assert!(!text.contains("\"sku\":\"GIFT\""), "a kit is picked as its parts: {text}");

    // Cancelling one kit gives back two mugs and a tea.
    let id = order.body["id"].as_str().unwrap();
    let line = kit_line["id"].as_str().unwrap();
    let cancel = json!({"quantity": 1, "reason": "one is enough"});
    app.post(&format!("/v1/orders/{id}/lines/{line}/cancel"), &web, cancel).await.assert_status(200);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((4, 2), (3, 2)));
    app.post(&format!("/v1/orders/{id}/cancel"), &web, json!({"reason": "changed mind"})).await.assert_status(200);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((4, 0), (3, 0)));
    app.assert_ledger_balanced().await;
}

async fn a_kit_comes_back_whole_or_in_part(app: TestApp) {
    gift_set(&app, 6, 3).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let sale = app
        .post("/v1/pos/sales", &pos, json!({"items": [{"sku": "GIFT", "quantity": 3}], "payment": {"reference": "t", "amount": {"amount": "36.00", "currency": "EUR"}}}))
        .await;
    sale.assert_status(201);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((0, 0), (0, 0)));
    let id = sale.body["id"].as_str().unwrap();
    let line = sale.body["fulfilments"][0]["lines"][0]["id"].as_str().unwrap();
    let returns = format!("/v1/orders/{id}/returns");

    let whole = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock"}]});
    let answer = app.post(&returns, &pos, whole).await;
    answer.assert_status(201);
    assert_eq!(answer.body["refund"], json!({"amount": "12.00", "currency": "EUR"}));
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((2, 0), (1, 0)));

    // Only one mug of a kit came back: only it goes on the shelf.
    let part = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock", "components": [{"sku": "MUG", "quantity": 1}]}]});
    app.post(&returns, &pos, part).await.assert_status(201);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((3, 0), (1, 0)));

    // More than the kits hold, or what is not in the kit: refused, nothing moves.
    let too_many = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock", "components": [{"sku": "MUG", "quantity": 3}]}]});
    app.post(&returns, &pos, too_many).await.assert_problem(409, "not_returnable");
    let twice = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock", "components": [{"sku": "MUG", "quantity": 1}, {"sku": "MUG", "quantity": 1}]}]});
    app.post(&returns, &pos, twice).await.assert_problem(409, "not_returnable");
    let stranger = json!({"lines": [{"line": line, "quantity": 1, "disposition": "restock", "components": [{"sku": "TEA2", "quantity": 1}]}]});
    app.post(&returns, &pos, stranger).await.assert_problem(409, "not_returnable");
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((3, 0), (1, 0)));
    app.assert_ledger_balanced().await;
}

async fn pos_holds_and_reservations_take_every_component_or_none(app: TestApp) {
    gift_set(&app, 4, 1).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let hold =
        app.post("/v1/pos/holds", &pos, json!({"location": "S1", "items": [{"sku": "GIFT", "quantity": 1}]})).await;
    hold.assert_status(201);
    let lines: Vec<(String, i64)> = hold.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["sku"].as_str().unwrap().to_owned(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lines, [("MUG".to_owned(), 2), ("TEA".to_owned(), 1)]);
    // Mugs are left but no tea: the second kit holds nothing at all.
    let refused = app
        .post(
            "/v1/reservations",
            &app.admin,
            json!({"location": "S1", "purpose": "order", "lines": [{"sku": "GIFT", "quantity": 1}]}),
        )
        .await;
    refused.assert_problem(409, "insufficient_stock");
    assert_eq!(refused.body["lines"][0]["sku"], "TEA", "names the missing component");
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((4, 2), (1, 1)));
    let id = hold.body["id"].as_str().unwrap();
    app.post(&format!("/v1/reservations/{id}/release"), &pos, json!({})).await.assert_status(200);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((4, 0), (1, 0)));
    app.assert_ledger_balanced().await;
}

/// 64 buyers at once, half of them of the kit, half of a mug alone, for the
/// last 10 mugs and 3 teas: never more taken than there is, on either path.
async fn kits_and_their_components_race_for_the_last_units(app: TestApp) {
    gift_set(&app, 10, 3).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let mut carts = Vec::new();
    for i in 0..32 {
        let customer = format!("k{i}");
        carts.push((customer.clone(), cart_ready(&app, &web, &customer, &[("GIFT", 1)], pickup("S1")).await));
    }
    let kits = carts.iter().map(|(c, v)| checkout(&app, &web, c, *v, "12.00", c));
    let mugs = (0..32).map(|_| {
        let body = json!({"location": "S1", "items": [{"sku": "MUG", "quantity": 1}]});
        app.post("/v1/pos/holds", &pos, body)
    });
    let (kit_answers, mug_answers): (Vec<Answer>, Vec<Answer>) = tokio::join!(join_all(kits), join_all(mugs));
    let kits_sold = kit_answers.iter().filter(|a| a.status == 201).count() as i64;
    let mugs_held = mug_answers.iter().filter(|a| a.status == 201).count() as i64;
    for refused in kit_answers.iter().chain(&mug_answers).filter(|a| a.status != 201) {
        refused.assert_problem(409, "insufficient_stock");
    }
    assert!(kits_sold <= 3, "only three teas: {kits_sold} kits");
    assert_eq!(2 * kits_sold + mugs_held, 10, "every mug taken once: {kits_sold} kits, {mugs_held} mugs");
    let (mug, tea) = (level(&app, "MUG").await, level(&app, "TEA").await);
    assert_eq!((mug, tea), ((10, 10), (3, kits_sold)));
    eprintln!("kit race on {}: {kits_sold} kits and {mugs_held} single mugs", app.ctx.db.backend());
    app.assert_ledger_balanced().await;
}

/// Two kits to ship: one location can make one, another the other, so the
/// order splits; but mugs at one place and tea at another make no kit.
async fn a_kit_ships_whole_from_one_location_or_not_at_all(app: TestApp) {
    gift_set(&app, 2, 1).await;
    app.create_store("S2", 52.50, 13.38).await;
    app.receive("S2", "MUG", 2).await;
    app.receive("S2", "TEA", 1).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "split", &[("GIFT", 2)], ship_to(52.51, 13.39)).await;
    let order = checkout(&app, &web, "split", version, "24.00", "split-1").await;
    order.assert_status(201);
    let from: Vec<(&str, i64)> = order.body["fulfilments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["location"].as_str().unwrap(), f["lines"][0]["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(from.len(), 2, "one kit from each: {from:?}");
    assert!(from.iter().all(|(_, kits)| *kits == 1), "{from:?}");

    app.create_store("S3", 52.49, 13.37).await;
    app.create_store("S4", 52.48, 13.36).await;
    app.receive("S3", "MUG", 20).await;
    app.receive("S4", "TEA", 20).await;
    assert_eq!(app.available("GIFT", "S3").await, 0, "mugs alone make no kit");
    let version = cart_ready(&app, &web, "apart", &[("GIFT", 1)], ship_to(52.51, 13.39)).await;
    checkout(&app, &web, "apart", version, "12.00", "apart-1").await.assert_problem(409, "insufficient_stock");
    app.assert_ledger_balanced().await;
}

/// A listing of the kit: pushed with the kits the network can make, sold
/// through a signed webhook (every component held), and pushed again when
/// only a component's stock changes.
async fn a_marketplace_lists_a_kit_sells_it_and_hears_when_a_component_moves(app: TestApp) {
    gift_set(&app, 10, 4).await;
    let shopify = fake_shopify().await;
    let shop = marketplace(&app, "shop", "shopify", &shopify, 100, 0).await;
    list(&app, &shop, "GIFT", "77").await;
    app.run_jobs().await;
    assert_eq!(shopify_quantity(&shopify, "77").await, Some(4));

    let body = shopify_order(4001, &[("GIFT", 1, "12.00")]);
    let sold = shopify_webhook(&app, &shop, "orders/create", "d-1", &body, crate::marketplace::SECRET).await;
    sold.assert_status(200);
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((10, 2), (4, 1)));
    app.run_jobs().await;
    eventually("the kit's listing at 3", || async { shopify_quantity(&shopify, "77").await == Some(3) }).await;

    // Only tea is sold at the till: the kit's listing follows.
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let sale = json!({"items": [{"sku": "TEA", "quantity": 2}], "payment": {"reference": "t", "amount": {"amount": "6.00", "currency": "EUR"}}});
    app.post("/v1/pos/sales", &pos, sale).await.assert_status(201);
    app.run_jobs().await;
    eventually("the kit's listing at 1", || async { shopify_quantity(&shopify, "77").await == Some(1) }).await;

    // Nine mugs a kit: the eight left make none, and the listing hears it.
    let nine = json!({"name": "Gift", "price": {"amount": "12.00", "currency": "EUR"}, "components": [{"sku": "MUG", "quantity": 9}, {"sku": "TEA", "quantity": 1}]});
    app.put("/v1/skus/GIFT", &app.admin, nine).await.assert_status(200);
    app.run_jobs().await;
    eventually("the kit's listing at 0", || async { shopify_quantity(&shopify, "77").await == Some(0) }).await;
    // The order placed before keeps what it holds: two mugs, one tea.
    assert_eq!((level(&app, "MUG").await, level(&app, "TEA").await), ((10, 2), (2, 1)));
}
