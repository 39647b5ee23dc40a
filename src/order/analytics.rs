//! The manager's numbers: per sales channel (each marketplace apart), what
//! was ordered in a window, how it was fulfilled and how carts converted.
//! Every figure is an aggregate the database computes; this file only puts
//! the rows of one channel together and derives the ratios.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::OrderError;
use super::repo::analytics as repo;
use super::state::Method;
use crate::cart;
use crate::db::report::Window;
use crate::db::{AnyConnection, DbError};
use crate::types::{Currency, MarketplaceId, Money};

/// A sales channel as reported: the order's channel, and for marketplace
/// orders the marketplace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChannelKey {
    pub channel: String,
    pub marketplace_id: Option<MarketplaceId>,
}

/// Revenue in one currency.
#[derive(Debug, Clone)]
pub struct Revenue {
    /// Orders not cancelled, before returns and refunds.
    pub total: Money,
    /// `total` over the orders not cancelled.
    pub average_order_value: Money,
}

/// Everything reported for one channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelFigures {
    pub orders: i64,
    pub cancelled: i64,
    pub revenue: Vec<Revenue>,
    pub units: i64,
    /// Fulfilments by method.
    pub fulfilments: BTreeMap<Method, i64>,
    /// Carts this channel started, and how many became orders (storefront
    /// and POS channels; marketplaces have no carts here).
    pub carts: Option<(i64, i64)>,
    pub median_seconds_to_ready: Option<i64>,
    pub pickups_collected: i64,
    pub pickups_expired: i64,
    pub returns: i64,
    /// Customers whose cart saw two or more channels before they bought.
    pub multichannel_customers: i64,
}

impl ChannelFigures {
    /// Orders placed from carts over carts started.
    pub fn conversion(&self) -> Option<f64> {
        self.carts.filter(|(carts, _)| *carts > 0).map(|(carts, ordered)| ordered as f64 / carts as f64)
    }

    /// Share of each method among this channel's fulfilments.
    pub fn method_share(&self, method: Method) -> f64 {
        let all: i64 = self.fulfilments.values().sum();
        if all == 0 { 0.0 } else { self.fulfilments.get(&method).copied().unwrap_or(0) as f64 / all as f64 }
    }

    /// Pickups that expired uncollected over pickups that ended.
    pub fn no_show_rate(&self) -> Option<f64> {
        let ended = self.pickups_collected + self.pickups_expired;
        (ended > 0).then(|| self.pickups_expired as f64 / ended as f64)
    }
}

fn key(channel: String, marketplace_id: Option<String>) -> ChannelKey {
    ChannelKey { channel, marketplace_id: marketplace_id.map(MarketplaceId) }
}

/// (channel, fulfilment method, orders) over all time, for the metrics.
pub fn placed_by_channel_and_method(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, OrderError> {
    Ok(repo::placed_by_channel_and_method(conn)?)
}

/// The figures of every channel with an order, a cart or a return in the window.
pub fn channels(conn: &mut AnyConnection, window: &Window) -> Result<BTreeMap<ChannelKey, ChannelFigures>, OrderError> {
    let mut out: BTreeMap<ChannelKey, ChannelFigures> = BTreeMap::new();
    for row in repo::orders(conn, window)? {
        let figures = out.entry(key(row.channel, row.marketplace_id)).or_default();
        figures.orders += row.orders;
        figures.cancelled += row.cancelled;
        figures.multichannel_customers += row.multichannel_customers;
        let currency = Currency::parse(&row.currency).map_err(DbError::Corrupt)?;
        let kept = row.orders - row.cancelled;
        // Money's one rounding rule, not integer division (which truncates).
        let average = match kept {
            0 => 0,
            kept => currency.round_to_minor(currency.minor_to_decimal(row.revenue_minor) / Decimal::from(kept)),
        };
        figures.revenue.push(Revenue {
            total: Money { minor: row.revenue_minor, currency },
            average_order_value: Money { minor: average, currency },
        });
    }
    for row in repo::units(conn, window)? {
        out.entry(key(row.channel, row.marketplace_id)).or_default().units = row.units;
    }
    for row in repo::methods(conn, window)? {
        let method = Method::parse(&row.method).map_err(DbError::Corrupt)?;
        let figures = out.entry(key(row.channel, row.marketplace_id)).or_default();
        figures.fulfilments.insert(method, row.fulfilments);
        if matches!(method, Method::Pickup | Method::Curbside) {
            figures.pickups_collected += row.collected;
            figures.pickups_expired += row.expired;
        }
    }
    for row in repo::median_ready(conn, window)? {
        out.entry(key(row.channel, row.marketplace_id)).or_default().median_seconds_to_ready = Some(row.median_seconds);
    }
    for row in repo::returns(conn, window)? {
        out.entry(key(row.channel, row.marketplace_id)).or_default().returns = row.returns;
    }
    for row in cart::conversion(conn, window)? {
        let Some(channel) = row.channel else { continue };
        out.entry(key(channel, None)).or_default().carts = Some((row.carts, row.ordered));
    }
    Ok(out)
}
