//! Buy online, pick up in store (and curbside): the store's queue, the pick
//! list, the pickup code, the handover at the counter and the deadline.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::Rng;
use serde_json::json;

use crate::catalog::Location;
use crate::db::schema::{fulfilments as f, order_lines as ol, orders as o, stock_levels as sl};
use crate::db::{AnyConnection, DbError, one_of, timestamp};
use crate::events::{self, NewEvent};
use crate::order::state::{Action, FulfilmentStatus, Method};
use crate::order::{self, Act, Fulfilment, Order, OrderError};
use crate::secret;
use crate::types::{FulfilmentId, SkuId};

/// Wrong codes before a pickup locks.
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// Warn the customer this long before the deadline.
const EXPIRY_WARNING: i64 = 24;

const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

fn new_code() -> String {
    let mut rng = rand::rng();
    (0..6).map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())])).collect()
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
    let wanted: Vec<&str> = statuses.unwrap_or(&default).iter().map(|s| s.as_str()).collect();
    let mut rows: Vec<Fulfilment> = f::table
        .filter(f::pickup_location_id.eq(&store.id))
        .filter(one_of(f::status, &wanted))
        .select(Fulfilment::as_select())
        .load(conn)?;
    rows.sort_by(|a, b| match (a.arrived_at, b.arrived_at) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.ready_by.cmp(&b.ready_by).then(a.created_at.cmp(&b.created_at)),
    });
    rows.into_iter()
        .map(|fulfilment| Ok(QueueEntry { order: order::get(conn, fulfilment.order_id.as_str())?, fulfilment }))
        .collect()
}

/// One SKU to take from a shelf, and for which orders.
#[derive(Debug, Clone)]
pub struct PickItem {
    pub sku_id: SkuId,
    pub sku_code: String,
    pub name: String,
    pub quantity: i32,
    /// (order number, fulfilment, units).
    pub orders: Vec<(String, FulfilmentId, i32)>,
}

/// (order number, fulfilment, SKU id, code, name, quantity, short, cancelled, returned)
type PickRow = (String, FulfilmentId, SkuId, String, String, i32, i32, i32, i32);

/// What to pick at a store, grouped by aisle (unknown aisles last): every
/// fulfilment whose stock comes from here and is allocated or being picked.
pub fn pick_list(
    conn: &mut AnyConnection,
    store: &Location,
) -> Result<BTreeMap<Option<String>, Vec<PickItem>>, OrderError> {
    let statuses = [FulfilmentStatus::Allocated.as_str(), FulfilmentStatus::Picking.as_str()];
    let rows: Vec<PickRow> = ol::table
        .inner_join(f::table)
        .inner_join(o::table)
        .filter(f::location_id.eq(&store.id))
        .filter(one_of(f::status, &statuses))
        .filter(f::method.ne(Method::Counter.as_str()))
        .order((ol::sku_code, o::number))
        .select((
            o::number,
            f::id,
            ol::sku_id,
            ol::sku_code,
            ol::name,
            ol::quantity,
            ol::short_quantity,
            ol::cancelled_quantity,
            ol::returned_quantity,
        ))
        .load(conn)?;
    let skus: Vec<SkuId> = rows.iter().map(|r| r.2.clone()).collect();
    let aisles: BTreeMap<SkuId, Option<String>> = sl::table
        .filter(sl::location_id.eq(&store.id))
        .filter(one_of(sl::sku_id, &skus))
        .select((sl::sku_id, sl::aisle))
        .load::<(SkuId, Option<String>)>(conn)?
        .into_iter()
        .collect();
    let mut items: BTreeMap<SkuId, PickItem> = BTreeMap::new();
    for (number, fulfilment, sku_id, sku_code, name, quantity, short, cancelled, returned) in rows {
        let open = quantity - short - cancelled - returned;
        if open <= 0 {
            continue;
        }
        let item = items.entry(sku_id.clone()).or_insert_with(|| PickItem {
            sku_id,
            sku_code,
            name,
            quantity: 0,
            orders: Vec::new(),
        });
        item.quantity += open;
        item.orders.push((number, fulfilment, open));
    }
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
/// issues a pickup code (stored hashed; readable once by the customer's
/// channel) and sets the deadline from the store's hold days.
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
        order::advance(conn, id, *step, None, act)?;
    }
    let code = new_code();
    let deadline = act.now + Duration::days(i64::from(store.capabilities.pickup_hold_days));
    diesel::update(f::table.find(id))
        .set((
            f::pickup_code_hash.eq(hash_code(id, &code)),
            f::pickup_code_plain.eq(&code),
            f::pickup_code_attempts.eq(0),
            f::pickup_deadline.eq(timestamp(deadline)),
            f::expiry_warned.eq(false),
        ))
        .execute(conn)?;
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
/// A wrong code is counted, in the caller's transaction, which must commit;
/// after five the pickup locks until staff reissue a code.
pub fn collect(
    conn: &mut AnyConnection,
    store: &Location,
    id: &FulfilmentId,
    code: &str,
    act: &Act<'_>,
) -> Result<Handover, OrderError> {
    let fulfilment = order::fulfilment(conn, id)?;
    at_store(&fulfilment, store)?;
    let status = fulfilment.status()?;
    if status != FulfilmentStatus::ReadyForPickup {
        let allowed = crate::order::state::moves(fulfilment.method()?, fulfilment.is_transfer(), status)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        return Err(OrderError::IllegalTransition { from: status, action: Action::Collect, allowed });
    }
    if fulfilment.pickup_code_attempts >= MAX_CODE_ATTEMPTS {
        return Ok(Handover::Locked);
    }
    let expected = fulfilment.pickup_code_hash.clone().unwrap_or_default();
    if !secret::constant_time_eq(hash_code(id, code).as_bytes(), expected.as_bytes()) {
        let attempts = fulfilment.pickup_code_attempts + 1;
        diesel::update(f::table.find(id)).set(f::pickup_code_attempts.eq(attempts)).execute(conn)?;
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
    let collected = order::advance(conn, id, Action::Collect, Some("pickup code verified"), act)?;
    diesel::update(f::table.find(id)).set(f::pickup_code_plain.eq(None::<String>)).execute(conn)?;
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
    diesel::update(f::table.find(id))
        .set((
            f::pickup_code_hash.eq(hash_code(id, &code)),
            f::pickup_code_plain.eq(&code),
            f::pickup_code_attempts.eq(0),
        ))
        .execute(conn)?;
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
    diesel::update(f::table.find(id))
        .set((f::arrived_at.eq(timestamp(act.now)), f::arrival_note.eq(note)))
        .execute(conn)?;
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
    Ok(f::table
        .filter(f::status.eq(FulfilmentStatus::ReadyForPickup.as_str()))
        .filter(f::pickup_deadline.le(timestamp(now)))
        .order(f::pickup_deadline)
        .limit(limit)
        .select(Fulfilment::as_select())
        .load(conn)?)
}

/// Expires an uncollected pickup: its stock goes back on the shelf and the
/// order says why.
pub fn expire(conn: &mut AnyConnection, fulfilment: &Fulfilment, act: &Act<'_>) -> Result<(), OrderError> {
    let deadline = fulfilment.pickup_deadline.map(|d| d.and_utc().to_rfc3339()).unwrap_or_default();
    let reason = format!("not collected by {deadline}; stock returned to the shelf");
    match order::advance(conn, &fulfilment.id, Action::Expire, Some(&reason), act) {
        // Collected or cancelled meanwhile: nothing to expire.
        Ok(_) | Err(OrderError::IllegalTransition { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Announces pickups whose deadline is within a day (once each).
pub fn warn_expiring(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<usize, DbError> {
    let soon = timestamp(now + Duration::hours(EXPIRY_WARNING));
    let due: Vec<Fulfilment> = f::table
        .filter(f::status.eq(FulfilmentStatus::ReadyForPickup.as_str()))
        .filter(f::expiry_warned.eq(false))
        .filter(f::pickup_deadline.le(soon))
        .select(Fulfilment::as_select())
        .load(conn)?;
    for fulfilment in &due {
        let warned = diesel::update(f::table.find(&fulfilment.id).filter(f::expiry_warned.eq(false)))
            .set(f::expiry_warned.eq(true))
            .execute(conn)?;
        if warned == 1 {
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
