//! The staff app in a real headless Chromium, driven over WebDriver
//! (chromedriver): sign in, a web order appearing in the queue without a
//! reload, picks, ready, a wrong then the right code, a stock count, and
//! the dashboard showing the order under its channel.
//!
//! WebDriver is JSON over HTTP, so the test speaks it with the reqwest it
//! already has. Screenshots go to `$OMNISTOCK_SCREENSHOTS` (default: a
//! directory per backend in the temp dir); the README's are refreshed with
//! `OMNISTOCK_SCREENSHOTS=docs/screenshots cargo test --test api browser::sqlite`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use omnistock::access::{Channel, Role};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::orders::{cart_ready, checkout, fulfilment_id, pickup};

crate::backend_tests!(a_store_associate_works_a_pickup_and_counts_stock_in_the_browser,);

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const PATIENCE: Duration = Duration::from_secs(15);

/// A chromedriver process and one browser session on it; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    shots: PathBuf,
}

impl Browser {
    /// None when chromedriver is not installed (outside CI, where it must be).
    async fn start(backend: &str) -> Option<Self> {
        let binary = std::env::var("OMNISTOCK_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let driver = match Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(driver) => driver,
            Err(error) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but {binary} cannot start ({error}); scripts/test installs chromium-driver"
                );
                eprintln!("SKIPPED: {binary} is not installed (apt-get install chromium chromium-driver)");
                return None;
            }
        };
        let shots = std::env::var("OMNISTOCK_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir().join(format!("omnistock-screenshots-{backend}")));
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        let mut browser =
            Browser { driver, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new(), shots };
        let started = Instant::now();
        while browser.http.get(format!("{}/status", browser.base)).send().await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=820,1180"]});
        let session = browser
            .call(
                reqwest::Method::POST,
                "/session",
                json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}),
            )
            .await;
        let id = session["value"]["sessionId"].as_str().expect("a WebDriver session").to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_call(method, path, body).await.unwrap_or_else(|error| panic!("WebDriver {path}: {error}"))
    }

    async fn try_call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, Value> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("WebDriver answers").json().await.expect("WebDriver JSON");
        if answer["value"]["error"].is_null() { Ok(answer) } else { Err(answer) }
    }

    /// The page's text, or None while it is being replaced.
    async fn page_text(&self) -> Option<String> {
        let body = json!({"using": "css selector", "value": "body"});
        let found = self.try_call(reqwest::Method::POST, "/element", body).await.ok()?;
        let element = found["value"][ELEMENT].as_str()?.to_owned();
        let text = self.try_call(reqwest::Method::GET, &format!("/element/{element}/text"), Value::Null).await.ok()?;
        Some(text["value"].as_str().unwrap_or_default().to_owned())
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self.call(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
        found["value"][ELEMENT].as_str().expect("an element").to_owned()
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), Value::Null).await["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), json!({})).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), json!({ "text": text })).await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), json!({})).await;
    }

    /// Clicks the button whose label is exactly `label`.
    async fn press(&self, label: &str) {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "xpath", "value": format!("//button[normalize-space()='{label}']")}),
            )
            .await;
        let element = found["value"][ELEMENT].as_str().expect("the button").to_owned();
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), json!({})).await;
    }

    /// Waits until the page's text contains `wanted`, without reloading it.
    async fn wait_for(&self, wanted: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.page_text().await.unwrap_or_default();
            if text.contains(wanted) {
                return text;
            }
            assert!(started.elapsed() < PATIENCE, "'{wanted}' never appeared; the page says:\n{text}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let shot = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let png =
            base64::engine::general_purpose::STANDARD.decode(shot["value"].as_str().unwrap_or_default()).expect("PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn a_store_associate_works_a_pickup_and_counts_stock_in_the_browser(app: TestApp) {
    let backend = if app.database_url.starts_with("postgres") { "postgres" } else { "sqlite" };
    let Some(browser) = Browser::start(backend).await else { return };
    app.create_store("NEAR", 52.5250, 13.4100).await;
    app.create_sku("TEA", "4.00").await;
    app.receive("NEAR", "TEA", 20).await;
    app.put("/v1/locations/NEAR/stock/TEA", &app.admin, json!({"safety_stock": 0, "aisle": "B4"}))
        .await
        .assert_status(200);
    let staff = app.key(Role::Staff, Some("NEAR"), None).await;
    let web = app.key(Role::Storefront, None, Some(Channel::Web)).await;

    browser.open(&app.url("/staff/")).await;
    browser.type_into("#key", "osk_not-a-key").await;
    browser.press("Sign in").await;
    browser.wait_for("unknown or revoked").await;
    browser.type_into("#key", &staff).await;
    browser.press("Sign in").await;
    browser.wait_for("No pickups waiting").await;
    assert!(browser.text("header").await.contains("staff at NEAR"));

    // A web order for pickup arrives while the queue is on screen.
    let version = cart_ready(&app, &web, "ada", &[("TEA", 2)], pickup("NEAR")).await;
    let order = checkout(&app, &web, "ada", version, "8.00", "browser-1").await;
    order.assert_status(201);
    let number = order.body["number"].as_str().unwrap().to_owned();
    browser.wait_for(&number).await;
    browser.screenshot("pickup-queue").await;

    browser.click(&format!("#queue a[href^='/staff/pickups/{}']", fulfilment_id(&order, 0))).await;
    let detail = browser.wait_for("Record picks").await;
    assert!(detail.contains("B4"), "the pick list shows the aisle: {detail}");
    browser.press("Record picks").await;
    browser.wait_for("Picks recorded").await;
    browser.press("Mark ready").await;
    browser.wait_for("Ready: the customer").await;
    let id = order.body["id"].as_str().unwrap();
    let seen = app.get(&format!("/v1/orders/{id}"), &web).await;
    let code = seen.body["fulfilments"][0]["pickup_code"].as_str().expect("the customer's code").to_owned();
    browser.type_into("#code", "WRONG1").await;
    browser.press("Verify and hand over").await;
    browser.wait_for("Wrong pickup code: 4 tries left").await;
    browser.screenshot("wrong-code").await;
    browser.type_into("#code", &code).await;
    browser.press("Verify and hand over").await;
    browser.wait_for("Handed over").await;
    let collected = app.get(&format!("/v1/orders/{id}"), &app.admin).await;
    assert_eq!(collected.body["status"], "fulfilled");

    // A count at the shelf: 20 received, 2 sold, 17 found.
    browser.click("nav a[href^='/staff/stock']").await;
    browser.type_into("#q", "TEA").await;
    browser.press("Look up").await;
    browser.wait_for("Other stores nearby").await;
    assert_eq!(browser.text("#available").await, "18");
    browser.type_into("#counted", "17").await;
    browser.type_into("#count-reason", "shelf count").await;
    browser.press("Record count").await;
    browser.wait_for("Counted 17: -1 against the record").await;
    assert_eq!(browser.text("#on-hand").await, "17");
    browser.screenshot("stock-count").await;
    let level = app.get("/v1/locations/NEAR/stock/TEA", &staff).await;
    assert_eq!(level.body["on_hand"], 17);

    browser.click("nav a[href^='/staff/dashboard']").await;
    browser.wait_for("By channel").await;
    assert_eq!(browser.text("#figures td[data-channel='web'][data-figure='orders']").await, "1", "one order under web");
    browser.screenshot("dashboard").await;
    app.assert_ledger_balanced().await;
}
