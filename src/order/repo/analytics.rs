//! The per-channel figures of orders placed in a window: one aggregate
//! statement per figure family, each reading `orders` by its `created_at`
//! index and joining the rest by order id.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::report::{self, Window};
use crate::db::{AnyConnection, DbError};

/// Order `o` touches the location `$3` (as the store that sold it, or a
/// source or pickup store), or no location is asked for.
macro_rules! at_location {
    () => {
        "($3 IS NULL OR o.store_id = $3 OR EXISTS (SELECT 1 FROM fulfilments lf \
         WHERE lf.order_id = o.id AND (lf.location_id = $3 OR lf.pickup_location_id = $3)))"
    };
}

/// Orders placed in the window at the location.
const PLACED_IN_WINDOW: &str = concat!("o.created_at >= $1 AND o.created_at < $2 AND ", at_location!());

#[derive(Debug, QueryableByName)]
pub struct OrderFigures {
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub marketplace_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub cancelled: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub multichannel_customers: i64,
}

/// Orders, cancellations, revenue (orders not cancelled, before returns) and
/// customers whose cart saw two or more channels, by channel and currency.
pub fn orders(conn: &mut AnyConnection, window: &Window) -> Result<Vec<OrderFigures>, DbError> {
    // `channels` is a JSON array of channel names: a comma means two or more.
    let sql = format!(
        "SELECT o.channel, o.marketplace_id, o.currency, \
           CAST(COUNT(*) AS BIGINT) AS orders, \
           CAST(SUM(CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END) AS BIGINT) AS cancelled, \
           CAST(SUM(CASE WHEN o.status = 'cancelled' THEN 0 ELSE o.total_minor END) AS BIGINT) AS revenue_minor, \
           CAST(COUNT(DISTINCT CASE WHEN o.channels LIKE '%,%' THEN o.customer_id END) AS BIGINT) \
             AS multichannel_customers \
         FROM orders o WHERE {PLACED_IN_WINDOW} GROUP BY o.channel, o.marketplace_id, o.currency"
    );
    report::load(conn, &sql, window)
}

#[derive(Debug, QueryableByName)]
pub struct UnitFigures {
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub marketplace_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub units: i64,
}

/// Units ordered and not cancelled, by channel.
pub fn units(conn: &mut AnyConnection, window: &Window) -> Result<Vec<UnitFigures>, DbError> {
    let sql = format!(
        "SELECT o.channel, o.marketplace_id, CAST(SUM(l.quantity - l.cancelled_quantity) AS BIGINT) AS units \
         FROM orders o JOIN order_lines l ON l.order_id = o.id \
         WHERE {PLACED_IN_WINDOW} GROUP BY o.channel, o.marketplace_id"
    );
    report::load(conn, &sql, window)
}

#[derive(Debug, QueryableByName)]
pub struct MethodFigures {
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub marketplace_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub method: String,
    #[diesel(sql_type = BigInt)]
    pub fulfilments: i64,
    #[diesel(sql_type = BigInt)]
    pub collected: i64,
    #[diesel(sql_type = BigInt)]
    pub expired: i64,
}

/// Fulfilments by channel and method, with how many were collected and how
/// many expired uncollected.
pub fn methods(conn: &mut AnyConnection, window: &Window) -> Result<Vec<MethodFigures>, DbError> {
    let sql = format!(
        "SELECT o.channel, o.marketplace_id, f.method, CAST(COUNT(*) AS BIGINT) AS fulfilments, \
           CAST(SUM(CASE WHEN f.status = 'collected' THEN 1 ELSE 0 END) AS BIGINT) AS collected, \
           CAST(SUM(CASE WHEN f.status = 'expired' THEN 1 ELSE 0 END) AS BIGINT) AS expired \
         FROM orders o JOIN fulfilments f ON f.order_id = o.id \
         WHERE {PLACED_IN_WINDOW} GROUP BY o.channel, o.marketplace_id, f.method"
    );
    report::load(conn, &sql, window)
}

#[derive(Debug, QueryableByName)]
pub struct ReadyFigures {
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub marketplace_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub median_seconds: i64,
}

/// The median time from order to ready for pickup, by channel: the middle
/// wait (or the mean of the two middle ones), ranked in SQL.
pub fn median_ready(conn: &mut AnyConnection, window: &Window) -> Result<Vec<ReadyFigures>, DbError> {
    let sql = format!(
        "WITH waits AS (\
           SELECT o.channel, o.marketplace_id, {{seconds:a.created_at:o.created_at}} AS seconds \
           FROM orders o JOIN order_audit a ON a.order_id = o.id \
           WHERE a.to_status = 'ready_for_pickup' AND {PLACED_IN_WINDOW}), \
         ranked AS (\
           SELECT channel, marketplace_id, seconds, \
             ROW_NUMBER() OVER (PARTITION BY channel, marketplace_id ORDER BY seconds) AS n, \
             COUNT(*) OVER (PARTITION BY channel, marketplace_id) AS total FROM waits) \
         SELECT channel, marketplace_id, CAST(AVG(seconds) AS BIGINT) AS median_seconds FROM ranked \
         WHERE n IN ((total + 1) / 2, (total + 2) / 2) GROUP BY channel, marketplace_id"
    );
    report::load(conn, &sql, window)
}

#[derive(Debug, QueryableByName)]
pub struct ReturnFigures {
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub marketplace_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub returns: i64,
}

/// Returns taken in the window (at the location, or of its orders), by the
/// channel of the order returned.
pub fn returns(conn: &mut AnyConnection, window: &Window) -> Result<Vec<ReturnFigures>, DbError> {
    let sql = concat!(
        "SELECT o.channel, o.marketplace_id, CAST(COUNT(*) AS BIGINT) AS returns \
         FROM returns r JOIN orders o ON o.id = r.order_id \
         WHERE r.created_at >= $1 AND r.created_at < $2 AND (r.location_id = $3 OR ",
        at_location!(),
        ") GROUP BY o.channel, o.marketplace_id"
    );
    report::load(conn, sql, window)
}

/// Orders ever placed by channel and fulfilment method (an order with two
/// methods counts under each), for the metrics.
pub fn placed_by_channel_and_method(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, DbError> {
    use diesel::prelude::*;

    use crate::db::schema::{fulfilments as f, orders as o};
    Ok(f::table
        .inner_join(o::table)
        .group_by((o::channel, f::method))
        .select((o::channel, f::method, diesel::dsl::count(o::id).aggregate_distinct()))
        .load(conn)?)
}
