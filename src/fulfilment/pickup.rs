//! Buy online, pick up in store (and curbside): the store's queue, the pick
//! list, the pickup code, the handover at the counter and the deadline.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::catalog::{self, Component, Location};
use crate::db::{AnyConnection, DbError};
use crate::events::{self, NewEvent};
use crate::inventory;
use crate::order::lifecycle::advance;
use crate::order::state::{Action, FulfilmentStatus, Method};
use crate::order::{self, Act, Fulfilment, Order, OrderError, handover};
use crate::secret;
use crate::types::{FulfilmentId, SkuId};

/// Wrong codes before a pickup locks.
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// Warn the customer this long before the deadline.
const EXPIRY_WARNING: i64 = 24;

const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

fn new_code() -> String {
    secret::random_text(CODE_ALPHABET, 6)
}

/// The code's hash, salted with the fulfilment id so equal codes differ.
fn hash_code(fulfilment: &FulfilmentId, code: &str) -> String {
    secret::sha256_hex(format!("{fulfilment}:{}", code.trim().to_uppercase()).as_bytes())
}

/// A pickup in the store's queue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub order: Order,
    pub fulfilment: Fulfilment,
}

/// The store's pickups, curbside arrivals first (longest waiting first), then
/// by when they are due. Without a status filter: everything not yet handed over.
pub fn queue(
    conn: &mut AnyConnection,
    store: &Location,
    statuses: Option<&[FulfilmentStatus]>,
) -> Result<Vec<QueueEntry>, OrderError> {
    use FulfilmentStatus as S;
    let default = [S::Allocated, S::Picking, S::Packed, S::Shipped, S::ReadyForPickup];
    let mut entries: Vec<QueueEntry> = handover::pickups_at(conn, &store.id, statuses.unwrap_or(&default))?
        .into_iter()
        .map(|(order, fulfilment)| QueueEntry { order, fulfilment })
        .collect();
    entries.sort_by(|a, b| {
        let (a, b) = (&a.fulfilment, &b.fulfilment);
        match (a.arrived_at, b.arrived_at) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.ready_by.cmp(&b.ready_by).then(a.created_at.cmp(&b.created_at)),
        }
    });
    Ok(entries)
}

/// One SKU to take from a shelf, and for which orders.
#[derive(Debug, Clone)]
pub struct PickItem {
    pub sku_id: SkuId,
    pub sku_code: String,
    pub name: String,
    pub quantity: i32,
    /// (order number, fulfilment, units, the kit they are part of).
    pub orders: Vec<(String, FulfilmentId, i32, Option<String>)>,
}

/// What to pick at a store, grouped by aisle (unknown aisles last): every
/// fulfilment whose stock comes from here and is allocated or being picked.
/// A kit is picked as its components, each from its own shelf.
pub fn pick_list(
    conn: &mut AnyConnection,
    store: &Location,
) -> Result<BTreeMap<Option<String>, Vec<PickItem>>, OrderError> {
    let mut items: BTreeMap<SkuId, PickItem> = BTreeMap::new();
    let mut pick = |sku_id: SkuId, sku_code: String, name: String, units: i32, order: (String, FulfilmentId), kit| {
        let item = items.entry(sku_id.clone()).or_insert_with(|| PickItem {
            sku_id,
            sku_code,
            name,
            quantity: 0,
            orders: Vec::new(),
        });
        item.quantity += units;
        item.orders.push((order.0, order.1, units, kit));
    };
    for (number, fulfilment, sku_id, sku_code, name, quantity, short, cancelled, returned, components) in
        handover::lines_to_pick(conn, &store.id)?
    {
        let open = quantity - short - cancelled - returned;
        if open <= 0 {
            continue;
        }
        let Some(raw) = components else {
            pick(sku_id, sku_code, name, open, (number, fulfilment), None);
            continue;
        };
        let parts: Vec<Component> = serde_json::from_str(&raw)
            .map_err(|e| DbError::Corrupt(format!("components of a line of order {number}: {e}")))?;
        for c in parts {
            // Named below: the line only knows the kit's name.
            let units = c.quantity.saturating_mul(open);
            pick(
                c.sku_id,
                c.sku_code,
                String::new(),
                units,
                (number.clone(), fulfilment.clone()),
                Some(sku_code.clone()),
            );
        }
    }
    let unnamed: Vec<SkuId> = items.values().filter(|i| i.name.is_empty()).map(|i| i.sku_id.clone()).collect();
    if !unnamed.is_empty() {
        for sku in catalog::skus_by_ids(conn, &unnamed)? {
            if let Some(item) = items.get_mut(&sku.id) {
                item.name = sku.name;
            }
        }
    }
    let skus: Vec<SkuId> = items.keys().cloned().collect();
    let aisles: HashMap<SkuId, Option<String>> = inventory::aisles(conn, &store.id, &skus)?;
    let mut grouped: BTreeMap<Option<String>, Vec<PickItem>> = BTreeMap::new();
    for item in items.into_values() {
        grouped.entry(aisles.get(&item.sku_id).cloned().flatten()).or_default().push(item);
    }
    Ok(grouped)
}

fn at_store(fulfilment: &Fulfilment, store: &Location) -> Result<(), OrderError> {
    let collects_here = fulfilment.pickup_location_id.as_ref() == Some(&store.id);
    let method = fulfilment.method()?;
    if collects_here && matches!(method, Method::Pickup | Method::Curbside) {
        Ok(())
    } else {
        Err(OrderError::FulfilmentNotFound(format!("{} (no pickup at {})", fulfilment.id, store.code)))
    }
}

/// Marks a pickup ready: walks it through picking and packing as needed,
/// issues a pickup code (checked against its hash; shown to the customer's
/// storefront channels until collected) and sets the deadline from the
/// store's hold days.
pub fn mark_ready(
    conn: &mut AnyConnection,
    store: &Location,
    id: &FulfilmentId,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let fulfilment = order::fulfilment(conn, id)?;
    at_store(&fulfilment, store)?;
    let steps: &[Action] = match fulfilment.status()? {
        FulfilmentStatus::Allocated => &[Action::StartPicking, Action::Pack, Action::MarkReady],
        FulfilmentStatus::Picking => &[Action::Pack, Action::MarkReady],
        _ => &[Action::MarkReady],
    };
    for step in steps {
        advance(conn, id, *step, None, act)?;
    }
    let code = new_code();
    let deadline = act.now + Duration::days(i64::from(store.capabilities.pickup_hold_days));
    handover::set_code(conn, id, &hash_code(id, &code), &code, Some(deadline))?;
    order::get(conn, fulfilment.order_id.as_str())
}

/// What a code check at the counter found.
#[derive(Debug)]
pub enum Handover {
    Collected(Box<Order>),
    WrongCode { attempts_left: i32 },
    Locked,
}

/// Verifies the pickup code and hands the order over (its stock is sold).
/// Every wrong code is counted, in the caller's transaction, which must
/// commit (so a brute force shows in full); from the fifth the pickup is
/// locked until staff reissue a code, and even the right code is refused.
pub fn collect(
    conn: &mut AnyConnection,
    store: &Location,
    id: &FulfilmentId,
    code: &str,
    act: &Act<'_>,
) -> Result<Handover, OrderError> {
    let fulfilment = order::fulfilment(conn, id)?;
    at_store(&fulfilment, store)?;
    if fulfilment.status()? != FulfilmentStatus::ReadyForPickup {
        return Err(order::illegal(&fulfilment, Action::Collect)?);
    }
    let expected = fulfilment.pickup_code_hash.clone().unwrap_or_default();
    if !secret::constant_time_eq(hash_code(id, code).as_bytes(), expected.as_bytes()) {
        // Counted in one statement, so concurrent wrong codes each count.
        let attempts = handover::count_wrong_code(conn, id)?;
        let note = if attempts >= MAX_CODE_ATTEMPTS { "wrong pickup code; pickup locked" } else { "wrong pickup code" };
        // The attempt is logged and audited; the code itself never is.
        tracing::warn!(fulfilment = %id, attempts, store = %store.code, "{note}");
        order::audit_note(conn, &fulfilment, "wrong_pickup_code", note, act)?;
        return Ok(if attempts >= MAX_CODE_ATTEMPTS {
            Handover::Locked
        } else {
            Handover::WrongCode { attempts_left: MAX_CODE_ATTEMPTS - attempts }
        });
    }
    if fulfilment.pickup_code_attempts >= MAX_CODE_ATTEMPTS {
        return Ok(Handover::Locked);
    }
    let collected = advance(conn, id, Action::Collect, Some("pickup code verified"), act)?;
    handover::clear_code(conn, id)?;
    Ok(Handover::Collected(Box::new(collected)))
}

/// Issues a new code (the customer lost it, or the pickup locked).
pub fn reissue_code(
    conn: &mut AnyConnection,
    store: &Location,
    id: &FulfilmentId,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let fulfilment = order::fulfilment(conn, id)?;
    at_store(&fulfilment, store)?;
    if fulfilment.status()? != FulfilmentStatus::ReadyForPickup {
        return Err(OrderError::NotApplicable("only a pickup that is ready has a code".into()));
    }
    let code = new_code();
    handover::set_code(conn, id, &hash_code(id, &code), &code, None)?;
    order::audit_note(conn, &fulfilment, "reissue_pickup_code", "new pickup code issued", act)?;
    order::get(conn, fulfilment.order_id.as_str())
}

/// The customer says they are at the curb, through any channel.
pub fn arrived(
    conn: &mut AnyConnection,
    id: &FulfilmentId,
    note: Option<&str>,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let fulfilment = order::fulfilment(conn, id)?;
    let status = fulfilment.status()?;
    let waiting = matches!(
        status,
        FulfilmentStatus::Allocated
            | FulfilmentStatus::Picking
            | FulfilmentStatus::Packed
            | FulfilmentStatus::Shipped
            | FulfilmentStatus::ReadyForPickup
    );
    if fulfilment.method()? != Method::Curbside || !waiting {
        return Err(OrderError::NotApplicable(format!(
            "only a curbside pickup not yet handed over takes arrivals (this one is {} and {status})",
            fulfilment.method
        )));
    }
    handover::record_arrival(conn, id, act.now, note)?;
    order::audit_note(conn, &fulfilment, "customer_arrived", note.unwrap_or("customer arrived"), act)?;
    events::append(
        conn,
        NewEvent {
            topic: "pickup.customer_arrived",
            sku_id: None,
            location_id: fulfilment.pickup_location_id.as_ref(),
            order_id: Some(&fulfilment.order_id),
            payload: json!({"fulfilment": id, "note": note}),
        },
        act.now,
    )?;
    order::get(conn, fulfilment.order_id.as_str())
}

/// Ready pickups past their deadline, oldest first.
pub fn overdue(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<Fulfilment>, DbError> {
    handover::overdue(conn, now, limit)
}

/// Expires an uncollected pickup: its stock goes back on the shelf and the
/// order says why.
pub fn expire(conn: &mut AnyConnection, fulfilment: &Fulfilment, act: &Act<'_>) -> Result<(), OrderError> {
    let deadline = fulfilment.pickup_deadline.map(|d| d.and_utc().to_rfc3339()).unwrap_or_default();
    let reason = format!("not collected by {deadline}; stock returned to the shelf");
    match advance(conn, &fulfilment.id, Action::Expire, Some(&reason), act) {
        // Collected or cancelled meanwhile: nothing to expire.
        Ok(_) | Err(OrderError::IllegalTransition { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Whether a pickup's deadline is within a day and its customer not yet warned.
pub fn expiring_unwarned(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<bool, DbError> {
    Ok(!handover::unwarned_due_by(conn, now + Duration::hours(EXPIRY_WARNING))?.is_empty())
}

/// Announces pickups whose deadline is within a day (once each).
pub fn warn_expiring(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<usize, DbError> {
    let due = handover::unwarned_due_by(conn, now + Duration::hours(EXPIRY_WARNING))?;
    for fulfilment in &due {
        if handover::mark_warned(conn, &fulfilment.id)? {
            events::append(
                conn,
                NewEvent {
                    topic: "pickup.expiring",
                    sku_id: None,
                    location_id: fulfilment.pickup_location_id.as_ref(),
                    order_id: Some(&fulfilment.order_id),
                    payload: json!({"fulfilment": fulfilment.id, "deadline": fulfilment.pickup_deadline.map(|d| d.and_utc())}),
                },
                now,
            )?;
        }
    }
    Ok(due.len())
}
