//! Expires pickups nobody collected by their deadline (stock back on the
//! shelf) and warns customers a day before.

use super::JobError;
use crate::access::Principal;
use crate::context::Context;
use crate::fulfilment::pickup;
use crate::order::Act;

const BATCH: i64 = 100;

pub async fn run(ctx: &Context) -> Result<(usize, usize), JobError> {
    let now = ctx.now();
    let warned = if ctx.db.read(move |conn| pickup::expiring_unwarned(conn, now)).await? {
        ctx.db.write(move |conn| pickup::warn_expiring(conn, now)).await?
    } else {
        0
    };
    let mut expired = 0;
    loop {
        let due = ctx.db.read(move |conn| pickup::overdue(conn, now, BATCH)).await?;
        if due.is_empty() {
            return Ok((expired, warned));
        }
        for fulfilment in due {
            let config = ctx.config.clone();
            let shown = fulfilment.id.to_string();
            ctx.db
                .write(move |conn| {
                    let system = Principal::system();
                    pickup::expire(conn, &fulfilment, &Act { actor: &system, config: &config, now })
                })
                .await?;
            tracing::info!(fulfilment = %shown, "pickup expired; stock released");
            expired += 1;
        }
    }
}
