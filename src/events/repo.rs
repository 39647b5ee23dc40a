//! Queries of the outbox tables (`events`, `event_offsets`).

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

use super::model::{Event, EventFilter};
use crate::db::schema::{event_offsets, events};
use crate::db::{AnyConnection, DbError};
use crate::per_backend;
use crate::types::{LocationId, OrderId, SkuId};

/// Id of the advisory lock that serialises sequencers across instances.
const SEQUENCER_LOCK: i64 = 0x6f6d_6e69_0002;

// None is NULL, not DEFAULT: SQLite takes a multi-row insert only without
// DEFAULT (diesel otherwise inserts row by row in a savepoint).
#[derive(Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow<'a> {
    pub topic: &'a str,
    pub sku_id: Option<&'a SkuId>,
    pub location_id: Option<&'a LocationId>,
    pub order_id: Option<&'a OrderId>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

/// Appends events in one statement.
pub fn insert(conn: &mut AnyConnection, rows: &[EventRow<'_>]) -> Result<(), DbError> {
    let rows: Vec<&EventRow<'_>> = rows.iter().collect();
    crate::insert_rows!(conn, events::table, &rows)?;
    Ok(())
}

/// Takes the sequencer's lock for the rest of the transaction (PostgreSQL;
/// SQLite has one writer).
pub fn lock_sequencer(conn: &mut AnyConnection) -> Result<(), DbError> {
    if conn.is_postgres() {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK})")).execute(conn)?;
    }
    Ok(())
}

/// Ids of committed events without a `seq`, oldest first.
pub fn unsequenced(conn: &mut AnyConnection, limit: i64) -> Result<Vec<i64>, DbError> {
    Ok(events::table.filter(events::seq.is_null()).order(events::id).select(events::id).limit(limit).load(conn)?)
}

pub fn top_seq(conn: &mut AnyConnection) -> Result<Option<i64>, DbError> {
    Ok(events::table.select(max(events::seq)).get_result(conn)?)
}

/// Gives the unsequenced events with ids in `first..=last` `seq = id + offset`.
pub fn assign_seq(conn: &mut AnyConnection, first: i64, last: i64, offset: i64) -> Result<usize, DbError> {
    Ok(diesel::update(events::table.filter(events::seq.is_null()).filter(events::id.between(first, last)))
        .set(events::seq.eq((events::id + offset).nullable()))
        .execute(conn)?)
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

/// Where a consumer stopped, with its offset row locked until commit: a
/// second instance running the same consumer waits here instead of reading
/// the same events. The row is made on the consumer's first pass.
pub fn lock_offset(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    let row = (event_offsets::consumer.eq(consumer), event_offsets::seq.eq(0_i64));
    per_backend!(conn, |c| diesel::insert_into(event_offsets::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(diesel::update(event_offsets::table.find(consumer))
        .set(event_offsets::seq.eq(event_offsets::seq))
        .returning(event_offsets::seq)
        .get_result(conn)?)
}

pub fn set_offset(conn: &mut AnyConnection, consumer: &str, seq: i64) -> Result<(), DbError> {
    diesel::update(event_offsets::table.find(consumer)).set(event_offsets::seq.eq(seq)).execute(conn)?;
    Ok(())
}

/// Where a consumer stands; 0 before its first run.
pub fn offset(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    Ok(event_offsets::table.find(consumer).select(event_offsets::seq).get_result(conn).optional()?.unwrap_or(0))
}
