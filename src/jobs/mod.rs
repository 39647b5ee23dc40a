//! Background jobs. `serve` runs them on an interval; tests call
//! [`run_pending`] instead of sleeping.

mod marketplace;
mod outbox;
mod pickup_expiry;
mod reservation_expiry;

use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use crate::context::Context;
use crate::db::{DbError, idempotency, timestamp};
use crate::inventory::InventoryError;
use crate::marketplace::MarketplaceError;
use crate::order::OrderError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Marketplace(#[from] MarketplaceError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(JobError);

/// What one pass of every job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub reservations_expired: usize,
    pub pickups_expired: usize,
    pub pickups_warned: usize,
    pub events_sequenced: usize,
    pub marketplace_pushes: usize,
    pub marketplace_confirmations: usize,
    pub idempotency_keys_purged: usize,
}

/// Runs every job once, each until it has nothing left to do. Each finds
/// its work by reading first: an idle tick queues no write transaction (on
/// SQLite, none waits for the one writer), and takes no lock. Job spans are
/// at debug: an idle tick every second must not bury requests at info; what
/// a tick did is logged at info by [`run_forever`].
pub async fn run_pending(ctx: &Context) -> Result<JobReport, JobError> {
    let reservations_expired = run(ctx, "reservation_expiry", reservation_expiry::run(ctx)).await?;
    let (pickups_expired, pickups_warned) = run(ctx, "pickup_expiry", pickup_expiry::run(ctx)).await?;
    let events_sequenced = run(ctx, "outbox", outbox::sequence(ctx)).await?;
    let (marketplace_pushes, marketplace_confirmations) = run(ctx, "marketplace", marketplace::run(ctx)).await?;
    let idempotency_keys_purged = run(ctx, "idempotency_purge", purge_idempotency_keys(ctx)).await?;
    Ok(JobReport {
        reservations_expired,
        pickups_expired,
        pickups_warned,
        events_sequenced,
        marketplace_pushes,
        marketplace_confirmations,
        idempotency_keys_purged,
    })
}

/// One job in its span, its success recorded for the metrics.
async fn run<T>(
    ctx: &Context,
    name: &'static str,
    job: impl std::future::Future<Output = Result<T, JobError>>,
) -> Result<T, JobError> {
    let done = job.instrument(tracing::debug_span!("job", name)).await?;
    ctx.job_runs.record(name, ctx.now());
    Ok(done)
}

async fn purge_idempotency_keys(ctx: &Context) -> Result<usize, JobError> {
    let retention =
        chrono::Duration::from_std(ctx.config.jobs.idempotency_retention).unwrap_or(chrono::Duration::days(1));
    let before = timestamp(ctx.now() - retention);
    if !ctx.db.read(move |conn| idempotency::any_before(conn, before)).await? {
        return Ok(0);
    }
    Ok(ctx.db.write(move |conn| idempotency::purge(conn, before)).await?)
}

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run_forever(ctx: Context, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        match run_pending(&ctx).await {
            Ok(report) if report != JobReport::default() => tracing::info!(?report, "background jobs did work"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "background jobs failed; retrying next interval"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
