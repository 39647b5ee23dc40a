//! Releases reservations whose time is up, one transaction each so that a
//! long backlog never holds the write lock for long.

use super::JobError;
use crate::access::Principal;
use crate::context::Context;
use crate::inventory::reservation;

const BATCH: i64 = 200;

pub async fn run(ctx: &Context) -> Result<usize, JobError> {
    let mut expired = 0;
    loop {
        let now = ctx.now();
        let due = ctx.db.read(move |conn| reservation::due(conn, now, BATCH)).await?;
        if due.is_empty() {
            return Ok(expired);
        }
        for id in due {
            let shown = id.to_string();
            let done = ctx.db.write(move |conn| reservation::expire(conn, &id, &Principal::system(), now)).await?;
            if done {
                tracing::info!(reservation = %shown, "reservation expired; stock released");
                expired += 1;
            }
        }
    }
}
