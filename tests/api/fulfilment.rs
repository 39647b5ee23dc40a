//! Pickup in store, curbside, same-day delivery with cut-offs and slots.

use chrono::{Duration, TimeZone, Utc};
use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::{TestApp, location_body};
use crate::orders::{cart_ready, checkout, fulfilment_id, pickup};

crate::backend_tests!(
    journey_one_from_app_and_voice_to_collection_at_the_counter,
    an_uncollected_pickup_expires_and_its_stock_returns,
    curbside_arrivals_top_the_queue_and_wrong_codes_lock,
    eight_concurrent_wrong_codes_are_eight_attempts,
    a_short_pick_is_reallocated_or_shown_never_dropped,
    journey_five_same_day_after_the_cutoff_offers_the_next_slot,
    thirty_bookings_race_for_a_slot_of_five,
    same_day_goes_out_for_delivery_and_is_delivered,
);

fn new_york_store(code: &str) -> Value {
    let mut body = location_body(code, 40.7484, -73.9857);
    body["time_zone"] = json!("America/New_York");
    body["address"] =
        json!({"line1": "350 5th Ave", "city": "New York", "postal_code": "10118", "region": "US-NY", "country": "US"});
    body["capabilities"]["same_day"] = json!({"radius_km": 10, "cutoff": "14:00", "slot_minutes": 120, "slot_capacity": 5, "window_start": "16:00", "window_end": "22:00"});
    body
}

fn same_day_to(latitude: f64, longitude: f64, slot: Option<&str>) -> Value {
    json!({"method": "same_day", "slot": slot, "address": {"line1": "20 W 34th St", "city": "New York", "postal_code": "10001", "region": "US-NY", "country": "US", "latitude": latitude, "longitude": longitude}})
}

async fn journey_one_from_app_and_voice_to_collection_at_the_counter(app: TestApp) {
    app.create_store("CLOSEST", 52.5200, 13.4050).await;
    app.create_store("NEAR", 52.5250, 13.4100).await;
    app.create_store("FAR", 52.4000, 13.2000).await;
    for (sku, name, spoken, price) in [
        ("BREAD", "Sourdough Bread", json!(["bread"]), "2.50"),
        ("EGGS", "Free-Range Eggs", json!(["eggs"]), "3.50"),
        ("OAT-MILK", "Oat Milk 1 L", json!(["oat milk"]), "2.00"),
    ] {
        app.post(
            "/v1/skus",
            &app.admin,
            json!({"code": sku, "name": name, "spoken_names": spoken, "price": {"amount": price, "currency": "EUR"}}),
        )
        .await
        .assert_status(201);
        app.receive("NEAR", sku, 5).await;
        app.receive("FAR", sku, 5).await;
    }
    app.receive("CLOSEST", "BREAD", 5).await;
    app.receive("CLOSEST", "EGGS", 5).await;
    app.put("/v1/locations/NEAR/stock/EGGS", &app.admin, json!({"safety_stock": 0, "aisle": "A2"}))
        .await
        .assert_status(200);
    app.put("/v1/customers/ada", &app.admin, json!({"name": "Ada"})).await.assert_status(201);
    let appkey = app.key(Role::Storefront, None, Some(Channel::App)).await;
    let voice = app.key(Role::Storefront, None, Some(Channel::Voice)).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;

    app.post("/v1/customers/ada/cart/lines", &appkey, json!({"sku": "BREAD", "quantity": 1})).await.assert_status(200);
    app.post("/v1/customers/ada/cart/lines", &appkey, json!({"sku": "EGGS", "quantity": 1})).await.assert_status(200);
    app.post("/v1/voice/commands", &voice, json!({"customer_ref": "ada", "intent": "add", "phrase": "add oat milk"}))
        .await
        .assert_status(200);
    let cart = app.get("/v1/customers/ada/cart", &web).await;
    assert_eq!(cart.body["lines"].as_array().unwrap().len(), 3);

    let near = app.get("/v1/availability?sku=BREAD&sku=EGGS&sku=OAT-MILK&lat=52.5201&lon=13.4051", &web).await;
    let options = near.body["pickup_near"].as_array().unwrap();
    assert_eq!(options[0]["location"], "CLOSEST");
    let store = options.iter().find(|o| o["has_all"] == true).unwrap()["location"].as_str().unwrap().to_owned();
    assert_eq!(store, "NEAR", "the nearest store that has every line");
    let chosen = app.put("/v1/customers/ada/cart/fulfilment", &web, pickup(&store)).await;
    assert!(chosen.body["fulfilment"]["ready_by"].is_string(), "the cart shows when it will be ready");
    let version = chosen.body["version"].as_i64().unwrap();
    let order = checkout(&app, &web, "ada", version, "8.00", "journey-1").await;
    order.assert_status(201);
    let id = order.body["id"].as_str().unwrap().to_owned();
    let fulfilment = fulfilment_id(&order, 0);

    let staff = app.key(Role::Staff, Some("NEAR"), None).await;
    let queue = app.get("/v1/locations/NEAR/pickups", &staff).await;
    assert_eq!(queue.body["items"][0]["order"], order.body["number"]);
    let list = app.get("/v1/locations/NEAR/pick-list", &staff).await;
    assert_eq!(list.body["aisles"][0]["aisle"], "A2");
    assert_eq!(list.body["aisles"][0]["items"][0]["sku"], "EGGS");
    assert!(list.body["aisles"][1]["aisle"].is_null(), "unknown aisles last");
    let lines: Vec<Value> = order.body["fulfilments"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"line": l["id"], "picked": l["quantity"]}))
        .collect();
    app.post(&format!("/v1/locations/NEAR/pickups/{fulfilment}/picks"), &staff, json!({"lines": lines}))
        .await
        .assert_status(200);
    let ready = app.post(&format!("/v1/locations/NEAR/pickups/{fulfilment}/ready"), &staff, json!({})).await;
    ready.assert_status(200);
    assert_eq!(ready.body["status"], "ready_for_pickup");
    assert!(ready.body["fulfilments"][0]["pickup_code"].is_null(), "staff never see the code");
    assert!(ready.body["fulfilments"][0]["pickup_deadline"].is_string());

    let seen = app.get(&format!("/v1/orders/{id}"), &web).await;
    let code = seen.body["fulfilments"][0]["pickup_code"].as_str().expect("shown to the customer").to_owned();
    let again = app.get(&format!("/v1/orders/{id}"), &web).await;
    assert_eq!(again.body["fulfilments"][0]["pickup_code"], code.as_str(), "reading changes nothing");

    let pos = app.key(Role::Pos, Some("NEAR"), None).await;
    let at_counter = app.get(&format!("/v1/orders/{id}"), &pos).await;
    assert!(at_counter.body["fulfilments"][0]["pickup_code"].is_null(), "the counter verifies, never sees, the code");
    let collected = app
        .post(&format!("/v1/locations/NEAR/pickups/{fulfilment}/collect"), &pos, json!({"code": code.to_lowercase()}))
        .await;
    collected.assert_status(200);
    assert_eq!(collected.body["status"], "fulfilled");
    let after = app.get(&format!("/v1/orders/{id}"), &web).await;
    assert!(after.body["fulfilments"][0]["pickup_code"].is_null(), "a used code is gone");
    assert_eq!(collected.body["fulfilments"][0]["status"], "collected");
    let ledger = app.get("/v1/locations/NEAR/stock/OAT-MILK/movements", &staff).await;
    let kinds: Vec<&str> =
        ledger.body["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receipt", "reserve", "commit", "sale"]);
    let audit = app.get(&format!("/v1/orders/{id}/audit"), &app.admin).await;
    let actions: Vec<&str> =
        audit.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["placed", "start_picking", "pack", "mark_ready", "collect"]);
    let events = app.get("/v1/events?topic=pickup", &web).await;
    let topics: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().map(|e| e["topic"].as_str().unwrap()).collect();
    assert_eq!(topics, ["pickup.ready", "pickup.collected"]);
    app.assert_ledger_balanced().await;
}

async fn an_uncollected_pickup_expires_and_its_stock_returns(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("FORGOTTEN", "9.00").await;
    app.receive("S1", "FORGOTTEN", 1).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let version = cart_ready(&app, &web, "forgetful", &[("FORGOTTEN", 1)], pickup("S1")).await;
    let order = checkout(&app, &web, "forgetful", version, "9.00", "forget").await;
    let f = fulfilment_id(&order, 0);
    app.post(&format!("/v1/locations/S1/pickups/{f}/ready"), &staff, json!({})).await.assert_status(200);
    assert_eq!(app.available("FORGOTTEN", "S1").await, 0);

    app.clock.advance(Duration::days(2) + Duration::hours(13));
    let warned = app.run_jobs().await;
    assert_eq!((warned.pickups_warned, warned.pickups_expired), (1, 0));
    app.clock.advance(Duration::hours(12));
    let report = app.run_jobs().await;
    assert_eq!(report.pickups_expired, 1);
    assert_eq!(app.available("FORGOTTEN", "S1").await, 1, "back on the shelf");
    let expired = app.get(&format!("/v1/orders/{}", order.body["id"].as_str().unwrap()), &web).await;
    assert_eq!(expired.body["status"], "expired");
    assert!(expired.body["status_reason"].as_str().unwrap().starts_with("not collected by"));
    let topics: Vec<String> = app.get("/v1/events?topic=pickup", &web).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["topic"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(topics, ["pickup.ready", "pickup.expiring", "pickup.expired"]);
    app.assert_ledger_balanced().await;
}

async fn curbside_arrivals_top_the_queue_and_wrong_codes_lock(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("BAG", "1.00").await;
    app.receive("S1", "BAG", 10).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let first = cart_ready(&app, &web, "inside", &[("BAG", 1)], pickup("S1")).await;
    let inside = checkout(&app, &web, "inside", first, "1.00", "inside").await;
    let second = cart_ready(
        &app,
        &web,
        "outside",
        &[("BAG", 1)],
        json!({"method": "pickup", "location": "S1", "curbside": true}),
    )
    .await;
    let outside = checkout(&app, &web, "outside", second, "1.00", "outside").await;
    let queue = app.get("/v1/locations/S1/pickups", &staff).await;
    assert_eq!(queue.body["items"][0]["order"], inside.body["number"]);

    let curbside = fulfilment_id(&outside, 0);
    let arrived = app
        .post(
            &format!("/v1/orders/{}/fulfilments/{curbside}/arrived", outside.body["number"].as_str().unwrap()),
            &web,
            json!({"note": "bay 3, red Golf"}),
        )
        .await;
    arrived.assert_status(200);
    let queue = app.get("/v1/locations/S1/pickups", &staff).await;
    assert_eq!(queue.body["items"][0]["order"], outside.body["number"], "arrivals first");
    assert_eq!(queue.body["items"][0]["arrival_note"], "bay 3, red Golf");
    app.post(
        &format!(
            "/v1/orders/{}/fulfilments/{}/arrived",
            inside.body["id"].as_str().unwrap(),
            fulfilment_id(&inside, 0)
        ),
        &web,
        json!({}),
    )
    .await
    .assert_problem(409, "not_applicable");

    app.post(&format!("/v1/locations/S1/pickups/{curbside}/ready"), &staff, json!({})).await.assert_status(200);
    for left in [4, 3, 2, 1] {
        let wrong =
            app.post(&format!("/v1/locations/S1/pickups/{curbside}/collect"), &pos, json!({"code": "WRONG1"})).await;
        wrong.assert_problem(422, "wrong_pickup_code");
        assert_eq!(wrong.body["attempts_left"], left);
    }
    app.post(&format!("/v1/locations/S1/pickups/{curbside}/collect"), &pos, json!({"code": "WRONG1"}))
        .await
        .assert_problem(423, "pickup_locked");
    let code = app.get(&format!("/v1/orders/{}", outside.body["id"].as_str().unwrap()), &web).await.body["fulfilments"]
        [0]["pickup_code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/v1/locations/S1/pickups/{curbside}/collect"), &pos, json!({"code": code}))
        .await
        .assert_problem(423, "pickup_locked");
    let locked = app.get("/v1/locations/S1/pickups?status=ready_for_pickup", &staff).await;
    assert_eq!(locked.body["items"][0]["locked"], true);
    app.post(&format!("/v1/locations/S1/pickups/{curbside}/reissue-code"), &staff, json!({})).await.assert_status(200);
    let code = app.get(&format!("/v1/orders/{}", outside.body["id"].as_str().unwrap()), &web).await.body["fulfilments"]
        [0]["pickup_code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/v1/locations/S1/pickups/{curbside}/collect"), &pos, json!({"code": code}))
        .await
        .assert_status(200);
    let audit = app.get(&format!("/v1/orders/{}/audit", outside.body["id"].as_str().unwrap()), &staff).await;
    let wrong = audit.body["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "wrong_pickup_code").count();
    assert_eq!(wrong, 5, "wrong tries are logged");
}

/// Each wrong code is counted by one statement, so none is lost to a race:
/// eight at once are eight attempts, and the pickup is locked.
async fn eight_concurrent_wrong_codes_are_eight_attempts(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_sku("BAG", "1.00").await;
    app.receive("S1", "BAG", 1).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    let version = cart_ready(&app, &web, "guesser", &[("BAG", 1)], pickup("S1")).await;
    let order = checkout(&app, &web, "guesser", version, "1.00", "guess").await;
    let fulfilment = fulfilment_id(&order, 0);
    app.post(&format!("/v1/locations/S1/pickups/{fulfilment}/ready"), &staff, json!({})).await.assert_status(200);
    let path = format!("/v1/locations/S1/pickups/{fulfilment}/collect");
    let answers = join_all((0..8).map(|i| app.post(&path, &pos, json!({"code": format!("WRONG{i}")})))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [422, 422, 422, 422, 423, 423, 423, 423], "the fifth and later lock");
    let audit = app.get(&format!("/v1/orders/{}/audit", order.body["id"].as_str().unwrap()), &staff).await;
    let counted =
        audit.body["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "wrong_pickup_code").count();
    assert_eq!(counted, 8, "every wrong code is audited");
    let queue = app.get("/v1/locations/S1/pickups?status=ready_for_pickup", &staff).await;
    assert_eq!(queue.body["items"][0]["locked"], true);
}

async fn a_short_pick_is_reallocated_or_shown_never_dropped(app: TestApp) {
    app.create_store("HERE", 52.52, 13.40).await;
    app.create_store("THERE", 52.50, 13.38).await;
    app.create_sku("SCARCE", "5.00").await;
    app.create_sku("GONE", "7.00").await;
    app.receive("HERE", "SCARCE", 3).await;
    app.receive("THERE", "SCARCE", 5).await;
    app.receive("HERE", "GONE", 2).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("HERE"), None).await;
    let version = cart_ready(&app, &web, "shorted", &[("SCARCE", 3), ("GONE", 2)], pickup("HERE")).await;
    let order = checkout(&app, &web, "shorted", version, "29.00", "short").await;
    let f = fulfilment_id(&order, 0);
    let lines = order.body["fulfilments"][0]["lines"].as_array().unwrap().clone();
    let id_of = |sku: &str| lines.iter().find(|l| l["sku"] == sku).unwrap()["id"].clone();
    let twice = app
        .post(
            &format!("/v1/locations/HERE/pickups/{f}/picks"),
            &staff,
            json!({"lines": [{"line": id_of("SCARCE"), "picked": 1}, {"line": id_of("SCARCE"), "picked": 1}]}),
        )
        .await;
    twice.assert_problem(422, "validation_failed");
    assert_eq!(twice.body["errors"][0]["pointer"], "/lines/1/line");
    let picked = app
        .post(
            &format!("/v1/locations/HERE/pickups/{f}/picks"),
            &staff,
            json!({"lines": [{"line": id_of("SCARCE"), "picked": 1}, {"line": id_of("GONE"), "picked": 1}]}),
        )
        .await;
    picked.assert_status(200);
    let fulfilments = picked.body["fulfilments"].as_array().unwrap();
    assert_eq!(fulfilments.len(), 2, "two SCARCE units re-allocated from THERE");
    let moved = fulfilments.iter().find(|f| f["location"] == "THERE").unwrap();
    assert_eq!((moved["pickup_location"].as_str(), moved["lines"][0]["quantity"].as_i64()), (Some("HERE"), Some(2)));
    let here = fulfilments.iter().find(|f| f["location"] == "HERE").unwrap();
    let gone = here["lines"].as_array().unwrap().iter().find(|l| l["sku"] == "GONE").unwrap();
    assert_eq!(gone["short"], 1);
    assert!(picked.body["status_reason"].as_str().unwrap().contains("1 × GONE short"), "{}", picked.body);
    let total: i64 = fulfilments
        .iter()
        .flat_map(|f| {
            f["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["total"]["amount"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap())
        })
        .sum();
    assert_eq!(total, 2900, "the money stays whole across the split");
    let level = app.get("/v1/locations/HERE/stock/SCARCE", &staff).await;
    assert_eq!(
        (level.body["on_hand"].as_i64(), level.body["reserved"].as_i64()),
        (Some(1), Some(1)),
        "the missing units left the books"
    );
    app.assert_ledger_balanced().await;
}

async fn journey_five_same_day_after_the_cutoff_offers_the_next_slot(app: TestApp) {
    app.post("/v1/locations", &app.admin, new_york_store("NYC")).await.assert_status(201);
    app.create_sku("PIZZA", "12.00").await;
    app.receive("NYC", "PIZZA", 20).await;
    // 2026-03-08 is the day New York moves to daylight time: 13:30 EDT is 17:30 UTC.
    app.clock.set(Utc.with_ymd_and_hms(2026, 3, 8, 17, 30, 0).unwrap());
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let slots = app.get("/v1/same-day/slots?lat=40.7506&lon=-73.9885&sku=PIZZA", &web).await;
    slots.assert_status(200);
    let ids: Vec<&str> = slots.body["slots"].as_array().unwrap().iter().map(|s| s["slot"].as_str().unwrap()).collect();
    assert_eq!(ids, ["NYC@2026-03-08T16:00", "NYC@2026-03-08T18:00", "NYC@2026-03-08T20:00"]);
    assert_eq!(slots.body["slots"][0]["starts_at"], "2026-03-08T20:00:00Z");

    let version =
        cart_ready(&app, &web, "late", &[("PIZZA", 1)], same_day_to(40.7506, -73.9885, Some("NYC@2026-03-08T18:00")))
            .await;
    // 14:30 EDT: half an hour past the cut-off.
    app.clock.set(Utc.with_ymd_and_hms(2026, 3, 8, 18, 30, 0).unwrap());
    let refused = app.get("/v1/same-day/slots?lat=40.7506&lon=-73.9885&sku=PIZZA", &web).await;
    refused.assert_problem(409, "same_day_unavailable");
    assert_eq!(refused.body["reason"], "after_cutoff");
    assert_eq!(refused.body["next_slot"]["slot"], "NYC@2026-03-09T16:00");
    assert_eq!(refused.body["next_slot"]["starts_at"], "2026-03-09T20:00:00Z");
    assert_eq!(refused.body["alternatives"], json!(["ship"]));
    let late = checkout(&app, &web, "late", version, "12.00", "late").await;
    late.assert_problem(409, "same_day_unavailable");
    assert_eq!(late.body["next_slot"]["slot"], "NYC@2026-03-09T16:00");
    assert_eq!(app.available("PIZZA", "NYC").await, 20, "nothing held");

    let far = app.get("/v1/same-day/slots?lat=40.0&lon=-75.0&sku=PIZZA", &web).await;
    far.assert_problem(409, "same_day_unavailable");
    assert_eq!(far.body["reason"], "out_of_range");
    let next = cart_ready(&app, &web, "late", &[], same_day_to(40.7506, -73.9885, Some("NYC@2026-03-09T16:00"))).await;
    checkout(&app, &web, "late", next, "12.00", "late-2").await.assert_status(201);
}

async fn thirty_bookings_race_for_a_slot_of_five(app: TestApp) {
    app.post("/v1/locations", &app.admin, new_york_store("NYC")).await.assert_status(201);
    app.create_sku("BURGER", "8.00").await;
    app.receive("NYC", "BURGER", 100).await;
    app.clock.set(Utc.with_ymd_and_hms(2026, 6, 15, 14, 0, 0).unwrap());
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let mut buyers = Vec::new();
    for i in 0..30 {
        let customer = format!("hungry-{i}");
        let version = cart_ready(
            &app,
            &web,
            &customer,
            &[("BURGER", 1)],
            same_day_to(40.7506, -73.9885, Some("NYC@2026-06-15T18:00")),
        )
        .await;
        buyers.push((customer, version));
    }
    let answers = join_all(buyers.iter().map(|(c, v)| checkout(&app, &web, c, *v, "8.00", c))).await;
    let booked = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(booked, 5, "never overbooked");
    for refused in answers.iter().filter(|a| a.status != 201) {
        refused.assert_problem(409, "same_day_unavailable");
        // The chosen slot is full, but today still has room, earliest at 16:00.
        assert_eq!(refused.body["reason"], "slot_full", "{}", refused.body);
        assert_eq!(refused.body["next_slot"]["slot"], "NYC@2026-06-15T16:00", "{}", refused.body);
    }
    assert_eq!(app.available("BURGER", "NYC").await, 95, "refused bookings hold no stock");
    let slots = app.get("/v1/same-day/slots?lat=40.7506&lon=-73.9885&sku=BURGER", &web).await;
    let ids: Vec<&str> = slots.body["slots"].as_array().unwrap().iter().map(|s| s["slot"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"NYC@2026-06-15T18:00"), "a full slot is not offered");
    // A cancelled delivery gives its place in the slot back.
    let staff = app.key(Role::Staff, Some("NYC"), None).await;
    let booked_order = answers.iter().find(|a| a.status == 201).unwrap().body["id"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/orders/{booked_order}/cancel"), &staff, json!({"reason": "changed plans"}))
        .await
        .assert_status(200);
    let slots = app.get("/v1/same-day/slots?lat=40.7506&lon=-73.9885&sku=BURGER", &web).await;
    let ids: Vec<&str> = slots.body["slots"].as_array().unwrap().iter().map(|s| s["slot"].as_str().unwrap()).collect();
    assert!(ids.contains(&"NYC@2026-06-15T18:00"), "the slot has room again: {ids:?}");
}

async fn same_day_goes_out_for_delivery_and_is_delivered(app: TestApp) {
    app.post("/v1/locations", &app.admin, new_york_store("NYC")).await.assert_status(201);
    app.create_sku("FLOWERS", "25.00").await;
    app.receive("NYC", "FLOWERS", 3).await;
    app.clock.set(Utc.with_ymd_and_hms(2026, 6, 15, 14, 0, 0).unwrap());
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let staff = app.key(Role::Staff, Some("NYC"), None).await;
    let version = cart_ready(
        &app,
        &web,
        "romantic",
        &[("FLOWERS", 1)],
        same_day_to(40.7506, -73.9885, Some("NYC@2026-06-15T20:00")),
    )
    .await;
    let order = checkout(&app, &web, "romantic", version, "25.00", "flowers").await;
    order.assert_status(201);
    assert_eq!(order.body["fulfilments"][0]["slot"], "NYC@2026-06-15T20:00");
    let f = fulfilment_id(&order, 0);
    for step in ["start-picking", "pack", "out-for-delivery", "deliver"] {
        app.post(&format!("/v1/fulfilments/{f}/{step}"), &staff, json!({})).await.assert_status(200);
    }
    let topics: Vec<String> = app.get("/v1/events?topic=delivery", &web).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["topic"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(topics, ["delivery.out_for_delivery", "delivery.delivered"]);
    assert_eq!(app.get("/v1/locations/NYC/stock/FLOWERS", &staff).await.body["on_hand"], 2);
}
