//! Stock lookup (scan or type), counts and adjustments; customer lookup with
//! the open cart's channel trail and orders from every channel.

use actix_web::web::{Data, Form, Path, Query as QueryString};
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use super::pickups::store_query;
use super::{Page, Query, Signed, field, link, render, see_other, store_of, view};
use crate::cart;
use crate::catalog;
use crate::context::Context;
use crate::customer;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::inventory;
use crate::order;
use crate::text::text;
use crate::types::{Money, PageRequest};

/// Other stores shown beside the level: the nearest few.
const NEARBY: usize = 5;

/// A SKU's level here (and why), the nearest stores' levels, and the count
/// and adjustment forms.
pub async fn stock(ctx: Data<Context>, signed: Signed, query: QueryString<Query>) -> HttpResponse {
    let (caller, csrf, query) = (signed.caller.clone(), signed.csrf.clone(), query.into_inner());
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::ReadStock)?;
            let store = store_of(conn, &caller, query.store.as_deref())?;
            let q = store_query(&caller, &store);
            let wanted = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
            let found = match wanted {
                Some(code) => match catalog::get_sku(conn, code) {
                    Ok(sku) => Some(sku),
                    Err(catalog::CatalogError::SkuNotFound(_)) => None,
                    Err(other) => return Err(other.into()),
                },
                None => None,
            };
            let details = match &found {
                Some(sku) => {
                    let explained = inventory::explain(conn, &inventory::Item::of(sku), &store.id)?;
                    let mut nearby: Vec<_> = inventory::levels_of(conn, &[inventory::Item::of(sku)])?
                        .into_iter()
                        .filter(|l| l.location_id != store.id)
                        .collect();
                    nearby.sort_by(|a, b| store.point.distance_km(a.point).total_cmp(&store.point.distance_km(b.point)));
                    nearby.truncate(NEARBY);
                    Some((explained, nearby))
                }
                None => None,
            };
            let body = html! {
                (view::notes(query.ok.as_deref(), query.error.as_deref()))
                form method="get" action="/staff/stock" role="search" {
                    @if caller.location_id.is_none() { input type="hidden" name="store" value=(store.code.as_str()); }
                    label for="q" { "Scan or type a GTIN or SKU" }
                    input #q name="q" value=(wanted.unwrap_or_default()) autofocus autocomplete="off" required maxlength="64";
                    " " button type="submit" { "Look up" }
                }
                @if let (Some(code), None) = (wanted, &found) { p.note.error role="alert" { "No SKU or GTIN '" (code) "'." } }
                @if let (Some(sku), Some((explained, nearby))) = (&found, &details) {
                    @let level = &explained.level;
                    h2 { (sku.code.as_str()) " · " (sku.name) }
                    table.figures {
                        tbody {
                            tr { th scope="row" { "On hand" } td #on-hand { (level.on_hand) } }
                            tr { th scope="row" { "Reserved" } td { (level.reserved) } }
                            tr { th scope="row" { "Safety stock" } td { (level.safety_stock) } }
                            tr { th scope="row" { "Available" } td #available { (level.available()) } }
                            tr { th scope="row" { "Aisle" } td { (level.aisle.as_deref().unwrap_or("unknown")) } }
                        }
                    }
                    p { (explained.sentence()) }
                    h2 { "Other stores nearby" }
                    @if nearby.is_empty() { p { "No other store stocks it." } }
                    ul { @for other in nearby { li { (other.location_code) " (" (other.location_name) "): " (other.available()) " available" } } }
                    h2 { "Count" }
                    (view::form(&csrf, &format!("/staff/stock/count{q}"), html! {
                        input type="hidden" name="sku" value=(sku.code.as_str());
                        div { label for="counted" { "Units counted on the shelf" } input #counted name="counted" type="number" min="0" inputmode="numeric" required; }
                        div { label for="count-reason" { "Reason (optional)" } input #count-reason name="reason" maxlength="200"; }
                    }, "Record count"))
                    h2 { "Adjust" }
                    (view::form(&csrf, &format!("/staff/stock/adjust{q}"), html! {
                        input type="hidden" name="sku" value=(sku.code.as_str());
                        div { label for="delta" { "Units to add (negative to remove)" } input #delta name="delta" type="number" required; }
                        div { label for="adjust-reason" { "Reason" } input #adjust-reason name="reason" required maxlength="200"; }
                    }, "Adjust"))
                }
            };
            Ok::<_, ApiError>(Page { store: Some(store), body })
        })
        .await;
    render(&signed, "Stock", outcome)
}

/// A count or an adjustment from the stock page.
pub async fn change_stock(
    ctx: Data<Context>,
    signed: Signed,
    req: HttpRequest,
    action: Path<String>,
    query: QueryString<Query>,
    form: Form<Vec<(String, String)>>,
) -> HttpResponse {
    if let Some(refused) = signed.refuse_form(&req, &form) {
        return refused;
    }
    let caller = signed.caller;
    let asked = query.into_inner().store.unwrap_or_default();
    let sku_code = field(&form, "sku").unwrap_or_default().to_owned();
    let reason = field(&form, "reason").unwrap_or_default().to_owned();
    let number = |name: &str| field(&form, name).and_then(|v| v.parse::<i32>().ok());
    let (counted, delta) = (number("counted"), number("delta"));
    let now = ctx.now();
    let (store, code) = (asked.clone(), sku_code.clone());
    let outcome = ctx
        .db
        .write(move |conn| {
            caller.may(Op::MoveStock)?;
            // Pages show an admin the first store by default; stock moves
            // only where the form says.
            if caller.location_id.is_none() && store.is_empty() {
                return Err(ApiError::field("/store", "name the store whose stock this is"));
            }
            let location = store_of(conn, &caller, Some(&store))?;
            caller.require_at(&location.id, location.code.as_str())?;
            let sku = inventory::stocked_sku(conn, &code)?;
            match action.as_str() {
                "count" => {
                    let counted = counted
                        .filter(|c| (0..=1_000_000).contains(c))
                        .ok_or_else(|| ApiError::field("/counted", "count 0 to 1000000 units"))?;
                    let reason = if reason.is_empty() {
                        None
                    } else {
                        Some(text(&reason, 200).map_err(|d| ApiError::field("/reason", d))?)
                    };
                    let (level, difference) =
                        inventory::count(conn, &location.id, &sku.id, counted, reason.as_deref(), &caller, now)?;
                    Ok(format!("Counted {counted}: {difference:+} against the record; {} available", level.available()))
                }
                "adjust" => {
                    let delta = delta
                        .filter(|d| *d != 0 && d.abs() <= 1_000_000)
                        .ok_or_else(|| ApiError::field("/delta", "add or remove 1 to 1000000 units"))?;
                    let reason = text(&reason, 200).map_err(|d| ApiError::field("/reason", d))?;
                    let level = inventory::adjust(conn, &location.id, &sku.id, delta, &reason, &caller, now)?;
                    Ok(format!("Adjusted by {delta:+}; {} on hand, {} available", level.on_hand, level.available()))
                }
                other => Err(ApiError::not_found(format!("there is no stock action '{other}'"))),
            }
        })
        .await;
    let store = if asked.is_empty() { "" } else { asked.as_str() };
    match outcome {
        Ok(done) => see_other(&link("/staff/stock", &[("store", store), ("q", &sku_code), ("ok", &done)])),
        Err(error) if !error.status().is_server_error() => {
            see_other(&link("/staff/stock", &[("store", store), ("q", &sku_code), ("error", error.detail())]))
        }
        Err(error) => super::failed(&error),
    }
}

fn money(minor: i64, currency: &str) -> String {
    match crate::types::Currency::parse(currency) {
        Ok(currency) => format!("{} {}", Money { minor, currency }.amount_string(), currency.code()),
        Err(_) => minor.to_string(),
    }
}

/// Customers by email or phone: the open cart with its channel trail, and
/// their orders from every channel.
pub async fn customers(ctx: Data<Context>, signed: Signed, query: QueryString<Query>) -> HttpResponse {
    let (caller, query) = (signed.caller.clone(), query.into_inner());
    let outcome = ctx
        .db
        .read(move |conn| {
            caller.may(Op::SearchCustomers)?;
            let store = store_of(conn, &caller, query.store.as_deref()).ok();
            let wanted = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
            let searched = match wanted {
                Some(q) if q.contains('@') => Some(customer::normalize_email(q).map(|e| (Some(e), None))),
                Some(q) => Some(customer::normalize_phone(q).map(|p| (None, Some(p)))),
                None => None,
            };
            let mut found = Vec::new();
            let mut problem = None;
            match searched {
                Some(Ok((email, phone))) => {
                    for c in customer::search(conn, email.as_deref(), phone.as_deref())? {
                        let open = cart::open_of(conn, &c.id)?;
                        let trail = match &open {
                            Some(open) => cart::history(conn, &open.id, &PageRequest { limit: 20, after: None })?.items,
                            None => Vec::new(),
                        };
                        let orders = order::recent_for(conn, &c.id, 20)?;
                        found.push((c, open, trail, orders));
                    }
                }
                Some(Err(detail)) => problem = Some(detail),
                None => {}
            }
            let body = html! {
                form method="get" action="/staff/customers" role="search" {
                    @if let (None, Some(store)) = (&caller.location_id, &store) { input type="hidden" name="store" value=(store.code.as_str()); }
                    label for="q" { "Email or phone" }
                    input #q name="q" value=(wanted.unwrap_or_default()) autofocus required maxlength="200";
                    " " button type="submit" { "Find" }
                }
                @if let Some(problem) = &problem { p.note.error role="alert" { (problem) } }
                @if wanted.is_some() && found.is_empty() && problem.is_none() { p { "No customer found." } }
                @for (c, open, trail, orders) in &found {
                    section {
                        h2 { (c.name.as_deref().unwrap_or(&c.external_ref)) }
                        p { (c.email.as_deref().unwrap_or("")) " " (c.phone.as_deref().unwrap_or("")) " · ref " (c.external_ref) }
                        h3 { "Open cart" }
                        @match open {
                            Some(open) => {
                                ul { @for line in &open.lines { li { (line.quantity) " × " (line.sku.code.as_str()) " " (line.sku.name) " — added via " (line.added_channel) } } }
                                h4 { "Channel trail" }
                                ol { @for change in trail { li { (change.created_at.format("%d %b %H:%M")) " " (change.action) " via " strong { (change.channel) } } } }
                            }
                            None => p { "No open cart." }
                        }
                        h3 { "Orders" }
                        @if orders.is_empty() { p { "No orders." } }
                        table {
                            @if !orders.is_empty() { thead { tr { th scope="col" { "Order" } th scope="col" { "Channel" } th scope="col" { "Status" } th scope="col" { "Total" } th scope="col" { "Lines" } } } }
                            tbody {
                                @for o in orders {
                                    tr {
                                        td { (o.row.number) } td { (o.row.channel) } td { (o.row.status) }
                                        td { (money(o.row.total_minor, &o.row.currency)) }
                                        td { @for l in &o.lines { (l.quantity) " × " (l.sku_code) " " } }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            Ok::<_, ApiError>(Page { store, body })
        })
        .await;
    render(&signed, "Customers", outcome)
}
