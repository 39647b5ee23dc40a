//! Queries of the reservation tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::NewHold;
use crate::db::kept::Kept;
use crate::db::schema::{reservation_lines as rl, reservations as r};
use crate::db::{AnyConnection, DbError, one_of};
use crate::inventory::model::{ReservationRow, ReservationStatus};
use crate::types::{LocationId, ReservationId, SkuId};

/// Reservations and their lines: one statement for the rows, one for the lines.
pub(super) fn insert_reservations(conn: &mut AnyConnection, held: &[NewHold<'_>]) -> Result<(), DbError> {
    if held.is_empty() {
        return Ok(());
    }
    let rows: Vec<&ReservationRow> = held.iter().map(|(row, _)| *row).collect();
    let values: Vec<_> = held
        .iter()
        .flat_map(|(row, lines)| {
            lines.iter().map(|(sku, q)| (rl::reservation_id.eq(&row.id), rl::sku_id.eq(sku), rl::quantity.eq(*q)))
        })
        .collect();
    crate::insert_rows!(conn, r::table, &rows)?;
    crate::insert_rows!(conn, rl::table, &values)?;
    Ok(())
}

pub fn find_reservation(conn: &mut AnyConnection, id: &ReservationId) -> Result<Option<ReservationRow>, DbError> {
    Ok(r::table.find(id).select(ReservationRow::as_select()).get_result(conn).optional()?)
}

/// A reservation's lines: (SKU, quantity), by SKU id.
pub fn reservation_lines(conn: &mut AnyConnection, id: &ReservationId) -> Result<Vec<(SkuId, i32)>, DbError> {
    Ok(rl::table.filter(rl::reservation_id.eq(id)).order(rl::sku_id).select((rl::sku_id, rl::quantity)).load(conn)?)
}

/// Which active reservations a status change may take, by when it expires.
#[derive(Clone, Copy)]
pub enum When {
    /// Release and commit: only before its expiry.
    Unexpired,
    /// Expiry: only after it.
    Due,
}

/// Moves an active reservation still at `version` to `to`; its new version,
/// or None when it was no longer active, in time or at that version.
pub fn end_reservation(
    conn: &mut AnyConnection,
    id: &ReservationId,
    version: i32,
    to: ReservationStatus,
    when: When,
    at: NaiveDateTime,
) -> Result<Option<i32>, DbError> {
    let target =
        r::table.find(id).filter(r::status.eq(ReservationStatus::Active.as_str())).filter(r::version.eq(version));
    let set = (r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1));
    // Kept: diesel prepares every UPDATE anew, and this one ends every
    // release, commit and expiry.
    Ok(match when {
        When::Unexpired => Kept(
            diesel::update(target.filter(r::expires_at.is_null().or(r::expires_at.gt(at))))
                .set(set)
                .returning(r::version),
        )
        .get_result(conn)
        .optional()?,
        When::Due => Kept(diesel::update(target.filter(r::expires_at.le(at))).set(set).returning(r::version))
            .get_result(conn)
            .optional()?,
    })
}

/// [`end_reservation`] (`When::Unexpired`) of several at once, each only if
/// still active and unexpired at `at`: the ids it moved, with their new
/// versions (which say whether a reservation was still at the version read).
pub fn end_reservations(
    conn: &mut AnyConnection,
    ids: &[&ReservationId],
    to: ReservationStatus,
    at: NaiveDateTime,
) -> Result<Vec<(ReservationId, i32)>, DbError> {
    // Kept, with the ids padded (`one_of`) so that its shapes stay few.
    // The status is compared as `status || ''`, which no index serves:
    // SQLite, without statistics, chose the expiry index's `status = ?` over
    // the key for 8 ids or more, and scanned every active reservation on
    // each batch of releases (a third of the server's CPU in the hot-sku
    // bench once a history had left 5,876 of them active).
    Ok(Kept(
        diesel::update(
            r::table
                .filter(one_of(r::id, ids))
                .filter(r::status.concat("").eq(ReservationStatus::Active.as_str()))
                .filter(r::expires_at.is_null().or(r::expires_at.gt(at))),
        )
        .set((r::status.eq(to.as_str()), r::updated_at.eq(at), r::version.eq(r::version + 1)))
        .returning((r::id, r::version)),
    )
    .load(conn)?)
}

/// Takes `quantity` units off one line of an active reservation and bumps
/// its version (so a concurrent release or commit that read the old lines
/// starts again); false when it is not active or does not hold that many.
pub fn take_from_line(
    conn: &mut AnyConnection,
    id: &ReservationId,
    sku: &SkuId,
    quantity: i32,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let bumped = diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .set((r::version.eq(r::version + 1), r::updated_at.eq(at)))
        .execute(conn)?;
    if bumped == 0 {
        return Ok(false);
    }
    Ok(diesel::update(rl::table.find((id, sku)))
        .filter(rl::quantity.ge(quantity))
        .set(rl::quantity.eq(rl::quantity - quantity))
        .execute(conn)?
        == 1)
}

/// Marks an active reservation that holds nothing any more as released.
pub fn release_if_empty(conn: &mut AnyConnection, id: &ReservationId, at: NaiveDateTime) -> Result<(), DbError> {
    let held = rl::table.filter(rl::reservation_id.eq(id)).filter(rl::quantity.gt(0)).select(rl::sku_id);
    diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(held)))
        .set((r::status.eq(ReservationStatus::Released.as_str()), r::version.eq(r::version + 1), r::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Moves the expiry of an active, unexpired reservation out to `until`;
/// false when it is not active, already expired, holds without an expiry,
/// or already lasts at least that long (an extension never shortens).
pub fn extend_reservation(
    conn: &mut AnyConnection,
    id: &ReservationId,
    until: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(r::table.find(id))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.gt(at))
        .filter(r::expires_at.lt(until))
        .set((r::expires_at.eq(until), r::updated_at.eq(at), r::version.eq(r::version + 1)))
        .execute(conn)?
        == 1)
}

/// Active reservations whose time is up, oldest first.
pub fn due_reservations(
    conn: &mut AnyConnection,
    at: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ReservationId>, DbError> {
    Ok(r::table
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(r::expires_at.le(at))
        .order(r::expires_at)
        .limit(limit)
        .select(r::id)
        .load(conn)?)
}

/// Active holds on one level, with their quantity of the SKU, oldest first.
pub fn active_on(
    conn: &mut AnyConnection,
    sku: &SkuId,
    location: &LocationId,
) -> Result<Vec<(ReservationRow, i32)>, DbError> {
    Ok(r::table
        .inner_join(rl::table)
        .filter(rl::sku_id.eq(sku))
        .filter(r::location_id.eq(location))
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .filter(rl::quantity.gt(0))
        .order(r::created_at)
        .select((ReservationRow::as_select(), rl::quantity))
        .load(conn)?)
}

/// Units held by active reservations, per level: what `reserved` must equal.
pub fn held_per_level(conn: &mut AnyConnection) -> Result<Vec<(SkuId, LocationId, i64)>, DbError> {
    Ok(r::table
        .inner_join(rl::table)
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .group_by((rl::sku_id, r::location_id))
        .select((rl::sku_id, r::location_id, diesel::dsl::sum(rl::quantity)))
        .load::<(SkuId, LocationId, Option<i64>)>(conn)?
        .into_iter()
        .map(|(s, l, q)| (s, l, q.unwrap_or(0)))
        .collect())
}

/// Active holds by purpose, for the metrics (the `reservations_expiry` index
/// starts with the status).
pub fn active_by_purpose(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, DbError> {
    Ok(r::table
        .filter(r::status.eq(ReservationStatus::Active.as_str()))
        .group_by(r::purpose)
        .select((r::purpose, diesel::dsl::count_star()))
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::QueryableByName;
    use diesel::connection::{Connection, InstrumentationEvent};
    use diesel::r2d2::ManageConnection;
    use diesel::sql_types::Text;

    use super::*;
    use crate::db::conn::{ConnectionManager, ScratchSqlite};
    use crate::db::{Durability, migrate};

    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// SQLite's plan of [`end_reservations`] on a database without
    /// statistics (one that never ran ANALYZE, as most never do): a batch of
    /// releases must find its reservations by key. Planned through the
    /// expiry index's `status`, it read every active reservation instead.
    #[test]
    fn a_batch_of_releases_finds_its_reservations_by_key() {
        let file = ScratchSqlite::new("plan");
        let mut conn = ConnectionManager::new(file.url(), Durability::Normal, Default::default()).connect().unwrap();
        migrate::run_pending(&mut conn).unwrap();
        let statements = Arc::new(Mutex::new(Vec::new()));
        let seen = statements.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                seen.lock().unwrap().push(query.to_string());
            }
        });
        // Eight ids or more: the batch size from which SQLite chose the index.
        for count in [1, 8, 20] {
            let ids: Vec<ReservationId> = (0..count).map(|_| ReservationId::generate()).collect();
            let refs: Vec<&ReservationId> = ids.iter().collect();
            let at = chrono::Utc::now().naive_utc();
            assert!(end_reservations(&mut conn, &refs, ReservationStatus::Released, at).unwrap().is_empty());
            let statement = statements.lock().unwrap().pop().unwrap();
            let sql = statement.split(" -- binds").next().unwrap();
            let plan: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(&mut conn).unwrap();
            let plan: Vec<String> = plan.into_iter().map(|s| s.detail).collect();
            assert!(plan.iter().any(|s| s.contains("sqlite_autoindex_reservations_1")), "{count} ids: {plan:?}");
            assert!(!plan.iter().any(|s| s.contains("reservations_expiry")), "{count} ids: {plan:?}");
        }
    }
}
