//! Liveness, readiness and metrics for the load balancer and Prometheus.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Context;
use crate::db::DbError;
use crate::http::metrics::{Business, Metrics};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> Reply {
    Reply::ok(&Health { status: "ok", database: None })
}

/// The database answers.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(ctx: Data<Context>) -> Result<Reply, ApiError> {
    let backend = ctx.db.backend();
    ctx.db
        .read(|conn| conn.batch_execute("SELECT 1").map_err(DbError::from))
        .await
        .map_err(|e| ApiError::not_ready(format!("the database does not answer: {e}")))?;
    Ok(Reply::ok(&Health { status: "ready", database: Some(backend) }))
}

/// Prometheus text (OpenMetrics when the scraper asks for it): request counts and latency histograms by route and status, the SQL
/// statements this instance ran, orders by channel and fulfilment method, active holds by
/// purpose, marketplace push queues and dead letters, and each job's last success.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(metrics: Data<Metrics>, ctx: Data<Context>, req: HttpRequest) -> HttpResponse {
    let business = match metrics.last_business() {
        Some((business, false)) => business,
        last => match ctx.db.read(Business::read).await {
            Ok(business) => {
                metrics.keep_business(&business);
                business
            }
            // The request series matter most while the database is down:
            // answer with the business as last read (or none), never an error.
            Err(error) => {
                tracing::warn!(%error, "metrics: the business series could not be read");
                last.map(|(business, _)| business).unwrap_or_default()
            }
        },
    };
    let text = metrics.render(&business, (ctx.db.statements(), ctx.db.commits()), &ctx.job_runs.all());
    // One text for both formats: a scraper of the older text format reads
    // OpenMetrics' `# UNIT` and `# EOF` lines as comments.
    let asks_openmetrics = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let content_type = if asks_openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    HttpResponse::Ok().content_type(content_type).body(text)
}
