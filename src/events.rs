//! The outbox: events written in the same transaction as the change they
//! describe, then put in commit order by a sequencer.
//!
//! Why two numbers: `id` comes from the database at insert time, before
//! commit, so a transaction holding id 5 can commit after one holding id 6. A
//! consumer that read 6 and resumes "after 6" would never see 5. The
//! sequencer gives committed events a `seq`, one batch at a time under a
//! lock, always above every `seq` given before; consumers resume from `seq`
//! and de-duplicate by `id`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;

use crate::db::schema::{event_offsets, events};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{LocationId, OrderId, SkuId};

/// Id of the advisory lock that serialises sequencers across instances.
const SEQUENCER_LOCK: i64 = 0x6f6d_6e69_0002;
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

#[derive(Insertable)]
#[diesel(table_name = events)]
struct EventRow<'a> {
    topic: &'a str,
    sku_id: Option<&'a SkuId>,
    location_id: Option<&'a LocationId>,
    order_id: Option<&'a OrderId>,
    payload: String,
    created_at: NaiveDateTime,
}

/// Appends an event inside the caller's transaction.
pub fn append(conn: &mut AnyConnection, event: NewEvent<'_>, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::insert_into(events::table)
        .values(EventRow {
            topic: event.topic,
            sku_id: event.sku_id,
            location_id: event.location_id,
            order_id: event.order_id,
            payload: event.payload.to_string(),
            created_at: timestamp(now),
        })
        .execute(conn)?;
    Ok(())
}

/// Gives committed, unsequenced events their `seq`; returns how many. Runs in
/// its own write transaction.
pub fn sequence_pending(conn: &mut AnyConnection) -> Result<usize, DbError> {
    conn.write(|conn| {
        if conn.is_postgres() {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK})")).execute(conn)?;
        }
        let pending: Vec<i64> =
            events::table.filter(events::seq.is_null()).order(events::id).select(events::id).limit(BATCH).load(conn)?;
        let (Some(&first), Some(&last)) = (pending.first(), pending.last()) else { return Ok(0) };
        let top: Option<i64> = events::table.select(max(events::seq)).first(conn)?;
        // seq = id + offset keeps the batch in id order and puts it above every
        // earlier seq; only ids within [first, last] qualify, so an event that
        // committed late with a smaller id waits for the next batch instead of
        // landing below what consumers have already read.
        let offset = top.unwrap_or(0) + 1 - first;
        Ok(diesel::update(events::table.filter(events::seq.is_null()).filter(events::id.between(first, last)))
            .set(events::seq.eq((events::id + offset).nullable()))
            .execute(conn)?)
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: i64,
    pub seq: Option<i64>,
    pub topic: String,
    pub sku_id: Option<SkuId>,
    pub location_id: Option<LocationId>,
    pub order_id: Option<OrderId>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// What a reader asks for.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub after: i64,
    pub limit: i64,
    /// A topic (`stock.changed`) or a family of topics (`stock`).
    pub topic: Option<String>,
    pub location_id: Option<LocationId>,
    pub order_id: Option<OrderId>,
}

/// Sequenced events after `filter.after`, in `seq` order.
pub fn list(conn: &mut AnyConnection, filter: &EventFilter) -> Result<Vec<Event>, DbError> {
    let mut query = events::table
        .filter(events::seq.gt(filter.after))
        .order(events::seq)
        .limit(filter.limit)
        .select(Event::as_select())
        .into_boxed();
    match &filter.topic {
        Some(topic) if topic.contains('.') => query = query.filter(events::topic.eq(topic.clone())),
        Some(family) => {
            let family: String = family.chars().filter(char::is_ascii_alphanumeric).collect();
            query = query.filter(events::topic.like(format!("{family}.%")));
        }
        None => {}
    }
    if let Some(location) = &filter.location_id {
        query = query.filter(events::location_id.eq(location.clone()));
    }
    if let Some(order) = &filter.order_id {
        query = query.filter(events::order_id.eq(order.clone()));
    }
    Ok(query.load(conn)?)
}

/// Where a named in-process consumer stopped reading.
pub fn offset(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    Ok(event_offsets::table.find(consumer).select(event_offsets::seq).first(conn).optional()?.unwrap_or(0))
}

pub fn set_offset(conn: &mut AnyConnection, consumer: &str, seq: i64) -> Result<(), DbError> {
    let changed = diesel::update(event_offsets::table.find(consumer)).set(event_offsets::seq.eq(seq)).execute(conn)?;
    if changed == 0 {
        diesel::insert_into(event_offsets::table)
            .values((event_offsets::consumer.eq(consumer), event_offsets::seq.eq(seq)))
            .execute(conn)?;
    }
    Ok(())
}
