//! `/metrics` in the OpenMetrics text format (prometheus-client): request
//! counts and latencies by route pattern, method and status; the SQL
//! statements this instance ran; and the business beside them: orders by
//! channel and fulfilment method, active holds by purpose, each marketplace's
//! push queue and dead letters, and each background job's last success.
//!
//! Every label set is bounded: route patterns (never raw paths), channels,
//! methods, purposes, the configured marketplaces and the five jobs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db::AnyConnection;
use crate::http::problem::ApiError;
use crate::inventory;
use crate::marketplace;
use crate::order;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The business series come from the database, which every instance shares:
/// read at most this often. Orders by channel and method count every order
/// ever placed (about a second a year of orders on two cores), so a minute's
/// staleness in all-time totals buys a scrape interval's worth of load.
const BUSINESS_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrderLabels {
    channel: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeLabels {
    purpose: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MarketplaceLabels {
    marketplace: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
}

/// What the database says of the business, as of `read_at`.
#[derive(Debug, Clone, Default)]
pub struct Business {
    orders: Vec<(String, String, i64)>,
    holds: Vec<(String, i64)>,
    backlog: Vec<(String, String, i64)>,
}

impl Business {
    pub fn read(conn: &mut AnyConnection) -> Result<Self, ApiError> {
        Ok(Self {
            orders: order::analytics::placed_by_channel_and_method(conn)?,
            holds: inventory::active_holds_by_purpose(conn)?,
            backlog: marketplace::backlog(conn)?,
        })
    }
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    business: Mutex<Option<(Instant, Business)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            business: Mutex::new(None),
        }
    }
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels { route: route.to_owned(), method: method.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// The business as last read, and whether that is older than the TTL.
    pub fn last_business(&self) -> Option<(Business, bool)> {
        let cached = self.business.lock().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().map(|(at, business)| (business.clone(), at.elapsed() >= BUSINESS_TTL))
    }

    pub fn keep_business(&self, business: &Business) {
        *self.business.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), business.clone()));
    }

    /// Every series, in the OpenMetrics text format.
    pub fn render(
        &self,
        business: &Business,
        (statements, commits): (u64, u64),
        jobs: &[(&'static str, DateTime<Utc>)],
    ) -> String {
        let mut registry = Registry::default();
        registry.register("http_requests", "HTTP requests answered", self.requests.clone());
        registry.register("http_request_duration_seconds", "Time from request to response", self.latency.clone());
        let executed = Counter::<u64>::default();
        executed.inc_by(statements);
        registry.register(
            "omnistock_db_statements",
            "SQL statements run on this instance's connections, BEGIN and COMMIT included",
            executed,
        );
        let committed = Counter::<u64>::default();
        committed.inc_by(commits);
        registry.register(
            "omnistock_db_commits",
            "Transactions committed on this instance's connections; a group commit counts once",
            committed,
        );

        let orders = Family::<OrderLabels, Gauge>::default();
        for (channel, method, count) in &business.orders {
            orders.get_or_create(&OrderLabels { channel: channel.clone(), method: method.clone() }).set(*count);
        }
        registry.register(
            "omnistock_orders",
            "Orders placed, all time, by channel and fulfilment method (an order with two methods counts under each)",
            orders,
        );
        let holds = Family::<PurposeLabels, Gauge>::default();
        for (purpose, count) in &business.holds {
            holds.get_or_create(&PurposeLabels { purpose: purpose.clone() }).set(*count);
        }
        registry.register("omnistock_reservations_active", "Active reservations by purpose", holds);
        let (queued, dead) =
            (Family::<MarketplaceLabels, Gauge>::default(), Family::<MarketplaceLabels, Gauge>::default());
        for (name, status, count) in &business.backlog {
            let family = if status == "dead" { &dead } else { &queued };
            family.get_or_create(&MarketplaceLabels { marketplace: name.clone() }).set(*count);
        }
        registry.register("omnistock_marketplace_push_queue", "Stock pushes waiting, by marketplace", queued);
        registry.register(
            "omnistock_marketplace_dead_letters",
            "Stock pushes given up after their retries, by marketplace",
            dead,
        );
        let runs = Family::<JobLabels, Gauge>::default();
        for (job, at) in jobs {
            runs.get_or_create(&JobLabels { job: (*job).to_owned() }).set(at.timestamp());
        }
        registry.register(
            "omnistock_job_last_success_timestamp_seconds",
            "When each background job last finished without error on this instance (Unix time)",
            runs,
        );

        let mut out = String::new();
        // Writing into a String cannot fail.
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Middleware: times every request and records it under its route pattern
/// (never the raw path, which would make one series per id).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe(&route, &method, response.status().as_u16(), started.elapsed());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_statements_and_the_business() {
        let metrics = Metrics::default();
        metrics.observe("/v1/skus", "GET", 200, Duration::from_millis(3));
        metrics.observe("/v1/skus", "GET", 200, Duration::from_millis(30));
        let business = Business {
            orders: vec![("web".into(), "pickup".into(), 3)],
            holds: vec![("pos".into(), 2)],
            backlog: vec![("Shop".into(), "pending".into(), 4), ("Shop".into(), "dead".into(), 1)],
        };
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let text = metrics.render(&business, (42, 7), &[("outbox", at)]);
        for line in [
            r#"http_requests_total{route="/v1/skus",method="GET",status="200"} 2"#,
            r#"http_request_duration_seconds_bucket{le="0.005",route="/v1/skus",method="GET",status="200"} 1"#,
            "omnistock_db_statements_total 42",
            "omnistock_db_commits_total 7",
            r#"omnistock_orders{channel="web",method="pickup"} 3"#,
            r#"omnistock_reservations_active{purpose="pos"} 2"#,
            r#"omnistock_marketplace_push_queue{marketplace="Shop"} 4"#,
            r#"omnistock_marketplace_dead_letters{marketplace="Shop"} 1"#,
            r#"omnistock_job_last_success_timestamp_seconds{job="outbox"} 1800000000"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
