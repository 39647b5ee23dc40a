//! What the store's handover needs of the order tables: the pickups of a
//! store, the lines to pick, pickup codes and their wrong attempts, curbside
//! arrivals and collection deadlines. The flow itself (which code, which
//! transition) is `fulfilment::pickup`'s.

use chrono::{DateTime, Utc};

use super::model::{Fulfilment, Order};
use super::repo::{self, PickRow};
use super::state::FulfilmentStatus;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{FulfilmentId, LocationId};

/// The pickups collected at `store` in these statuses, each with its order.
pub fn pickups_at(
    conn: &mut AnyConnection,
    store: &LocationId,
    statuses: &[FulfilmentStatus],
) -> Result<Vec<(Order, Fulfilment)>, DbError> {
    let wanted: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let pickups = repo::pickups_at(conn, store, &wanted)?;
    let ids: Vec<_> = pickups.iter().map(|f| f.order_id.clone()).collect();
    let orders = repo::load_many(conn, &ids)?;
    Ok(pickups
        .into_iter()
        .filter_map(|f| orders.iter().find(|o| o.row.id == f.order_id).map(|o| (o.clone(), f)))
        .collect())
}

/// The lines whose stock is picked at `location`: of fulfilments allocated
/// there or being picked.
pub fn lines_to_pick(conn: &mut AnyConnection, location: &LocationId) -> Result<Vec<PickRow>, DbError> {
    let statuses = [FulfilmentStatus::Allocated.as_str(), FulfilmentStatus::Picking.as_str()];
    repo::pick_rows(conn, location, &statuses)
}

/// Stores a new pickup code: its hash to check, the sealed code to show the
/// customer; with a deadline, when it must be collected by.
pub fn set_code(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    hash: &str,
    sealed: &str,
    deadline: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    repo::set_pickup_code(conn, id, hash, sealed, deadline.map(timestamp))
}

/// Counts a wrong code in one statement; the wrong attempts so far.
pub fn count_wrong_code(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<i32, DbError> {
    repo::count_wrong_code(conn, id)
}

/// The code was used: only its hash remains.
pub fn clear_code(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<(), DbError> {
    repo::clear_pickup_code(conn, id)
}

pub fn record_arrival(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    now: DateTime<Utc>,
    note: Option<&str>,
) -> Result<(), DbError> {
    repo::record_arrival(conn, id, timestamp(now), note)
}

/// Ready pickups past their deadline at `now`, oldest first.
pub fn overdue(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<Fulfilment>, DbError> {
    repo::ready_due_by(conn, timestamp(now), limit)
}

/// Ready pickups due by `soon` whose customer was not yet warned.
pub fn unwarned_due_by(conn: &mut AnyConnection, soon: DateTime<Utc>) -> Result<Vec<Fulfilment>, DbError> {
    repo::unwarned_due_by(conn, timestamp(soon))
}

/// Marks the warning sent; false when another pass sent it first.
pub fn mark_warned(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<bool, DbError> {
    repo::mark_warned(conn, id)
}
