//! Money due back for units a customer will not get: cancelled (a line or a
//! whole fulfilment), short at picking with nowhere else to take them from,
//! or a pickup never collected. Each records a refund with its lines, takes
//! exactly that off the order's totals and announces `order.refund_due`, so
//! the payment system refunds what the order no longer charges. Returns keep
//! their own refunds (`returns`).

use serde_json::json;

use super::model::{Amounts, Order, OrderLine, RefundKind, RefundLine, RefundRow};
use super::repo::{self, Audit, LineUnits};
use super::{Act, OrderError, audit, money_string};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::events::{self, NewEvent};
use crate::types::RefundId;

pub const ORDER_REFUND_DUE: &str = "order.refund_due";

/// Units of a line no longer due: how many, and how many of the line's
/// units were gone before them.
pub struct Released {
    pub line: OrderLine,
    pub units: i32,
    pub before: i32,
}

impl Released {
    /// Their money: units taken off after every unit already gone.
    fn amounts(&self, prices_include_tax: bool) -> Amounts {
        self.line.share(self.before, self.units, prices_include_tax)
    }
}

/// Takes `units` off a line as `how` in one guarded statement; None when they
/// are no longer open (someone else took them first).
pub fn take_off(
    conn: &mut AnyConnection,
    line: &OrderLine,
    units: i32,
    how: fn(i32) -> LineUnits,
) -> Result<Option<Released>, DbError> {
    let counted = repo::count_units(conn, &line.id, how(units))?;
    Ok(counted.map(|c| Released { line: line.clone(), units, before: c.gone_before(units) }))
}

/// Every open unit of `lines` taken off as cancelled (a fulfilment that ends
/// without handing them over).
pub fn take_all_off<'o>(
    conn: &mut AnyConnection,
    lines: impl Iterator<Item = &'o OrderLine>,
) -> Result<Vec<Released>, DbError> {
    let mut released = Vec::new();
    for line in lines.filter(|l| l.open_quantity() > 0) {
        // Counted from the row as it is, so a concurrent change is never overwritten.
        if let Some(r) = take_off(conn, line, line.open_quantity(), LineUnits::Cancelled)? {
            released.push(r);
        }
    }
    Ok(released)
}

/// Records what `released` cost as due back; nothing when nothing was paid
/// for them (a zero-priced line still leaves the units counted).
pub fn record(
    conn: &mut AnyConnection,
    order: &Order,
    kind: RefundKind,
    released: &[Released],
    reason: &str,
    act: &Act<'_>,
) -> Result<Option<RefundRow>, OrderError> {
    if released.is_empty() {
        return Ok(None);
    }
    let include_tax = order.row.prices_include_tax;
    let amounts: Vec<Amounts> = released.iter().map(|r| r.amounts(include_tax)).collect();
    let sum = amounts.iter().copied().fold(Amounts::default(), |a, b| a + b);
    let lines: Vec<RefundLine> = released
        .iter()
        .zip(&amounts)
        .map(|(r, a)| RefundLine {
            line: r.line.id.clone(),
            sku: r.line.sku_code.clone(),
            quantity: r.units,
            amount_minor: a.total,
        })
        .collect();
    let row = RefundRow {
        id: RefundId::generate(),
        order_id: order.row.id.clone(),
        kind: kind.as_str().to_owned(),
        amount_minor: sum.total,
        reason: reason.to_owned(),
        lines: serde_json::to_string(&lines).map_err(|e| DbError::Corrupt(e.to_string()))?,
        channel: act.actor.channel.as_str().to_owned(),
        created_at: timestamp(act.now),
    };
    repo::insert_refund(conn, &row, sum, act.now)?;
    let amount = order.money(sum.total)?;
    audit(
        conn,
        act,
        Audit {
            order: &order.row.id,
            fulfilment: None,
            action: "refund_due",
            from: None,
            to: None,
            reason: Some(&format!("{} {}: {reason}", money_string(amount), kind)),
        },
    )?;
    let units: Vec<_> = lines.iter().map(|l| json!({"sku": l.sku, "quantity": l.quantity})).collect();
    events::append(
        conn,
        NewEvent {
            topic: ORDER_REFUND_DUE,
            sku_id: None,
            location_id: None,
            order_id: Some(&order.row.id),
            payload: json!({
                "number": order.row.number,
                "refund": row.id,
                "kind": kind,
                "amount": amount.amount_string(),
                "currency": amount.currency.code(),
                "reason": reason,
                "lines": units,
                "payment_reference": order.row.payment_reference,
            }),
        },
        act.now,
    )?;
    Ok(Some(row))
}
