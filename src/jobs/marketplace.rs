//! Keeps marketplaces true to stock and tells them what we did with their
//! orders: reads the outbox, then sends what is due.

use super::JobError;
use crate::context::Context;
use crate::marketplace::{self, sync};

/// (stock pushes attempted, confirmations attempted)
pub async fn run(ctx: &Context) -> Result<(usize, usize), JobError> {
    let now = ctx.now();
    ctx.db.write(move |conn| marketplace::stock::ingest_stock_events(conn, now)).await?;
    ctx.db.write(move |conn| sync::ingest_order_events(conn, now)).await?;
    let pushed = sync::push_due(ctx).await?;
    let confirmed = sync::confirm_due(ctx).await?;
    Ok((pushed, confirmed))
}
