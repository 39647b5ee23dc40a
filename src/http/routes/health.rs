//! Liveness, readiness and metrics for the load balancer and Prometheus.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context::Context;
use crate::db::DbError;
use crate::http::metrics::{Metrics, render_statements};
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

/// Prometheus text format: request counts and latency histograms by route and
/// status, and the SQL statements this instance has run.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(metrics: Data<Metrics>, ctx: Data<Context>) -> HttpResponse {
    let text = metrics.render() + &render_statements(ctx.db.statements());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}
