//! Returns: delivered goods come back, restocked or written off, with the
//! refund each line's price gives.

use std::collections::HashSet;

use serde_json::json;

use super::model::{Disposition, ReturnLine, ReturnRow};
use super::repo::{self, Audit, LineUnits};
use super::state::{FulfilmentStatus, Method};
use super::{Act, OrderError, audit, get, line_and_fulfilment, money_string};
use crate::db::{AnyConnection, timestamp};
use crate::events::{self, NewEvent};
use crate::inventory::{self, Draw, Item};
use crate::types::{LocationId, OrderId, OrderLineId, Quantity, ReturnId};

pub const ORDER_RETURNED: &str = "order.returned";

/// One line of a return.
#[derive(Debug, Clone)]
pub struct ReturnRequestLine {
    pub line_id: OrderLineId,
    pub quantity: Quantity,
    pub disposition: Disposition,
    /// For a kit whose parts did not all come back: the components (code,
    /// units) that did. None: every component of the kits returned.
    pub components: Option<Vec<(String, i32)>>,
}

/// What comes back onto the shelf for `units` kits (or units) of a line:
/// everything they hold, or for a partial kit return only the components
/// named, each at most what those kits hold. Pure.
pub fn returned_parts(
    item: &Item,
    units: i32,
    components: Option<&[(String, i32)]>,
    line_code: &str,
) -> Result<Vec<Draw>, OrderError> {
    let Some(named) = components else { return Ok(item.draws(units)) };
    let wrong = |why: String| OrderError::NotReturnable(format!("line {line_code}: {why}"));
    if !item.is_kit() {
        return Err(wrong("only a kit's line names the components that came back".into()));
    }
    named
        .iter()
        .enumerate()
        .map(|(i, (code, quantity))| {
            if named[..i].iter().any(|(earlier, _)| earlier == code) {
                return Err(wrong(format!("'{code}' is named twice; name each component once")));
            }
            let component = item
                .components
                .iter()
                .find(|c| &c.sku_code == code)
                .ok_or_else(|| wrong(format!("'{code}' is not a component of the kit")))?;
            let held = component.quantity.saturating_mul(units);
            if *quantity > held {
                return Err(wrong(format!("{units} kits hold {held} of '{code}', not {quantity}")));
            }
            Ok(Draw { sku_id: component.sku_id.clone(), quantity: *quantity, kit: Some(item.sku_id.clone()) })
        })
        .collect()
}

/// What a return did.
#[derive(Debug, Clone)]
pub struct Returned {
    pub row: ReturnRow,
    pub lines: Vec<ReturnLine>,
}

/// Takes units of delivered lines back: restocked at `location` (a ledger
/// `return`) or written off (a `return` then an `adjustment`). The refund is
/// each line's price for the units, split exactly so that returning every unit
/// refunds the line's total.
pub fn create_return(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    location: Option<&LocationId>,
    lines: &[ReturnRequestLine],
    reason: Option<&str>,
    act: &Act<'_>,
) -> Result<Returned, OrderError> {
    let order = get(conn, order_id.as_str())?;
    // Each line's open units are checked against the order as read, so a
    // line named twice would be checked twice against the same figure.
    let mut named = HashSet::new();
    if let Some(twice) = lines.iter().find(|l| !named.insert(&l.line_id)) {
        return Err(OrderError::NotReturnable(format!("line {} is named twice; name each line once", twice.line_id)));
    }
    let return_id = ReturnId::generate();
    let mut out = Vec::new();
    for request in lines {
        let (line, fulfilment) = line_and_fulfilment(&order, &request.line_id)?;
        let status = fulfilment.status()?;
        let delivered = matches!(status, FulfilmentStatus::Delivered | FulfilmentStatus::Collected)
            || (status == FulfilmentStatus::Shipped && fulfilment.method()? == Method::Ship);
        if !delivered {
            return Err(OrderError::NotReturnable(format!(
                "line {} is {status}: only delivered goods come back",
                line.sku_code
            )));
        }
        let q = request.quantity.get();
        let not_open = |open: i32| {
            OrderError::NotReturnable(format!("line {} has {open} units to return, not {q}", line.sku_code))
        };
        if q > line.open_quantity() {
            return Err(not_open(line.open_quantity()));
        }
        // The guarded count is what decides: a concurrent return of the same
        // units finds them gone here, even though both read them as open.
        let counted = repo::count_units(conn, &line.id, LineUnits::Returned(q))?
            .ok_or_else(|| not_open(line.open_quantity() - q))?;
        let place = location
            .or(fulfilment.pickup_location_id.as_ref())
            .or(fulfilment.location_id.as_ref())
            .cloned()
            .ok_or_else(|| OrderError::NotReturnable("say at which location the goods come back".into()))?;
        let parts = returned_parts(&line.item()?, q, request.components.as_deref(), &line.sku_code)?;
        inventory::restock_return(conn, &place, &parts, return_id.as_str(), act.actor, act.now)?;
        if request.disposition == Disposition::WriteOff {
            for part in parts.iter().filter(|p| p.quantity > 0) {
                let reason = "returned goods written off";
                inventory::adjust(conn, &place, &part.sku_id, -part.quantity, reason, act.actor, act.now)?;
            }
        }
        let before = counted.gone_before(q);
        out.push(ReturnLine {
            return_id: return_id.clone(),
            order_line_id: line.id.clone(),
            quantity: q,
            disposition: request.disposition.as_str().to_owned(),
            refund_minor: line.share(before, q, order.row.prices_include_tax).total,
        });
    }
    let row = ReturnRow {
        id: return_id.clone(),
        order_id: order_id.clone(),
        location_id: location.cloned(),
        reason: reason.map(str::to_owned),
        refund_minor: out.iter().map(|l| l.refund_minor).sum(),
        channel: act.actor.channel.as_str().to_owned(),
        actor: act.actor.key_id.to_string(),
        created_at: timestamp(act.now),
    };
    repo::insert_return(conn, &row, &out)?;
    let refund = order.money(row.refund_minor)?;
    audit(
        conn,
        act,
        Audit {
            order: order_id,
            fulfilment: None,
            action: "return",
            from: None,
            to: None,
            reason: Some(&format!("refund {}", money_string(refund))),
        },
    )?;
    events::append(
        conn,
        NewEvent {
            topic: ORDER_RETURNED,
            sku_id: None,
            location_id: location,
            order_id: Some(order_id),
            payload: json!({"number": order.row.number, "return": return_id, "refund": refund.amount_string(), "currency": refund.currency.code()}),
        },
        act.now,
    )?;
    Ok(Returned { row, lines: out })
}
