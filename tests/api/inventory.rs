//! Stock levels, the ledger, reservations, POS holds, availability, events.

use chrono::Duration;
use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Send, TestApp};

crate::backend_tests!(
    stock_operations_write_the_ledger,
    sixty_four_clients_race_for_ten_units,
    a_pos_hold_shows_everywhere_and_expires,
    a_reservation_is_extended_committed_and_never_committed_twice,
    bad_inventory_input_writes_nothing,
    insufficient_stock_names_the_line_and_other_stores,
    availability_near_a_point_and_its_explanation,
    events_come_in_commit_order_with_unique_ids,
    random_operations_keep_levels_equal_to_the_ledger,
);

async fn stock_operations_write_the_ledger(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    app.create_store("S2", 52.50, 13.30).await;
    app.create_sku("MILK", "1.29").await;
    let staff = app.key(Role::Staff, Some("S1"), None).await;
    let other_staff = app.key(Role::Staff, Some("S2"), None).await;

    let received = app
        .post(
            "/v1/locations/S1/stock/receipts",
            &staff,
            json!({"lines": [{"sku": "MILK", "quantity": 20}], "reference": "PO-1"}),
        )
        .await;
    received.assert_status(200);
    assert_eq!(received.body["levels"][0]["on_hand"], 20);
    app.post("/v1/locations/S1/stock/receipts", &other_staff, json!({"lines": [{"sku": "MILK", "quantity": 1}]}))
        .await
        .assert_problem(403, "forbidden");

    let adjusted = app
        .post("/v1/locations/S1/stock/adjustments", &staff, json!({"sku": "MILK", "delta": -3, "reason": "damaged"}))
        .await;
    assert_eq!(adjusted.body["on_hand"], 17);
    app.post("/v1/locations/S1/stock/adjustments", &staff, json!({"sku": "MILK", "delta": -30, "reason": "lost"}))
        .await
        .assert_problem(409, "insufficient_stock");

    let counted =
        app.post("/v1/locations/S1/stock/counts", &staff, json!({"lines": [{"sku": "MILK", "counted": 15}]})).await;
    assert_eq!(counted.body["differences"], json!([-2]));
    assert_eq!(counted.body["levels"][0]["on_hand"], 15);

    let moved = app
        .post(
            "/v1/locations/S1/stock/transfers",
            &staff,
            json!({"to": "S2", "lines": [{"sku": "MILK", "quantity": 5}]}),
        )
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["from"][0]["on_hand"], 10);
    assert_eq!(moved.body["to"][0]["on_hand"], 5);
    app.post(
        "/v1/locations/S1/stock/transfers",
        &staff,
        json!({"to": "S1", "lines": [{"sku": "MILK", "quantity": 1}]}),
    )
    .await
    .assert_problem(422, "validation_failed");

    let settings = app.put("/v1/locations/S1/stock/MILK", &staff, json!({"safety_stock": 2, "aisle": "A3"})).await;
    assert_eq!(settings.body["available"], 8);
    assert_eq!(settings.body["aisle"], "A3");

    let ledger = app.get("/v1/locations/S1/stock/MILK/movements", &staff).await;
    let kinds: Vec<&str> =
        ledger.body["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receipt", "adjustment", "count", "transfer_out"]);
    let levels = app.get("/v1/locations/S2/stock", &other_staff).await;
    assert_eq!(levels.body["items"][0]["on_hand"], 5);
    assert_eq!(app.assert_ledger_balanced().await, 2);

    let check = app.cli(&["check-ledger"]);
    assert!(
        check.status.success(),
        "check-ledger failed: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // A level edited behind the ledger's back is found, named by its codes.
    let corrupt = "UPDATE stock_levels SET on_hand = on_hand + 1 WHERE on_hand = 5";
    let edit = move |conn: &mut omnistock::db::AnyConnection| {
        diesel::RunQueryDsl::execute(diesel::sql_query(corrupt), conn).map_err(omnistock::db::DbError::from)
    };
    let edited = app.ctx.db.write(edit).await.unwrap();
    assert_eq!(edited, 1);
    let (_, mismatches) = app.ctx.db.read(omnistock::inventory::check_ledger).await.unwrap();
    let named: Vec<(&str, &str, i64, i64)> = mismatches
        .iter()
        .map(|m| (m.sku_code.as_str(), m.location_code.as_str(), m.on_hand, m.ledger_on_hand))
        .collect();
    assert_eq!(named, [("MILK", "S2", 6, 5)]);
    assert!(!app.cli(&["check-ledger"]).status.success());
}

async fn sixty_four_clients_race_for_ten_units(app: TestApp) {
    app.create_store("RACE", 52.52, 13.40).await;
    let keys = [
        (app.key(Role::Storefront, None, Some(Channel::Web)).await, "cart_hold"),
        (app.key(Role::Storefront, None, Some(Channel::App)).await, "cart_hold"),
        (app.key(Role::Pos, Some("RACE"), None).await, "pos_hold"),
        (app.marketplace_key("race-market").await, "marketplace_order"),
    ];
    for round in 0..20 {
        let sku = format!("HOT-{round}");
        app.create_sku(&sku, "9.99").await;
        app.receive("RACE", &sku, 10).await;
        let attempts = (0..64).map(|i| {
            let (key, purpose) = &keys[i % keys.len()];
            app.post(
                "/v1/reservations",
                key,
                json!({"location": "RACE", "purpose": purpose, "lines": [{"sku": sku, "quantity": 1}]}),
            )
        });
        let answers = join_all(attempts).await;
        let won = answers.iter().filter(|a| a.status == 201).count();
        let refused: Vec<_> = answers.iter().filter(|a| a.status == 409).collect();
        assert_eq!(won, 10, "round {round}: exactly the stock is held");
        assert_eq!(refused.len(), 54, "round {round}: every other client is refused");
        for answer in refused {
            answer.assert_problem(409, "insufficient_stock");
            assert_eq!(answer.body["lines"][0]["sku"], sku.as_str());
            assert_eq!(answer.body["lines"][0]["available"], 0);
        }
        let level = app.get(&format!("/v1/locations/RACE/stock/{sku}"), &app.admin).await;
        assert_eq!((level.body["available"].as_i64(), level.body["reserved"].as_i64()), (Some(0), Some(10)));
    }
    app.assert_ledger_balanced().await;
}

async fn a_pos_hold_shows_everywhere_and_expires(app: TestApp) {
    app.create_store("POS-A", 52.52, 13.40).await;
    app.create_store("POS-B", 52.50, 13.30).await;
    let gtin = "4006381333931";
    app.post(
        "/v1/skus",
        &app.admin,
        json!({"code": "LAST-ONE", "name": "Last one", "gtin": gtin, "price": {"amount": "5.00", "currency": "EUR"}}),
    )
    .await
    .assert_status(201);
    app.receive("POS-A", "LAST-ONE", 1).await;
    let pos = app.key(Role::Pos, Some("POS-A"), None).await;
    let other_pos = app.key(Role::Pos, Some("POS-B"), None).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;

    app.post("/v1/pos/holds", &other_pos, json!({"location": "POS-A", "items": [{"sku": gtin, "quantity": 1}]}))
        .await
        .assert_problem(403, "forbidden");
    let hold = app
        .post(
            "/v1/pos/holds",
            &pos,
            json!({"items": [{"sku": gtin, "quantity": 1}], "customer_ref": "cust-9", "expires_in_seconds": 600}),
        )
        .await;
    hold.assert_status(201);
    assert_eq!(hold.body["purpose"], "pos_hold");
    assert_eq!(hold.body["lines"][0]["sku"], "LAST-ONE");
    let id = hold.body["id"].as_str().unwrap().to_owned();

    let seen_by_web = app.get("/v1/availability?sku=LAST-ONE", &web).await;
    assert_eq!(seen_by_web.body["skus"][0]["locations"][0]["available"], 0, "the web sees the hold at once");
    app.post(&format!("/v1/reservations/{id}/release"), &other_pos, json!(null)).await.assert_problem(403, "forbidden");

    app.clock.advance(Duration::seconds(599));
    assert_eq!(app.run_jobs().await.reservations_expired, 0);
    assert_eq!(app.available("LAST-ONE", "POS-A").await, 0);
    app.clock.advance(Duration::seconds(2));
    assert_eq!(app.run_jobs().await.reservations_expired, 1);
    assert_eq!(app.available("LAST-ONE", "POS-A").await, 1, "the unit is available again");
    let expired = app.get(&format!("/v1/reservations/{id}"), &pos).await;
    assert_eq!(expired.body["status"], "expired");
    app.post(&format!("/v1/reservations/{id}/commit"), &pos, json!(null))
        .await
        .assert_problem(409, "reservation_not_active");
    app.assert_ledger_balanced().await;
}

async fn a_reservation_is_extended_committed_and_never_committed_twice(app: TestApp) {
    app.create_store("R1", 52.52, 13.40).await;
    app.create_sku("TEA", "3.00").await;
    app.receive("R1", "TEA", 5).await;
    let staff = app.key(Role::Staff, Some("R1"), None).await;
    let created = app
        .post("/v1/reservations", &staff, json!({"location": "R1", "purpose": "order", "lines": [{"sku": "TEA", "quantity": 2}, {"sku": "TEA", "quantity": 1}], "expires_in_seconds": 60}))
        .await;
    created.assert_status(201);
    assert_eq!(created.body["lines"], json!([{"sku": "TEA", "quantity": 3}]), "one line per SKU");
    let id = created.body["id"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::seconds(50));
    let extended = app.post(&format!("/v1/reservations/{id}/extend"), &staff, json!({"expires_in_seconds": 120})).await;
    extended.assert_status(200);
    app.clock.advance(Duration::seconds(60));
    app.run_jobs().await;
    let committed = app.post(&format!("/v1/reservations/{id}/commit"), &staff, json!(null)).await;
    committed.assert_status(200);
    assert_eq!(committed.body["status"], "committed");
    let level = app.get("/v1/locations/R1/stock/TEA", &staff).await;
    assert_eq!((level.body["on_hand"].as_i64(), level.body["reserved"].as_i64()), (Some(2), Some(0)));
    app.post(&format!("/v1/reservations/{id}/commit"), &staff, json!(null))
        .await
        .assert_problem(409, "reservation_not_active");
    app.post(&format!("/v1/reservations/{id}/release"), &staff, json!(null))
        .await
        .assert_problem(409, "reservation_not_active");

    let short_lived = app
        .post("/v1/reservations", &staff, json!({"location": "R1", "purpose": "pos_hold", "lines": [{"sku": "TEA", "quantity": 1}], "expires_in_seconds": 10}))
        .await;
    let short_id = short_lived.body["id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::seconds(11));
    // Past its expiry, before the job has run: it can no longer be committed.
    app.post(&format!("/v1/reservations/{short_id}/commit"), &staff, json!(null))
        .await
        .assert_problem(409, "reservation_expired");
    let ledger = app.get("/v1/locations/R1/stock/TEA/movements", &staff).await;
    let kinds: Vec<&str> =
        ledger.body["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receipt", "reserve", "commit", "sale", "reserve"]);
    app.run_jobs().await;
    app.assert_ledger_balanced().await;
}

async fn bad_inventory_input_writes_nothing(app: TestApp) {
    app.create_store("B1", 52.52, 13.40).await;
    app.create_sku("BREAD", "2.00").await;
    app.receive("B1", "BREAD", 4).await;
    let reserve = |lines: serde_json::Value| {
        app.post("/v1/reservations", &app.admin, json!({"location": "B1", "purpose": "order", "lines": lines}))
    };
    reserve(json!([{"sku": "NOPE", "quantity": 1}])).await.assert_problem(404, "sku_not_found");
    app.post(
        "/v1/reservations",
        &app.admin,
        json!({"location": "NOWHERE", "purpose": "order", "lines": [{"sku": "BREAD", "quantity": 1}]}),
    )
    .await
    .assert_problem(404, "location_not_found");
    for (quantity, pointer) in [
        (json!(0), "/lines/0/quantity"),
        (json!(-2), "/lines/0/quantity"),
        (json!(2_147_483_648_i64), "/lines/0/quantity"),
        (json!(1.5), "/lines/0/quantity"),
        (json!("3"), "/lines/0/quantity"),
    ] {
        let answer = reserve(json!([{"sku": "BREAD", "quantity": quantity}])).await;
        answer.assert_problem(422, "validation_failed");
        assert_eq!(answer.body["errors"][0]["pointer"], pointer, "{}", answer.body);
    }
    reserve(json!([])).await.assert_problem(422, "validation_failed");
    // A good line and an unknown one: all or nothing.
    reserve(json!([{"sku": "BREAD", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]))
        .await
        .assert_problem(404, "sku_not_found");
    reserve(json!([{"sku": "BREAD", "quantity": 1}, {"sku": "BREAD", "quantity": 9}]))
        .await
        .assert_problem(409, "insufficient_stock");
    app.post(
        "/v1/reservations",
        &app.admin,
        json!({"location": "B1", "purpose": "hoard", "lines": [{"sku": "BREAD", "quantity": 1}]}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.post(
        "/v1/reservations",
        &web,
        json!({"location": "B1", "purpose": "pos_hold", "lines": [{"sku": "BREAD", "quantity": 1}]}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post("/v1/locations/B1/stock/adjustments", &app.admin, json!({"sku": "BREAD", "delta": 0, "reason": "x"}))
        .await
        .assert_problem(422, "validation_failed");
    let level = app.get("/v1/locations/B1/stock/BREAD", &app.admin).await;
    assert_eq!(
        (level.body["on_hand"].as_i64(), level.body["reserved"].as_i64()),
        (Some(4), Some(0)),
        "nothing written"
    );
    let ledger = app.get("/v1/locations/B1/stock/BREAD/movements", &app.admin).await;
    assert_eq!(ledger.body["items"].as_array().unwrap().len(), 1);
    app.assert_ledger_balanced().await;
}

async fn insufficient_stock_names_the_line_and_other_stores(app: TestApp) {
    app.create_store("NEAR", 52.52, 13.40).await;
    app.create_store("FAR", 52.40, 13.10).await;
    app.create_store("HERE", 52.53, 13.41).await;
    app.create_sku("COFFEE", "6.99").await;
    app.receive("HERE", "COFFEE", 1).await;
    app.receive("NEAR", "COFFEE", 5).await;
    app.receive("FAR", "COFFEE", 8).await;
    let answer = app
        .post(
            "/v1/reservations",
            &app.admin,
            json!({"location": "HERE", "purpose": "order", "lines": [{"sku": "COFFEE", "quantity": 3}]}),
        )
        .await;
    answer.assert_problem(409, "insufficient_stock");
    let line = &answer.body["lines"][0];
    assert_eq!((line["sku"].as_str(), line["location"].as_str()), (Some("COFFEE"), Some("HERE")));
    assert_eq!((line["requested"].as_i64(), line["available"].as_i64()), (Some(3), Some(1)));
    let alternatives: Vec<&str> =
        line["alternatives"].as_array().unwrap().iter().map(|a| a["location"].as_str().unwrap()).collect();
    assert_eq!(alternatives, ["NEAR", "FAR"], "nearest first");
    assert!(answer.body["detail"].as_str().unwrap().contains("COFFEE"));
}

async fn availability_near_a_point_and_its_explanation(app: TestApp) {
    app.create_store("MITTE", 52.5219, 13.4132).await;
    app.create_store("KREUZ", 52.4894, 13.3931).await;
    app.create_sku("OATS", "1.19").await;
    app.create_sku("HONEY", "5.99").await;
    app.receive("MITTE", "OATS", 5).await;
    app.receive("KREUZ", "OATS", 2).await;
    app.receive("KREUZ", "HONEY", 3).await;
    let answer = app.get("/v1/availability?sku=OATS&sku=HONEY&lat=52.49&lon=13.39", &app.admin).await;
    answer.assert_status(200);
    assert_eq!(answer.body["skus"][0]["network_available"], 7);
    let near = answer.body["pickup_near"].as_array().unwrap();
    assert_eq!(near[0]["location"], "KREUZ");
    assert_eq!(near[0]["has_all"], true);
    assert_eq!(near[1]["has_all"], false);
    app.get("/v1/availability?sku=OATS&lat=52.49", &app.admin).await.assert_problem(422, "validation_failed");
    app.get("/v1/availability", &app.admin).await.assert_problem(422, "validation_failed");
    app.get("/v1/availability?sku=NOPE", &app.admin).await.assert_problem(404, "sku_not_found");

    let pos = app.key(Role::Pos, Some("MITTE"), None).await;
    app.put("/v1/locations/MITTE/stock/OATS", &app.admin, json!({"safety_stock": 1})).await.assert_status(200);
    app.post("/v1/pos/holds", &pos, json!({"items": [{"sku": "OATS", "quantity": 2}], "customer_ref": "C-1"}))
        .await
        .assert_status(201);
    let explained = app.get("/v1/availability/explain?sku=OATS&location=MITTE", &pos).await;
    explained.assert_status(200);
    assert_eq!(explained.body["available"], 2);
    assert_eq!(explained.body["reservations"][0]["purpose"], "pos_hold");
    assert_eq!(explained.body["reservations"][0]["customer_ref"], "C-1");
    assert_eq!(explained.body["explanation"], "5 on hand − 2 reserved (2 pos_hold) − 1 safety stock = 2 available");
}

async fn events_come_in_commit_order_with_unique_ids(app: TestApp) {
    app.create_store("EV", 52.52, 13.40).await;
    app.create_sku("EV-1", "1.00").await;
    let attempts = (0..12).map(|_| {
        app.send(
            Method::POST,
            "/v1/locations/EV/stock/receipts",
            Send {
                key: Some(&app.admin),
                body: Some(json!({"lines": [{"sku": "EV-1", "quantity": 1}]})),
                ..Default::default()
            },
        )
    });
    for answer in join_all(attempts).await {
        answer.assert_status(200);
    }
    let first = app.get("/v1/events?topic=stock&limit=5", &app.admin).await;
    first.assert_status(200);
    let events = first.body["items"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0]["sku"], "EV-1");
    assert_eq!(events[0]["location"], "EV");
    let after = first.body["last_seq"].as_i64().unwrap();
    let rest = app.get(&format!("/v1/events?topic=stock.changed&after={after}"), &app.admin).await;
    let mut all: Vec<serde_json::Value> = events.clone();
    all.extend(rest.body["items"].as_array().unwrap().iter().cloned());
    assert_eq!(all.len(), 12);
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing seq: {seqs:?}");
    let mut ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    let on_hand: Vec<i64> = all.iter().map(|e| e["data"]["on_hand"].as_i64().unwrap()).collect();
    assert_eq!(on_hand, (1..=12).collect::<Vec<_>>(), "events arrive in the order levels changed");
    let last = rest.body["last_seq"].as_i64().unwrap();
    let none = app.get(&format!("/v1/events?after={last}"), &app.admin).await;
    assert_eq!(none.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(none.body["last_seq"], last);
}

async fn random_operations_keep_levels_equal_to_the_ledger(app: TestApp) {
    app.create_store("P1", 52.52, 13.40).await;
    app.create_store("P2", 52.50, 13.30).await;
    app.create_sku("PROP", "1.00").await;
    let ctx = app.ctx.clone();
    tokio::task::spawn_blocking(move || crate::model::check(&ctx)).await.expect("property test");
}
