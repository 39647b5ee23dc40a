//! The scenarios: each client loops over one operation until the deadline,
//! timing every request from its start (errors are counted, never hidden).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use hdrhistogram::Histogram;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::seed::{HOT_SKU, Seeded, WEBHOOK_SECRET};

pub const ALL: &[&str] = &["availability", "cart", "checkout", "hot-sku", "pos-hold", "webhook", "mixed"];

/// What one scenario measured.
pub struct Measured {
    /// Operations completed (an operation may take several requests).
    pub ops: u64,
    pub requests: u64,
    pub errors: u64,
    /// Latency of every successful request, in microseconds.
    pub latency: Histogram<u64>,
    pub elapsed: Duration,
    /// One example of each distinct error, for the report.
    pub first_error: Option<String>,
}

struct Client_ {
    /// This client's number among `clients`.
    id: usize,
    clients: usize,
    /// Carts this client has checked out.
    checkouts: usize,
    http: Client,
    base: String,
    latency: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Sequence numbers shared by all clients (unique webhook ids, customers).
pub struct Shared {
    pub seeded: Seeded,
    pub counter: AtomicU64,
}

impl Client_ {
    /// Sends one request; returns its JSON body when it succeeded.
    /// One request whose answer is needed as JSON.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Option<Value> {
        let text = self.send(method, path, key, body, headers).await?;
        Some(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One request; the answer's body is read but not parsed, so that the
    /// load generator spends no more of the shared CPUs than it must.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Option<String> {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(key);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if status.is_success() {
                    Ok(text)
                } else {
                    Err(format!("{status}: {}", text.chars().take(160).collect::<String>()))
                }
            }
            Err(e) => Err(format!("transport: {e}")),
        };
        self.requests += 1;
        match outcome {
            Ok(text) => {
                let _ = self.latency.record(started.elapsed().as_micros().max(1) as u64);
                Some(text)
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
                None
            }
        }
    }
}

fn pick<'a>(rng: &mut SmallRng, items: &'a [String]) -> &'a str {
    &items[rng.random_range(0..items.len())]
}

/// Customers whose carts are edited at random: the upper half.
fn browsing_customer<'a>(rng: &mut SmallRng, seeded: &'a Seeded) -> &'a str {
    pick(rng, &seeded.customers[seeded.customers.len() / 2..])
}

/// The next customer this client checks out for: the lower half, dealt out so
/// that no two clients (and no browsing client) ever build the same cart,
/// which would end in honest but unwanted 412s.
fn checkout_customer<'a>(c: &mut Client_, seeded: &'a Seeded) -> &'a str {
    let per_client = (seeded.customers.len() / 2 / c.clients).max(1);
    c.checkouts += 1;
    &seeded.customers[c.id + c.clients * (c.checkouts % per_client)]
}

/// A random SKU other than the hot one.
fn sku<'a>(rng: &mut SmallRng, seeded: &'a Seeded) -> &'a str {
    &seeded.skus[rng.random_range(1..seeded.skus.len())]
}

async fn availability(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    let count = rng.random_range(1..=5);
    let query: Vec<String> = (0..count).map(|_| format!("sku={}", sku(rng, &shared.seeded))).collect();
    c.send(Method::GET, &format!("/v1/availability?{}", query.join("&")), &shared.seeded.web, None, &[]).await.is_some()
}

async fn cart(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    let s = &shared.seeded;
    let key = [&s.web, &s.app, &s.voice][rng.random_range(0..3)];
    let customer = browsing_customer(rng, s);
    let item = sku(rng, s);
    let added = c
        .call(
            Method::POST,
            &format!("/v1/customers/{customer}/cart/lines"),
            key,
            Some(&json!({"sku": item, "quantity": 1})),
            &[],
        )
        .await;
    let Some(cart) = added else { return false };
    // Keep carts the size shoppers' carts are (a handful of lines): change a
    // quantity, or take a line out of a cart that has grown past that.
    let lines = cart["lines"].as_array().map(Vec::len).unwrap_or(0);
    if lines > 5 {
        c.send(Method::DELETE, &format!("/v1/customers/{customer}/cart/lines/{item}"), key, None, &[]).await.is_some()
    } else {
        c.send(
            Method::PUT,
            &format!("/v1/customers/{customer}/cart/lines/{item}"),
            key,
            Some(&json!({"quantity": 2})),
            &[],
        )
        .await
        .is_some()
    }
}

async fn checkout(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    let s = &shared.seeded;
    let key = [&s.web, &s.app][rng.random_range(0..2)];
    let n = shared.counter.fetch_add(1, Ordering::Relaxed) as usize;
    let customer = checkout_customer(c, s);
    for _ in 0..3 {
        let item = sku(rng, s);
        if c.send(
            Method::POST,
            &format!("/v1/customers/{customer}/cart/lines"),
            key,
            Some(&json!({"sku": item, "quantity": 1})),
            &[],
        )
        .await
        .is_none()
        {
            return false;
        }
    }
    let fulfilment = if n.is_multiple_of(2) {
        json!({"method": "pickup", "location": pick(rng, &s.locations)})
    } else {
        json!({"method": "ship", "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "region": "DE-BE", "country": "DE", "latitude": 52.5, "longitude": 13.4}})
    };
    let Some(cart) =
        c.call(Method::PUT, &format!("/v1/customers/{customer}/cart/fulfilment"), key, Some(&fulfilment), &[]).await
    else {
        return false;
    };
    let version = cart["version"].as_i64().unwrap_or_default();
    let total = cart["totals"]["total"].clone();
    let body = json!({"payment": {"reference": format!("psp-{n}"), "amount": total}});
    let headers = [
        ("if-match", format!("\"{version}\"")),
        ("idempotency-key", format!("bench-checkout-{n}-{}", uuid::Uuid::now_v7())),
    ];
    c.send(Method::POST, &format!("/v1/customers/{customer}/cart/checkout"), key, Some(&body), &headers).await.is_some()
}

async fn hot_sku(c: &mut Client_, _rng: &mut SmallRng, shared: &Shared) -> bool {
    let s = &shared.seeded;
    let body = json!({"location": s.locations[0], "purpose": "cart_hold", "lines": [{"sku": HOT_SKU, "quantity": 1}]});
    let Some(held) = c.call(Method::POST, "/v1/reservations", &s.web, Some(&body), &[]).await else { return false };
    let id = held["id"].as_str().unwrap_or_default().to_owned();
    c.send(Method::POST, &format!("/v1/reservations/{id}/release"), &s.web, None, &[]).await.is_some()
}

async fn pos_hold(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    let s = &shared.seeded;
    let gtin = &s.gtins[rng.random_range(1..s.gtins.len())];
    let body = json!({"items": [{"sku": gtin, "quantity": 1}], "customer_ref": "counter"});
    let Some(held) = c.call(Method::POST, "/v1/pos/holds", &s.pos, Some(&body), &[]).await else { return false };
    let id = held["id"].as_str().unwrap_or_default().to_owned();
    c.send(Method::POST, &format!("/v1/reservations/{id}/release"), &s.pos, None, &[]).await.is_some()
}

async fn webhook(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    let s = &shared.seeded;
    let fresh = shared.counter.fetch_add(1, Ordering::Relaxed);
    // One delivery in ten repeats an earlier one: it must answer 200 and create nothing.
    let n = if fresh > 10 && rng.random_range(0..10) == 0 { rng.random_range(0..fresh) } else { fresh };
    let item = &s.skus[1 + (n as usize * 7919) % (s.skus.len() - 1)];
    let body = serde_json::to_vec(&json!({
        "id": 10_000_000 + n,
        "currency": "EUR",
        "line_items": [{"sku": item, "quantity": 1, "price": "9.99"}],
        "shipping_address": {"address1": "Hauptstraße 1", "city": "Berlin", "zip": "10115", "country_code": "DE"}
    }))
    .unwrap_or_default();
    let signature = base64::engine::general_purpose::STANDARD
        .encode(omnistock::marketplace::connector::hmac_sha256(WEBHOOK_SECRET.as_bytes(), &body));
    let started = Instant::now();
    let sent = c
        .http
        .post(format!("{}/v1/marketplaces/{}/webhooks", c.base, s.marketplace))
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-webhook-id", format!("bench-{n}"))
        .header("x-shopify-hmac-sha256", signature)
        .body(body)
        .send()
        .await;
    c.requests += 1;
    match sent {
        Ok(response) if response.status() == StatusCode::OK => {
            let _ = response.bytes().await;
            let _ = c.latency.record(started.elapsed().as_micros().max(1) as u64);
            true
        }
        Ok(response) => {
            c.errors += 1;
            let status = response.status();
            c.first_error.get_or_insert(format!("{status}: {}", response.text().await.unwrap_or_default()));
            false
        }
        Err(e) => {
            c.errors += 1;
            c.first_error.get_or_insert(format!("transport: {e}"));
            false
        }
    }
}

async fn mixed(c: &mut Client_, rng: &mut SmallRng, shared: &Shared) -> bool {
    match rng.random_range(0..100) {
        0..70 => availability(c, rng, shared).await,
        70..90 => cart(c, rng, shared).await,
        90..98 => checkout(c, rng, shared).await,
        _ => webhook(c, rng, shared).await,
    }
}

/// Runs `scenario` with `clients` concurrent clients for `duration`.
pub async fn run(scenario: &str, base: &str, clients: usize, duration: Duration, shared: Arc<Shared>) -> Measured {
    let http = Client::builder().pool_max_idle_per_host(clients * 2).build().unwrap_or_default();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (http, base, shared, scenario) = (http.clone(), base.to_owned(), shared.clone(), scenario.to_owned());
            tokio::spawn(async move {
                let mut rng = SmallRng::seed_from_u64(i as u64 + 1);
                let mut client = Client_ {
                    id: i,
                    clients,
                    checkouts: 0,
                    http,
                    base,
                    latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                        .unwrap_or_else(|_| unreachable!("valid bounds")),
                    requests: 0,
                    errors: 0,
                    first_error: None,
                };
                let mut ops = 0u64;
                while Instant::now() < deadline {
                    let done = match scenario.as_str() {
                        "availability" => availability(&mut client, &mut rng, &shared).await,
                        "cart" => cart(&mut client, &mut rng, &shared).await,
                        "checkout" => checkout(&mut client, &mut rng, &shared).await,
                        "hot-sku" => hot_sku(&mut client, &mut rng, &shared).await,
                        "pos-hold" => pos_hold(&mut client, &mut rng, &shared).await,
                        "webhook" => webhook(&mut client, &mut rng, &shared).await,
                        _ => mixed(&mut client, &mut rng, &shared).await,
                    };
                    if done {
                        ops += 1;
                    }
                }
                (ops, client)
            })
        })
        .collect();
    let mut measured = Measured {
        ops: 0,
        requests: 0,
        errors: 0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds")),
        elapsed: Duration::ZERO,
        first_error: None,
    };
    for task in tasks {
        if let Ok((ops, client)) = task.await {
            measured.ops += ops;
            measured.requests += client.requests;
            measured.errors += client.errors;
            let _ = measured.latency.add(&client.latency);
            if measured.first_error.is_none() {
                measured.first_error = client.first_error;
            }
        }
    }
    measured.elapsed = started.elapsed();
    measured
}
