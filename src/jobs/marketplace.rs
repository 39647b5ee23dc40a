//! Keeps marketplaces true to stock and tells them what we did with their
//! orders: reads the outbox, then sends what is due.

use super::JobError;
use crate::context::Context;
use crate::marketplace::{self, sync};

/// (stock pushes attempted, confirmations attempted)
pub async fn run(ctx: &Context) -> Result<(usize, usize), JobError> {
    let now = ctx.now();
    let waiting = ctx.db.read(move |conn| sync::waiting(conn, now)).await?;
    let mut stock_ingested = 0;
    if waiting.stock_events {
        stock_ingested = ctx.db.write(move |conn| marketplace::stock::ingest_stock_events(conn, now)).await?;
    }
    let mut orders_ingested = 0;
    if waiting.order_events {
        orders_ingested = ctx.db.write(move |conn| sync::ingest_order_events(conn, now)).await?;
    }
    // What was just ingested is due now, though the reads above did not see it.
    let pushed = if waiting.pushes || stock_ingested > 0 { sync::push_due(ctx).await? } else { 0 };
    let confirmed = if waiting.confirmations || orders_ingested > 0 { sync::confirm_due(ctx).await? } else { 0 };
    Ok((pushed, confirmed))
}
