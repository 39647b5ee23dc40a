//! What happens to an order after it is placed: fulfilments move through
//! the state machine (with the stock effect of where they land), orders and
//! lines are cancelled, tracking is recorded.

use serde_json::json;

use super::model::{Fulfilment, Order, OrderLine, RefundKind};
use super::repo::{self, Audit, LineUnits};
use super::state::{self, Action, FulfilmentStatus};
use super::{Act, OrderError, audit, get, illegal, line_and_fulfilment, refresh_status, refund, same_day};
use crate::db::{AnyConnection, DbError};
use crate::events::{self, NewEvent};
use crate::inventory::reservation;
use crate::inventory::{self, ReservationStatus};
use crate::types::{FulfilmentId, OrderId, OrderLineId, Quantity};

pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";

/// Moves one fulfilment by `action`, with the stock effect of where it lands:
/// leaving the building commits the hold (a ledger sale), cancelling or
/// expiring gives it back.
pub fn advance(
    conn: &mut AnyConnection,
    fulfilment_id: &FulfilmentId,
    action: Action,
    reason: Option<&str>,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let fulfilment = super::fulfilment(conn, fulfilment_id)?;
    let (method, from) = (fulfilment.method()?, fulfilment.status()?);
    let to = state::transition(method, fulfilment.is_transfer(), from, action)
        .map_err(|allowed| OrderError::IllegalTransition { from, action, allowed })?;
    if !repo::set_status(conn, fulfilment_id, from.as_str(), to.as_str(), reason, act.now)? {
        // Someone moved it first; answer from where it is now.
        return Err(illegal(&super::fulfilment(conn, fulfilment_id)?, action)?);
    }
    move_stock(conn, &fulfilment, to, act)?;
    let order = get(conn, fulfilment.order_id.as_str())?;
    if state::releases_stock(to) {
        // Whatever was not handed over is no longer charged.
        let kind = if to == FulfilmentStatus::Expired { RefundKind::Expiry } else { RefundKind::Cancellation };
        let released = refund::take_all_off(conn, order.lines_of(fulfilment_id))?;
        same_day::unbook(conn, &fulfilment)?;
        let why = reason.unwrap_or(if to == FulfilmentStatus::Expired { "not collected in time" } else { "cancelled" });
        refund::record(conn, &order, kind, &released, why, act)?;
    }
    audit(
        conn,
        act,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(fulfilment_id),
            action: action.as_str(),
            from: Some(from.as_str()),
            to: Some(to.as_str()),
            reason,
        },
    )?;
    let payload = json!({
        "number": order.row.number,
        "fulfilment": fulfilment_id,
        "method": method,
        "from": from,
        "to": to,
        "channel": act.actor.channel,
    });
    let location = fulfilment.pickup_location_id.as_ref().or(fulfilment.location_id.as_ref());
    for topic in [Some(ORDER_STATUS_CHANGED), notification_topic(to)].into_iter().flatten() {
        let event = NewEvent {
            topic,
            sku_id: None,
            location_id: location,
            order_id: Some(&fulfilment.order_id),
            payload: payload.clone(),
        };
        events::append(conn, event, act.now)?;
    }
    refresh_status(conn, &fulfilment.order_id, act.now)?;
    get(conn, fulfilment.order_id.as_str())
}

/// The topic a channel listens to for telling the customer.
fn notification_topic(to: FulfilmentStatus) -> Option<&'static str> {
    match to {
        FulfilmentStatus::ReadyForPickup => Some("pickup.ready"),
        FulfilmentStatus::Collected => Some("pickup.collected"),
        FulfilmentStatus::Expired => Some("pickup.expired"),
        FulfilmentStatus::OutForDelivery => Some("delivery.out_for_delivery"),
        FulfilmentStatus::Delivered => Some("delivery.delivered"),
        _ => None,
    }
}

fn move_stock(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    to: FulfilmentStatus,
    act: &Act<'_>,
) -> Result<(), OrderError> {
    let Some(hold) = &fulfilment.reservation_id else { return Ok(()) };
    let held = reservation::get(conn, hold)?;
    let status = held.status;
    if state::commits_stock(to) && status == ReservationStatus::Active {
        reservation::commit(conn, &held, act.actor, &format!("fulfilment {}", to), act.now)?;
    } else if state::releases_stock(to) {
        if status == ReservationStatus::Active {
            reservation::release(conn, &held, act.actor, &format!("fulfilment {}", to), act.now)?;
        } else if status == ReservationStatus::Committed && fulfilment.is_transfer() {
            // The goods already travelled to the pickup store: they go on its shelf there.
            let order = get(conn, fulfilment.order_id.as_str())?;
            let store = fulfilment
                .pickup_location_id
                .clone()
                .ok_or_else(|| DbError::Corrupt("transfer without store".into()))?;
            for line in order.lines_of(&fulfilment.id).filter(|l| l.open_quantity() > 0) {
                let draws = line.item()?.draws(line.open_quantity());
                inventory::restock_return(conn, &store, &draws, &order.row.number, act.actor, act.now)?;
            }
        }
    }
    Ok(())
}

/// Cancels every fulfilment of the order; refused, naming what is allowed,
/// when any of them has already left.
pub fn cancel(conn: &mut AnyConnection, order_id: &OrderId, reason: &str, act: &Act<'_>) -> Result<Order, OrderError> {
    let order = get(conn, order_id.as_str())?;
    for f in &order.fulfilments {
        let status = f.status()?;
        if status == FulfilmentStatus::Cancelled {
            continue;
        }
        state::transition(f.method()?, f.is_transfer(), status, Action::Cancel)
            .map_err(|allowed| OrderError::IllegalTransition { from: status, action: Action::Cancel, allowed })?;
    }
    for f in order.fulfilments.iter().filter(|f| f.status != FulfilmentStatus::Cancelled.as_str()) {
        advance(conn, &f.id, Action::Cancel, Some(reason), act)?;
    }
    get(conn, order_id.as_str())
}

/// Cancels units of one line before it leaves; its held units go back.
pub fn cancel_line(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    line_id: &OrderLineId,
    quantity: Option<Quantity>,
    reason: &str,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let order = get(conn, order_id.as_str())?;
    let (line, fulfilment) = line_and_fulfilment(&order, line_id)?;
    let status = fulfilment.status()?;
    state::transition(fulfilment.method()?, fulfilment.is_transfer(), status, Action::Cancel)
        .map_err(|allowed| OrderError::IllegalTransition { from: status, action: Action::Cancel, allowed })?;
    let open = line.open_quantity();
    let q = quantity.map(Quantity::get).unwrap_or(open);
    let not_open =
        |open: i32| OrderError::NotReturnable(format!("line {} has {open} open units, not {q}", line.sku_code));
    if q > open || q < 1 {
        return Err(not_open(open));
    }
    // The guarded count decides: a concurrent cancellation finds the units gone.
    let released = refund::take_off(conn, line, q, LineUnits::Cancelled)?.ok_or_else(|| not_open(open - q))?;
    if let Some(hold) = &fulfilment.reservation_id {
        let units = Quantity::new(i64::from(q)).map_err(DbError::Corrupt)?;
        reservation::release_part(conn, hold, &line.item()?, units, act.actor, reason, act.now)?;
    }
    audit(
        conn,
        act,
        Audit {
            order: order_id,
            fulfilment: Some(&fulfilment.id),
            action: "cancel_line",
            from: None,
            to: None,
            reason: Some(&format!("{q} × {}: {reason}", line.sku_code)),
        },
    )?;
    refund::record(conn, &order, RefundKind::Cancellation, &[released], reason, act)?;
    let remaining: i32 = get(conn, order_id.as_str())?.lines_of(&fulfilment.id).map(OrderLine::open_quantity).sum();
    if remaining == 0 {
        // Nothing left to fulfil: the fulfilment ends as cancelled (its hold
        // is already released) and gives its delivery slot back.
        same_day::unbook(conn, fulfilment)?;
        repo::set_status(
            conn,
            &fulfilment.id,
            status.as_str(),
            FulfilmentStatus::Cancelled.as_str(),
            Some(reason),
            act.now,
        )?;
    }
    refresh_status(conn, order_id, act.now)?;
    get(conn, order_id.as_str())
}

/// Records the carrier's tracking number of a shipped fulfilment.
pub fn set_tracking(conn: &mut AnyConnection, fulfilment: &FulfilmentId, tracking: &str) -> Result<(), OrderError> {
    Ok(repo::set_tracking(conn, fulfilment, tracking)?)
}
