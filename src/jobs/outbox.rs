//! Puts committed outbox events in commit order (see `crate::events`).

use super::JobError;
use crate::context::Context;
use crate::events;

pub async fn sequence(ctx: &Context) -> Result<usize, JobError> {
    let mut total = 0;
    if !ctx.db.read(events::unsequenced_waiting).await? {
        return Ok(0);
    }
    loop {
        let sequenced = ctx.db.write(events::sequence_pending).await?;
        if sequenced == 0 {
            return Ok(total);
        }
        total += sequenced;
    }
}
