//! The skeleton: health, the contract, conventions (problems, idempotency,
//! versions, pagination), keys, locations and the catalog.

use futures_util::future::join_all;
use omnistock::access::{Channel, Role};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Send, TestApp, location_body};

crate::backend_tests!(
    health_readiness_and_metrics,
    a_location_is_created_read_listed_and_replaced,
    replaying_an_idempotency_key_returns_the_first_answer,
    concurrent_retries_with_one_key_create_once,
    a_stale_if_match_gets_412_with_the_current_version,
    bad_requests_get_problem_documents,
    keys_need_the_right_role,
    skus_are_validated_found_by_gtin_and_searched,
    lists_are_cursor_paginated,
    migrations_go_down_and_up_again,
    cli_keys_and_sku_import,
);

async fn health_readiness_and_metrics(app: TestApp) {
    let health = app.send(Method::GET, "/healthz", Send::default()).await;
    health.assert_status(200);
    assert!(health.header("x-request-id").is_some(), "every answer carries a request id");
    let ready = app.send(Method::GET, "/readyz", Send::default()).await;
    ready.assert_status(200);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("route=\"/readyz\",method=\"GET\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("# TYPE http_request_duration_seconds histogram"), "{metrics}");
    // The business: jobs that ran, and (below, in staff.rs) orders and holds.
    app.run_jobs().await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for job in ["reservation_expiry", "pickup_expiry", "outbox", "marketplace", "idempotency_purge"] {
        let line = format!(
            "omnistock_job_last_success_timestamp_seconds{{job=\"{job}\"}} {}",
            crate::helpers::start_time().timestamp()
        );
        assert!(metrics.contains(&line), "{line} missing from {metrics}");
    }
}

async fn a_location_is_created_read_listed_and_replaced(app: TestApp) {
    let created = app.create_store("BER-1", 52.52, 13.40).await;
    assert_eq!(created.header("location"), Some("/v1/locations/BER-1"));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["time_zone"], "Europe/Berlin");
    assert_eq!(created.body["capabilities"]["pickup_preparation_minutes"], 60);

    let read = app.get("/v1/locations/BER-1", &app.admin).await;
    read.assert_status(200);
    assert_eq!(read.body, created.body);

    let again = app.post("/v1/locations", &app.admin, location_body("BER-1", 52.5, 13.4)).await;
    again.assert_problem(409, "code_taken");

    let mut changed = location_body("BER-1", 52.53, 13.41);
    changed["name"] = json!("Renamed");
    // The code comes from the URL on replace; the body leaves it out.
    let with_code = app.put("/v1/locations/BER-1", &app.admin, changed.clone()).await;
    with_code.assert_problem(422, "validation_failed");
    changed.as_object_mut().unwrap().remove("code");
    let replaced = app
        .send(
            Method::PUT,
            "/v1/locations/BER-1",
            Send { key: Some(&app.admin), body: Some(changed), if_match: Some("\"1\"".into()), ..Default::default() },
        )
        .await;
    replaced.assert_status(200);
    assert_eq!(replaced.body["name"], "Renamed");
    assert_eq!(replaced.header("etag"), Some("\"2\""));

    let deactivated = app.post("/v1/locations/BER-1/deactivate", &app.admin, json!(null)).await;
    deactivated.assert_status(200);
    assert_eq!(deactivated.body["active"], false);
    app.get("/v1/locations/NOPE", &app.admin).await.assert_problem(404, "location_not_found");
}

async fn replaying_an_idempotency_key_returns_the_first_answer(app: TestApp) {
    let send = |body| Send {
        key: Some(&app.admin),
        body: Some(body),
        idempotency_key: Some("create-ber-2"),
        ..Default::default()
    };
    let first = app.send(Method::POST, "/v1/locations", send(location_body("BER-2", 52.5, 13.4))).await;
    first.assert_status(201);
    let replay = app.send(Method::POST, "/v1/locations", send(location_body("BER-2", 52.5, 13.4))).await;
    replay.assert_status(201);
    assert_eq!(replay.body, first.body, "a retry returns the first body");
    assert_eq!(replay.header("etag"), first.header("etag"));
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    let other = app.send(Method::POST, "/v1/locations", send(location_body("BER-3", 52.5, 13.4))).await;
    other.assert_problem(422, "idempotency_key_reused");
    app.get("/v1/locations/BER-3", &app.admin).await.assert_problem(404, "location_not_found");

    // Keys are per caller: another admin may use the same key for its own request.
    let other_admin = app.key(Role::Admin, None, None).await;
    let theirs = app
        .send(
            Method::POST,
            "/v1/locations",
            Send {
                key: Some(&other_admin),
                body: Some(location_body("BER-3", 52.5, 13.4)),
                idempotency_key: Some("create-ber-2"),
                ..Default::default()
            },
        )
        .await;
    theirs.assert_status(201);
}

async fn concurrent_retries_with_one_key_create_once(app: TestApp) {
    let requests = (0..8).map(|_| {
        app.send(
            Method::POST,
            "/v1/skus",
            Send {
                key: Some(&app.admin),
                body: Some(json!({"code": "RACE-1", "name": "Race", "price": {"amount": "1.00", "currency": "EUR"}})),
                idempotency_key: Some("race-key"),
                ..Default::default()
            },
        )
    });
    let answers = join_all(requests).await;
    for answer in &answers {
        answer.assert_status(201);
        assert_eq!(answer.body, answers[0].body);
    }
    let replayed = answers.iter().filter(|a| a.header("idempotent-replayed").is_some()).count();
    assert_eq!(replayed, 7, "exactly one request did the work");
}

async fn a_stale_if_match_gets_412_with_the_current_version(app: TestApp) {
    app.create_sku("SKU-V", "2.00").await;
    let body = json!({"name": "New name", "price": {"amount": "2.50", "currency": "EUR"}});
    let put = |version: &str| Send {
        key: Some(&app.admin),
        body: Some(body.clone()),
        if_match: Some(version.to_owned()),
        ..Default::default()
    };
    app.send(Method::PUT, "/v1/skus/SKU-V", put("\"1\"")).await.assert_status(200);
    let stale = app.send(Method::PUT, "/v1/skus/SKU-V", put("\"1\"")).await;
    stale.assert_problem(412, "stale_version");
    assert_eq!(stale.body["current"]["version"], 2);
    assert_eq!(stale.body["current"]["price"]["amount"], "2.50");
    app.send(Method::PUT, "/v1/skus/SKU-V", put("not-an-etag")).await.assert_problem(400, "bad_request");
}

async fn bad_requests_get_problem_documents(app: TestApp) {
    let raw = |bytes: &[u8]| Send { key: Some(&app.admin), raw: Some(bytes.to_vec()), ..Default::default() };
    app.send(Method::POST, "/v1/skus", raw(b"{\"code\": ")).await.assert_problem(400, "malformed_json");
    app.send(Method::POST, "/v1/skus", raw(b"")).await.assert_problem(400, "malformed_json");
    let typed = app
        .post("/v1/skus", &app.admin, json!({"code": "X", "name": 5, "price": {"amount": "1", "currency": "EUR"}}))
        .await;
    typed.assert_problem(422, "validation_failed");
    assert_eq!(typed.body["errors"][0]["pointer"], "/name");
    let unknown = app
        .post(
            "/v1/skus",
            &app.admin,
            json!({"code": "X", "name": "n", "price": {"amount": "1", "currency": "EUR"}, "colour": "red"}),
        )
        .await;
    unknown.assert_problem(422, "validation_failed");
    let huge = vec![b' '; 300 * 1024];
    app.send(Method::POST, "/v1/skus", raw(&huge)).await.assert_problem(413, "payload_too_large");
    app.get("/v1/nothing-here", &app.admin).await.assert_problem(404, "route_not_found");
    let wrong_method = app.delete("/v1/skus", &app.admin).await;
    wrong_method.assert_problem(405, "method_not_allowed");
    assert_eq!(wrong_method.header("allow"), Some("GET, POST"));
    app.get("/v1/skus?limit=0", &app.admin).await.assert_problem(422, "validation_failed");
    app.get("/v1/skus?limit=abc", &app.admin).await.assert_problem(400, "bad_request");
    app.get("/v1/skus?cursor=%%%", &app.admin).await.assert_problem(422, "validation_failed");

    let mut location = location_body("BAD", 95.0, 13.0);
    location["time_zone"] = json!("Mars/Olympus");
    let zone = app.post("/v1/locations", &app.admin, location).await;
    zone.assert_problem(422, "validation_failed");
    assert_eq!(zone.body["errors"][0]["pointer"], "/time_zone");
    let mut location = location_body("BAD", 95.0, 13.0);
    location["opening_hours"]["mon"] = json!([{"open": "22:00", "close": "08:00"}]);
    let several = app.post("/v1/locations", &app.admin, location).await;
    several.assert_problem(422, "validation_failed");
    assert_eq!(several.body["errors"].as_array().unwrap().len(), 2, "every field error at once: {}", several.body);
    app.get("/v1/locations/BAD", &app.admin).await.assert_problem(404, "location_not_found");
}

async fn keys_need_the_right_role(app: TestApp) {
    let anonymous = app.send(Method::GET, "/v1/skus", Send::default()).await;
    anonymous.assert_problem(401, "unauthorized");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    app.get("/v1/skus", "osk_not-a-real-key").await.assert_problem(401, "unauthorized");
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;
    app.get("/v1/skus", &web).await.assert_status(200);
    let refused = app.post("/v1/locations", &web, location_body("WEB-1", 52.5, 13.4)).await;
    refused.assert_problem(403, "forbidden");
    assert_eq!(refused.body["allowed_roles"], json!(["admin"]));
}

async fn skus_are_validated_found_by_gtin_and_searched(app: TestApp) {
    let bad = app
        .post("/v1/skus", &app.admin, json!({"code": "bad code", "name": "", "gtin": "4006381333932", "price": {"amount": "1.999", "currency": "EUR"}}))
        .await;
    bad.assert_problem(422, "validation_failed");
    let pointers: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/code", "/name", "/gtin", "/price/amount"]);
    app.post("/v1/skus", &app.admin, json!({"code": "Y", "name": "Y", "price": {"amount": "1", "currency": "XXX"}}))
        .await
        .assert_problem(422, "validation_failed");

    // Money is a decimal string: a JSON number has passed through a binary float.
    app.post(
        "/v1/skus",
        &app.admin,
        json!({"code": "OAT-1L", "name": "Oat Milk 1 L", "price": {"amount": 2.29, "currency": "EUR"}}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let created = app
        .post(
            "/v1/skus",
            &app.admin,
            json!({"code": "OAT-1L", "name": "Oat Milk 1 L", "gtin": "4006381333931", "price": {"amount": "2.29", "currency": "EUR"}, "spoken_names": ["oat milk"]}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(created.body["price"], json!({"amount": "2.29", "currency": "EUR"}));
    let by_gtin = app.get("/v1/skus/4006381333931", &app.admin).await;
    assert_eq!(by_gtin.body["code"], "OAT-1L");
    app.post(
        "/v1/skus",
        &app.admin,
        json!({"code": "OAT-2", "name": "x", "gtin": "4006381333931", "price": {"amount": "1", "currency": "EUR"}}),
    )
    .await
    .assert_problem(409, "gtin_taken");
    app.create_sku("SOAP", "1.00").await;
    let found = app.get("/v1/skus?q=OAT%20milk", &app.admin).await;
    let codes: Vec<&str> =
        found.body["items"].as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["OAT-1L"]);
}

async fn lists_are_cursor_paginated(app: TestApp) {
    for i in 0..5 {
        app.create_sku(&format!("PAGE-{i}"), "1.00").await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/skus?limit=2".to_owned();
    loop {
        let page = app.get(&path, &app.admin).await;
        page.assert_status(200);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|s| s["code"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/skus?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["PAGE-0", "PAGE-1", "PAGE-2", "PAGE-3", "PAGE-4"]);
}

async fn migrations_go_down_and_up_again(app: TestApp) {
    let ctx = app.ctx.clone();
    ctx.db
        .read(|conn| {
            let reverted = omnistock::db::migrate::revert_all(conn)?;
            assert!(reverted > 0);
            let applied = omnistock::db::migrate::run_pending(conn)?;
            assert_eq!(applied, reverted);
            Ok::<_, omnistock::db::DbError>(())
        })
        .await
        .expect("down and up again");
}

/// The database restarts under the service (its connections cut), then
/// refuses connections for a while: every request answers at once, with a
/// result or a 503 and Retry-After, never a 500, and nothing is half
/// written. PostgreSQL only: an embedded SQLite has no connection to lose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_unreachable_database_answers_503_and_recovers() {
    let Some(app) = crate::helpers::spawn_postgres().await else { return };
    app.create_sku("BEFORE", "1.00").await;
    let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'";
    app.postgres_admin(cut).await.expect("postgres");
    let mut written = Vec::new();
    for i in 0..12 {
        let code = format!("CUT-{i}");
        let answer = app
            .post(
                "/v1/skus",
                &app.admin,
                json!({"code": code, "name": "x", "price": {"amount": "1.00", "currency": "EUR"}}),
            )
            .await;
        match answer.status.as_u16() {
            201 => written.push(code),
            _ => {
                answer.assert_problem(503, "unavailable");
                assert_eq!(answer.header("retry-after"), Some("1"));
            }
        }
    }
    assert!(!written.is_empty(), "fresh connections replace the lost ones");
    assert!(written.len() < 12, "a request on a lost connection answers 503");
    for i in 0..12 {
        let code = format!("CUT-{i}");
        let found = app.get(&format!("/v1/skus/{code}"), &app.admin).await.status.as_u16();
        assert_eq!(found == 200, written.contains(&code), "{code}: acknowledged exactly when written");
    }

    app.postgres_admin(r#"ALTER DATABASE "{db}" ALLOW_CONNECTIONS false"#).await;
    app.postgres_admin(cut).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let answer = app.get("/v1/skus/BEFORE", &app.admin).await;
        answer.assert_problem(503, "unavailable");
        // The bound is loose (a loaded machine); the acquire timeout is one second.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
    // The request series matter most now: /metrics answers without the database.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("status=\"503\""));
    app.postgres_admin(r#"ALTER DATABASE "{db}" ALLOW_CONNECTIONS true"#).await;
    app.get("/v1/skus/BEFORE", &app.admin).await.assert_status(200);
}

#[tokio::test]
async fn the_contract_matches_the_checked_in_document() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let served = app.client.get(app.url("/openapi.json")).send().await.unwrap().text().await.unwrap();
    let checked_in = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/api-spec/openapi.json"))
        .expect("api-spec/openapi.json exists");
    assert!(
        served == checked_in,
        "api-spec/openapi.json is out of date: run `cargo run -- openapi > api-spec/openapi.json`"
    );
    let document: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
}

/// The service as run: idle background jobs (here every 50 ms) log nothing at
/// info, so the banner and requests stay readable.
#[test]
fn idle_background_jobs_are_quiet_at_info() {
    let path = std::env::temp_dir().join(format!("omnistock-quiet-{}.db", uuid::Uuid::new_v4()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_omnistock"))
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}", path.display()))
        .env("OMNISTOCK_ADDR", "127.0.0.1:0")
        .env("OMNISTOCK_SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env("OMNISTOCK_LOG", "info")
        .env("OMNISTOCK_JOBS__INTERVAL_MS", "50")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run omnistock serve");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    child.kill().expect("stop the service");
    let output = child.wait_with_output().expect("service output");
    let _ = std::fs::remove_file(&path);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("omnistock is serving"), "{log}");
    let job_lines: Vec<&str> = log.lines().filter(|l| l.contains("job")).collect();
    assert!(job_lines.is_empty(), "about 40 idle ticks logged: {job_lines:?}");
    assert!(log.lines().count() < 10, "{log}");
}

async fn cli_keys_and_sku_import(app: TestApp) {
    let created = app.cli(&["keys", "create", "--role", "admin", "--name", "ops"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    let secret = stdout.lines().last().unwrap().trim().to_owned();
    app.post("/v1/locations", &secret, location_body("CLI-1", 52.5, 13.4)).await.assert_status(201);

    let refused = app.cli(&["keys", "create", "--role", "pos"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--location"));

    let dir = std::env::temp_dir().join(format!("omnistock-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("skus.csv");
    std::fs::write(
        &csv,
        "code,name,gtin,price,currency,spoken_names,active\n\
         IMP-1,Imported One,4006381333931,1.99,EUR,one;first,true\n\
         IMP-2,Imported Two,4006381333932,2.00,EUR,,true\n\
         IMP-3,Imported Three,,3.005,EUR,,\n\
         IMP-4,Imported Four,,4.00,EUR,,\n",
    )
    .unwrap();
    let imported = app.cli(&["import", "skus", csv.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let report = String::from_utf8(imported.stdout).unwrap();
    assert!(report.contains("row 3: rejected: gtin: check digit is wrong"), "{report}");
    assert!(report.contains("row 4: rejected: price/amount"), "{report}");
    assert!(report.contains("2 created, 0 updated, 0 unchanged, 2 rejected"), "{report}");
    app.get("/v1/skus/IMP-1", &app.admin).await.assert_status(200);
    app.get("/v1/skus/IMP-4", &app.admin).await.assert_status(200);
    app.get("/v1/skus/IMP-2", &app.admin).await.assert_problem(404, "sku_not_found");
    let again = app.cli(&["import", "skus", csv.to_str().unwrap()]);
    assert!(String::from_utf8(again.stdout).unwrap().contains("0 created, 0 updated, 2 unchanged, 2 rejected"));

    let listed = String::from_utf8(app.cli(&["keys", "list"]).stdout).unwrap();
    let ops_id = listed.lines().find(|l| l.ends_with(" ops")).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(!listed.contains(&secret), "secrets are never listed");
    assert!(app.cli(&["keys", "revoke", &ops_id]).status.success());
    let _ = std::fs::remove_dir_all(dir);
}

/// `sslmode=require` in the URL puts the service's PostgreSQL connections on
/// TLS, with the OpenSSL it is built with (the same the marketplace client
/// uses). Runs where the server offers TLS (Debian's clusters do, with a
/// self-signed certificate); elsewhere it says so and checks nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connects_over_tls_when_the_url_asks() {
    use diesel::{Connection, PgConnection, RunQueryDsl, sql_types::Bool};
    #[derive(diesel::QueryableByName)]
    struct Flag {
        #[diesel(sql_type = Bool)]
        ssl: bool,
    }
    fn ask(url: String, sql: &'static str) -> bool {
        let mut conn = PgConnection::establish(&url).unwrap_or_else(|e| panic!("connect with {url}: {e}"));
        diesel::sql_query(sql).get_result::<Flag>(&mut conn).unwrap().ssl
    }
    let Some(app) = crate::helpers::spawn_postgres().await else { return };
    // Asked over a plain connection, so that a libpq built without TLS
    // fails below instead of passing as "no TLS here".
    let plain = app.database_url.clone();
    let offered = tokio::task::spawn_blocking(move || ask(plain, "SELECT current_setting('ssl') = 'on' AS ssl"));
    if !offered.await.unwrap() {
        eprintln!("NOTE: this PostgreSQL server offers no TLS; sslmode=require not exercised");
        return;
    }
    let url = format!("{}?sslmode=require", app.database_url);
    let probe = url.clone();
    let encrypted =
        tokio::task::spawn_blocking(move || ask(probe, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"));
    assert!(encrypted.await.unwrap(), "sslmode=require gave an unencrypted connection");
    let checked = app.cli_on(&url, &["check-ledger"]);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
}
