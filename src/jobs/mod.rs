//! Background jobs. `serve` runs them on an interval; tests call
//! [`run_pending`] instead of sleeping.

use std::time::Duration;

use tokio::sync::watch;
use tracing::Instrument;

use crate::context::Context;
use crate::db::{DbError, idempotency, timestamp};

/// What one pass of every job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub idempotency_keys_purged: usize,
}

/// Runs every job once, until each has nothing left to do.
pub async fn run_pending(ctx: &Context) -> Result<JobReport, DbError> {
    let retention =
        chrono::Duration::from_std(ctx.config.jobs.idempotency_retention).unwrap_or(chrono::Duration::days(1));
    let before = timestamp(ctx.now() - retention);
    let idempotency_keys_purged = ctx.db.write(move |conn| idempotency::purge(conn, before)).await?;
    Ok(JobReport { idempotency_keys_purged })
}

/// Runs the jobs every `interval` until `stop` changes.
pub async fn run_forever(ctx: Context, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let pass = async {
            if let Err(error) = run_pending(&ctx).await {
                tracing::warn!(%error, "background jobs failed; retrying next interval");
            }
        };
        pass.instrument(tracing::info_span!("jobs")).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
