//! Queries of the order tables.

pub mod analytics;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;

use super::model::{Amounts, AuditEntry, Fulfilment, Order, OrderLine, OrderRow, RefundRow, ReturnLine, ReturnRow};
use crate::db::kept::{self, Kept};
use crate::db::schema::{
    delivery_slots as ds, fulfilments, order_audit, order_lines, order_refunds, orders, return_lines, returns,
};
use crate::db::together::Together;
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::per_backend;
use crate::types::{
    CustomerId, FulfilmentId, LocationId, MarketplaceId, OrderId, OrderLineId, Page, PageRequest, ReservationId, SkuId,
};

/// Letters and digits that cannot be misread for each other when spoken or typed.
const NUMBER_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A short human order number like `OS-7K3M9QXD` (40 bits of randomness).
pub fn new_number() -> String {
    format!("OS-{}", crate::secret::random_text(NUMBER_ALPHABET, 8))
}

/// Inserts the order, drawing another number on the rare collision.
pub fn insert_order(conn: &mut AnyConnection, row: &mut OrderRow) -> Result<(), DbError> {
    for _ in 0..5 {
        // DO NOTHING rather than a savepoint to catch the violation: one
        // statement instead of three. The id is fresh, so only the number can clash.
        let values = &*row;
        let inserted = crate::per_backend!(conn, |c| diesel::insert_into(orders::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
        if inserted == 1 {
            return Ok(());
        }
        row.number = new_number();
    }
    Err(DbError::Unique("orders.number".into()))
}

/// Orders by id, each with its fulfilments, lines and refunds, in four statements.
pub fn load_many(conn: &mut AnyConnection, ids: &[OrderId]) -> Result<Vec<Order>, DbError> {
    let rows = orders::table.filter(one_of(orders::id, ids)).select(OrderRow::as_select()).load(conn)?;
    complete_all(conn, rows)
}

/// Rows grouped by the order they belong to, in the order read.
fn by_order<T>(rows: Vec<T>, order_of: fn(&T) -> &OrderId) -> HashMap<OrderId, Vec<T>> {
    let mut grouped: HashMap<OrderId, Vec<T>> = HashMap::new();
    for row in rows {
        grouped.entry(order_of(&row).clone()).or_default().push(row);
    }
    grouped
}

/// Fills in the fulfilments, lines and refunds of several orders at once.
fn complete_all(conn: &mut AnyConnection, rows: Vec<OrderRow>) -> Result<Vec<Order>, DbError> {
    let ids: Vec<OrderId> = rows.iter().map(|r| r.id.clone()).collect();
    let fulfilments = fulfilments::table
        .filter(one_of(fulfilments::order_id, &ids))
        .order(fulfilments::id)
        .select(Fulfilment::as_select())
        .load(conn)?;
    let mut fulfilments = by_order(fulfilments, |f| &f.order_id);
    let lines = order_lines::table
        .filter(one_of(order_lines::order_id, &ids))
        .order(order_lines::id)
        .select(OrderLine::as_select())
        .load(conn)?;
    let mut lines = by_order(lines, |l| &l.order_id);
    let refunds = order_refunds::table
        .filter(one_of(order_refunds::order_id, &ids))
        .order(order_refunds::id)
        .select(RefundRow::as_select())
        .load(conn)?;
    let mut refunds = by_order(refunds, |r| &r.order_id);
    Ok(rows
        .into_iter()
        .map(|row| Order {
            fulfilments: fulfilments.remove(&row.id).unwrap_or_default(),
            lines: lines.remove(&row.id).unwrap_or_default(),
            refunds: refunds.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

pub fn load(conn: &mut AnyConnection, id: &OrderId) -> Result<Option<Order>, DbError> {
    let Some(row) = orders::table.find(id).select(OrderRow::as_select()).get_result(conn).optional()? else {
        return Ok(None);
    };
    Ok(Some(complete(conn, row)?))
}

fn complete(conn: &mut AnyConnection, row: OrderRow) -> Result<Order, DbError> {
    complete_all(conn, vec![row])?.pop().ok_or_else(|| DbError::Corrupt("an order read back".into()))
}

/// Finds an order by id or by number.
pub fn find(conn: &mut AnyConnection, id_or_number: &str) -> Result<Option<Order>, DbError> {
    let row = orders::table
        .filter(orders::id.eq(id_or_number).or(orders::number.eq(id_or_number)))
        .select(OrderRow::as_select())
        .get_result(conn)
        .optional()?;
    row.map(|r| complete(conn, r)).transpose()
}

pub fn by_marketplace(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    external_id: &str,
) -> Result<Option<Order>, DbError> {
    let row = orders::table
        .filter(orders::marketplace_id.eq(marketplace))
        .filter(orders::external_id.eq(external_id))
        .select(OrderRow::as_select())
        .get_result(conn)
        .optional()?;
    row.map(|r| complete(conn, r)).transpose()
}

pub fn fulfilment(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<Option<Fulfilment>, DbError> {
    Ok(fulfilments::table.find(id).select(Fulfilment::as_select()).get_result(conn).optional()?)
}

/// Moves a fulfilment from `from` to `to`; false if it was no longer at `from`.
pub fn set_status(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    from: &str,
    to: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(diesel::update(fulfilments::table.find(id).filter(fulfilments::status.eq(from)))
        .set((
            fulfilments::status.eq(to),
            fulfilments::status_reason.eq(reason),
            fulfilments::version.eq(fulfilments::version + 1),
            fulfilments::updated_at.eq(timestamp(now)),
        ))
        .execute(conn)?
        == 1)
}

pub fn insert_fulfilment(conn: &mut AnyConnection, fulfilment: &Fulfilment) -> Result<(), DbError> {
    crate::insert_rows!(conn, fulfilments::table, &[fulfilment])?;
    Ok(())
}

/// A fulfilment just placed: its row, its lines and the audit entry of its
/// placing, in one statement on PostgreSQL ([`Together`]; the lines and
/// the entry reference the fulfilment written beside them). Statements of
/// up to [`kept::MOST_ROWS`] lines are kept prepared.
pub fn insert_placed(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    lines: &[OrderLine],
    entry: Audit<'_>,
    actor: (&str, &str),
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let audit = AuditRow::new(&entry, actor.0, actor.1, now);
    let AnyConnection::Postgres(pg) = conn else {
        insert_fulfilment(conn, fulfilment)?;
        insert_lines(conn, lines)?;
        crate::insert_rows!(conn, order_audit::table, &[&audit])?;
        return Ok(());
    };
    let mut statements: Vec<Box<dyn QueryFragment<Pg>>> =
        vec![Box::new(diesel::insert_into(fulfilments::table).values(fulfilment))];
    if !lines.is_empty() {
        statements.push(Box::new(diesel::insert_into(order_lines::table).values(lines)));
    }
    statements.push(Box::new(diesel::insert_into(order_audit::table).values(&audit)));
    let _ran: i32 = match lines.len() <= kept::MOST_ROWS {
        true => Kept(Together(statements)).get_result(pg)?,
        false => Together(statements).get_result(pg)?,
    };
    Ok(())
}

pub fn insert_line(conn: &mut AnyConnection, line: &OrderLine) -> Result<(), DbError> {
    crate::insert_rows!(conn, order_lines::table, &[line])?;
    Ok(())
}

/// A fulfilment's lines in one statement.
pub fn insert_lines(conn: &mut AnyConnection, lines: &[OrderLine]) -> Result<(), DbError> {
    let lines: Vec<&OrderLine> = lines.iter().collect();
    crate::insert_rows!(conn, order_lines::table, &lines)?;
    Ok(())
}

/// Stores a line's new quantity, picked units and amounts (after part of it moved to another fulfilment).
pub fn resize_line(conn: &mut AnyConnection, line: &OrderLine) -> Result<(), DbError> {
    use order_lines as ol;
    diesel::update(ol::table.find(&line.id))
        .set((
            ol::quantity.eq(line.quantity),
            ol::picked_quantity.eq(line.picked_quantity),
            ol::discount_minor.eq(line.discount_minor),
            ol::tax_minor.eq(line.tax_minor),
            ol::total_minor.eq(line.total_minor),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sends a fulfilment to a location, with the reservation that holds its stock there.
pub fn assign(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    location: &LocationId,
    reservation: &ReservationId,
) -> Result<(), DbError> {
    diesel::update(fulfilments::table.find(id))
        .set((fulfilments::location_id.eq(location), fulfilments::reservation_id.eq(reservation)))
        .execute(conn)?;
    Ok(())
}

/// Says why a fulfilment is where it is, without moving it.
pub fn set_status_reason(conn: &mut AnyConnection, id: &FulfilmentId, reason: &str) -> Result<(), DbError> {
    diesel::update(fulfilments::table.find(id)).set(fulfilments::status_reason.eq(reason)).execute(conn)?;
    Ok(())
}

pub fn set_tracking(conn: &mut AnyConnection, id: &FulfilmentId, tracking: &str) -> Result<(), DbError> {
    diesel::update(fulfilments::table.find(id)).set(fulfilments::tracking.eq(tracking)).execute(conn)?;
    Ok(())
}

/// What became of a line's units: picked (set), or cancelled, short or
/// returned (added to).
#[derive(Debug, Clone, Copy)]
pub enum LineUnits {
    Picked(i32),
    Cancelled(i32),
    Short(i32),
    Returned(i32),
}

/// A line's units right after a count.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub quantity: i32,
    /// Units still due to the customer.
    pub open: i32,
}

impl Counted {
    /// Units taken off (short, cancelled or returned) before the last `units`.
    pub fn gone_before(&self, units: i32) -> i32 {
        self.quantity - self.open - units
    }
}

/// Records units of a line in one guarded statement: only while the line
/// still has that many open units (quantity less short, cancelled and
/// returned), so concurrent cancellations or returns can never take more
/// than the line holds. The line's units as counted, or None when the units
/// were not open (the CHECK constraint backs this, but never has to answer).
pub fn count_units(conn: &mut AnyConnection, line: &OrderLineId, units: LineUnits) -> Result<Option<Counted>, DbError> {
    use order_lines as ol;
    let open = ol::quantity - ol::short_quantity - ol::cancelled_quantity - ol::returned_quantity;
    let guarded = |n: i32| ol::table.find(line).filter(open.ge(n));
    let after = (ol::quantity, ol::short_quantity, ol::cancelled_quantity, ol::returned_quantity);
    let counted: Result<(i32, i32, i32, i32), _> = match units {
        LineUnits::Picked(n) => {
            diesel::update(guarded(n)).set(ol::picked_quantity.eq(n)).returning(after).get_result(conn)
        }
        LineUnits::Cancelled(n) => diesel::update(guarded(n))
            .set(ol::cancelled_quantity.eq(ol::cancelled_quantity + n))
            .returning(after)
            .get_result(conn),
        LineUnits::Short(n) => diesel::update(guarded(n))
            .set(ol::short_quantity.eq(ol::short_quantity + n))
            .returning(after)
            .get_result(conn),
        LineUnits::Returned(n) => diesel::update(guarded(n))
            .set(ol::returned_quantity.eq(ol::returned_quantity + n))
            .returning(after)
            .get_result(conn),
    };
    Ok(counted.optional()?.map(|(quantity, short, cancelled, returned)| Counted {
        quantity,
        open: quantity - short - cancelled - returned,
    }))
}

/// Records a refund due and takes its money off the order's totals, as
/// deltas in one statement (never a read-then-write of the totals).
pub fn insert_refund(
    conn: &mut AnyConnection,
    refund: &RefundRow,
    amounts: Amounts,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(order_refunds::table).values(refund).execute(conn)?;
    diesel::update(orders::table.find(&refund.order_id))
        .set((
            orders::subtotal_minor.eq(orders::subtotal_minor - amounts.gross),
            orders::discount_minor.eq(orders::discount_minor - amounts.discount),
            orders::tax_minor.eq(orders::tax_minor - amounts.tax),
            orders::total_minor.eq(orders::total_minor - amounts.total),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(timestamp(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn insert_return(conn: &mut AnyConnection, row: &ReturnRow, lines: &[ReturnLine]) -> Result<(), DbError> {
    diesel::insert_into(returns::table).values(row).execute(conn)?;
    for line in lines {
        diesel::insert_into(return_lines::table).values(line).execute(conn)?;
    }
    Ok(())
}

pub fn set_order_status(
    conn: &mut AnyConnection,
    id: &OrderId,
    status: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(orders::table.find(id))
        .set((
            orders::status.eq(status),
            orders::status_reason.eq(reason),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(timestamp(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One audit row.
pub struct Audit<'a> {
    pub order: &'a OrderId,
    pub fulfilment: Option<&'a FulfilmentId>,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// An audit row as stored: the entry, by whom, through which channel, when.
/// None is NULL, not DEFAULT, so its insert is one SQL text, kept prepared.
#[derive(Insertable)]
#[diesel(table_name = order_audit, treat_none_as_default_value = false)]
struct AuditRow<'a> {
    order_id: &'a OrderId,
    fulfilment_id: Option<&'a FulfilmentId>,
    action: &'a str,
    from_status: Option<&'a str>,
    to_status: Option<&'a str>,
    reason: Option<&'a str>,
    actor: &'a str,
    channel: &'a str,
    created_at: NaiveDateTime,
}

impl<'a> AuditRow<'a> {
    fn new(entry: &Audit<'a>, actor: &'a str, channel: &'a str, now: DateTime<Utc>) -> Self {
        AuditRow {
            order_id: entry.order,
            fulfilment_id: entry.fulfilment,
            action: entry.action,
            from_status: entry.from,
            to_status: entry.to,
            reason: entry.reason,
            actor,
            channel,
            created_at: timestamp(now),
        }
    }
}

pub fn audit(
    conn: &mut AnyConnection,
    entry: Audit<'_>,
    actor: &str,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    crate::insert_rows!(conn, order_audit::table, &[&AuditRow::new(&entry, actor, channel, now)])?;
    Ok(())
}

pub fn audit_trail(conn: &mut AnyConnection, order: &OrderId) -> Result<Vec<AuditEntry>, DbError> {
    Ok(order_audit::table
        .filter(order_audit::order_id.eq(order))
        .order(order_audit::id)
        .select(AuditEntry::as_select())
        .load(conn)?)
}

/// What a list of orders is filtered by.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub customer_id: Option<CustomerId>,
    /// Orders with a fulfilment from or for pickup at this location.
    pub location_id: Option<LocationId>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub marketplace_id: Option<MarketplaceId>,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
    /// Only customers' orders: with a customer, not from a marketplace.
    pub customers_only: bool,
}

pub fn list(conn: &mut AnyConnection, filter: &OrderFilter, page: &PageRequest) -> Result<Page<Order>, DbError> {
    let mut query =
        orders::table.select(OrderRow::as_select()).order(orders::id.desc()).limit(page.limit + 1).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(orders::id.lt(after.clone()));
    }
    if let Some(customer) = &filter.customer_id {
        query = query.filter(orders::customer_id.eq(customer.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(orders::status.eq(status.clone()));
    }
    if let Some(channel) = &filter.channel {
        query = query.filter(orders::channel.eq(channel.clone()));
    }
    if let Some(marketplace) = &filter.marketplace_id {
        query = query.filter(orders::marketplace_id.eq(marketplace.clone()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(orders::created_at.lt(to));
    }
    if filter.customers_only {
        query = query.filter(orders::customer_id.is_not_null()).filter(orders::marketplace_id.is_null());
    }
    if let Some(location) = &filter.location_id {
        let at_location = fulfilments::table
            .filter(
                fulfilments::location_id.eq(location.clone()).or(fulfilments::pickup_location_id.eq(location.clone())),
            )
            .select(fulfilments::order_id);
        query = query.filter(orders::id.eq_any(at_location).or(orders::store_id.eq(location.clone())));
    }
    let rows = query.load(conn)?;
    let page = Page::from_rows(rows, page.limit, |r| r.id.to_string());
    Ok(Page { items: complete_all(conn, page.items)?, next: page.next })
}

/// Whether any fulfilment of the order is from or for pickup at `location`.
pub fn touches(order: &Order, location: &LocationId) -> bool {
    order
        .fulfilments
        .iter()
        .any(|f| f.location_id.as_ref() == Some(location) || f.pickup_location_id.as_ref() == Some(location))
}

/// How many deliveries each of these slots holds (slots never booked are absent).
pub fn slot_bookings(conn: &mut AnyConnection, ids: &[&str]) -> Result<Vec<(String, i32)>, DbError> {
    Ok(ds::table.filter(one_of(ds::id, ids)).select((ds::id, ds::booked)).load(conn)?)
}

/// Books one delivery in the slot (making its row on first use); false when
/// it is full. Invariant: a slot never takes more deliveries than its capacity.
pub fn book_slot(
    conn: &mut AnyConnection,
    id: &str,
    location: &LocationId,
    (starts_at, ends_at): (NaiveDateTime, NaiveDateTime),
    capacity: i32,
) -> Result<bool, DbError> {
    let row = (
        ds::id.eq(id),
        ds::location_id.eq(location),
        ds::starts_at.eq(starts_at),
        ds::ends_at.eq(ends_at),
        ds::capacity.eq(capacity),
        ds::booked.eq(0),
    );
    per_backend!(conn, |c| diesel::insert_into(ds::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(diesel::update(ds::table.find(id).filter(ds::booked.lt(ds::capacity)))
        .set(ds::booked.eq(ds::booked + 1))
        .execute(conn)?
        == 1)
}

pub fn unbook_slot(conn: &mut AnyConnection, slot_id: &str) -> Result<(), DbError> {
    diesel::update(ds::table.find(slot_id).filter(ds::booked.gt(0)))
        .set(ds::booked.eq(ds::booked - 1))
        .execute(conn)?;
    Ok(())
}

/// Pickups collected at a store in these statuses.
pub fn pickups_at(conn: &mut AnyConnection, store: &LocationId, statuses: &[&str]) -> Result<Vec<Fulfilment>, DbError> {
    Ok(fulfilments::table
        .filter(fulfilments::pickup_location_id.eq(store))
        .filter(one_of(fulfilments::status, statuses))
        .select(Fulfilment::as_select())
        .load(conn)?)
}

/// (order number, fulfilment, SKU id, code, name, quantity, short, cancelled, returned)
pub type PickRow = (String, FulfilmentId, SkuId, String, String, i32, i32, i32, i32, Option<String>);

/// The lines of fulfilments whose stock comes from `location` in these
/// statuses, except counter sales (the goods are already handed over).
pub fn pick_rows(conn: &mut AnyConnection, location: &LocationId, statuses: &[&str]) -> Result<Vec<PickRow>, DbError> {
    Ok(order_lines::table
        .inner_join(fulfilments::table)
        .inner_join(orders::table)
        .filter(fulfilments::location_id.eq(location))
        .filter(one_of(fulfilments::status, statuses))
        .filter(fulfilments::method.ne("counter"))
        .order((order_lines::sku_code, orders::number))
        .select((
            orders::number,
            fulfilments::id,
            order_lines::sku_id,
            order_lines::sku_code,
            order_lines::name,
            order_lines::quantity,
            order_lines::short_quantity,
            order_lines::cancelled_quantity,
            order_lines::returned_quantity,
            order_lines::components,
        ))
        .load(conn)?)
}

/// Stores a new pickup code (hash and, for the customer, the code sealed),
/// resetting wrong attempts; with `deadline`, also the collection deadline.
pub fn set_pickup_code(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    hash: &str,
    sealed: &str,
    deadline: Option<NaiveDateTime>,
) -> Result<(), DbError> {
    let code = (
        fulfilments::pickup_code_hash.eq(hash),
        fulfilments::pickup_code_plain.eq(sealed),
        fulfilments::pickup_code_attempts.eq(0),
    );
    let target = diesel::update(fulfilments::table.find(id));
    match deadline {
        Some(deadline) => target
            .set((code, fulfilments::pickup_deadline.eq(deadline), fulfilments::expiry_warned.eq(false)))
            .execute(conn)?,
        None => target.set(code).execute(conn)?,
    };
    Ok(())
}

/// Counts one wrong pickup code; the wrong attempts so far.
pub fn count_wrong_code(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<i32, DbError> {
    Ok(diesel::update(fulfilments::table.find(id))
        .set(fulfilments::pickup_code_attempts.eq(fulfilments::pickup_code_attempts + 1))
        .returning(fulfilments::pickup_code_attempts)
        .get_result(conn)?)
}

/// Forgets the customer's copy of the code (it was used); the hash stays.
pub fn clear_pickup_code(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<(), DbError> {
    diesel::update(fulfilments::table.find(id)).set(fulfilments::pickup_code_plain.eq(None::<String>)).execute(conn)?;
    Ok(())
}

pub fn record_arrival(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    at: NaiveDateTime,
    note: Option<&str>,
) -> Result<(), DbError> {
    diesel::update(fulfilments::table.find(id))
        .set((fulfilments::arrived_at.eq(at), fulfilments::arrival_note.eq(note)))
        .execute(conn)?;
    Ok(())
}

/// Ready pickups whose deadline is at or before `at`, oldest first.
pub fn ready_due_by(conn: &mut AnyConnection, at: NaiveDateTime, limit: i64) -> Result<Vec<Fulfilment>, DbError> {
    Ok(fulfilments::table
        .filter(fulfilments::status.eq("ready_for_pickup"))
        .filter(fulfilments::pickup_deadline.le(at))
        .order(fulfilments::pickup_deadline)
        .limit(limit)
        .select(Fulfilment::as_select())
        .load(conn)?)
}

/// Ready pickups due by `at` whose customer was not yet warned.
pub fn unwarned_due_by(conn: &mut AnyConnection, at: NaiveDateTime) -> Result<Vec<Fulfilment>, DbError> {
    Ok(fulfilments::table
        .filter(fulfilments::status.eq("ready_for_pickup"))
        .filter(fulfilments::expiry_warned.eq(false))
        .filter(fulfilments::pickup_deadline.le(at))
        .select(Fulfilment::as_select())
        .load(conn)?)
}

/// Marks the warning sent; false when another pass sent it first.
pub fn mark_warned(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<bool, DbError> {
    Ok(diesel::update(fulfilments::table.find(id).filter(fulfilments::expiry_warned.eq(false)))
        .set(fulfilments::expiry_warned.eq(true))
        .execute(conn)?
        == 1)
}
