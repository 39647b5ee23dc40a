//! The outbox: events written in the same transaction as the change they
//! describe, then put in commit order by a sequencer.
//!
//! Why two numbers: `id` comes from the database at insert time, before
//! commit, so a transaction holding id 5 can commit after one holding id 6. A
//! consumer that read 6 and resumes "after 6" would never see 5. The
//! sequencer gives committed events a `seq`, one batch at a time under a
//! lock, always above every `seq` given before; consumers resume from `seq`
//! and de-duplicate by `id`.

mod model;
mod repo;

use chrono::{DateTime, Utc};

pub use model::{Event, EventFilter};

use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{LocationId, OrderId, SkuId};

/// Events sequenced per pass.
const BATCH: i64 = 5000;

/// An event to append.
pub struct NewEvent<'a> {
    pub topic: &'static str,
    pub sku_id: Option<&'a SkuId>,
    pub location_id: Option<&'a LocationId>,
    pub order_id: Option<&'a OrderId>,
    pub payload: serde_json::Value,
}

/// Appends an event inside the caller's transaction.
pub fn append(conn: &mut AnyConnection, event: NewEvent<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    append_all(conn, vec![event], now)
}

/// Appends events inside the caller's transaction, in one statement.
pub fn append_all(conn: &mut AnyConnection, events: Vec<NewEvent<'_>>, now: DateTime<Utc>) -> Result<(), DbError> {
    let rows: Vec<repo::EventRow<'_>> = events
        .into_iter()
        .map(|event| repo::EventRow {
            topic: event.topic,
            sku_id: event.sku_id,
            location_id: event.location_id,
            order_id: event.order_id,
            payload: event.payload.to_string(),
            created_at: timestamp(now),
        })
        .collect();
    repo::insert(conn, &rows)
}

/// Gives committed, unsequenced events their `seq`; returns how many. Runs in
/// its own write transaction.
pub fn sequence_pending(conn: &mut AnyConnection) -> Result<usize, DbError> {
    conn.write(|conn| {
        repo::lock_sequencer(conn)?;
        let pending = repo::unsequenced(conn, BATCH)?;
        let (Some(&first), Some(&last)) = (pending.first(), pending.last()) else { return Ok(0) };
        let top = repo::top_seq(conn)?;
        // seq = id + offset keeps the batch in id order and puts it above every
        // earlier seq; only ids within [first, last] qualify, so an event that
        // committed late with a smaller id waits for the next batch instead of
        // landing below what consumers have already read.
        let offset = top.unwrap_or(0) + 1 - first;
        repo::assign_seq(conn, first, last, offset)
    })
}

/// Whether committed events wait for a `seq`: a read, so that an idle tick
/// of the sequencer never queues a write.
pub fn unsequenced_waiting(conn: &mut AnyConnection) -> Result<bool, DbError> {
    Ok(!repo::unsequenced(conn, 1)?.is_empty())
}

/// Whether `consumer` has events of `topic` to handle: a read, so that an
/// idle consumer takes no lock and writes nothing.
pub fn waiting(conn: &mut AnyConnection, consumer: &str, topic: &str) -> Result<bool, DbError> {
    let after = repo::offset(conn, consumer)?;
    let filter = EventFilter { after, limit: 1, topic: Some(topic.to_owned()), ..Default::default() };
    Ok(!repo::list(conn, &filter)?.is_empty())
}

/// Sequenced events after `filter.after`, in `seq` order.
pub fn list(conn: &mut AnyConnection, filter: &EventFilter) -> Result<Vec<Event>, DbError> {
    repo::list(conn, filter)
}

/// Hands a named in-process consumer the events of `topic` it has not seen
/// (at most `limit`) and moves its offset past them, in one transaction with
/// whatever `handle` writes: nothing is lost or handled twice. The consumer's
/// offset row stays locked meanwhile, so instances take turns. Returns how
/// many events were handled.
pub fn consume<E>(
    conn: &mut AnyConnection,
    consumer: &str,
    topic: &str,
    limit: i64,
    handle: impl FnOnce(&mut AnyConnection, &[Event]) -> Result<(), E>,
) -> Result<usize, E>
where
    E: From<DbError> + From<diesel::result::Error>,
{
    conn.write(|conn| {
        let after = repo::lock_offset(conn, consumer)?;
        let filter = EventFilter { after, limit, topic: Some(topic.to_owned()), ..Default::default() };
        let read = repo::list(conn, &filter)?;
        let Some(last) = read.last().and_then(|e| e.seq) else { return Ok(0) };
        handle(conn, &read)?;
        repo::set_offset(conn, consumer, last)?;
        Ok(read.len())
    })
}
