//! Keeping marketplaces true: the wanted quantity of each listing lives in
//! `marketplace_stock` (so a restart loses nothing and quick changes coalesce
//! into one push of the latest value); a worker claims due rows under a
//! lease, pushes them in batches within each marketplace's rate limit, and
//! retries failures with exponential backoff and jitter until they succeed or
//! are parked in the dead-letter list. Confirmations of shipments and
//! cancellations travel the same way.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};

use super::connector::{AnyConnector, CallError, Confirmation, Connector, StockUpdate};
use super::model::{Marketplace, MarketplaceError, OutboundRow, StockRow, SyncState};
use super::repo::{self, PushLog};
use crate::config::MarketplaceConfig;
use crate::context::Context;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::events;
use crate::inventory;
use crate::order::lifecycle::ORDER_STATUS_CHANGED;
use crate::order::state::{FulfilmentStatus, Method, OrderStatus};
use crate::order::{self, OrderError};
use crate::types::{FulfilmentId, MarketplaceId, OrderId, SkuId};

/// How long a claimed row is left alone while its call is in flight.
const LEASE: Duration = Duration::from_secs(60);
/// Rows claimed per pass.
const CLAIM: i64 = 500;

/// Records the quantity a listing should show. A change (or `force`) makes
/// it due; a row waiting out a backoff keeps its schedule; a dead row stays
/// parked until a forced resync, but learns the latest quantity. The row is
/// locked while this decides, so concurrent callers take turns.
pub fn want(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    quantity: i32,
    force: bool,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let (row, created) = repo::lock_stock_row(conn, marketplace, sku, quantity, at)?;
    if created {
        return Ok(());
    }
    let (status, attempts, next) = match (row.status.as_str(), force) {
        (_, true) => ("pending", 0, at),
        ("dead", false) => ("dead", row.attempts, row.next_attempt_at),
        _ if row.pushed_quantity == Some(quantity) && row.attempts == 0 => ("synced", 0, row.next_attempt_at),
        _ if row.attempts > 0 => ("pending", row.attempts, row.next_attempt_at),
        _ => ("pending", 0, at),
    };
    repo::set_stock_row(
        conn,
        &StockRow { quantity, status: status.to_owned(), attempts, next_attempt_at: next, updated_at: at, ..row },
    )
}

/// Exponential backoff with jitter: base × 2^(attempt − 1), capped, times a
/// random factor in [0.5, 1.5) so that failing listings do not retry in step.
pub fn backoff(config: &MarketplaceConfig, attempt: i32, retry_after: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 20) as u32;
    let raw = config.backoff_base.saturating_mul(2u32.saturating_pow(exponent)).min(config.backoff_max);
    let jittered = raw.mul_f64(crate::secret::random_between(0.5, 1.5));
    retry_after.map_or(jittered, |after| jittered.max(after))
}

/// When a call that failed for the `attempts`th time is tried next, and
/// whether it is given up (parked as dead) instead.
fn retry_plan(
    config: &MarketplaceConfig,
    error: &CallError,
    attempts: i32,
    now: chrono::DateTime<Utc>,
) -> (bool, NaiveDateTime) {
    let dead = !error.retryable || attempts >= config.max_attempts;
    let next = now + chrono::Duration::from_std(backoff(config, attempts, error.retry_after)).unwrap_or_default();
    (dead, timestamp(next))
}

/// Takes one call from the marketplace's token bucket (refilled at its rate
/// per second, per process); false when the bucket is empty.
fn take_call(marketplace: &MarketplaceId, per_second: i32) -> bool {
    static BUCKETS: OnceLock<Mutex<HashMap<MarketplaceId, (f64, Instant)>>> = OnceLock::new();
    let mut buckets = BUCKETS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let capacity = f64::from(per_second.max(1));
    let (tokens, last) = buckets.entry(marketplace.clone()).or_insert((capacity, Instant::now()));
    *tokens = (*tokens + last.elapsed().as_secs_f64() * capacity).min(capacity);
    *last = Instant::now();
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

/// A claimed listing: (SKU, listing id, quantity to send).
type Claimed = (SkuId, String, i32);

/// Claims due stock rows, grouped by marketplace, with their listing ids.
fn claim_stock(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<(Marketplace, Vec<Claimed>)>, MarketplaceError> {
    let mut grouped: HashMap<MarketplaceId, Vec<Claimed>> = HashMap::new();
    for (row, listing) in repo::due_stock(conn, now, CLAIM)? {
        if repo::lease_stock(conn, &row.marketplace_id, &row.sku_id, now, until)? {
            grouped.entry(row.marketplace_id).or_default().push((row.sku_id, listing, row.quantity));
        }
    }
    let ids: Vec<MarketplaceId> = grouped.keys().cloned().collect();
    Ok(repo::by_ids(conn, &ids)?.into_iter().filter_map(|m| grouped.remove(&m.id).map(|rows| (m, rows))).collect())
}

/// Writes what a push of `rows` came to.
fn record_push(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    rows: &[Claimed],
    result: &Result<(), CallError>,
    config: &MarketplaceConfig,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbError> {
    let at = timestamp(now);
    for (sku, listing, sent) in rows {
        let (outcome, code, error) = match result {
            Ok(()) => {
                repo::stock_pushed(conn, marketplace, sku, *sent, at)?;
                ("ok", None, None)
            }
            Err(e) => {
                let attempts = repo::stock_push_failed(conn, marketplace, sku, &e.message, at)?;
                let (dead, next) = retry_plan(config, e, attempts, now);
                repo::schedule_stock(conn, marketplace, sku, dead, next)?;
                (if dead { "dead" } else { "retry" }, e.status.map(i32::from), Some(e.message.as_str()))
            }
        };
        let entry = PushLog { marketplace, listing, quantity: *sent, outcome, status_code: code, error };
        repo::log_push(conn, entry, at)?;
    }
    Ok(())
}

/// Pushes every due listing once; returns how many listings were attempted.
/// No database connection is held while a marketplace is called.
/// What the marketplace job has to do now, found by reads alone: an idle
/// tick then queues no write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waiting {
    pub stock_events: bool,
    pub order_events: bool,
    pub pushes: bool,
    pub confirmations: bool,
}

pub fn waiting(conn: &mut AnyConnection, now: chrono::DateTime<Utc>) -> Result<Waiting, MarketplaceError> {
    let at = timestamp(now);
    Ok(Waiting {
        stock_events: events::waiting(conn, super::stock::STOCK_CONSUMER, inventory::STOCK_CHANGED)?,
        order_events: events::waiting(conn, ORDER_CONSUMER, ORDER_STATUS_CHANGED)?,
        pushes: !repo::due_stock(conn, at, 1)?.is_empty(),
        confirmations: !repo::due_outbound(conn, at, 1)?.is_empty(),
    })
}

pub async fn push_due(ctx: &Context) -> Result<usize, MarketplaceError> {
    let now = ctx.now();
    let (at, until) = (timestamp(now), timestamp(now + chrono::Duration::from_std(LEASE).unwrap_or_default()));
    let claimed = ctx.db.write(move |conn| claim_stock(conn, at, until)).await?;
    let config = ctx.config.marketplace.clone();
    let mut attempted = 0;
    for (marketplace, rows) in claimed {
        let connector = AnyConnector::of(&marketplace, &ctx.keyring, config.request_timeout);
        let batch = connector.as_ref().map_or(1, |c| c.batch_size().max(1));
        let mut unsent: Vec<Claimed> = Vec::new();
        for chunk in rows.chunks(batch) {
            if !take_call(&marketplace.id, marketplace.rate_limit_per_sec) {
                unsent.extend_from_slice(chunk);
                continue;
            }
            let updates: Vec<StockUpdate> =
                chunk.iter().map(|(_, l, q)| StockUpdate { listing_id: l.clone(), quantity: *q }).collect();
            let span =
                tracing::info_span!("marketplace_push", marketplace = %marketplace.name, listings = updates.len());
            let result = match &connector {
                Ok(connector) => tracing::Instrument::instrument(connector.push(&ctx.http, &updates), span).await,
                Err(error) => Err(CallError::unopened(error)),
            };
            if let Err(error) = &result {
                tracing::warn!(marketplace = %marketplace.name, status = ?error.status, error = %error.message, "stock push failed");
            }
            let (rows, id, config, now) = (chunk.to_vec(), marketplace.id.clone(), config.clone(), ctx.now());
            ctx.db.write(move |conn| record_push(conn, &id, &rows, &result, &config, now)).await?;
            attempted += chunk.len();
        }
        if !unsent.is_empty() {
            // Over the rate limit: hand the claims back for the next pass.
            let id = marketplace.id.clone();
            ctx.db
                .write(move |conn| unsent.iter().try_for_each(|(sku, _, _)| repo::unlease_stock(conn, &id, sku, at)))
                .await?;
        }
    }
    Ok(attempted)
}

/// The outbox consumer that turns our shipments and cancellations of
/// marketplace orders into confirmations.
const ORDER_CONSUMER: &str = "marketplace-confirmations";

/// Queues a confirmation once (its id is deterministic).
fn enqueue(
    conn: &mut AnyConnection,
    id: String,
    marketplace: &MarketplaceId,
    order: &OrderId,
    confirmation: &Confirmation,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let kind = match confirmation {
        Confirmation::Shipped { .. } => "shipped",
        Confirmation::Cancelled { .. } => "cancelled",
    };
    repo::enqueue_outbound(
        conn,
        &OutboundRow {
            id,
            marketplace_id: marketplace.clone(),
            order_id: order.clone(),
            kind: kind.to_owned(),
            payload: serde_json::to_string(confirmation).unwrap_or_default(),
            status: "pending".to_owned(),
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            created_at: at,
            updated_at: at,
        },
    )
}

/// Reads order events since the last pass and queues confirmations for
/// marketplace orders we shipped or cancelled (not those the marketplace
/// cancelled itself).
pub fn ingest_order_events(conn: &mut AnyConnection, now: chrono::DateTime<Utc>) -> Result<usize, MarketplaceError> {
    events::consume(conn, ORDER_CONSUMER, ORDER_STATUS_CHANGED, 1000, |conn, read| {
        let at = timestamp(now);
        for event in read {
            let Some(order_id) = &event.order_id else { continue };
            let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap_or_default();
            let found = match order::get(conn, order_id.as_str()) {
                Ok(found) => found,
                Err(OrderError::NotFound(_)) => continue,
                Err(other) => return Err(other.into()),
            };
            let (Some(marketplace), Some(external_id)) = (&found.row.marketplace_id, &found.row.external_id) else {
                continue;
            };
            let fulfilment = FulfilmentId(payload["fulfilment"].as_str().unwrap_or_default().to_owned());
            match (payload["to"].as_str(), payload["method"].as_str()) {
                (Some(to), Some(method))
                    if to == FulfilmentStatus::Shipped.as_str() && method == Method::Ship.as_str() =>
                {
                    let shipped = found.fulfilments.iter().find(|f| f.id == fulfilment);
                    let skus: Vec<SkuId> = found.lines_of(&fulfilment).map(|l| l.sku_id.clone()).collect();
                    let sellers: HashMap<SkuId, String> =
                        repo::seller_skus(conn, marketplace, &skus)?.into_iter().collect();
                    let lines = found
                        .lines_of(&fulfilment)
                        .map(|l| {
                            (sellers.get(&l.sku_id).cloned().unwrap_or_else(|| l.sku_code.clone()), l.open_quantity())
                        })
                        .collect();
                    let confirmation = Confirmation::Shipped {
                        external_id: external_id.clone(),
                        tracking: shipped.and_then(|f| f.tracking.clone()),
                        lines,
                    };
                    let id = format!("{order_id}:shipped:{fulfilment}");
                    enqueue(conn, id, marketplace, order_id, &confirmation, at)?;
                }
                // Only once the whole order is cancelled, and not when the marketplace did it.
                (Some(to), _)
                    if to == FulfilmentStatus::Cancelled.as_str()
                        && payload["channel"] != "marketplace"
                        && found.row.status == OrderStatus::Cancelled.as_str() =>
                {
                    let reason = found.row.status_reason.clone().unwrap_or_else(|| "cancelled by the retailer".into());
                    let confirmation = Confirmation::Cancelled { external_id: external_id.clone(), reason };
                    enqueue(conn, format!("{order_id}:cancelled"), marketplace, order_id, &confirmation, at)?;
                }
                _ => {}
            }
        }
        Ok(())
    })
}

/// Claims due confirmations, each with its marketplace.
fn claim_outbound(
    conn: &mut AnyConnection,
    at: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<Vec<(Marketplace, OutboundRow)>, MarketplaceError> {
    let mut claimed = Vec::new();
    for row in repo::due_outbound(conn, at, CLAIM)? {
        if repo::lease_outbound(conn, &row.id, at, until)? {
            claimed.push(row);
        }
    }
    let ids: Vec<MarketplaceId> = claimed.iter().map(|r| r.marketplace_id.clone()).collect();
    let marketplaces = repo::by_ids(conn, &ids)?;
    Ok(claimed
        .into_iter()
        .filter_map(|row| marketplaces.iter().find(|m| m.id == row.marketplace_id).map(|m| (m.clone(), row)))
        .collect())
}

/// Sends every due confirmation once; returns how many were attempted.
pub async fn confirm_due(ctx: &Context) -> Result<usize, MarketplaceError> {
    let now = ctx.now();
    let (at, until) = (timestamp(now), timestamp(now + chrono::Duration::from_std(LEASE).unwrap_or_default()));
    let claimed = ctx.db.write(move |conn| claim_outbound(conn, at, until)).await?;
    let config = ctx.config.marketplace.clone();
    let attempted = claimed.len();
    for (marketplace, row) in claimed {
        let connector = AnyConnector::of(&marketplace, &ctx.keyring, config.request_timeout);
        let result = match (serde_json::from_str::<Confirmation>(&row.payload), &connector) {
            (Ok(confirmation), Ok(connector)) => connector.confirm(&ctx.http, &confirmation).await,
            (_, Err(error)) => Err(CallError::unopened(error)),
            (Err(e), _) => Err(CallError {
                status: None,
                message: format!("unreadable confirmation: {e}"),
                retryable: false,
                retry_after: None,
            }),
        };
        let (config, now) = (config.clone(), ctx.now());
        ctx.db
            .write(move |conn| {
                let at = timestamp(now);
                match &result {
                    Ok(()) => repo::outbound_done(conn, &row.id, at),
                    Err(e) => {
                        let attempts = repo::outbound_failed(conn, &row.id, &e.message, at)?;
                        let (dead, next) = retry_plan(&config, e, attempts, now);
                        repo::schedule_outbound(conn, &row.id, dead, next)
                    }
                }
            })
            .await?;
    }
    Ok(attempted)
}

/// The sync page of one marketplace: pending and parked pushes and
/// confirmations, and the latest attempts.
pub fn state(conn: &mut AnyConnection, marketplace: &MarketplaceId) -> Result<SyncState, MarketplaceError> {
    repo::find(conn, marketplace)?.ok_or_else(|| MarketplaceError::NotFound(marketplace.to_string()))?;
    Ok(SyncState {
        pending: repo::count_stock(conn, marketplace, "pending")?,
        synced: repo::count_stock(conn, marketplace, "synced")?,
        dead: repo::stock_in(conn, marketplace, "dead")?,
        outbound_pending: repo::count_outbound(conn, marketplace, "pending")?,
        outbound_dead: repo::outbound_in(conn, marketplace, "dead")?,
        recent: repo::recent_pushes(conn, marketplace, 50)?,
    })
}

/// Requeues dead confirmations of a marketplace (with its full resync).
pub fn revive_outbound(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    repo::revive_outbound(conn, marketplace, at)
}
