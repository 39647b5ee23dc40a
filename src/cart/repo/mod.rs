//! Rows and queries of the cart tables.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;

mod in_one;

use super::CartRef;
use super::model::{CartAction, CartChange, CartStatus, Intent};
use crate::db::kept::Kept;
use crate::db::schema::{cart_changes, cart_lines, carts};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{CartId, Currency, CustomerId, ReservationId, SkuId};

/// The columns of [`CartRow`], for `RETURNING` (which `as_returning` cannot
/// say on the multi-backend connection): one list, as a type and as a value.
macro_rules! cart_columns {
    () => {
        (
            carts::id,
            carts::customer_id,
            carts::token,
            carts::status,
            carts::currency,
            carts::fulfilment,
            carts::promotion_code,
            carts::version,
            carts::created_at,
            carts::updated_at,
            carts::channels,
        )
    };
}
const CART_ROW: cart_columns!() = cart_columns!();

#[derive(Queryable, Selectable)]
#[diesel(table_name = carts)]
pub struct CartRow {
    pub id: CartId,
    pub customer_id: Option<CustomerId>,
    pub token: Option<String>,
    pub status: String,
    pub currency: Option<String>,
    pub fulfilment: Option<String>,
    pub promotion_code: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// ",app,web,": each channel once, between commas.
    pub channels: String,
}

#[derive(Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = cart_lines)]
pub struct LineRow {
    pub sku_id: SkuId,
    pub quantity: i32,
    pub hold_id: Option<ReservationId>,
    pub added_channel: String,
    pub updated_channel: Option<String>,
    pub added_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The columns of [`LineRow`], for `RETURNING` (as [`cart_columns`]).
macro_rules! line_columns {
    () => {
        (
            cart_lines::sku_id,
            cart_lines::quantity,
            cart_lines::hold_id,
            cart_lines::added_channel,
            cart_lines::updated_channel,
            cart_lines::added_at,
            cart_lines::updated_at,
        )
    };
}
const LINE_ROW: line_columns!() = line_columns!();

/// A cart's row, by id or as its customer's open cart, and its lines (oldest first).
pub fn load(conn: &mut AnyConnection, cart: &CartRef) -> Result<Option<(CartRow, Vec<LineRow>)>, DbError> {
    let row = match cart {
        CartRef::Id(id) => carts::table.find(id).select(CartRow::as_select()).get_result(conn),
        CartRef::OpenFor(customer) => {
            carts::table.filter(carts::open_for.eq(customer)).select(CartRow::as_select()).get_result(conn)
        }
    };
    let Some(row) = row.optional()? else { return Ok(None) };
    let lines = lines(conn, &row.id)?;
    Ok(Some((row, lines)))
}

/// A cart's lines, in the order they were added (then by SKU id).
pub fn lines(conn: &mut AnyConnection, id: &CartId) -> Result<Vec<LineRow>, DbError> {
    Ok(cart_lines::table
        .filter(cart_lines::cart_id.eq(id))
        .order((cart_lines::added_at, cart_lines::sku_id))
        .select(LineRow::as_select())
        .load(conn)?)
}

pub fn open_for_customer(conn: &mut AnyConnection, customer: &CustomerId) -> Result<Option<CartId>, DbError> {
    Ok(carts::table.filter(carts::open_for.eq(customer)).select(carts::id).get_result(conn).optional()?)
}

pub fn by_token(conn: &mut AnyConnection, token: &str) -> Result<Option<CartId>, DbError> {
    Ok(carts::table.filter(carts::token.eq(token)).select(carts::id).get_result(conn).optional()?)
}

diesel::define_sql_function! {
    /// The first that is not NULL.
    fn coalesce(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

diesel::define_sql_function! {
    /// `text` with every `from` replaced by `to` (the same on both backends).
    fn replace(text: diesel::sql_types::Text, from: diesel::sql_types::Text, to: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The changes of a version bump through `channel` writing `change` (an
/// expression: [`bump`] and [`insert`]'s `IfOpen::Bump` set the same).
macro_rules! bumped {
    ($change:expr, $channel:expr, $now:expr) => {
        (
            carts::version.eq(carts::version + 1),
            carts::updated_at.eq(timestamp($now)),
            carts::currency.eq(coalesce(carts::currency, $change.currency.map(|c| c.code()))),
            // The channel once, at the end: removed if there, then appended.
            carts::channels
                .eq(replace(carts::channels, format!(",{},", $channel), ",").concat(format!("{},", $channel))),
            $change
                .intent
                .map(|intent| carts::fulfilment.eq(intent.map(|i| serde_json::to_string(i).unwrap_or_default()))),
            $change.code.map(|code| carts::promotion_code.eq(code)),
            $change.close.map(|status| (carts::status.eq(status.as_str()), carts::open_for.eq(None::<CustomerId>))),
        )
    };
}

/// What an edit changes on the cart's own row, written by its version bump.
#[derive(Default)]
pub struct RowChange<'a> {
    /// Taken by a cart that has none (a first line's).
    pub currency: Option<Currency>,
    pub intent: Option<Option<&'a Intent>>,
    pub code: Option<Option<&'a str>>,
    /// Closes the cart: it is nobody's open cart from then on.
    pub close: Option<CartStatus>,
}

/// What [`insert`] does when the customer has an open cart already.
pub enum IfOpen {
    /// Inserts nothing and answers `None`.
    Keep,
    /// Bumps that cart instead, writing the row change on it as [`bump`]
    /// does: a customer's edit finds or creates their cart in one statement.
    /// On PostgreSQL the bump waits for, and locks, a cart another
    /// transaction is inserting, as [`bump`] waits for one it is changing.
    Bump,
}

/// A cart to insert: a customer's, or an anonymous one known by its token.
pub struct NewCart<'a> {
    pub id: &'a CartId,
    pub customer: Option<&'a CustomerId>,
    pub token: Option<&'a str>,
    /// 1, or 2 for a cart created by its first edit (its creation is 1).
    pub version: i32,
}

/// Inserts an open cart, created through `channel` with `change` already
/// written on its row (a cart created by its first edit needs no bump
/// after). When the customer has one already (the unique `open_for` keeps
/// one), `if_open` says what happens: the answer is the row inserted or
/// bumped, `None` when nothing was.
pub fn insert(
    conn: &mut AnyConnection,
    new: &NewCart<'_>,
    change: &RowChange<'_>,
    channel: &str,
    now: DateTime<Utc>,
    if_open: IfOpen,
) -> Result<Option<CartRow>, DbError> {
    let at = timestamp(now);
    let NewCart { id, customer, token, version } = *new;
    let row = (
        carts::id.eq(id),
        carts::customer_id.eq(customer),
        carts::token.eq(token),
        carts::status.eq(CartStatus::Open.as_str()),
        carts::open_for.eq(customer),
        carts::version.eq(version),
        carts::created_at.eq(at),
        carts::updated_at.eq(at),
        carts::channels.eq(format!(",{channel},")),
        carts::currency.eq(change.currency.map(|c| c.code())),
        carts::fulfilment.eq(change.intent.flatten().map(|i| serde_json::to_string(i).unwrap_or_default())),
        carts::promotion_code.eq(change.code.flatten()),
    );
    Ok(match if_open {
        // DO NOTHING instead of a unique violation: no savepoint is needed
        // to carry on (on PostgreSQL it waits for a concurrent insert to settle).
        IfOpen::Keep => crate::per_backend!(conn, |c| Kept(
            diesel::insert_into(carts::table).values(row).on_conflict_do_nothing().returning(CART_ROW)
        )
        .get_result(c)
        .optional()),
        IfOpen::Bump => crate::per_backend!(conn, |c| Kept(
            diesel::insert_into(carts::table)
                .values(row)
                .on_conflict(carts::open_for)
                .do_update()
                .set(bumped!(change, channel, now))
                .returning(CART_ROW)
        )
        .get_result(c)
        .optional()),
    }?)
}

/// Takes the next version of an open cart (and, on PostgreSQL, its row lock
/// until commit, which serialises concurrent edits) for a change through
/// `channel`, writing `change` in the same statement. `None` when there is
/// no such open cart, or it is not at `expected`.
pub fn bump(
    conn: &mut AnyConnection,
    cart: &CartRef,
    expected: Option<i32>,
    change: &RowChange<'_>,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<Option<CartRow>, DbError> {
    let mut bump = diesel::update(carts::table).set(bumped!(change, channel, now)).into_boxed();
    bump = match cart {
        CartRef::Id(id) => bump.filter(carts::id.eq(id)).filter(carts::status.eq(CartStatus::Open.as_str())),
        // `open_for` is set only while the cart is open, and unique.
        CartRef::OpenFor(customer) => bump.filter(carts::open_for.eq(customer)),
    };
    if let Some(seen) = expected {
        bump = bump.filter(carts::version.eq(seen));
    }
    // The row as bumped: the edit needs no second read of it.
    Ok(Kept(bump.returning(CART_ROW)).get_result(conn).optional()?)
}

pub fn set_currency(conn: &mut AnyConnection, id: &CartId, currency: Option<Currency>) -> Result<(), DbError> {
    diesel::update(carts::table.find(id)).set(carts::currency.eq(currency.map(|c| c.code()))).execute(conn)?;
    Ok(())
}

/// Sets the intent outside a bump (a merge carrying the anonymous cart's over).
pub fn set_intent(conn: &mut AnyConnection, id: &CartId, intent: Option<&Intent>) -> Result<(), DbError> {
    let json = intent.map(|i| serde_json::to_string(i).unwrap_or_default());
    diesel::update(carts::table.find(id)).set(carts::fulfilment.eq(json)).execute(conn)?;
    Ok(())
}

pub fn set_code(conn: &mut AnyConnection, id: &CartId, code: Option<&str>) -> Result<(), DbError> {
    diesel::update(carts::table.find(id)).set(carts::promotion_code.eq(code)).execute(conn)?;
    Ok(())
}

/// Sets every channel the cart has been changed through (a merge adds the
/// merged cart's).
pub fn set_channels(conn: &mut AnyConnection, id: &CartId, channels: &[String]) -> Result<(), DbError> {
    diesel::update(carts::table.find(id)).set(carts::channels.eq(format!(",{},", channels.join(",")))).execute(conn)?;
    Ok(())
}

/// Closes an anonymous cart as merged into `into`, whose trail it joins.
pub fn mark_merged(conn: &mut AnyConnection, id: &CartId, into: &CartId) -> Result<(), DbError> {
    diesel::update(carts::table.find(id))
        .set((
            carts::status.eq(CartStatus::Merged.as_str()),
            carts::open_for.eq(None::<CustomerId>),
            carts::merged_into.eq(into),
        ))
        .execute(conn)?;
    Ok(())
}

/// Changes a line already in the cart through `channel`.
pub fn update_line(
    conn: &mut AnyConnection,
    cart: &CartId,
    sku: &SkuId,
    quantity: i32,
    hold: Option<&ReservationId>,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(cart_lines::table.find((cart, sku)))
        .set((
            cart_lines::quantity.eq(quantity),
            cart_lines::hold_id.eq(hold),
            cart_lines::updated_channel.eq(channel),
            cart_lines::updated_at.eq(timestamp(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts a line; `via` is (the channel it was first added through, the
/// channel of this change): they differ when a merge moves a line over.
pub fn insert_line(
    conn: &mut AnyConnection,
    cart: &CartId,
    sku: &SkuId,
    quantity: i32,
    hold: Option<&ReservationId>,
    via: (&str, &str),
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let at = timestamp(now);
    let row = (
        cart_lines::cart_id.eq(cart),
        cart_lines::sku_id.eq(sku),
        cart_lines::quantity.eq(quantity),
        cart_lines::hold_id.eq(hold),
        cart_lines::added_channel.eq(via.0),
        cart_lines::updated_channel.eq(via.1),
        cart_lines::added_at.eq(at),
        cart_lines::updated_at.eq(at),
    );
    crate::insert_rows!(conn, cart_lines::table, &[row])?;
    Ok(())
}

/// Sets the hold a line's units are held by.
pub fn set_hold(
    conn: &mut AnyConnection,
    cart: &CartId,
    sku: &SkuId,
    hold: Option<&ReservationId>,
) -> Result<(), DbError> {
    diesel::update(cart_lines::table.find((cart, sku))).set(cart_lines::hold_id.eq(hold)).execute(conn)?;
    Ok(())
}

/// What an edit writes on one of the cart's lines. A line's hold is not
/// written here: the line keeps the one it has (see [`set_hold`]).
pub enum LineWrite<'a> {
    /// Adds units of a SKU, summing with its line if there is one.
    Add(&'a SkuId, i32),
    /// Sets the quantity of the SKU's line.
    Set(&'a SkuId, i32),
    /// Removes the SKU's line.
    Remove(&'a SkuId),
}

/// A cart's lines after an edit wrote, and the line it wrote: as written,
/// or as it was for a removal; `None` when there was no line to set or
/// remove.
pub struct Written {
    pub lines: Vec<LineRow>,
    pub line: Option<LineRow>,
}

/// Writes `line` (if any) through `channel` and records the edit, then
/// reads the cart's lines as they now are. It runs after the edit's version
/// bump, whose row lock makes the lines read here the latest committed. On
/// PostgreSQL it is one statement (data-modifying CTEs); SQLite runs it as
/// the write, the records and the read: calls into the process.
pub fn write(
    conn: &mut AnyConnection,
    cart: &CartId,
    line: Option<&LineWrite<'_>>,
    records: &[(i32, Record)],
    actor: (&str, &str),
    now: DateTime<Utc>,
) -> Result<Written, DbError> {
    let (channel, key) = actor;
    if let AnyConnection::Postgres(pg) = conn {
        return in_one::write(pg, cart, line, records, actor, now);
    }
    let at = timestamp(now);
    let written = match line {
        None => None,
        Some(LineWrite::Add(sku, quantity)) => {
            let row = (
                cart_lines::cart_id.eq(cart),
                cart_lines::sku_id.eq(*sku),
                cart_lines::quantity.eq(*quantity),
                cart_lines::added_channel.eq(channel),
                cart_lines::updated_channel.eq(channel),
                cart_lines::added_at.eq(at),
                cart_lines::updated_at.eq(at),
            );
            let summed = (
                cart_lines::quantity.eq(cart_lines::quantity + excluded(cart_lines::quantity)),
                cart_lines::updated_channel.eq(channel),
                cart_lines::updated_at.eq(at),
            );
            crate::per_backend!(&mut *conn, |c| Kept(
                diesel::insert_into(cart_lines::table)
                    .values(row)
                    .on_conflict((cart_lines::cart_id, cart_lines::sku_id))
                    .do_update()
                    .set(summed)
                    .returning(LINE_ROW)
            )
            .get_result(c)
            .optional())?
        }
        Some(LineWrite::Set(sku, quantity)) => diesel::update(cart_lines::table.find((cart, *sku)))
            .set((
                cart_lines::quantity.eq(*quantity),
                cart_lines::updated_channel.eq(channel),
                cart_lines::updated_at.eq(at),
            ))
            .returning(LINE_ROW)
            .get_result(conn)
            .optional()?,
        Some(LineWrite::Remove(sku)) => {
            diesel::delete(cart_lines::table.find((cart, *sku))).returning(LINE_ROW).get_result(conn).optional()?
        }
    };
    record(conn, cart, records, channel, key, now)?;
    Ok(Written { lines: lines(conn, cart)?, line: written })
}

/// What a change record says.
pub struct Record {
    pub action: CartAction,
    pub sku: Option<SkuId>,
    pub quantity: Option<i32>,
    pub detail: Option<String>,
}

/// Records changes of a cart, each at its version, in one insert.
pub fn record(
    conn: &mut AnyConnection,
    cart: &CartId,
    records: &[(i32, Record)],
    channel: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let at = timestamp(now);
    let rows: Vec<_> = records
        .iter()
        .map(|(version, record)| {
            (
                cart_changes::cart_id.eq(cart),
                cart_changes::version.eq(*version),
                cart_changes::action.eq(record.action.as_str()),
                cart_changes::sku_id.eq(record.sku.as_ref()),
                cart_changes::quantity.eq(record.quantity),
                cart_changes::detail.eq(record.detail.as_deref()),
                cart_changes::channel.eq(channel),
                cart_changes::actor.eq(actor),
                cart_changes::created_at.eq(at),
            )
        })
        .collect();
    crate::insert_rows!(conn, cart_changes::table, &rows)?;
    Ok(())
}

/// The trail of a cart: its own changes and those of the anonymous carts
/// merged into it, in the order they happened.
pub fn changes(conn: &mut AnyConnection, cart: &CartId, after: i64, limit: i64) -> Result<Vec<CartChange>, DbError> {
    let merged = carts::table.filter(carts::merged_into.eq(cart)).select(carts::id);
    Ok(cart_changes::table
        .filter(cart_changes::cart_id.eq(cart).or(cart_changes::cart_id.eq_any(merged)))
        .filter(cart_changes::id.gt(after))
        .order(cart_changes::id)
        .limit(limit)
        .select(CartChange::as_select())
        .load(conn)?)
}

#[derive(Debug, QueryableByName)]
pub struct Conversion {
    /// The channel of the cart's first change (none for a cart never changed).
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub channel: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub carts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub ordered: i64,
}

/// Carts started in the window by the channel that started them, and how
/// many became orders. Merged carts are left out: they live on in the cart
/// they joined. With a location, the carts that chose pickup there (the
/// intent's JSON names the location's id, which appears nowhere else in it).
pub fn conversion(conn: &mut AnyConnection, window: &crate::db::report::Window) -> Result<Vec<Conversion>, DbError> {
    let sql = "SELECT (SELECT ch.channel FROM cart_changes ch WHERE ch.cart_id = c.id ORDER BY ch.id LIMIT 1) \
           AS channel, \
           CAST(COUNT(*) AS BIGINT) AS carts, \
           CAST(SUM(CASE WHEN c.status = 'checked_out' THEN 1 ELSE 0 END) AS BIGINT) AS ordered \
         FROM carts c WHERE c.created_at >= $1 AND c.created_at < $2 AND c.status <> 'merged' \
           AND ($3 IS NULL OR c.fulfilment LIKE '%' || $3 || '%') \
         GROUP BY 1";
    crate::db::report::load(conn, sql, window)
}
