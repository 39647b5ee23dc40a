//! The manager's numbers: per-channel analytics over real orders.

use chrono::Duration;
use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::orders::{cart_ready, checkout, fulfilment_id, pickup, ship_to};

crate::backend_tests!(
    channel_figures_add_up_per_channel_and_store,
    analytics_keeps_to_its_roles_and_windows,
    staff_sessions_are_cookies_that_expire_and_forms_need_their_token,
    the_staff_app_keeps_staff_to_their_store,
);

/// A browser-like client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// POSTs a form as a browser does, with the session cookie if there is one.
async fn post_form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap()
}

/// Signs in with `key`: the session cookie's `name=value`.
async fn sign_in(app: &TestApp, key: &str) -> String {
    let answer = post_form(app, "/staff/sign-in", "", &[("key", key)]).await;
    assert_eq!(answer.status(), 303);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String, String) {
    let answer = browser().get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    let location = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (answer.status().as_u16(), location, answer.text().await.unwrap())
}

/// The CSRF token in a page's forms.
fn csrf(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

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

    // The same orders on /metrics, and the holds behind them.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"omnistock_orders{channel="web",method="pickup"} 1"#,
        r#"omnistock_orders{channel="app",method="ship"} 2"#,
        r#"omnistock_reservations_active{purpose="order"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }

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
    // The calendar's ends are refused, not overflowed.
    for (to, why) in [("%2B262142-12-31", "past the last day"), ("-262143-01-01", "too early")] {
        let refused = app.get(&format!("/v1/analytics/channels?to={to}"), &app.admin).await;
        refused.assert_problem(422, "validation_failed");
        assert!(refused.body["detail"].as_str().unwrap().contains(why), "{}", refused.body);
    }
}

async fn staff_sessions_are_cookies_that_expire_and_forms_need_their_token(app: TestApp) {
    app.create_store("NEAR", 52.5250, 13.4100).await;
    app.create_sku("TEA", "4.00").await;
    app.receive("NEAR", "TEA", 5).await;
    let staff = app.key(Role::Staff, Some("NEAR"), None).await;
    let pos = app.key(Role::Pos, Some("NEAR"), None).await;

    // Only staff and admin keys sign in; a wrong key gets the form again.
    for key in [pos.as_str(), "osk_unknown"] {
        let refused = post_form(&app, "/staff/sign-in", "", &[("key", key)]).await;
        assert_eq!(refused.status(), 401);
        assert!(refused.headers().get("set-cookie").is_none());
    }
    let answer = post_form(&app, "/staff/sign-in", "", &[("key", staff.as_str())]).await;
    let set = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/staff", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: a Secure cookie would never come back");
    let cookie = set.split(';').next().unwrap().to_owned();
    // Behind a TLS proxy the cookie is Secure; another site's form signs no one in.
    let proxied = browser()
        .post(app.url("/staff/sign-in"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={staff}"))
        .send()
        .await
        .unwrap();
    assert!(proxied.headers()["set-cookie"].to_str().unwrap().ends_with("; Secure"));
    let foreign = browser()
        .post(app.url("/staff/sign-in"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={staff}"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.headers().get("set-cookie").is_none());
    let framed = browser().get(app.url("/staff/pickups")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(framed.headers()["x-frame-options"], "DENY");
    assert!(framed.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let (status, _, html) = page(&app, &cookie, "/staff/stock?q=TEA").await;
    assert_eq!(status, 200);
    let token = csrf(&html);

    // A count without the session's token (a forged form) changes nothing.
    for forged in ["", "not-the-token"] {
        let refused =
            post_form(&app, "/staff/stock/count", &cookie, &[("csrf", forged), ("sku", "TEA"), ("counted", "1")]).await;
        assert_eq!(refused.status(), 403);
    }
    let forged_origin = browser()
        .post(app.url("/staff/stock/count"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", token.as_str()), ("sku", "TEA"), ("counted", "1")]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(forged_origin.status(), 403, "the right token from another site's page is still refused");
    assert_eq!(app.get("/v1/locations/NEAR/stock/TEA", &staff).await.body["on_hand"], 5);
    // A bad count is refused with the reason, and writes nothing.
    let bad =
        post_form(&app, "/staff/stock/count", &cookie, &[("csrf", token.as_str()), ("sku", "TEA"), ("counted", "-3")])
            .await;
    assert!(bad.headers()["location"].to_str().unwrap().contains("error="));
    assert_eq!(app.get("/v1/locations/NEAR/stock/TEA", &staff).await.body["on_hand"], 5);
    let counted = post_form(
        &app,
        "/staff/stock/count",
        &cookie,
        &[("csrf", token.as_str()), ("sku", "TEA"), ("counted", "4"), ("reason", "shelf")],
    )
    .await;
    assert!(counted.headers()["location"].to_str().unwrap().contains("ok="));
    assert_eq!(app.get("/v1/locations/NEAR/stock/TEA", &staff).await.body["on_hand"], 4);

    // Pages without a session, or with an expired one, send the browser to sign in.
    assert_eq!(page(&app, "omnistock_staff=forged", "/staff/pickups").await.1, "/staff/");
    app.clock.advance(Duration::hours(13));
    assert_eq!(page(&app, &cookie, "/staff/pickups").await.1, "/staff/");

    // Signing out ends the session on the server, not only in the browser.
    let again = sign_in(&app, &staff).await;
    let token = csrf(&page(&app, &again, "/staff/pickups").await.2);
    let out = post_form(&app, "/staff/sign-out", &again, &[("csrf", token.as_str())]).await;
    assert_eq!(out.status(), 303);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(page(&app, &again, "/staff/pickups").await.1, "/staff/");
    // A revoked key's sessions end with it.
    let revoked = sign_in(&app, &staff).await;
    let id = app.get("/v1/orders", &staff).await;
    id.assert_status(200);
    let listed = app.cli(&["keys", "list"]);
    let line = String::from_utf8_lossy(&listed.stdout).lines().find(|l| l.contains("staff")).unwrap().to_owned();
    let key_id = line.split_whitespace().next().unwrap().to_owned();
    assert!(app.cli(&["keys", "revoke", &key_id]).status.success());
    assert_eq!(page(&app, &revoked, "/staff/pickups").await.1, "/staff/");
}

async fn the_staff_app_keeps_staff_to_their_store(app: TestApp) {
    app.create_store("NEAR", 52.5250, 13.4100).await;
    app.create_store("FAR", 52.4000, 13.2000).await;
    app.create_sku("TEA", "4.00").await;
    app.receive("FAR", "TEA", 5).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    let version = cart_ready(&app, &web, "ada", &[("TEA", 1)], pickup("FAR")).await;
    let order = checkout(&app, &web, "ada", version, "4.00", "store-1").await;
    let fulfilment = fulfilment_id(&order, 0);
    let number = order.body["number"].as_str().unwrap();

    let near = sign_in(&app, &app.key(Role::Staff, Some("NEAR"), None).await).await;
    let (_, _, queue) = page(&app, &near, "/staff/pickups?store=FAR").await;
    assert!(queue.contains("staff at NEAR") && !queue.contains(number), "staff see their own store whatever they ask");
    let (status, _, _) = page(&app, &near, &format!("/staff/pickups/{fulfilment}")).await;
    assert_eq!(status, 404, "FAR's pickup is not NEAR's");
    let token = csrf(&queue);
    let acted =
        post_form(&app, &format!("/staff/pickups/{fulfilment}/ready"), &near, &[("csrf", token.as_str())]).await;
    assert!(acted.headers()["location"].to_str().unwrap().contains("error="));
    assert_eq!(app.get(&format!("/v1/orders/{number}"), &app.admin).await.body["status"], "placed");
    let (_, _, board) = page(&app, &near, "/staff/dashboard").await;
    assert!(!board.contains("data-channel=\"web\""), "FAR's web order is not on NEAR's dashboard");

    // An admin picks the store.
    let admin = sign_in(&app, &app.admin).await;
    let (_, _, far) = page(&app, &admin, "/staff/pickups?store=FAR").await;
    assert!(far.contains(number));
    let (_, _, all) = page(&app, &admin, "/staff/dashboard").await;
    assert!(all.contains("data-channel=\"web\""));
    // An admin's count names its store; without one nothing moves.
    let token = csrf(&far);
    let fields = [("csrf", token.as_str()), ("sku", "TEA"), ("counted", "1")];
    let unnamed = post_form(&app, "/staff/stock/count", &admin, &fields).await;
    assert!(unnamed.headers()["location"].to_str().unwrap().contains("error="));
    let named = post_form(&app, "/staff/stock/count?store=FAR", &admin, &fields).await;
    assert!(named.headers()["location"].to_str().unwrap().contains("ok="));
    let levels = app.get("/v1/locations/NEAR/stock", &app.admin).await;
    assert!(levels.body["items"].as_array().unwrap().is_empty(), "NEAR was never counted: {}", levels.body);
    assert_eq!(app.get("/v1/locations/FAR/stock/TEA", &app.admin).await.body["on_hand"], 1);
}
