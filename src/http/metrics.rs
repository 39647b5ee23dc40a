//! Prometheus metrics: request counts and latency histograms by route pattern,
//! method and status. Hand-rolled: the text format is small, and this keeps
//! the dependency tree lean.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

type Key = (String, String, u16);

#[derive(Default)]
pub struct Metrics {
    series: RwLock<HashMap<Key, Arc<Series>>>,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let key = (route.to_owned(), method.to_owned(), status);
        let existing = self.series.read().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let series = existing
            .unwrap_or_else(|| self.series.write().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone());
        let seconds = elapsed.as_secs_f64();
        series.count.fetch_add(1, Ordering::Relaxed);
        series.sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            series.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.series.read().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<&Key> = series.keys().collect();
        keys.sort();
        let mut out = String::new();
        out.push_str("# HELP http_requests_total HTTP requests answered.\n# TYPE http_requests_total counter\n");
        for key in &keys {
            let s = &series[*key];
            out.push_str(&format!("http_requests_total{{{}}} {}\n", labels(key), s.count.load(Ordering::Relaxed)));
        }
        out.push_str("# HELP http_request_duration_seconds Time from request to response.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for key in &keys {
            let s = &series[*key];
            let labels = labels(key);
            let mut cumulative = 0;
            for (le, bucket) in BUCKETS.iter().zip(&s.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                out.push_str(&format!("http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}\n"));
            }
            let count = s.count.load(Ordering::Relaxed);
            out.push_str(&format!("http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n"));
            let sum = s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            out.push_str(&format!("http_request_duration_seconds_sum{{{labels}}} {sum}\n"));
            out.push_str(&format!("http_request_duration_seconds_count{{{labels}}} {count}\n"));
        }
        out
    }
}

/// The statement counter, so that a load test can divide it by its requests.
pub fn render_statements(total: u64) -> String {
    format!(
        "# HELP omnistock_db_statements_total SQL statements run on this instance's connections, BEGIN and COMMIT included.\n\
         # TYPE omnistock_db_statements_total counter\nomnistock_db_statements_total {total}\n"
    )
}

fn labels((route, method, status): &Key) -> String {
    format!("route=\"{}\",method=\"{method}\",status=\"{status}\"", route.replace('"', "'"))
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
    fn renders_counts_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe("/v1/skus", "GET", 200, Duration::from_millis(3));
        metrics.observe("/v1/skus", "GET", 200, Duration::from_millis(30));
        let text = metrics.render();
        assert!(text.contains("http_requests_total{route=\"/v1/skus\",method=\"GET\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(render_statements(42).ends_with("\nomnistock_db_statements_total 42\n"));
    }
}
