//! Queries of the order tables.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::Rng;

use super::OrderError;
use super::model::{AuditEntry, Fulfilment, Order, OrderLine, OrderRow, ReturnLine, ReturnRow};
use crate::db::schema::{fulfilments, order_audit, order_lines, orders, return_lines, returns};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{
    CustomerId, FulfilmentId, LocationId, MarketplaceId, OrderId, OrderLineId, Page, PageRequest, ReservationId,
};

/// Letters and digits that cannot be misread for each other when spoken or typed.
const NUMBER_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A short human order number like `OS-7K3M9QXD` (40 bits of randomness).
pub fn new_number() -> String {
    let mut rng = rand::rng();
    let tail: String =
        (0..8).map(|_| char::from(NUMBER_ALPHABET[rng.random_range(0..NUMBER_ALPHABET.len())])).collect();
    format!("OS-{tail}")
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

pub fn load(conn: &mut AnyConnection, id: &OrderId) -> Result<Option<Order>, DbError> {
    let Some(row) = orders::table.find(id).select(OrderRow::as_select()).first(conn).optional()? else {
        return Ok(None);
    };
    Ok(Some(complete(conn, row)?))
}

fn complete(conn: &mut AnyConnection, row: OrderRow) -> Result<Order, DbError> {
    let fulfilments = fulfilments::table
        .filter(fulfilments::order_id.eq(&row.id))
        .order(fulfilments::id)
        .select(Fulfilment::as_select())
        .load(conn)?;
    let lines = order_lines::table
        .filter(order_lines::order_id.eq(&row.id))
        .order(order_lines::id)
        .select(OrderLine::as_select())
        .load(conn)?;
    Ok(Order { row, fulfilments, lines })
}

/// Finds an order by id or by number.
pub fn find(conn: &mut AnyConnection, id_or_number: &str) -> Result<Option<Order>, DbError> {
    let row = orders::table
        .filter(orders::id.eq(id_or_number).or(orders::number.eq(id_or_number)))
        .select(OrderRow::as_select())
        .first(conn)
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
        .first(conn)
        .optional()?;
    row.map(|r| complete(conn, r)).transpose()
}

pub fn fulfilment(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<Fulfilment, OrderError> {
    fulfilments::table
        .find(id)
        .select(Fulfilment::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| OrderError::FulfilmentNotFound(id.to_string()))
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
    diesel::insert_into(fulfilments::table).values(fulfilment).execute(conn)?;
    Ok(())
}

pub fn insert_line(conn: &mut AnyConnection, line: &OrderLine) -> Result<(), DbError> {
    diesel::insert_into(order_lines::table).values(line).execute(conn)?;
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
/// returned (added to). The table's CHECK keeps their sum within the line.
pub enum LineUnits {
    Picked(i32),
    Cancelled(i32),
    Short(i32),
    Returned(i32),
}

pub fn count_units(conn: &mut AnyConnection, line: &OrderLineId, units: LineUnits) -> Result<(), DbError> {
    use order_lines as ol;
    let target = ol::table.find(line);
    match units {
        LineUnits::Picked(n) => diesel::update(target).set(ol::picked_quantity.eq(n)).execute(conn)?,
        LineUnits::Cancelled(n) => {
            diesel::update(target).set(ol::cancelled_quantity.eq(ol::cancelled_quantity + n)).execute(conn)?
        }
        LineUnits::Short(n) => {
            diesel::update(target).set(ol::short_quantity.eq(ol::short_quantity + n)).execute(conn)?
        }
        LineUnits::Returned(n) => {
            diesel::update(target).set(ol::returned_quantity.eq(ol::returned_quantity + n)).execute(conn)?
        }
    };
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

pub fn audit(
    conn: &mut AnyConnection,
    entry: Audit<'_>,
    actor: &str,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(order_audit::table)
        .values((
            order_audit::order_id.eq(entry.order),
            order_audit::fulfilment_id.eq(entry.fulfilment),
            order_audit::action.eq(entry.action),
            order_audit::from_status.eq(entry.from),
            order_audit::to_status.eq(entry.to),
            order_audit::reason.eq(entry.reason),
            order_audit::actor.eq(actor),
            order_audit::channel.eq(channel),
            order_audit::created_at.eq(timestamp(now)),
        ))
        .execute(conn)?;
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
    if let Some(location) = &filter.location_id {
        let at_location = fulfilments::table
            .filter(
                fulfilments::location_id.eq(location.clone()).or(fulfilments::pickup_location_id.eq(location.clone())),
            )
            .select(fulfilments::order_id);
        query = query.filter(orders::id.eq_any(at_location));
    }
    let rows = query.load(conn)?;
    let page = Page::from_rows(rows, page.limit, |r| r.id.to_string());
    let items = page.items.into_iter().map(|r| complete(conn, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next: page.next })
}

/// Whether any fulfilment of the order is from or for pickup at `location`.
pub fn touches(order: &Order, location: &LocationId) -> bool {
    order
        .fulfilments
        .iter()
        .any(|f| f.location_id.as_ref() == Some(location) || f.pickup_location_id.as_ref() == Some(location))
}
