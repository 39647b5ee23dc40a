//! `spawn_app(Backend)`: the real service on a random port with a fresh
//! database, and a client with typed helpers. PostgreSQL databases are cloned
//! from a template migrated once per test run.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use diesel::{Connection, ExpressionMethods, PgConnection, RunQueryDsl};
use omnistock::access::{self, Channel, NewKey, Role};
use omnistock::clock::ManualClock;
use omnistock::config::Config;
use omnistock::context::Context;
use omnistock::types::Code;
use omnistock::{Application, db};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines each listed `async fn(TestApp)` as a test on SQLite and one on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_postgres().await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// The key that seals stored secrets in every test (32 bytes, URL-safe base64).
pub const TEST_SECRET_KEY: &str = "dGVzdC1vbmx5LXNlYWxpbmcta2V5LW5vdC1zZWNyZXQ";

/// Monday 2026-06-15 09:00 in Berlin: inside opening hours, before cut-offs.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 7, 0, 0).single().expect("valid start time")
}

pub struct TestApp {
    pub addr: String,
    pub client: reqwest::Client,
    pub ctx: Context,
    pub clock: Arc<ManualClock>,
    pub admin: String,
    pub database_url: String,
    server: Option<(actix_web::dev::ServerHandle, std::thread::JoinHandle<std::io::Result<()>>)>,
    _database: TestDatabase,
}

/// Stops the server and waits for its workers, so that no connection or
/// thread of this test outlives it (the database is dropped right after).
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((handle, thread)) = self.server.take() {
            let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
            let _ = thread.join();
        }
    }
}

enum TestDatabase {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TestDatabase::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
                }
            }
        }
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // TEST_LOG=1, or a filter such as TEST_LOG=omnistock::sql=trace.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let filter = if filter == "1" { "info,omnistock=debug".to_owned() } else { filter };
            let _ = omnistock::telemetry::init(&filter, false);
        }
    });
}

/// The PostgreSQL server to test against, or None (with a note) when none is configured.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL half of the suite cannot be skipped in CI")
        }
        _ => None,
    }
}

fn with_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => format!("{url}/{database}"),
    }
}

/// Creates, once per run, a database with every migration applied; each
/// test then copies it, which is much faster than migrating again.
fn postgres_template(admin_url: &str) -> String {
    static TEMPLATE: Mutex<Option<String>> = Mutex::new(None);
    let mut template = TEMPLATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = template.as_ref() {
        return name.clone();
    }
    let name = format!("omnistock_tpl_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_POSTGRES_URL");
    diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).expect("create template");
    let mut conn = db::AnyConnection::Postgres(
        PgConnection::establish(&with_database(admin_url, &name)).expect("connect to template"),
    );
    db::migrate::run_pending(&mut conn).expect("migrate template");
    drop(conn);
    *template = Some(name.clone());
    name
}

pub async fn spawn_postgres() -> Option<TestApp> {
    postgres_url()?;
    Some(spawn_app(Backend::Postgres).await)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Spawns the app with extra environment settings.
pub async fn spawn_app_with(backend: Backend, settings: &[(&str, &str)]) -> TestApp {
    init_logs();
    let (url, database) = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("omnistock-test-{}.db", uuid::Uuid::new_v4()));
            (format!("sqlite://{}", path.display()), TestDatabase::Sqlite(path))
        }
        Backend::Postgres => {
            let admin_url = postgres_url().expect("TEST_POSTGRES_URL");
            let admin_for_template = admin_url.clone();
            let template = tokio::task::spawn_blocking(move || postgres_template(&admin_for_template))
                .await
                .expect("template task");
            let name = format!("omnistock_test_{}", uuid::Uuid::new_v4().simple());
            let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
            let admin_for_create = admin_url.clone();
            tokio::task::spawn_blocking(move || {
                let mut admin = PgConnection::establish(&admin_for_create).expect("connect to TEST_POSTGRES_URL");
                diesel::sql_query(create).execute(&mut admin).expect("create test database");
            })
            .await
            .expect("create task");
            (with_database(&admin_url, &name), TestDatabase::Postgres { admin_url, name })
        }
    };
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), url.clone()),
        ("OMNISTOCK_ADDR".into(), "127.0.0.1:0".into()),
        ("OMNISTOCK_JOBS__ENABLED".into(), "false".into()),
        ("OMNISTOCK_HTTP__WORKERS".into(), "2".into()),
        ("OMNISTOCK_DB__POOL_SIZE".into(), "8".into()),
        ("OMNISTOCK_SECRET_KEY".into(), TEST_SECRET_KEY.into()),
        ("OMNISTOCK_MARKETPLACE__ALLOW_INSECURE_LOOPBACK".into(), "true".into()),
    ];
    vars.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(|name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("test configuration");
    let clock = Arc::new(ManualClock::new(start_time()));
    let app = Application::build(config, clock.clone()).await.expect("build app");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let ctx = app.context().clone();
    let handle = app.server_handle();
    // The server runs on its own thread and runtime, so it can be stopped and
    // joined when the test ends, whatever the test's runtime is doing.
    let thread = std::thread::spawn(move || actix_web::rt::System::new().block_on(app.run_until_stopped()));
    let mut test_app = TestApp {
        addr,
        client: reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client"),
        ctx,
        clock,
        admin: String::new(),
        database_url: url,
        server: Some((handle, thread)),
        _database: database,
    };
    test_app.admin = test_app.key(Role::Admin, None, None).await;
    // Checkout refuses a destination without a tax rate; the test retailer
    // sells untaxed in DE and the US unless a test sets rates of its own.
    for region in ["DE", "US"] {
        test_app
            .put(&format!("/v1/tax-rates/{region}"), &test_app.admin, json!({"rate_percent": "0"}))
            .await
            .assert_status(200);
    }
    test_app
}

/// A response read whole: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert!(self.body["type"].as_str().is_some_and(|t| t.ends_with(&code.replace('_', "-"))), "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.body);
        self
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }
}

/// How a request is sent.
#[derive(Default, Clone)]
pub struct Send<'a> {
    pub key: Option<&'a str>,
    pub body: Option<Value>,
    pub raw: Option<Vec<u8>>,
    pub idempotency_key: Option<&'a str>,
    pub if_match: Option<String>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// Creates a key straight in the database; returns its secret.
    pub async fn key(&self, role: Role, location: Option<&str>, channel: Option<Channel>) -> String {
        self.key_for(role, location, channel, None).await
    }

    pub async fn key_for(
        &self,
        role: Role,
        location: Option<&str>,
        channel: Option<Channel>,
        marketplace: Option<&str>,
    ) -> String {
        let (location, marketplace) = (location.map(|c| Code::parse(c).expect("code")), marketplace.map(str::to_owned));
        let now = self.ctx.now();
        self.ctx
            .db
            .write(move |conn| {
                let new = NewKey {
                    name: format!("test {role}"),
                    role,
                    location_id: location.map(|code| {
                        omnistock::catalog::location_id_by_code(conn, &code).expect("lookup").expect("location")
                    }),
                    channel,
                    marketplace_id: marketplace.map(|name| {
                        omnistock::marketplace::id_by_name_or_id(conn, &name).expect("lookup").expect("marketplace")
                    }),
                };
                access::create_key(conn, new, now)
            })
            .await
            .expect("create key")
            .1
    }

    pub async fn send(&self, method: Method, path: &str, options: Send<'_>) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = options.key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = options.body {
            request = request.json(&body);
        }
        if let Some(raw) = options.raw {
            request = request.header("content-type", "application/json").body(raw);
        }
        if let Some(key) = options.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        if let Some(version) = options.if_match {
            request = request.header("if-match", version);
        }
        read(request.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.send(Method::GET, path, Send { key: Some(key), ..Default::default() }).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Send { key: Some(key), body: Some(body), ..Default::default() }).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Send { key: Some(key), body: Some(body), ..Default::default() }).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Answer {
        self.send(Method::DELETE, path, Send { key: Some(key), ..Default::default() }).await
    }

    /// Creates a store with pickup at the given point; returns its code.
    pub async fn create_store(&self, code: &str, latitude: f64, longitude: f64) -> Answer {
        let answer = self.post("/v1/locations", &self.admin.clone(), location_body(code, latitude, longitude)).await;
        answer.assert_status(201);
        answer
    }

    pub async fn create_sku(&self, code: &str, price: &str) -> Answer {
        let answer = self
            .post(
                "/v1/skus",
                &self.admin.clone(),
                json!({"code": code, "name": format!("Item {code}"), "price": {"amount": price, "currency": "EUR"}}),
            )
            .await;
        answer.assert_status(201);
        answer
    }
}

impl TestApp {
    /// PostgreSQL: runs `sql` as the server's administrator; `{db}` stands
    /// for this test's database. None on SQLite.
    pub async fn postgres_admin(&self, sql: &str) -> Option<()> {
        let TestDatabase::Postgres { admin_url, name } = &self._database else { return None };
        let (url, sql) = (admin_url.clone(), sql.replace("{db}", name));
        tokio::task::spawn_blocking(move || {
            let mut admin = PgConnection::establish(&url).expect("connect as administrator");
            diesel::sql_query(sql).execute(&mut admin).expect("administrator statement");
        })
        .await
        .expect("administrator task");
        Some(())
    }
}

/// Runs the `omnistock` binary against this app's database; returns stdout.
impl TestApp {
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_on(&self.database_url, args)
    }

    /// Runs the command line against `database_url` (this app's database,
    /// reached another way).
    pub fn cli_on(&self, database_url: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_omnistock"))
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("OMNISTOCK_SECRET_KEY", TEST_SECRET_KEY)
            .env("OMNISTOCK_LOG", "warn")
            .output()
            .expect("run omnistock")
    }
}

impl TestApp {
    /// Receives stock at a location through the API (as admin).
    pub async fn receive(&self, location: &str, sku: &str, quantity: i64) {
        self.post(
            &format!("/v1/locations/{location}/stock/receipts"),
            &self.admin.clone(),
            json!({"lines": [{"sku": sku, "quantity": quantity}]}),
        )
        .await
        .assert_status(200);
    }

    /// The available quantity of a SKU at a location, as the web sees it.
    pub async fn available(&self, sku: &str, location: &str) -> i64 {
        let answer = self.get(&format!("/v1/availability?sku={sku}"), &self.admin.clone()).await;
        answer.assert_status(200);
        answer.body["skus"][0]["locations"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["location"] == location))
            .map(|l| l["available"].as_i64().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Asserts that every level equals its ledger and its active reservations.
    pub async fn assert_ledger_balanced(&self) -> usize {
        let (checked, mismatches) = self.ctx.db.read(omnistock::inventory::check_ledger).await.expect("check ledger");
        assert!(mismatches.is_empty(), "ledger mismatches: {mismatches:?}");
        checked
    }

    /// Runs every background job once.
    pub async fn run_jobs(&self) -> omnistock::jobs::JobReport {
        omnistock::jobs::run_pending(&self.ctx).await.expect("jobs")
    }

    /// A marketplace row and a key bound to it.
    pub async fn marketplace_key(&self, name: &str) -> String {
        use omnistock::db::schema::marketplaces as m;
        let now = omnistock::db::timestamp(self.ctx.now());
        let owned = name.to_owned();
        let secret = self.ctx.keyring.seal(b"secret");
        self.ctx
            .db
            .write(move |conn| {
                diesel::insert_into(m::table)
                    .values((
                        m::id.eq(uuid::Uuid::now_v7().to_string()),
                        m::name.eq(&owned),
                        m::kind.eq("shopify"),
                        m::base_url.eq("http://127.0.0.1:9"),
                        m::credentials.eq(""),
                        m::webhook_secret.eq(secret.as_stored()),
                        m::share_percent.eq(100),
                        m::buffer_units.eq(0),
                        m::rate_limit_per_sec.eq(10),
                        m::settings.eq("{}"),
                        m::active.eq(true),
                        m::version.eq(1),
                        m::created_at.eq(now),
                        m::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .map_err(omnistock::db::DbError::from)
            })
            .await
            .expect("insert marketplace");
        self.key_for(Role::Marketplace, None, None, Some(name)).await
    }
}

/// Creates `count` customers (round-unique) whose carts hold one unit of
/// `sku` for pickup at `store`, straight through the domain (this is set-up,
/// not what is tested); returns (customer ref, cart version).
pub async fn carts_with(app: &TestApp, round: usize, count: usize, sku: &str, store: &str) -> Vec<(String, i64)> {
    use omnistock::cart::{self, Editor, Intent};
    use omnistock::customer::{self, CustomerInput};
    let ctx = app.ctx.clone();
    let (sku, store) = (sku.to_owned(), store.to_owned());
    ctx.db
        .clone()
        .write(move |conn| {
            let actor = omnistock::access::Principal::system();
            let now = ctx.now();
            let e = Editor { actor: &actor, now, expected_version: None, config: &ctx.config };
            let sku = omnistock::catalog::get_sku(conn, &sku)?;
            let location = omnistock::catalog::get_location(conn, &store)?;
            (0..count)
                .map(|i| {
                    let reference = format!("buyer-{round}-{i}");
                    let input = CustomerInput {
                        external_ref: reference.clone(),
                        name: None,
                        email: None,
                        phone: None,
                        marketing_consent: false,
                    };
                    let customer = customer::create(conn, input, now)?;
                    let open = cart::CartRef::OpenFor(customer.id);
                    cart::add_line(conn, &open, &sku, omnistock::types::Quantity::new(1).expect("one"), &e)?;
                    let done = cart::set_intent(
                        conn,
                        &open,
                        Some(Intent::Pickup { location_id: location.id.clone(), curbside: false }),
                        &e,
                    )?;
                    Ok((reference, i64::from(done.version)))
                })
                .collect::<Result<Vec<_>, cart::CartError>>()
        })
        .await
        .expect("carts")
}

pub async fn read(response: Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, headers, body }
}

/// A Berlin store open 08:00–22:00 every day but Sunday, with pickup and shipping.
pub fn location_body(code: &str, latitude: f64, longitude: f64) -> Value {
    let day = json!([{"open": "08:00", "close": "22:00"}]);
    json!({
        "code": code,
        "name": format!("Store {code}"),
        "kind": "store",
        "address": {"line1": "Teststraße 1", "city": "Berlin", "postal_code": "10115", "region": "DE-BE", "country": "DE"},
        "latitude": latitude,
        "longitude": longitude,
        "time_zone": "Europe/Berlin",
        "opening_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day},
        "capabilities": {"ships": true, "pickup": true, "curbside": true, "pickup_preparation_minutes": 60, "pickup_hold_days": 3}
    })
}
