//! Statement budgets: the SQL statements (BEGIN and COMMIT included) that
//! one request of each hot path costs, counted by the service's own counter
//! on a quiet app. On SQLite a write also runs in a savepoint of the writer's
//! group commit (SAVEPOINT and RELEASE, in process, no round trip): two more.
//!
//! The budgets are today's counts, so a change that adds a round trip fails
//! here and says which request; lowering one is progress, and the number
//! is lowered with it. The targets are in the performance issue (#18).

use omnistock::access::{Channel, Role};
use serde_json::json;

use crate::helpers::{Answer, TestApp};
use crate::orders::checkout;

crate::backend_tests!(each_hot_request_stays_within_its_statement_budget);

/// Runs `request` and answers it with the statements it cost.
async fn counted(app: &TestApp, request: impl Future<Output = Answer>) -> (Answer, u64) {
    let before = app.ctx.db.statements();
    let answer = request.await;
    (answer, app.ctx.db.statements() - before)
}

async fn each_hot_request_stays_within_its_statement_budget(app: TestApp) {
    app.create_store("S1", 52.52, 13.40).await;
    for sku in ["A", "B", "C"] {
        app.create_sku(sku, "2.00").await;
        app.receive("S1", sku, 100).await;
    }
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let pos = app.key(Role::Pos, Some("S1"), None).await;
    app.post("/v1/customers", &web, json!({"external_ref": "c1"})).await.assert_status(201);
    // The first request of a key reads it; every later one finds it cached.
    app.get("/v1/availability?sku=A", &web).await.assert_status(200);
    app.get("/v1/availability?sku=A", &pos).await.assert_status(200);

    let savepoint = if app.ctx.db.backend() == "sqlite" { 2 } else { 0 };
    let mut spent = Vec::new();
    let (answer, n) = counted(&app, app.get("/v1/availability?sku=A", &web)).await;
    answer.assert_status(200);
    spent.push(("availability of 1 SKU", n, 3));
    for (sku, label, budget) in
        [("A", "cart add, first line", 18), ("B", "cart add, 2nd line", 13), ("C", "cart add, 3rd line", 13)]
    {
        let add = app.post("/v1/customers/c1/cart/lines", &web, json!({"sku": sku, "quantity": 1}));
        let (answer, n) = counted(&app, add).await;
        answer.assert_status(200);
        spent.push((label, n, budget + savepoint));
    }
    let pickup = app.put("/v1/customers/c1/cart/fulfilment", &web, json!({"method": "pickup", "location": "S1"}));
    let (cart, n) = counted(&app, pickup).await;
    cart.assert_status(200);
    spent.push(("choose pickup", n, 16 + savepoint));
    let version = cart.body["version"].as_i64().unwrap();
    let total = cart.body["totals"]["total"]["amount"].as_str().unwrap().to_owned();
    let (order, n) = counted(&app, checkout(&app, &web, "c1", version, &total, "budget-1")).await;
    order.assert_status(201);
    spent.push(("checkout, 3 lines, pickup", n, 31 + savepoint));
    let hold = app.post("/v1/pos/holds", &pos, json!({"location": "S1", "items": [{"sku": "A", "quantity": 1}]}));
    let (answer, n) = counted(&app, hold).await;
    answer.assert_status(201);
    spent.push(("POS hold, 1 item", n, 10 + savepoint));
    let reserve = json!({"location": "S1", "purpose": "order", "lines": [{"sku": "B", "quantity": 1}]});
    let (answer, n) = counted(&app, app.post("/v1/reservations", &app.admin, reserve)).await;
    answer.assert_status(201);
    spent.push(("reservation, 1 line", n, 9 + savepoint));
    // A background tick with nothing to do only reads: no write transaction
    // (no BEGIN, no COMMIT, no fsync; nothing queued behind SQLite's writer).
    app.run_jobs().await;
    let (_, n) = counted(&app, async {
        app.run_jobs().await;
        app.get("/healthz", "").await
    })
    .await;
    spent.push(("idle tick of every background job", n, 11));

    let table: Vec<String> = spent.iter().map(|(what, n, budget)| format!("{what}: {n} (budget {budget})")).collect();
    eprintln!("statements per request on {}:\n  {}", app.ctx.db.backend(), table.join("\n  "));
    for (what, n, budget) in &spent {
        assert!(n <= budget, "{what} took {n} statements, over its budget of {budget}:\n  {}", table.join("\n  "));
    }
}
