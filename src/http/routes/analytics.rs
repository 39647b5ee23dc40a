//! `/v1/analytics`: the manager's numbers.

use std::collections::HashMap;

use actix_web::get;
use actix_web::web::Data;
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog;
use crate::context::Context;
use crate::db::AnyConnection;
use crate::db::report::Window;
use crate::http::auth::Caller;
use crate::http::dto::analytics::{ChannelAnalyticsResponse, ChannelReport};
use crate::http::extractors::QueryParams;
use crate::http::policy::{self, Op};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::marketplace;
use crate::order::analytics;
use crate::types::MarketplaceId;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(channel_report);
}

/// The longest window one request may ask for.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelsQuery {
    /// First day (UTC), inclusive, on or before `to` and at most 366 days before it;
    /// default: 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), inclusive; default: today.
    pub to: Option<NaiveDate>,
    /// Location code: orders sold, sourced or collected there (staff: their
    /// own store, the default).
    pub location: Option<String>,
}

/// Per sales channel (each marketplace apart): orders, revenue, average order value, units,
/// cart conversion, fulfilment methods, time to ready, pickup no-shows, cancellations,
/// returns and customers who used two or more channels (admin; staff for their store).
#[utoipa::path(tag = "analytics", params(ChannelsQuery), responses((status = 200, body = ChannelAnalyticsResponse)))]
#[get("/analytics/channels")]
pub async fn channel_report(
    ctx: Data<Context>,
    caller: Caller,
    query: QueryParams<ChannelsQuery>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadAnalytics)?;
    let today = ctx.now().date_naive();
    ctx.db.read(move |conn| Ok(Reply::ok(&report(conn, &caller, query.0, today)?))).await
}

/// The report a caller asked for, checked: the window and the location.
pub fn report(
    conn: &mut AnyConnection,
    caller: &Caller,
    query: ChannelsQuery,
    today: NaiveDate,
) -> Result<ChannelAnalyticsResponse, ApiError> {
    // The last day's end and the default start are computed, so a date at
    // the end of the calendar is refused here instead of overflowing.
    let to = query.to.unwrap_or(today);
    let after_to = to.succ_opt().ok_or_else(|| ApiError::field("/to", "is past the last day the calendar has"))?;
    let from = match query.from {
        Some(from) => from,
        None => to.checked_sub_days(Days::new(29)).ok_or_else(|| ApiError::field("/to", "is too early"))?,
    };
    if from > to {
        return Err(ApiError::field("/from", "must be on or before 'to'"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::field("/from", format!("the window is at most {MAX_DAYS} days")));
    }
    // Staff asking for no location get their own store's figures.
    let asked = match (query.location.as_deref(), &caller.location_id) {
        (Some(code), _) => Some(catalog::get_location(conn, code)?),
        (None, Some(own)) => catalog::locations_by_ids(conn, std::slice::from_ref(own))?.into_iter().next(),
        (None, None) => None,
    };
    let location_id = policy::scope_location(caller, asked.as_ref())?;
    let location = asked.map(|l| l.code.to_string());
    let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let window = Window { from: midnight(from), to: midnight(after_to), location: location_id.map(|id| id.0) };
    let figures = analytics::channels(conn, &window)?;
    let mut names: HashMap<MarketplaceId, String> = HashMap::new();
    for id in figures.keys().filter_map(|k| k.marketplace_id.clone()) {
        let name = marketplace::get(conn, &id)?.name;
        names.insert(id, name);
    }
    let channels = figures
        .iter()
        .map(|(key, f)| ChannelReport::new(key, key.marketplace_id.as_ref().and_then(|id| names.get(id).cloned()), f))
        .collect();
    Ok(ChannelAnalyticsResponse { from, to, location, channels })
}
