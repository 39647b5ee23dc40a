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
use diesel::prelude::*;
use rand::Rng;

use super::connector::{AnyConnector, CallError, Confirmation, Connector, StockUpdate};
use super::{Marketplace, MarketplaceError, get};
use crate::config::MarketplaceConfig;
use crate::context::Context;
use crate::db::schema::{
    marketplace_listings as ml, marketplace_outbound as mo, marketplace_push_log as log, marketplace_stock as ms,
};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::events;
use crate::order::state::{FulfilmentStatus, Method};
use crate::order::{self, OrderError};
use crate::per_backend;
use crate::types::{MarketplaceId, OrderId, SkuId};

/// How long a claimed row is left alone while its call is in flight.
const LEASE: Duration = Duration::from_secs(60);
/// Rows claimed per pass.
const CLAIM: i64 = 500;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ms)]
pub struct StockRow {
    pub marketplace_id: MarketplaceId,
    pub sku_id: SkuId,
    pub quantity: i32,
    pub pushed_quantity: Option<i32>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mo)]
pub struct OutboundRow {
    pub id: String,
    pub marketplace_id: MarketplaceId,
    pub order_id: OrderId,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Records the quantity a listing should show. A change (or `force`) makes
/// it due; a row waiting out a backoff keeps its schedule; a dead row stays
/// parked until a forced resync, but learns the latest quantity.
pub fn want(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku: &SkuId,
    quantity: i32,
    force: bool,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let current: Option<StockRow> =
        ms::table.find((marketplace, sku)).select(StockRow::as_select()).first(conn).optional()?;
    let Some(row) = current else {
        diesel::insert_into(ms::table)
            .values((
                ms::marketplace_id.eq(marketplace),
                ms::sku_id.eq(sku),
                ms::quantity.eq(quantity),
                ms::status.eq("pending"),
                ms::attempts.eq(0),
                ms::next_attempt_at.eq(at),
                ms::updated_at.eq(at),
            ))
            .execute(conn)?;
        return Ok(());
    };
    let (status, attempts, next) = match (row.status.as_str(), force) {
        (_, true) => ("pending", 0, at),
        ("dead", false) => ("dead", row.attempts, row.next_attempt_at),
        _ if row.pushed_quantity == Some(quantity) && row.attempts == 0 => ("synced", 0, row.next_attempt_at),
        _ if row.attempts > 0 => ("pending", row.attempts, row.next_attempt_at),
        _ => ("pending", 0, at.min(row.next_attempt_at.max(at))),
    };
    diesel::update(ms::table.find((marketplace, sku)))
        .set((
            ms::quantity.eq(quantity),
            ms::status.eq(status),
            ms::attempts.eq(attempts),
            ms::next_attempt_at.eq(next),
            ms::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Exponential backoff with jitter: base × 2^(attempt − 1), capped, times a
/// random factor in [0.5, 1.5) so that failing listings do not retry in step.
pub fn backoff(config: &MarketplaceConfig, attempt: i32, retry_after: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).clamp(0, 20) as u32;
    let raw = config.backoff_base.saturating_mul(2u32.saturating_pow(exponent)).min(config.backoff_max);
    let jittered = raw.mul_f64(rand::rng().random_range(0.5..1.5));
    retry_after.map_or(jittered, |after| jittered.max(after))
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
    conn.write(|conn| {
        let due: Vec<(StockRow, String)> = ms::table
            .inner_join(ml::table.on(ml::marketplace_id.eq(ms::marketplace_id).and(ml::sku_id.eq(ms::sku_id))))
            .filter(ms::status.eq("pending"))
            .filter(ms::next_attempt_at.le(now))
            .order(ms::next_attempt_at)
            .limit(CLAIM)
            .select((StockRow::as_select(), ml::listing_id))
            .load(conn)?;
        let mut grouped: HashMap<MarketplaceId, Vec<(SkuId, String, i32)>> = HashMap::new();
        for (row, listing) in due {
            let claimed = diesel::update(
                ms::table
                    .find((&row.marketplace_id, &row.sku_id))
                    .filter(ms::status.eq("pending"))
                    .filter(ms::next_attempt_at.le(now)),
            )
            .set(ms::next_attempt_at.eq(until))
            .execute(conn)?;
            if claimed == 1 {
                grouped.entry(row.marketplace_id).or_default().push((row.sku_id, listing, row.quantity));
            }
        }
        grouped.into_iter().map(|(id, rows)| Ok((get(conn, &id)?, rows))).collect()
    })
}

/// Writes what a push of `rows` came to.
fn record_push(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    rows: &[(SkuId, String, i32)],
    result: &Result<(), CallError>,
    config: &MarketplaceConfig,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbError> {
    conn.write(|conn| {
        let at = timestamp(now);
        for (sku, listing, sent) in rows {
            let target = ms::table.find((marketplace, sku));
            let (outcome, code, error) = match result {
                Ok(()) => {
                    diesel::update(target)
                        .set((
                            ms::pushed_quantity.eq(sent),
                            ms::attempts.eq(0),
                            ms::last_error.eq(None::<String>),
                            ms::next_attempt_at.eq(at),
                            ms::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    // Synced only if no newer quantity arrived meanwhile; else it goes out next pass.
                    diesel::update(target.filter(ms::quantity.eq(sent)).filter(ms::status.eq("pending")))
                        .set(ms::status.eq("synced"))
                        .execute(conn)?;
                    ("ok", None, None)
                }
                Err(e) => {
                    let row: StockRow = target.select(StockRow::as_select()).first(conn)?;
                    let attempts = row.attempts + 1;
                    let dead = !e.retryable || attempts >= config.max_attempts;
                    let next =
                        now + chrono::Duration::from_std(backoff(config, attempts, e.retry_after)).unwrap_or_default();
                    diesel::update(target)
                        .set((
                            ms::attempts.eq(attempts),
                            ms::status.eq(if dead { "dead" } else { "pending" }),
                            ms::next_attempt_at.eq(timestamp(next)),
                            ms::last_error.eq(&e.message),
                            ms::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    (if dead { "dead" } else { "retry" }, e.status.map(i32::from), Some(e.message.clone()))
                }
            };
            diesel::insert_into(log::table)
                .values((
                    log::marketplace_id.eq(marketplace),
                    log::listing_id.eq(listing),
                    log::quantity.eq(sent),
                    log::outcome.eq(outcome),
                    log::status_code.eq(code),
                    log::error.eq(error),
                    log::created_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Pushes every due listing once; returns how many listings were attempted.
/// No database connection is held while a marketplace is called.
pub async fn push_due(ctx: &Context) -> Result<usize, MarketplaceError> {
    let now = ctx.now();
    let (at, until) = (timestamp(now), timestamp(now + chrono::Duration::from_std(LEASE).unwrap_or_default()));
    let claimed = ctx.db.write(move |conn| claim_stock(conn, at, until)).await?;
    let config = ctx.config.marketplace.clone();
    let mut attempted = 0;
    for (marketplace, rows) in claimed {
        let connector = AnyConnector::of(&marketplace, config.request_timeout);
        let mut unsent: Vec<(SkuId, String, i32)> = Vec::new();
        for chunk in rows.chunks(connector.batch_size().max(1)) {
            if !take_call(&marketplace.id, marketplace.rate_limit_per_sec) {
                unsent.extend_from_slice(chunk);
                continue;
            }
            let updates: Vec<StockUpdate> =
                chunk.iter().map(|(_, l, q)| StockUpdate { listing_id: l.clone(), quantity: *q }).collect();
            let span =
                tracing::info_span!("marketplace_push", marketplace = %marketplace.name, listings = updates.len());
            let result = tracing::Instrument::instrument(connector.push(&ctx.http, &updates), span).await;
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
            ctx.db.write(move |conn| release_claims(conn, &id, &unsent, at)).await?;
        }
    }
    Ok(attempted)
}

fn release_claims(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    rows: &[(SkuId, String, i32)],
    at: NaiveDateTime,
) -> Result<(), DbError> {
    for (sku, _, _) in rows {
        diesel::update(ms::table.find((marketplace, sku))).set(ms::next_attempt_at.eq(at)).execute(conn)?;
    }
    Ok(())
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
    let row = (
        mo::id.eq(id),
        mo::marketplace_id.eq(marketplace),
        mo::order_id.eq(order),
        mo::kind.eq(match confirmation {
            Confirmation::Shipped { .. } => "shipped",
            Confirmation::Cancelled { .. } => "cancelled",
        }),
        mo::payload.eq(serde_json::to_string(confirmation).unwrap_or_default()),
        mo::status.eq("pending"),
        mo::attempts.eq(0),
        mo::next_attempt_at.eq(at),
        mo::created_at.eq(at),
        mo::updated_at.eq(at),
    );
    per_backend!(conn, |c| diesel::insert_into(mo::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(())
}

/// Reads order events since the last pass and queues confirmations for
/// marketplace orders we shipped or cancelled (not those the marketplace
/// cancelled itself).
pub fn ingest_order_events(conn: &mut AnyConnection, now: chrono::DateTime<Utc>) -> Result<usize, MarketplaceError> {
    conn.write(|conn| {
        let after = events::offset(conn, ORDER_CONSUMER)?;
        let filter = events::EventFilter {
            after,
            limit: 1000,
            topic: Some(order::ORDER_STATUS_CHANGED.to_owned()),
            ..Default::default()
        };
        let read = events::list(conn, &filter)?;
        let Some(last) = read.last().and_then(|e| e.seq) else { return Ok(0) };
        let at = timestamp(now);
        for event in &read {
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
            let fulfilment = payload["fulfilment"].as_str().unwrap_or_default();
            match (payload["to"].as_str(), payload["method"].as_str()) {
                (Some(to), Some(method))
                    if to == FulfilmentStatus::Shipped.as_str() && method == Method::Ship.as_str() =>
                {
                    let shipped = found.fulfilments.iter().find(|f| f.id.as_str() == fulfilment);
                    let fulfilment_id = crate::types::FulfilmentId(fulfilment.to_owned());
                    let skus: Vec<SkuId> = found.lines_of(&fulfilment_id).map(|l| l.sku_id.clone()).collect();
                    let sellers: HashMap<SkuId, String> = ml::table
                        .filter(ml::marketplace_id.eq(marketplace))
                        .filter(one_of(ml::sku_id, &skus))
                        .select((ml::sku_id, ml::seller_sku))
                        .load::<(SkuId, String)>(conn)?
                        .into_iter()
                        .collect();
                    let lines = found
                        .lines_of(&fulfilment_id)
                        .map(|l| {
                            (sellers.get(&l.sku_id).cloned().unwrap_or_else(|| l.sku_code.clone()), l.open_quantity())
                        })
                        .collect();
                    let confirmation = Confirmation::Shipped {
                        external_id: external_id.clone(),
                        tracking: shipped.and_then(|f| f.tracking.clone()),
                        lines,
                    };
                    enqueue(
                        conn,
                        format!("{order_id}:shipped:{fulfilment}"),
                        marketplace,
                        order_id,
                        &confirmation,
                        at,
                    )?;
                }
                // Only once the whole order is cancelled, and not when the marketplace did it.
                (Some(to), _)
                    if to == FulfilmentStatus::Cancelled.as_str()
                        && payload["channel"] != "marketplace"
                        && found.row.status == order::state::OrderStatus::Cancelled.as_str() =>
                {
                    let reason = found.row.status_reason.clone().unwrap_or_else(|| "cancelled by the retailer".into());
                    let confirmation = Confirmation::Cancelled { external_id: external_id.clone(), reason };
                    enqueue(conn, format!("{order_id}:cancelled"), marketplace, order_id, &confirmation, at)?;
                }
                _ => {}
            }
        }
        events::set_offset(conn, ORDER_CONSUMER, last)?;
        Ok(read.len())
    })
}

/// Sends every due confirmation once; returns how many were attempted.
pub async fn confirm_due(ctx: &Context) -> Result<usize, MarketplaceError> {
    let now = ctx.now();
    let (at, until) = (timestamp(now), timestamp(now + chrono::Duration::from_std(LEASE).unwrap_or_default()));
    let claimed: Vec<(Marketplace, OutboundRow)> = ctx
        .db
        .write(move |conn| {
            let due: Vec<OutboundRow> = mo::table
                .filter(mo::status.eq("pending"))
                .filter(mo::next_attempt_at.le(at))
                .order(mo::next_attempt_at)
                .limit(CLAIM)
                .select(OutboundRow::as_select())
                .load(conn)?;
            let mut claimed = Vec::new();
            for row in due {
                let taken = diesel::update(
                    mo::table.find(&row.id).filter(mo::status.eq("pending")).filter(mo::next_attempt_at.le(at)),
                )
                .set(mo::next_attempt_at.eq(until))
                .execute(conn)?;
                if taken == 1 {
                    claimed.push((get(conn, &row.marketplace_id)?, row));
                }
            }
            Ok::<_, MarketplaceError>(claimed)
        })
        .await?;
    let config = ctx.config.marketplace.clone();
    let attempted = claimed.len();
    for (marketplace, row) in claimed {
        let connector = AnyConnector::of(&marketplace, config.request_timeout);
        let result = match serde_json::from_str::<Confirmation>(&row.payload) {
            Ok(confirmation) => connector.confirm(&ctx.http, &confirmation).await,
            Err(e) => Err(CallError {
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
                let update = match &result {
                    Ok(()) => diesel::update(mo::table.find(&row.id))
                        .set((mo::status.eq("done"), mo::last_error.eq(None::<String>), mo::updated_at.eq(at)))
                        .execute(conn),
                    Err(e) => {
                        let attempts = row.attempts + 1;
                        let dead = !e.retryable || attempts >= config.max_attempts;
                        let next = now
                            + chrono::Duration::from_std(backoff(&config, attempts, e.retry_after)).unwrap_or_default();
                        diesel::update(mo::table.find(&row.id))
                            .set((
                                mo::attempts.eq(attempts),
                                mo::status.eq(if dead { "dead" } else { "pending" }),
                                mo::next_attempt_at.eq(timestamp(next)),
                                mo::last_error.eq(&e.message),
                                mo::updated_at.eq(at),
                            ))
                            .execute(conn)
                    }
                };
                update.map(|_| ()).map_err(DbError::from)
            })
            .await?;
    }
    Ok(attempted)
}

/// The sync page of one marketplace.
pub fn state(conn: &mut AnyConnection, marketplace: &MarketplaceId) -> Result<super::SyncState, DbError> {
    let count = |conn: &mut AnyConnection, status: &str| -> Result<i64, DbError> {
        Ok(ms::table
            .filter(ms::marketplace_id.eq(marketplace))
            .filter(ms::status.eq(status))
            .count()
            .get_result(conn)?)
    };
    Ok(super::SyncState {
        pending: count(conn, "pending")?,
        synced: count(conn, "synced")?,
        dead: ms::table
            .filter(ms::marketplace_id.eq(marketplace))
            .filter(ms::status.eq("dead"))
            .select(StockRow::as_select())
            .load(conn)?,
        outbound_pending: mo::table
            .filter(mo::marketplace_id.eq(marketplace))
            .filter(mo::status.eq("pending"))
            .count()
            .get_result(conn)?,
        outbound_dead: mo::table
            .filter(mo::marketplace_id.eq(marketplace))
            .filter(mo::status.eq("dead"))
            .select(OutboundRow::as_select())
            .load(conn)?,
        recent: log::table
            .filter(log::marketplace_id.eq(marketplace))
            .order(log::id.desc())
            .limit(50)
            .select(super::PushLogEntry::as_select())
            .load(conn)?,
    })
}

/// Requeues dead confirmations of a marketplace (with its full resync).
pub fn revive_outbound(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(mo::table.filter(mo::marketplace_id.eq(marketplace)).filter(mo::status.eq("dead")))
        .set((mo::status.eq("pending"), mo::attempts.eq(0), mo::next_attempt_at.eq(at)))
        .execute(conn)?)
}
