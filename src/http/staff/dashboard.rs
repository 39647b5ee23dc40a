//! The manager's dashboard: the figures of `GET /v1/analytics/channels` for
//! a date range, as a table and SVG charts, and the marketplaces' sync health.

use actix_web::HttpResponse;
use actix_web::web::{Data, Query as QueryString};
use chrono::NaiveDate;
use maud::{Markup, html};

use super::chart::{self, Bar};
use super::{Page, Query, Signed, render, view};
use crate::access::Role;
use crate::catalog;
use crate::context::Context;
use crate::db::AnyConnection;
use crate::http::dto::analytics::{ChannelAnalyticsResponse, ChannelReport};
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::routes::analytics::{ChannelsQuery, report};
use crate::marketplace::{self, sync};
use crate::order::state::Method;
use crate::types::PageRequest;

fn percent(share: Option<f64>) -> String {
    share.map(|s| format!("{:.0} %", s * 100.0)).unwrap_or_else(|| "–".to_owned())
}

fn share(channel: &ChannelReport, method: Method) -> Option<f64> {
    Some(channel.fulfilment_methods.iter().find(|m| m.method == method).map_or(0.0, |m| m.share))
}

fn name(channel: &ChannelReport) -> String {
    match &channel.marketplace {
        Some(marketplace) => format!("{} ({marketplace})", channel.channel),
        None => channel.channel.clone(),
    }
}

fn money_lines(amounts: Vec<String>) -> Markup {
    html! { @for (i, amount) in amounts.iter().enumerate() { @if i > 0 { br; } (amount) } }
}

/// One column per channel, one row per figure: a tablet shows a handful of
/// channels side by side, where fifteen figures across would not fit.
fn table(figures: &ChannelAnalyticsResponse) -> Markup {
    type Figure = fn(&ChannelReport) -> Markup;
    let rows: [(&str, &str, Figure); 14] = [
        ("orders", "Orders", |c| html! { (c.orders) }),
        ("revenue", "Revenue", |c| {
            money_lines(c.revenue.iter().map(|r| format!("{} {}", r.total.amount, r.total.currency)).collect())
        }),
        ("aov", "Average order", |c| {
            money_lines(
                c.revenue
                    .iter()
                    .map(|r| format!("{} {}", r.average_order_value.amount, r.average_order_value.currency))
                    .collect(),
            )
        }),
        ("units", "Units", |c| html! { (c.units) }),
        ("conversion", "Cart → order", |c| html! { (percent(c.carts.as_ref().map(|c| c.conversion))) }),
        ("ship", "Shipped", |c| html! { (percent(share(c, Method::Ship))) }),
        ("pickup", "Pickup", |c| html! { (percent(share(c, Method::Pickup))) }),
        ("curbside", "Curbside", |c| html! { (percent(share(c, Method::Curbside))) }),
        ("same_day", "Same day", |c| html! { (percent(share(c, Method::SameDay))) }),
        ("to_ready", "Order to ready (median)", |c| {
            html! { (c.median_minutes_to_ready.map(|m| format!("{m:.0} min")).unwrap_or_else(|| "–".to_owned())) }
        }),
        ("no_show", "Pickup no-shows", |c| html! { (percent(c.pickups.no_show_rate)) }),
        ("cancelled", "Cancelled", |c| html! { (c.cancelled) }),
        ("returns", "Returns", |c| html! { (c.returns) }),
        ("multichannel", "Customers on 2+ channels", |c| html! { (c.multichannel_customers) }),
    ];
    html! {
        div.scroll {
            table.figures #figures {
                caption { "By channel, " (figures.from) " to " (figures.to) }
                thead { tr { td {} @for c in &figures.channels { th scope="col" { (name(c)) } } } }
                tbody {
                    @for (key, label, figure) in &rows {
                        tr {
                            th scope="row" { (label) }
                            @for c in &figures.channels { td data-channel=(c.channel) data-figure=(key) { (figure(c)) } }
                        }
                    }
                }
            }
        }
    }
}

fn charts(figures: &ChannelAnalyticsResponse) -> Markup {
    let orders: Vec<Bar> = figures
        .channels
        .iter()
        .map(|c| Bar { label: name(c), value: c.orders as f64, shown: c.orders.to_string() })
        .collect();
    // Revenue of the first currency of each channel: one retailer sells in one, mostly.
    let revenue: Vec<Bar> = figures
        .channels
        .iter()
        .filter_map(|c| c.revenue.first().map(|r| (c, r)))
        .map(|(c, r)| Bar {
            label: name(c),
            value: r.total.amount.parse().unwrap_or(0.0),
            shown: format!("{} {}", r.total.amount, r.total.currency),
        })
        .collect();
    html! { (chart::bars("Orders by channel", &orders)) (chart::bars("Revenue by channel", &revenue)) }
}

/// Pending and dead-lettered pushes and the last successful push of each marketplace.
fn sync_health(conn: &mut AnyConnection) -> Result<Markup, ApiError> {
    let marketplaces = marketplace::list(conn, &PageRequest { limit: 50, after: None })?.items;
    let mut rows = Vec::new();
    for m in marketplaces {
        let state = sync::state(conn, &m.id)?;
        let last_ok =
            state.recent.iter().find(|e| e.outcome == "ok").map(|e| e.created_at.format("%d %b %H:%M").to_string());
        rows.push((
            m.name,
            state.pending,
            state.dead.len(),
            state.outbound_pending,
            state.outbound_dead.len(),
            last_ok,
        ));
    }
    Ok(html! {
        h2 { "Marketplace sync" }
        @if rows.is_empty() { p { "No marketplaces connected." } }
        @else {
            table.figures {
                thead { tr { th scope="col" { "Marketplace" } th scope="col" { "Queued pushes" } th scope="col" { "Dead letters" }
                    th scope="col" { "Queued confirmations" } th scope="col" { "Dead confirmations" } th scope="col" { "Last successful push" } } }
                tbody {
                    @for (name, pending, dead, outbound, outbound_dead, last_ok) in &rows {
                        tr { th scope="row" { (name) } td { (pending) } td { (dead) } td { (outbound) } td { (outbound_dead) }
                            td { (last_ok.as_deref().unwrap_or("never")) } }
                    }
                }
            }
        }
    })
}

/// A date of the form, or the default.
fn date(raw: Option<&str>, pointer: &str) -> Result<Option<NaiveDate>, ApiError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(raw) => raw.parse().map(Some).map_err(|_| ApiError::field(pointer, "a date like 2026-12-01")),
        None => Ok(None),
    }
}

pub async fn page(ctx: Data<Context>, signed: Signed, query: QueryString<Query>) -> HttpResponse {
    let (caller, query, today) = (signed.caller.clone(), query.into_inner(), ctx.now().date_naive());
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::ReadAnalytics)?;
            let asked = ChannelsQuery {
                from: date(query.from.as_deref(), "/from")?,
                to: date(query.to.as_deref(), "/to")?,
                location: query.store.clone().filter(|s| !s.is_empty()),
            };
            let figures = report(conn, &caller, asked, today)?;
            let store = match &figures.location {
                Some(code) => Some(catalog::get_location(conn, code)?),
                None => None,
            };
            let locations = if caller.role == Role::Admin { catalog::active_locations(conn)? } else { Default::default() };
            let health = if caller.may(Op::ManageMarketplaces).is_ok() { Some(sync_health(conn)?) } else { None };
            let body = html! {
                form.range method="get" action="/staff/dashboard" {
                    div { label for="from" { "From" } input #from name="from" type="date" value=(figures.from); }
                    div { label for="to" { "To" } input #to name="to" type="date" value=(figures.to); }
                    @if caller.role == Role::Admin {
                        div {
                            label for="store" { "Store" }
                            select #store name="store" {
                                option value="" selected[figures.location.is_none()] { "All locations" }
                                @for l in locations.iter() {
                                    option value=(l.code.as_str()) selected[figures.location.as_deref() == Some(l.code.as_str())] { (l.code.as_str()) " · " (l.name) }
                                }
                            }
                        }
                    }
                    div { button type="submit" { "Show" } }
                }
                @if figures.channels.is_empty() { p { "No orders or carts in this range." } }
                @else { (table(&figures)) (charts(&figures)) }
                @if let Some(health) = health { (health) }
            };
            Ok::<_, ApiError>(Page { store, body })
        })
        .await;
    match outcome {
        Err(error) if !error.status().is_server_error() => {
            let body = html! { (view::notes(None, Some(error.detail()))) p { a href="/staff/dashboard" { "Show the last 30 days" } } };
            render(&signed, "Dashboard", Ok(Page { store: None, body }))
        }
        other => render(&signed, "Dashboard", other),
    }
}
