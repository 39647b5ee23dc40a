//! The per-channel figures of `GET /v1/analytics/channels`.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::MoneyDto;
use crate::order::analytics::{ChannelFigures, ChannelKey};
use crate::order::state::Method;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAnalyticsResponse {
    /// First day of the window (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day of the window (UTC), inclusive.
    pub to: NaiveDate,
    /// The location reported on; none: every location.
    pub location: Option<String>,
    /// One entry per channel with an order, a cart or a return in the window;
    /// each marketplace is its own entry.
    pub channels: Vec<ChannelReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelReport {
    /// web, app, voice, kiosk, pos, staff, admin or marketplace.
    pub channel: String,
    /// The marketplace's name, for marketplace orders.
    pub marketplace: Option<String>,
    /// Orders placed in the window.
    pub orders: i64,
    /// Of those, cancelled.
    pub cancelled: i64,
    /// Units ordered and not cancelled.
    pub units: i64,
    /// Per currency: orders not cancelled, before returns.
    pub revenue: Vec<RevenueReport>,
    /// Fulfilments of the window's orders by method, with their share.
    pub fulfilment_methods: Vec<MethodReport>,
    /// Carts the channel started in the window and how many became orders;
    /// none for channels without carts.
    pub carts: Option<CartReport>,
    /// Median minutes from order to ready for pickup or curbside.
    pub median_minutes_to_ready: Option<f64>,
    pub pickups: PickupReport,
    /// Returns taken in the window of this channel's orders.
    pub returns: i64,
    /// Customers whose cart saw two or more channels before they ordered.
    pub multichannel_customers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueReport {
    pub total: MoneyDto,
    pub average_order_value: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MethodReport {
    pub method: Method,
    pub fulfilments: i64,
    /// 0 to 1.
    pub share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartReport {
    pub started: i64,
    pub ordered: i64,
    /// `ordered / started`, 0 to 1.
    pub conversion: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupReport {
    pub collected: i64,
    /// Expired uncollected: the customer did not come.
    pub expired: i64,
    /// `expired / (collected + expired)`; none before any pickup ended.
    pub no_show_rate: Option<f64>,
}

impl ChannelReport {
    pub fn new(key: &ChannelKey, marketplace: Option<String>, figures: &ChannelFigures) -> Self {
        Self {
            channel: key.channel.clone(),
            marketplace,
            orders: figures.orders,
            cancelled: figures.cancelled,
            units: figures.units,
            revenue: figures
                .revenue
                .iter()
                .map(|r| RevenueReport { total: r.total.into(), average_order_value: r.average_order_value.into() })
                .collect(),
            fulfilment_methods: figures
                .fulfilments
                .iter()
                .map(|(method, count)| MethodReport {
                    method: *method,
                    fulfilments: *count,
                    share: figures.method_share(*method),
                })
                .collect(),
            carts: figures.carts.map(|(started, ordered)| CartReport {
                started,
                ordered,
                conversion: figures.conversion().unwrap_or(0.0),
            }),
            median_minutes_to_ready: figures.median_seconds_to_ready.map(|s| s as f64 / 60.0),
            pickups: PickupReport {
                collected: figures.pickups_collected,
                expired: figures.pickups_expired,
                no_show_rate: figures.no_show_rate(),
            },
            returns: figures.returns,
            multichannel_customers: figures.multichannel_customers,
        }
    }
}
