//! Picking: what was found on the shelf of each line; units not found are
//! re-allocated elsewhere or marked short, never dropped silently; and
//! fulfilments that needed attention are allocated once stock is back.

use serde_json::json;

use super::allocation::{self, Rule, Want, candidates, shortages};
use super::lifecycle::advance;
use super::model::{Fulfilment, Order, OrderLine, RefundKind};
use super::repo::{self, Audit, LineUnits};
use super::state::{Action, FulfilmentStatus, Method};
use super::{Act, OrderError, audit, audit_note, get, illegal, refresh_status, refund};
use crate::cart::DeliveryAddress;
use crate::catalog::{self, Location, Sku};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::events::{self, NewEvent};
use crate::inventory::reservation::{self, NewReservation};
use crate::inventory::{self, InventoryError, Item, LevelAt, Purpose};
use crate::pricing;
use crate::types::{FulfilmentId, OrderLineId, Quantity, SkuId};

/// Records what was picked of each line. Units not found are released and,
/// where another location has them, re-allocated there (for a pickup, sent on
/// to the store); otherwise the line is marked short and the order says so.
/// Nothing is dropped silently.
pub fn record_picks(
    conn: &mut AnyConnection,
    fulfilment_id: &FulfilmentId,
    picks: &[(OrderLineId, i32)],
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let fulfilment = super::fulfilment(conn, fulfilment_id)?;
    if fulfilment.status()? == FulfilmentStatus::Allocated {
        advance(conn, fulfilment_id, Action::StartPicking, Some("picking started"), act)?;
    }
    let current = super::fulfilment(conn, fulfilment_id)?;
    if current.status()? != FulfilmentStatus::Picking {
        return Err(illegal(&current, Action::Pack)?);
    }
    let order = get(conn, fulfilment.order_id.as_str())?;
    for (line_id, picked) in picks {
        let line = order
            .lines_of(fulfilment_id)
            .find(|l| &l.id == line_id)
            .ok_or_else(|| OrderError::LineNotFound(line_id.to_string()))?
            .clone();
        let open = line.open_quantity();
        if *picked < 0 || *picked > open {
            return Err(OrderError::BadPick(format!("line {} has {open} units to pick, not {picked}", line.sku_code)));
        }
        repo::count_units(conn, line_id, LineUnits::Picked(*picked))?
            .ok_or_else(|| OrderError::BadPick(format!("line {} changed while it was picked", line.sku_code)))?;
        if *picked < open {
            short_pick(conn, &fulfilment, &line, open - picked, act)?;
        }
    }
    let open_left: i32 =
        get(conn, fulfilment.order_id.as_str())?.lines_of(fulfilment_id).map(OrderLine::open_quantity).sum();
    if open_left == 0 {
        // Everything was short or moved elsewhere: this fulfilment has nothing left to hand over.
        advance(conn, fulfilment_id, Action::Cancel, Some("nothing left to pick here"), act)?;
    }
    refresh_status(conn, &fulfilment.order_id, act.now)?;
    get(conn, fulfilment.order_id.as_str())
}

/// Handles `short` units of a line that were not on the shelf.
fn short_pick(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    line: &OrderLine,
    short: i32,
    act: &Act<'_>,
) -> Result<(), OrderError> {
    let units = Quantity::new(i64::from(short)).map_err(DbError::Corrupt)?;
    if let Some(hold) = &fulfilment.reservation_id {
        reservation::release_part(conn, hold, &line.item()?, units, act.actor, "short pick", act.now)?;
    }
    let source = fulfilment
        .location_id
        .clone()
        .ok_or_else(|| DbError::Corrupt("picked fulfilment without a location".into()))?;
    // The system thought the units were there: correct on_hand. In a savepoint,
    // because a concurrent movement (a count, a sale) may already have taken
    // the shelf below: then there is nothing left to correct.
    let corrected = conn.write(|c| {
        inventory::adjust(c, &source, &line.sku_id, -short, "short pick: not on the shelf", act.actor, act.now)
    });
    match corrected {
        Ok(_) => {}
        Err(InventoryError::Insufficient(_)) => {
            tracing::info!(sku = %line.sku_code, short, "short pick: the shelf already shows fewer units");
        }
        Err(other) => return Err(other.into()),
    }
    let method = fulfilment.method()?;
    let moved = match method {
        Method::Pickup | Method::Curbside | Method::Ship => reallocate_units(conn, fulfilment, line, units, act)?,
        Method::SameDay | Method::Counter => None,
    };
    let note = match &moved {
        Some(location) => format!("{short} × {} re-allocated to {location}", line.sku_code),
        None => {
            let released = refund::take_off(conn, line, short, LineUnits::Short)?
                .ok_or_else(|| OrderError::BadPick(format!("line {} changed while it was picked", line.sku_code)))?;
            let reason = format!("{short} × {} short: not in stock anywhere, refund due", line.sku_code);
            let order = get(conn, fulfilment.order_id.as_str())?;
            refund::record(conn, &order, RefundKind::ShortPick, &[released], &reason, act)?;
            repo::set_status_reason(conn, &fulfilment.id, &reason)?;
            events::append(
                conn,
                NewEvent {
                    topic: "order.short_picked",
                    sku_id: Some(&line.sku_id),
                    location_id: Some(&source),
                    order_id: Some(&fulfilment.order_id),
                    payload: json!({"fulfilment": fulfilment.id, "sku": line.sku_code, "short": short}),
                },
                act.now,
            )?;
            reason
        }
    };
    audit_note(conn, fulfilment, "short_pick", &note, act)?;
    Ok(())
}

/// Moves `units` of a line to a new fulfilment from the nearest other
/// location that has them; returns that location's code, or None.
fn reallocate_units(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    line: &OrderLine,
    units: Quantity,
    act: &Act<'_>,
) -> Result<Option<String>, OrderError> {
    let method = fulfilment.method()?;
    let locations = catalog::active_locations(conn)?;
    let target = fulfilment
        .pickup_location_id
        .as_ref()
        .and_then(|id| locations.iter().find(|l| &l.id == id).map(|l| l.point))
        .or_else(|| {
            fulfilment
                .address
                .as_deref()
                .and_then(|a| serde_json::from_str::<DeliveryAddress>(a).ok())
                .and_then(|a| a.point())
        });
    let item = line.item()?;
    let levels = inventory::levels_among(conn, std::slice::from_ref(&item), locations.iter())?;
    let eligible: Vec<&Location> = locations
        .iter()
        .filter(|l| Some(&l.id) != fulfilment.location_id.as_ref())
        .filter(|l| method != Method::Ship || l.capabilities.ships)
        .collect();
    let cands = candidates(&levels, &eligible, LevelAt::available);
    let want = [Want { sku_id: line.sku_id.clone(), quantity: units.get() }];
    let rule = match target {
        Some(point) => Rule::Whole(point),
        None => Rule::Split(None),
    };
    let Some(part) = allocation::allocate(&want, &cands, rule)
        .ok()
        .and_then(|parts| parts.into_iter().next())
        .filter(|p| p.lines[0].1 == units.get())
    else {
        return Ok(None);
    };
    let order = get(conn, fulfilment.order_id.as_str())?;
    let held = reservation::create(
        conn,
        NewReservation {
            location_id: part.location_id.clone(),
            purpose: if order.row.marketplace_id.is_some() { Purpose::MarketplaceOrder } else { Purpose::Order },
            lines: vec![(item, units)],
            expires_at: None,
            customer_ref: None,
            reference: Some(order.row.number.clone()),
            order_id: Some(order.row.id.clone()),
        },
        act.actor,
        act.now,
    )?;
    let moved = Fulfilment {
        location_id: Some(part.location_id.clone()),
        pickup_location_id: fulfilment.pickup_location_id.clone(),
        status_reason: Some("re-allocated after a short pick at another location".to_owned()),
        reservation_id: Some(held.id().clone()),
        address: fulfilment.address.clone(),
        ..Fulfilment::blank(fulfilment.order_id.clone(), method, FulfilmentStatus::Allocated, timestamp(act.now))
    };
    repo::insert_fulfilment(conn, &moved)?;
    let kept = line.quantity - units.get();
    let weights = [i64::from(kept), i64::from(units.get())];
    let split = |amount: i64| pricing::allocate(amount, &weights);
    let (discount, tax, total) = (split(line.discount_minor), split(line.tax_minor), split(line.total_minor));
    repo::resize_line(
        conn,
        &OrderLine {
            quantity: kept,
            picked_quantity: line.picked_quantity.map(|p| p.min(kept)),
            discount_minor: discount[0],
            tax_minor: tax[0],
            total_minor: total[0],
            ..line.clone()
        },
    )?;
    let new_line = OrderLine {
        id: OrderLineId::generate(),
        fulfilment_id: moved.id.clone(),
        quantity: units.get(),
        discount_minor: discount[1],
        tax_minor: tax[1],
        total_minor: total[1],
        picked_quantity: None,
        short_quantity: 0,
        cancelled_quantity: 0,
        returned_quantity: 0,
        ..line.clone()
    };
    repo::insert_line(conn, &new_line)?;
    audit(
        conn,
        act,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(&moved.id),
            action: "placed",
            from: None,
            to: Some("allocated"),
            reason: moved.status_reason.as_deref(),
        },
    )?;
    Ok(locations.iter().find(|l| l.id == part.location_id).map(|l| l.code.to_string()))
}

/// Allocates a `needs_attention` fulfilment once stock is back: every open
/// unit from one location (nearest first), or refused with the shortage.
pub fn reallocate(conn: &mut AnyConnection, fulfilment_id: &FulfilmentId, act: &Act<'_>) -> Result<Order, OrderError> {
    let fulfilment = super::fulfilment(conn, fulfilment_id)?;
    if fulfilment.status()? != FulfilmentStatus::NeedsAttention {
        return Err(illegal(&fulfilment, Action::Reallocate)?);
    }
    let order = get(conn, fulfilment.order_id.as_str())?;
    let lines: Vec<&OrderLine> = order.lines_of(fulfilment_id).filter(|l| l.open_quantity() > 0).collect();
    let wants: Vec<Want> =
        lines.iter().map(|l| Want { sku_id: l.sku_id.clone(), quantity: l.open_quantity() }).collect();
    let ids: Vec<SkuId> = wants.iter().map(|w| w.sku_id.clone()).collect();
    let skus = catalog::skus_by_ids(conn, &ids)?;
    let skus: Vec<Sku> = ids.iter().filter_map(|id| skus.iter().find(|s| &s.id == id).cloned()).collect();
    let locations = catalog::active_locations(conn)?;
    let items: Vec<Item> = lines.iter().map(|l| l.item()).collect::<Result<_, DbError>>()?;
    let levels = inventory::levels_among(conn, &items, locations.iter())?;
    let shipping: Vec<&Location> = locations.iter().filter(|l| l.capabilities.ships).collect();
    let near = fulfilment
        .address
        .as_deref()
        .and_then(|a| serde_json::from_str::<DeliveryAddress>(a).ok())
        .and_then(|a| a.point());
    let cands = candidates(&levels, &shipping, LevelAt::available);
    let rule = match near {
        Some(point) => Rule::Whole(point),
        None => Rule::Split(None),
    };
    let part = match allocation::allocate(&wants, &cands, rule) {
        Ok(parts) if parts.len() == 1 => parts.into_iter().next(),
        Ok(_) => None,
        Err(short) => {
            return Err(InventoryError::Insufficient(shortages(&wants, &short, &skus, &levels, None, near)).into());
        }
    }
    .ok_or_else(|| OrderError::NotApplicable("no single location has every open unit yet".into()))?;
    let purpose = if order.row.marketplace_id.is_some() { Purpose::MarketplaceOrder } else { Purpose::Order };
    let held = reservation::create(
        conn,
        NewReservation {
            location_id: part.location_id.clone(),
            purpose,
            lines: items
                .into_iter()
                .zip(&wants)
                .map(|(item, w)| Ok((item, Quantity::new(i64::from(w.quantity)).map_err(DbError::Corrupt)?)))
                .collect::<Result<_, DbError>>()?,
            expires_at: inventory::expiry(purpose, None, &act.config.holds, act.now)?,
            customer_ref: None,
            reference: Some(order.row.number.clone()),
            order_id: Some(order.row.id.clone()),
        },
        act.actor,
        act.now,
    )?;
    repo::assign(conn, fulfilment_id, &part.location_id, held.id())?;
    advance(conn, fulfilment_id, Action::Reallocate, Some("stock allocated"), act)
}
