//! The pickup queue of the store, one pickup, and what staff do with it:
//! start picking, record picks (short ones too), mark ready, verify the
//! code and hand over, reissue a lost or locked code.

use actix_web::web::{Data, Form, Path, Query as QueryString};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};

use super::{Page, Query, Signed, field, link, render, see_other, store_of, view};
use crate::catalog::Location;
use crate::context::Context;
use crate::fulfilment::pickup::{self, Handover, QueueEntry};
use crate::http::auth::Caller;
use crate::http::policy::{self, Op, OrderUse, Side};
use crate::http::problem::ApiError;
use crate::inventory;
use crate::order::state::{Action, FulfilmentStatus as S, Method};
use crate::order::{self, Act, Fulfilment, Order};
use crate::types::{FulfilmentId, OrderLineId};

/// A time as the store's clock shows it.
fn at(time: NaiveDateTime, store: &Location) -> String {
    time.and_utc().with_timezone(&store.time_zone.0).format("%d %b %H:%M").to_string()
}

/// Whether the pickup is late: not ready by its promise, or not collected by its deadline.
fn overdue(f: &Fulfilment, now: NaiveDateTime) -> bool {
    let status = f.status().ok();
    let late_ready = f.ready_by.is_some_and(|by| by < now) && status != Some(S::ReadyForPickup);
    let late_collect = f.pickup_deadline.is_some_and(|by| by < now);
    late_ready || late_collect
}

/// The queue and the pick list: what the page refreshes.
fn board(
    conn: &mut crate::db::AnyConnection,
    caller: &Caller,
    store: &Location,
    now: DateTime<Utc>,
) -> Result<Markup, ApiError> {
    let entries = pickup::queue(conn, store, None)?;
    let aisles = pickup::pick_list(conn, store)?;
    Ok(html! {
        h2 { "Queue" }
        (rows(&entries, store, &store_query(caller, store), now))
        h2 { "Pick list" }
        @if aisles.is_empty() { p { "Nothing to pick." } }
        @for (aisle, items) in &aisles {
            h3 { "Aisle " (aisle.as_deref().unwrap_or("unknown")) }
            ul { @for item in items { li { (item.quantity) " × " (item.sku_code) " " (item.name) } } }
        }
    })
}

fn rows(entries: &[QueueEntry], store: &Location, store_query: &str, now: DateTime<Utc>) -> Markup {
    let now = now.naive_utc();
    html! {
        @if entries.is_empty() {
            p { "No pickups waiting." }
        } @else {
            table {
                caption.skip { "Pickups of this store" }
                thead { tr { th scope="col" { "Order" } th scope="col" { "How" } th scope="col" { "Status" } th scope="col" { "Due" } } }
                tbody {
                    @for entry in entries {
                        @let f = &entry.fulfilment;
                        @let late = overdue(f, now);
                        tr class=[late.then_some("overdue")] {
                            td { a href={ "/staff/pickups/" (f.id) (store_query) } { (entry.order.row.number) } }
                            td {
                                (f.method)
                                @if let Some(arrived) = f.arrived_at {
                                    " " span.badge.arrived { "arrived " (at(arrived, store)) }
                                    @if let Some(note) = &f.arrival_note { " " (note) }
                                }
                            }
                            td { span.badge { (f.status.replace('_', " ")) } }
                            td {
                                @if let Some(deadline) = f.pickup_deadline { "collect by " (at(deadline, store)) }
                                @else if let Some(ready_by) = f.ready_by { "ready by " (at(ready_by, store)) }
                                @if late { " " strong { "overdue" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The queue and the pick list by aisle; the queue refreshes itself.
pub async fn page(ctx: Data<Context>, signed: Signed, query: QueryString<Query>) -> HttpResponse {
    let (caller, now, query) = (signed.caller.clone(), ctx.now(), query.into_inner());
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::ReadPickups)?;
            let store = store_of(conn, &caller, query.store.as_deref())?;
            let q = store_query(&caller, &store);
            let body = html! {
                (view::notes(query.ok.as_deref(), query.error.as_deref()))
                p { "Curbside arrivals first; times are the store's. This page updates by itself." }
                div #queue aria-live="polite" data-source={ "/staff/pickups/queue" (q) } { (board(conn, &caller, &store, now)?) }
            };
            Ok::<_, ApiError>(Page { store: Some(store), body })
        })
        .await;
    render(&signed, "Pickups", outcome)
}

/// The queue and pick list alone, for the page's refresh.
pub async fn queue(ctx: Data<Context>, signed: Signed, query: QueryString<Query>) -> HttpResponse {
    let (caller, now, asked) = (signed.caller, ctx.now(), query.into_inner().store);
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::ReadPickups)?;
            let store = store_of(conn, &caller, asked.as_deref())?;
            board(conn, &caller, &store, now)
        })
        .await;
    match outcome {
        Ok(markup) => super::html(actix_web::http::StatusCode::OK, markup),
        Err(error) => super::failed(&error),
    }
}

/// `?store=CODE` for an admin's links; staff have one store.
pub fn store_query(caller: &Caller, store: &Location) -> String {
    if caller.location_id.is_some() { String::new() } else { link("", &[("store", store.code.as_str())]) }
}

/// A pickup of this store (collected or sourced here), with its order.
fn pickup_here(
    conn: &mut crate::db::AnyConnection,
    store: &Location,
    id: &str,
) -> Result<(Order, Fulfilment), ApiError> {
    let fulfilment = order::fulfilment(conn, &FulfilmentId(id.to_owned()))?;
    let here = [&fulfilment.location_id, &fulfilment.pickup_location_id].iter().any(|l| l.as_ref() == Some(&store.id));
    let collecting = matches!(fulfilment.method()?, Method::Pickup | Method::Curbside);
    if !here || !collecting {
        return Err(ApiError::not_found(format!("no pickup '{id}' at {}", store.code)));
    }
    Ok((order::get(conn, fulfilment.order_id.as_str())?, fulfilment))
}

/// One pickup: its lines with aisles, and the actions its status allows.
pub async fn detail(ctx: Data<Context>, signed: Signed, id: Path<String>, query: QueryString<Query>) -> HttpResponse {
    let (caller, csrf, query) = (signed.caller.clone(), signed.csrf.clone(), query.into_inner());
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::ReadPickups)?;
            let store = store_of(conn, &caller, query.store.as_deref())?;
            let (found, f) = pickup_here(conn, &store, &id)?;
            let lines: Vec<_> = found.lines.iter().filter(|l| l.fulfilment_id == f.id).collect();
            // A kit's line is picked as its components, each from its own aisle.
            let items: Vec<inventory::Item> = lines.iter().map(|l| l.item()).collect::<Result<_, _>>()?;
            let skus: Vec<_> = items.iter().flat_map(|i| i.stocked()).cloned().collect();
            let source = f.location_id.clone().unwrap_or_else(|| store.id.clone());
            let aisles = inventory::aisles(conn, &source, &skus)?;
            let status = f.status()?;
            let action = |name: &str| format!("/staff/pickups/{}/{name}{}", f.id, store_query(&caller, &store));
            let picking_here = f.location_id.as_ref() == Some(&store.id);
            let body = html! {
                (view::notes(query.ok.as_deref(), query.error.as_deref()))
                p { "Order " strong { (found.row.number) } ", " (f.method) ", " span.badge { (f.status.replace('_', " ")) } ", placed through " (found.row.channel) }
                @if let Some(arrived) = f.arrived_at { p.note.ok { "Arrived " (at(arrived, &store)) @if let Some(n) = &f.arrival_note { ": " (n) } } }
                @if let Some(deadline) = f.pickup_deadline { p { "Collect by " (at(deadline, &store)) } }
                table {
                    thead { tr { th scope="col" { "SKU" } th scope="col" { "Item" } th scope="col" { "Aisle" } th scope="col" { "Open" } th scope="col" { "Picked" } } }
                    tbody {
                        @for (line, item) in lines.iter().zip(&items) {
                            tr {
                                td { (line.sku_code) }
                                td { (line.name) }
                                td {
                                    @if item.is_kit() {
                                        ul { @for c in &item.components {
                                            li { (c.sku_code) " × " (c.quantity) " per kit: " (aisles.get(&c.sku_id).cloned().flatten().unwrap_or_else(|| "no aisle".into())) }
                                        } }
                                    } @else {
                                        (aisles.get(&line.sku_id).cloned().flatten().unwrap_or_default())
                                    }
                                }
                                td { (line.open_quantity()) }
                                td { (line.picked_quantity.map(|p| p.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
                @if status == S::Allocated && picking_here {
                    (view::form(&csrf, &action("start"), html! {}, "Start picking"))
                }
                @if matches!(status, S::Allocated | S::Picking) && picking_here {
                    h2 { "Record picks" }
                    (view::form(&csrf, &action("picks"), html! {
                        @for line in &lines {
                            div {
                                label for={ "picked-" (line.id) } { "Picked of " (line.sku_code) " (open " (line.open_quantity()) ")" }
                                input id={ "picked-" (line.id) } name={ "picked-" (line.id) } type="number" min="0"
                                    max=(line.open_quantity()) value=(line.open_quantity()) inputmode="numeric" required;
                            }
                        }
                    }, "Record picks"))
                }
                @if matches!(status, S::Allocated | S::Picking | S::Packed | S::Shipped) && f.pickup_location_id.as_ref() == Some(&store.id) {
                    (view::form(&csrf, &action("ready"), html! {}, "Mark ready"))
                }
                @if status == S::ReadyForPickup {
                    h2 { "Hand over" }
                    (view::form(&csrf, &action("collect"), html! {
                        div {
                            label for="code" { "The customer's pickup code" }
                            input #code name="code" autocomplete="off" autocapitalize="characters" required maxlength="20";
                        }
                    }, "Verify and hand over"))
                    (view::form(&csrf, &action("reissue"), html! {}, "Reissue code"))
                }
                p { a href={ "/staff/pickups" (store_query(&caller, &store)) } { "Back to the queue" } }
            };
            Ok::<_, ApiError>(Page { store: Some(store), body })
        })
        .await;
    render(&signed, "Pickup", outcome)
}

/// Runs one action on a pickup, then shows the pickup again with what happened.
pub async fn act(
    ctx: Data<Context>,
    signed: Signed,
    req: HttpRequest,
    path: Path<(String, String)>,
    query: QueryString<Query>,
    form: Form<Vec<(String, String)>>,
) -> HttpResponse {
    if let Some(refused) = signed.refuse_form(&req, &form) {
        return refused;
    }
    let (id, action) = path.into_inner();
    let asked = query.into_inner().store;
    let asked_store = asked.clone().unwrap_or_default();
    let code = field(&form, "code").unwrap_or_default().to_owned();
    let picked: Vec<(String, String)> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("picked-").map(|line| (line.to_owned(), v.trim().to_owned())))
        .collect();
    let Signed { caller, .. } = signed;
    let (now, config) = (ctx.now(), ctx.config.clone());
    let back = format!("/staff/pickups/{id}");
    let outcome = ctx
        .db
        .write(move |conn| {
            let store = store_of(conn, &caller, asked.as_deref())?;
            let (found, f) = pickup_here(conn, &store, &id)?;
            let act = Act { actor: &caller, config: &config, now };
            let done = match action.as_str() {
                "start" => {
                    caller.may(Op::MoveFulfilments)?;
                    policy::order(&caller, &found, OrderUse::Read)?;
                    policy::fulfilment(&caller, &f, Side::Source)?;
                    order::lifecycle::advance(conn, &f.id, Action::StartPicking, None, &act)?;
                    Ok("Picking started".to_owned())
                }
                "picks" => {
                    caller.may(Op::PreparePickups)?;
                    policy::fulfilment(&caller, &f, Side::Source)?;
                    let mut picks = Vec::new();
                    for (line, value) in &picked {
                        let units = value.parse::<i32>().ok().filter(|p| (0..=1_000_000).contains(p));
                        let units = units
                            .ok_or_else(|| ApiError::field("/picked", format!("'{value}' is not a number of units")))?;
                        picks.push((OrderLineId(line.clone()), units));
                    }
                    order::picking::record_picks(conn, &f.id, &picks, &act)?;
                    Ok("Picks recorded".to_owned())
                }
                "ready" => {
                    caller.may(Op::PreparePickups)?;
                    pickup::mark_ready(conn, &store, &f.id, &act)?;
                    Ok("Ready: the customer has been sent a pickup code".to_owned())
                }
                "collect" => {
                    caller.may(Op::CollectPickups)?;
                    // A wrong code is counted, so this transaction commits and
                    // the refusal is shown after.
                    match pickup::collect(conn, &store, &f.id, &code, &act)? {
                        Handover::Collected(_) => Ok("Handed over: the order is collected".to_owned()),
                        Handover::WrongCode { attempts_left } => {
                            Err(format!("Wrong pickup code: {attempts_left} tries left before the pickup locks"))
                        }
                        Handover::Locked => {
                            Err("Too many wrong codes: the pickup is locked; reissue a code".to_owned())
                        }
                    }
                }
                "reissue" => {
                    caller.may(Op::PreparePickups)?;
                    pickup::reissue_code(conn, &store, &f.id, &act)?;
                    Ok("A new code has been sent to the customer".to_owned())
                }
                other => return Err(ApiError::not_found(format!("there is no pickup action '{other}'"))),
            };
            let admin_store = if caller.location_id.is_none() { store.code.to_string() } else { String::new() };
            Ok::<_, ApiError>((done, admin_store))
        })
        .await;
    match outcome {
        Ok((Ok(done), store)) => see_other(&link(&back, &[("store", &store), ("ok", &done)])),
        Ok((Err(refused), store)) => see_other(&link(&back, &[("store", &store), ("error", &refused)])),
        Err(error) if !error.status().is_server_error() => {
            see_other(&link(&back, &[("store", &asked_store), ("error", error.detail())]))
        }
        Err(error) => super::failed(&error),
    }
}
