//! Orders: made atomically from a cart (or at the counter, or by a
//! marketplace), prices fixed, stock allocated at concrete locations, one
//! fulfilment per location and method, each moving through
//! [`state`]'s machine with an audit trail.

pub mod allocation;
pub mod model;
mod repo;
pub mod state;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use allocation::{Candidate, Part, Rule, Want};
pub use model::{AuditEntry, Disposition, Fulfilment, Order, OrderLine, ReturnLine, ReturnRow};
use repo::{Audit, LineUnits};
pub use repo::{OrderFilter, touches};
use state::{Action, FulfilmentStatus, Method, OrderStatus};

use crate::access::Principal;
use crate::cart::{self, CartError, DeliveryAddress, Editor, Intent, pricing};
use crate::catalog::{self, CatalogError, Location, Sku};
use crate::config::Config;
use crate::customer::{Customer, CustomerError};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::events::{self, NewEvent};
use crate::fulfilment::same_day::{self, SameDayError, Unavailable};
use crate::inventory::reservation::{self, NewReservation};
use crate::inventory::{self, InventoryError, LevelAt, Purpose, ReservationStatus, Shortage};
use crate::types::{
    CartId, Currency, CustomerId, FulfilmentId, LocationId, MarketplaceId, Money, OrderId, OrderLineId, Page,
    PageRequest, Quantity, ReturnId, SkuId,
};

pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";
pub const ORDER_RETURNED: &str = "order.returned";

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no order '{0}'")]
    NotFound(String),
    #[error("no fulfilment '{0}'")]
    FulfilmentNotFound(String),
    #[error("no line '{0}' in this order")]
    LineNotFound(String),
    #[error("the cart is empty")]
    CartEmpty,
    #[error("choose how the cart is fulfilled first (PUT …/cart/fulfilment)")]
    NoFulfilmentChosen,
    #[error("lines are priced in different currencies")]
    MixedCurrency,
    #[error("the payment authorised {got} but the order total is {expected}")]
    PaymentMismatch { expected: String, got: String },
    #[error("cannot {action} a fulfilment that is {from}")]
    IllegalTransition { from: FulfilmentStatus, action: Action, allowed: Vec<Action> },
    #[error("{0}")]
    NotReturnable(String),
    #[error("{0}")]
    BadPick(String),
    #[error("{0}")]
    NotApplicable(String),
    #[error(transparent)]
    SameDay(#[from] SameDayError),
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Customer(#[from] CustomerError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(OrderError);

/// Where the goods go.
#[derive(Debug, Clone)]
pub enum Destination {
    Ship {
        address: DeliveryAddress,
    },
    /// Pickup (or curbside) at a store. With `allow_transfer`, stock the store
    /// lacks comes from the nearest location that has it (endless aisle).
    Pickup {
        store: Location,
        curbside: bool,
        allow_transfer: bool,
    },
    SameDay {
        address: DeliveryAddress,
        slot_id: Option<String>,
    },
    /// Handed over at the counter now.
    Counter {
        store: Location,
    },
}

/// What the storefront's payment provider authorised.
#[derive(Debug, Clone)]
pub struct Payment {
    pub reference: String,
    pub amount: Money,
}

/// Where prices come from.
#[derive(Debug, Clone)]
pub enum Prices {
    /// The catalog, with usable promotions (and this code).
    Catalog { promotion_code: Option<String> },
    /// Unit prices set elsewhere (a marketplace), one per line.
    Given(Vec<Money>),
}

/// An order to place.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: Option<CustomerId>,
    pub cart_id: Option<CartId>,
    pub lines: Vec<(Sku, Quantity)>,
    pub destination: Destination,
    pub prices: Prices,
    pub payment: Option<Payment>,
    pub marketplace: Option<(MarketplaceId, String)>,
    pub contact: Option<serde_json::Value>,
    /// The sale already happened elsewhere (a marketplace): lines that cannot
    /// be allocated go to a `needs_attention` fulfilment instead of refusing.
    pub accept_shortage: bool,
}

/// Who acts, when, under which settings.
pub struct Act<'a> {
    pub actor: &'a Principal,
    pub config: &'a Config,
    pub now: DateTime<Utc>,
}

impl Destination {
    fn method(&self) -> Method {
        match self {
            Destination::Ship { .. } => Method::Ship,
            Destination::Pickup { curbside: true, .. } => Method::Curbside,
            Destination::Pickup { .. } => Method::Pickup,
            Destination::SameDay { .. } => Method::SameDay,
            Destination::Counter { .. } => Method::Counter,
        }
    }

    fn tax_region(&self) -> String {
        match self {
            Destination::Ship { address } | Destination::SameDay { address, .. } => address.postal().tax_region(),
            Destination::Pickup { store, .. } | Destination::Counter { store } => store.address.tax_region(),
        }
    }

    fn store(&self) -> Option<&Location> {
        match self {
            Destination::Pickup { store, .. } | Destination::Counter { store } => Some(store),
            _ => None,
        }
    }
}

pub fn get(conn: &mut AnyConnection, id_or_number: &str) -> Result<Order, OrderError> {
    repo::find(conn, id_or_number)?.ok_or_else(|| OrderError::NotFound(id_or_number.to_owned()))
}

pub fn by_marketplace(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    external_id: &str,
) -> Result<Option<Order>, OrderError> {
    Ok(repo::by_marketplace(conn, marketplace, external_id)?)
}

pub fn list(conn: &mut AnyConnection, filter: &OrderFilter, page: &PageRequest) -> Result<Page<Order>, OrderError> {
    Ok(repo::list(conn, filter, page)?)
}

pub fn audit_trail(conn: &mut AnyConnection, order: &OrderId) -> Result<Vec<AuditEntry>, OrderError> {
    Ok(repo::audit_trail(conn, order)?)
}

pub fn fulfilment(conn: &mut AnyConnection, id: &FulfilmentId) -> Result<Fulfilment, OrderError> {
    repo::fulfilment(conn, id)
}

/// Candidates for allocation: what each eligible location can give.
fn candidates(levels: &[LevelAt], eligible: &[&Location], measure: fn(&LevelAt) -> i32) -> Vec<Candidate> {
    eligible
        .iter()
        .map(|l| Candidate {
            location_id: l.id.clone(),
            point: l.point,
            available: levels
                .iter()
                .filter(|v| v.location_id == l.id)
                .map(|v| (v.sku_id.clone(), measure(v)))
                .collect(),
        })
        .collect()
}

/// Names short lines with what is available and nearby alternatives, for the
/// `insufficient-stock` problem.
fn shortages(
    wants: &[Want],
    short: &[usize],
    skus: &[Sku],
    levels: &[LevelAt],
    at: Option<&Location>,
    near: Option<crate::types::GeoPoint>,
) -> Vec<Shortage> {
    short
        .iter()
        .map(|&i| {
            let want = &wants[i];
            let mine: Vec<&LevelAt> = levels.iter().filter(|l| l.sku_id == want.sku_id).collect();
            let here = at
                .map(|a| mine.iter().filter(|l| l.location_id == a.id).map(|l| l.available()).sum())
                .unwrap_or_else(|| mine.iter().filter(|l| l.ships).map(|l| l.available()).sum());
            let origin = at.map(|a| a.point).or(near);
            let mut alternatives: Vec<inventory::model::Alternative> = mine
                .iter()
                .filter(|l| l.pickup && l.available() >= want.quantity && at.is_none_or(|a| a.id != l.location_id))
                .map(|l| inventory::model::Alternative {
                    location_code: l.location_code.clone(),
                    available: l.available(),
                    distance_km: origin.map(|o| o.distance_km(l.point())).unwrap_or(0.0),
                })
                .collect();
            alternatives.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
            alternatives.truncate(3);
            Shortage {
                sku_code: skus[i].code.to_string(),
                location_code: at.map(|a| a.code.to_string()).unwrap_or_else(|| "network".to_owned()),
                requested: want.quantity,
                available: here,
                alternatives,
            }
        })
        .collect()
}

/// Which location serves which units, and (line index, units) nobody can.
struct Plan {
    parts: Vec<Part>,
    missing: Vec<(usize, i32)>,
}

/// Decides which location serves which units. On a shortage it refuses with
/// the short lines, or (when the sale already happened) returns what could be
/// allocated and the units that could not.
fn plan(conn: &mut AnyConnection, new: &NewOrder, wants: &[Want]) -> Result<Plan, OrderError> {
    let skus: Vec<Sku> = new.lines.iter().map(|(s, _)| s.clone()).collect();
    let ids: Vec<SkuId> = skus.iter().map(|s| s.id.clone()).collect();
    let levels = inventory::levels_of(conn, &ids)?;
    let locations = catalog::active_locations(conn)?;
    let promise: fn(&LevelAt) -> i32 = LevelAt::available;
    let (cands, rule, at, near) = match &new.destination {
        Destination::Counter { store } => {
            let shelf: fn(&LevelAt) -> i32 = |l| l.on_hand - l.reserved;
            (candidates(&levels, &[store], shelf), Rule::At(0), Some(store), None)
        }
        Destination::Pickup { store, allow_transfer: false, .. } => {
            (candidates(&levels, &[store], promise), Rule::At(0), Some(store), None)
        }
        Destination::Pickup { store, allow_transfer: true, .. } => {
            let mut eligible: Vec<&Location> = vec![store];
            eligible.extend(locations.iter().filter(|l| l.id != store.id));
            let cands = candidates(&levels, &eligible, promise);
            let rule = if allocation::allocate(wants, &cands, Rule::At(0)).is_ok() {
                Rule::At(0)
            } else {
                Rule::Whole(store.point)
            };
            (cands, rule, Some(store), None)
        }
        Destination::Ship { address } => {
            let shipping: Vec<&Location> = locations.iter().filter(|l| l.capabilities.ships).collect();
            (candidates(&levels, &shipping, promise), Rule::Split(address.point()), None, address.point())
        }
        Destination::SameDay { address, slot_id } => {
            // The slot names the store: it delivers, so it must have everything.
            let point = address.point().ok_or(CartError::AddressNeedsCoordinates)?;
            let (store, _) = same_day::find(conn, slot_id.as_deref().ok_or(SameDayError::SlotRequired)?)?;
            if !same_day::covers(&store, point) {
                return Err(SameDayError::Unavailable { reason: Unavailable::OutOfRange, next: None }.into());
            }
            let store = locations
                .iter()
                .find(|l| l.id == store.id)
                .ok_or(SameDayError::Unavailable { reason: Unavailable::UnknownSlot, next: None })?;
            (candidates(&levels, &[store], promise), Rule::At(0), Some(store), Some(point))
        }
    };
    match allocation::allocate(wants, &cands, rule) {
        Ok(parts) => Ok(Plan { parts, missing: Vec::new() }),
        Err(short) if !new.accept_shortage => {
            Err(InventoryError::Insufficient(shortages(wants, &short, &skus, &levels, at, near)).into())
        }
        Err(_) => {
            // Allocate what exists; the rest waits for stock or a decision.
            let totals: Vec<i32> = wants
                .iter()
                .map(|w| {
                    cands
                        .iter()
                        .map(|c| c.available.get(&w.sku_id).copied().unwrap_or(0).max(0))
                        .sum::<i32>()
                        .min(w.quantity)
                })
                .collect();
            let reduced: Vec<Want> =
                wants.iter().zip(&totals).map(|(w, t)| Want { sku_id: w.sku_id.clone(), quantity: *t }).collect();
            let present: Vec<usize> = (0..wants.len()).filter(|&i| totals[i] > 0).collect();
            let subset: Vec<Want> = present.iter().map(|&i| reduced[i].clone()).collect();
            let parts = allocation::allocate(&subset, &cands, Rule::Split(near))
                .map(|parts| {
                    parts
                        .into_iter()
                        .map(|p| Part {
                            location_id: p.location_id,
                            lines: p.lines.into_iter().map(|(k, q)| (present[k], q)).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let missing = wants
                .iter()
                .zip(&totals)
                .enumerate()
                .filter(|(_, (w, t))| w.quantity > **t)
                .map(|(i, (w, t))| (i, w.quantity - t))
                .collect();
            Ok(Plan { parts, missing })
        }
    }
}

fn money_string(money: Money) -> String {
    format!("{} {}", money.amount_string(), money.currency)
}

/// Places an order atomically in the caller's transaction: prices fixed,
/// payment checked, stock allocated and held (or sold, at the counter),
/// fulfilments and lines written, audited and announced.
pub fn place(conn: &mut AnyConnection, new: NewOrder, act: &Act<'_>) -> Result<Order, OrderError> {
    // One line per SKU, in the order first seen.
    let mut merged: Vec<(Sku, i32)> = Vec::new();
    for (sku, q) in &new.lines {
        match merged.iter_mut().find(|(s, _)| s.id == sku.id) {
            Some((_, total)) => *total += q.get(),
            None => merged.push((sku.clone(), q.get())),
        }
    }
    if merged.is_empty() {
        return Err(OrderError::CartEmpty);
    }
    if let Some(inactive) = merged.iter().find(|(s, _)| !s.active) {
        return Err(InventoryError::SkuInactive(inactive.0.code.to_string()).into());
    }
    let currency: Currency = merged[0].0.price.currency;
    if merged.iter().any(|(s, _)| s.price.currency != currency) {
        return Err(OrderError::MixedCurrency);
    }
    let new = NewOrder {
        lines: merged.iter().filter_map(|(s, q)| Quantity::new(i64::from(*q)).ok().map(|q| (s.clone(), q))).collect(),
        ..new
    };
    let price_lines: Vec<pricing::PriceLine> = match &new.prices {
        Prices::Given(units) => new
            .lines
            .iter()
            .zip(units)
            .map(|((s, q), unit)| pricing::PriceLine { sku_id: s.id.clone(), quantity: q.get(), unit_price: *unit })
            .collect(),
        Prices::Catalog { .. } => new
            .lines
            .iter()
            .map(|(s, q)| pricing::PriceLine { sku_id: s.id.clone(), quantity: q.get(), unit_price: s.price })
            .collect(),
    };
    let code = match &new.prices {
        Prices::Catalog { promotion_code } => promotion_code.as_deref(),
        Prices::Given(_) => None,
    };
    let tax_region = new.destination.tax_region();
    let pricing_of = cart::Pricing {
        currency,
        code,
        tax_region: Some(&tax_region),
        channel: act.actor.channel,
        now: act.now,
        include_tax: act.config.pricing.prices_include_tax,
    };
    let (priced, _) = match &new.prices {
        Prices::Catalog { .. } => cart::price_lines(conn, &price_lines, &pricing_of)?,
        Prices::Given(_) => {
            let (mut priced, rate) =
                cart::price_lines(conn, &price_lines, &cart::Pricing { code: None, ..pricing_of })?;
            // Marketplaces run their own promotions: only their prices count.
            priced.offers.clear();
            (priced, rate)
        }
    };
    if let Some(payment) = &new.payment {
        let expected = Money::new(priced.total, currency);
        if payment.amount != expected {
            return Err(OrderError::PaymentMismatch {
                expected: money_string(expected),
                got: money_string(payment.amount),
            });
        }
    }

    let wants: Vec<Want> = new.lines.iter().map(|(s, q)| Want { sku_id: s.id.clone(), quantity: q.get() }).collect();
    let number = repo::new_number();
    let (Plan { parts, missing }, holds) = plan_and_hold(conn, &new, &wants, &number, act)?;
    if let Destination::SameDay { slot_id: Some(slot_id), .. } = &new.destination {
        // Booked in the same transaction as the stock: both or neither.
        let (store, slot) = same_day::find(conn, slot_id)?;
        same_day::book(conn, &store, &slot, act.now)?;
    }

    let order_id = OrderId::generate();
    let mut fulfilments: Vec<(Fulfilment, &[(usize, i32)])> = parts
        .iter()
        .zip(holds)
        .map(|(part, reservation_id)| {
            let status =
                if reservation_id.is_some() { FulfilmentStatus::Allocated } else { FulfilmentStatus::Collected };
            let fulfilment =
                new_fulfilment(&new, &order_id, Some(part.location_id.clone()), status, reservation_id, act.now);
            (fulfilment, part.lines.as_slice())
        })
        .collect();
    // The one fulfilment with a reason, so also the order's reason.
    let missing_reason = (!missing.is_empty()).then(|| {
        missing
            .iter()
            .map(|(i, q)| format!("{} × {} could not be allocated", q, new.lines[*i].0.code))
            .collect::<Vec<_>>()
            .join("; ")
    });
    if let Some(reason) = &missing_reason {
        let mut fulfilment = new_fulfilment(&new, &order_id, None, FulfilmentStatus::NeedsAttention, None, act.now);
        fulfilment.status_reason = Some(reason.clone());
        fulfilments.push((fulfilment, missing.as_slice()));
    }
    // The order's status follows from its fulfilments, as refresh_status would make it.
    let pairs = fulfilments.iter().map(|(f, _)| Ok((f.method()?, f.status()?))).collect::<Result<Vec<_>, DbError>>()?;
    let at = timestamp(act.now);
    let mut row = model::OrderRow {
        id: order_id.clone(),
        number,
        customer_id: new.customer_id.clone(),
        channel: act.actor.channel.as_str().to_owned(),
        placed_by: act.actor.key_id.to_string(),
        cart_id: new.cart_id.clone(),
        marketplace_id: new.marketplace.as_ref().map(|(m, _)| m.clone()),
        external_id: new.marketplace.as_ref().map(|(_, e)| e.clone()),
        status: state::order_status(&pairs).as_str().to_owned(),
        status_reason: missing_reason.clone(),
        currency: currency.code().to_owned(),
        subtotal_minor: priced.subtotal,
        discount_minor: priced.discount,
        tax_minor: priced.tax,
        total_minor: priced.total,
        prices_include_tax: act.config.pricing.prices_include_tax,
        promotion_code: code.map(str::to_owned),
        payment_reference: new.payment.as_ref().map(|p| p.reference.clone()),
        payment_minor: new.payment.as_ref().map(|p| p.amount.minor),
        contact: new.contact.as_ref().map(ToString::to_string),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    repo::insert_order(conn, &mut row)?;

    // Each line's money split across the parts that carry it, by quantity.
    let mut carriers: BTreeMap<usize, Vec<(usize, i32)>> = BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for (i, q) in &part.lines {
            carriers.entry(*i).or_default().push((p, *q));
        }
    }
    for (i, q) in &missing {
        carriers.entry(*i).or_default().push((parts.len(), *q));
    }
    let mut shares: HashMap<(usize, usize), (i32, [i64; 3])> = HashMap::new();
    for (i, carried) in &carriers {
        let weights: Vec<i64> = carried.iter().map(|(_, q)| i64::from(*q)).collect();
        let line = &priced.lines[*i];
        let split = |amount: i64| pricing::allocate(amount, &weights);
        let (discount, tax, total) = (split(line.discount), split(line.tax), split(line.total));
        for (k, (p, q)) in carried.iter().enumerate() {
            shares.insert((*p, *i), (*q, [discount[k], tax[k], total[k]]));
        }
    }

    let channel = act.actor.channel.as_str();
    let actor = act.actor.key_id.as_str();
    let mut lines = Vec::new();
    for (p, (fulfilment, carried)) in fulfilments.iter().enumerate() {
        lines.extend(insert_fulfilment(conn, fulfilment, &new, &priced, &shares, p, carried)?);
        repo::audit(
            conn,
            Audit {
                order: &order_id,
                fulfilment: Some(&fulfilment.id),
                action: "placed",
                from: None,
                to: Some(fulfilment.status.as_str()),
                reason: fulfilment.status_reason.as_deref(),
            },
            actor,
            channel,
            act.now,
        )?;
    }
    events::append(
        conn,
        NewEvent {
            topic: ORDER_CREATED,
            sku_id: None,
            location_id: None,
            order_id: Some(&order_id),
            payload: json!({"number": row.number, "channel": row.channel, "total": Money::new(row.total_minor, currency).amount_string(), "currency": row.currency}),
        },
        act.now,
    )?;
    // Read back as `get` would: fulfilments and lines in id order.
    let mut fulfilments: Vec<Fulfilment> = fulfilments.into_iter().map(|(f, _)| f).collect();
    fulfilments.sort_by(|a, b| a.id.cmp(&b.id));
    lines.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Order { row, fulfilments, lines })
}

/// Plans the allocation and takes the stock: holds each part (or, at the
/// counter, sells it). A hold can still lose a race after planning; an order
/// already sold on a marketplace then plans again from fresh levels (the
/// units lost go to `needs_attention`), anything else answers with the
/// shortage. A try that may be retried runs in a savepoint, so it leaves nothing.
fn plan_and_hold(
    conn: &mut AnyConnection,
    new: &NewOrder,
    wants: &[Want],
    number: &str,
    act: &Act<'_>,
) -> Result<(Plan, Vec<Option<crate::types::ReservationId>>), OrderError> {
    const TRIES: usize = 5;
    let purpose = if new.marketplace.is_some() { Purpose::MarketplaceOrder } else { Purpose::Order };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let plan = plan(conn, new, wants)?;
        let hold_all = |conn: &mut AnyConnection| {
            plan.parts
                .iter()
                .map(|part| {
                    let lines = part
                        .lines
                        .iter()
                        .map(|(i, q)| {
                            Ok((new.lines[*i].0.id.clone(), Quantity::new(i64::from(*q)).map_err(DbError::Corrupt)?))
                        })
                        .collect::<Result<Vec<_>, DbError>>()?;
                    if let Destination::Counter { .. } = &new.destination {
                        for (sku, quantity) in &lines {
                            inventory::sell(conn, &part.location_id, sku, *quantity, number, act.actor, act.now)?;
                        }
                        return Ok(None);
                    }
                    let hold = NewReservation {
                        location_id: part.location_id.clone(),
                        purpose,
                        lines,
                        expires_at: inventory::expiry(purpose, None, &act.config.holds, act.now)?,
                        customer_ref: None,
                        reference: Some(number.to_owned()),
                    };
                    Ok(Some(reservation::create(conn, hold, act.actor, act.now)?.id))
                })
                .collect::<Result<Vec<_>, OrderError>>()
        };
        // Only a try that may be retried needs a savepoint to undo; otherwise
        // a lost race fails the caller's whole transaction anyway.
        let held = if new.accept_shortage { conn.write(hold_all) } else { hold_all(conn) };
        match held {
            Ok(holds) => return Ok((plan, holds)),
            Err(OrderError::Inventory(InventoryError::Insufficient(_))) if new.accept_shortage && attempt < TRIES => {}
            Err(other) => return Err(other),
        }
    }
}

/// A fulfilment of this order's destination, from `location_id`.
fn new_fulfilment(
    new: &NewOrder,
    order_id: &OrderId,
    location_id: Option<LocationId>,
    status: FulfilmentStatus,
    reservation_id: Option<crate::types::ReservationId>,
    now: DateTime<Utc>,
) -> Fulfilment {
    let (address, slot_id) = match &new.destination {
        Destination::Ship { address } => (Some(address), None),
        Destination::SameDay { address, slot_id } => (Some(address), slot_id.clone()),
        _ => (None, None),
    };
    let store = new.destination.store().filter(|_| matches!(new.destination, Destination::Pickup { .. }));
    Fulfilment {
        location_id,
        pickup_location_id: store.map(|s| s.id.clone()),
        reservation_id,
        address: address.map(|a| serde_json::to_string(a).unwrap_or_default()),
        slot_id,
        ready_by: store.and_then(|s| s.pickup_ready_by(now)).map(timestamp),
        ..Fulfilment::blank(order_id.clone(), new.destination.method(), status, timestamp(now))
    }
}

fn insert_fulfilment(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    new: &NewOrder,
    priced: &pricing::Priced,
    shares: &HashMap<(usize, usize), (i32, [i64; 3])>,
    part: usize,
    lines: &[(usize, i32)],
) -> Result<Vec<OrderLine>, DbError> {
    repo::insert_fulfilment(conn, fulfilment)?;
    let mut inserted = Vec::with_capacity(lines.len());
    for (i, _) in lines {
        let (sku, _) = &new.lines[*i];
        let (quantity, [discount, tax, total]) = shares.get(&(part, *i)).copied().unwrap_or_default();
        let line = OrderLine {
            id: OrderLineId::generate(),
            order_id: fulfilment.order_id.clone(),
            fulfilment_id: fulfilment.id.clone(),
            sku_id: sku.id.clone(),
            sku_code: sku.code.to_string(),
            name: sku.name.clone(),
            quantity,
            unit_price_minor: priced.lines[*i].gross / i64::from(new.lines[*i].1.get()),
            discount_minor: discount,
            tax_minor: tax,
            total_minor: total,
            picked_quantity: None,
            short_quantity: 0,
            cancelled_quantity: 0,
            returned_quantity: 0,
        };
        repo::insert_line(conn, &line)?;
        inserted.push(line);
    }
    Ok(inserted)
}

/// Recomputes and stores the order's status from its fulfilments.
pub fn refresh_status(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    now: DateTime<Utc>,
) -> Result<OrderStatus, OrderError> {
    let order = repo::load(conn, order_id)?.ok_or_else(|| OrderError::NotFound(order_id.to_string()))?;
    let pairs =
        order.fulfilments.iter().map(|f| Ok((f.method()?, f.status()?))).collect::<Result<Vec<_>, DbError>>()?;
    let status = state::order_status(&pairs);
    let reason: Option<String> = {
        let reasons: Vec<String> = order.fulfilments.iter().filter_map(|f| f.status_reason.clone()).collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    if order.row.status != status.as_str() || order.row.status_reason != reason {
        repo::set_order_status(conn, order_id, status.as_str(), reason.as_deref(), now)?;
    }
    Ok(status)
}

/// Checks out a customer's open cart. `expected_version` is the cart version
/// the customer saw; `counter` is the POS store when the customer takes the
/// goods at the counter now, whatever the cart's intent.
pub fn checkout(
    conn: &mut AnyConnection,
    customer: &Customer,
    expected_version: i32,
    payment: Payment,
    counter: Option<Location>,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let cart_id = cart::open_cart_id(conn, &customer.id)?.ok_or(OrderError::CartEmpty)?;
    let e = Editor { actor: act.actor, now: act.now, expected_version: Some(expected_version), config: act.config };
    cart::check_out(conn, &cart_id, &e, |conn, cart| {
        if cart.lines.is_empty() {
            return Err(OrderError::CartEmpty);
        }
        let destination = match (counter, &cart.intent) {
            (Some(store), _) => Destination::Counter { store },
            (None, Some(Intent::Ship { address })) => Destination::Ship { address: address.clone() },
            (None, Some(Intent::SameDay { address, slot_id })) => {
                Destination::SameDay { address: address.clone(), slot_id: slot_id.clone() }
            }
            (None, Some(Intent::Pickup { location_id, curbside })) => {
                let store = catalog::locations_by_ids(conn, std::slice::from_ref(location_id))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| CatalogError::LocationNotFound(location_id.to_string()))?;
                Destination::Pickup { store, curbside: *curbside, allow_transfer: false }
            }
            (None, None) => return Err(OrderError::NoFulfilmentChosen),
        };
        let lines = cart
            .lines
            .iter()
            .map(|l| Ok((l.sku.clone(), Quantity::new(i64::from(l.quantity)).map_err(DbError::Corrupt)?)))
            .collect::<Result<Vec<_>, DbError>>()?;
        let order = place(
            conn,
            NewOrder {
                customer_id: Some(customer.id.clone()),
                cart_id: Some(cart.id.clone()),
                lines,
                destination,
                prices: Prices::Catalog { promotion_code: cart.promotion_code.clone() },
                payment: Some(payment),
                marketplace: None,
                contact: None,
                accept_shortage: false,
            },
            act,
        )?;
        let number = order.row.number.clone();
        Ok((order, number))
    })
}

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
    let fulfilment = repo::fulfilment(conn, fulfilment_id)?;
    let (method, from) = (fulfilment.method()?, fulfilment.status()?);
    let to = state::transition(method, fulfilment.is_transfer(), from, action)
        .map_err(|allowed| OrderError::IllegalTransition { from, action, allowed })?;
    if !repo::set_status(conn, fulfilment_id, from.as_str(), to.as_str(), reason, act.now)? {
        // Someone moved it first; answer from where it is now.
        let now_at = repo::fulfilment(conn, fulfilment_id)?.status()?;
        let allowed = state::moves(method, fulfilment.is_transfer(), now_at).into_iter().map(|(a, _)| a).collect();
        return Err(OrderError::IllegalTransition { from: now_at, action, allowed });
    }
    move_stock(conn, &fulfilment, to, act)?;
    repo::audit(
        conn,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(fulfilment_id),
            action: action.as_str(),
            from: Some(from.as_str()),
            to: Some(to.as_str()),
            reason,
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
    )?;
    let order = get(conn, fulfilment.order_id.as_str())?;
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
                let quantity = Quantity::new(i64::from(line.open_quantity())).map_err(DbError::Corrupt)?;
                inventory::restock_return(conn, &store, &line.sku_id, quantity, &order.row.number, act.actor, act.now)?;
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
    if q > open || q < 1 {
        return Err(OrderError::NotReturnable(format!("line {} has {open} open units, not {q}", line.sku_code)));
    }
    if let Some(hold) = &fulfilment.reservation_id {
        let units = Quantity::new(i64::from(q)).map_err(DbError::Corrupt)?;
        reservation::release_part(conn, hold, &line.sku_id, units, act.actor, reason, act.now)?;
    }
    repo::count_units(conn, line_id, LineUnits::Cancelled(q))?;
    repo::audit(
        conn,
        Audit {
            order: order_id,
            fulfilment: Some(&fulfilment.id),
            action: "cancel_line",
            from: None,
            to: None,
            reason: Some(&format!("{q} × {}: {reason}", line.sku_code)),
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
    )?;
    let remaining: i32 = get(conn, order_id.as_str())?.lines_of(&fulfilment.id).map(OrderLine::open_quantity).sum();
    if remaining == 0 {
        // Nothing left to fulfil: the fulfilment ends as cancelled (its hold is already released).
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

/// One line of a return.
#[derive(Debug, Clone)]
pub struct ReturnRequestLine {
    pub line_id: OrderLineId,
    pub quantity: Quantity,
    pub disposition: Disposition,
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
        if q > line.open_quantity() {
            return Err(OrderError::NotReturnable(format!(
                "line {} has {} units to return, not {q}",
                line.sku_code,
                line.open_quantity()
            )));
        }
        let place = location
            .or(fulfilment.pickup_location_id.as_ref())
            .or(fulfilment.location_id.as_ref())
            .cloned()
            .ok_or_else(|| OrderError::NotReturnable("say at which location the goods come back".into()))?;
        inventory::restock_return(
            conn,
            &place,
            &line.sku_id,
            request.quantity,
            return_id.as_str(),
            act.actor,
            act.now,
        )?;
        if request.disposition == Disposition::WriteOff {
            inventory::adjust(conn, &place, &line.sku_id, -q, "returned goods written off", act.actor, act.now)?;
        }
        let weights = |n: i32| [i64::from(n), i64::from(line.quantity - n)];
        let before = pricing::allocate(line.total_minor, &weights(line.returned_quantity))[0];
        let after = pricing::allocate(line.total_minor, &weights(line.returned_quantity + q))[0];
        repo::count_units(conn, &line.id, LineUnits::Returned(q))?;
        out.push(ReturnLine {
            return_id: return_id.clone(),
            order_line_id: line.id.clone(),
            quantity: q,
            disposition: request.disposition.as_str().to_owned(),
            refund_minor: after - before,
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
    repo::audit(
        conn,
        Audit {
            order: order_id,
            fulfilment: None,
            action: "return",
            from: None,
            to: None,
            reason: Some(&format!("refund {}", money_string(refund))),
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
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

/// A line of `order` and the fulfilment it ships in.
fn line_and_fulfilment<'o>(
    order: &'o Order,
    line_id: &OrderLineId,
) -> Result<(&'o OrderLine, &'o Fulfilment), OrderError> {
    let line =
        order.lines.iter().find(|l| &l.id == line_id).ok_or_else(|| OrderError::LineNotFound(line_id.to_string()))?;
    let fulfilment = order
        .fulfilments
        .iter()
        .find(|f| f.id == line.fulfilment_id)
        .ok_or_else(|| OrderError::FulfilmentNotFound(line.fulfilment_id.to_string()))?;
    Ok((line, fulfilment))
}

/// Records the carrier's tracking number of a shipped fulfilment.
pub fn set_tracking(conn: &mut AnyConnection, fulfilment: &FulfilmentId, tracking: &str) -> Result<(), OrderError> {
    Ok(repo::set_tracking(conn, fulfilment, tracking)?)
}

/// A customer's latest orders, newest first.
pub fn recent_for(conn: &mut AnyConnection, customer: &CustomerId, limit: i64) -> Result<Vec<Order>, OrderError> {
    let filter = OrderFilter { customer_id: Some(customer.clone()), ..OrderFilter::default() };
    Ok(repo::list(conn, &filter, &PageRequest { limit, after: None })?.items)
}

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
    let fulfilment = repo::fulfilment(conn, fulfilment_id)?;
    if fulfilment.status()? == FulfilmentStatus::Allocated {
        advance(conn, fulfilment_id, Action::StartPicking, Some("picking started"), act)?;
    }
    let status = repo::fulfilment(conn, fulfilment_id)?.status()?;
    if status != FulfilmentStatus::Picking {
        let allowed =
            state::moves(fulfilment.method()?, fulfilment.is_transfer(), status).into_iter().map(|(a, _)| a).collect();
        return Err(OrderError::IllegalTransition { from: status, action: Action::Pack, allowed });
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
        repo::count_units(conn, line_id, LineUnits::Picked(*picked))?;
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
        reservation::release_part(conn, hold, &line.sku_id, units, act.actor, "short pick", act.now)?;
    }
    let source = fulfilment
        .location_id
        .clone()
        .ok_or_else(|| DbError::Corrupt("picked fulfilment without a location".into()))?;
    // The system thought the units were there: correct on_hand. In a savepoint,
    // because a concurrent movement may already have taken it below.
    let _ = conn.write(|c| {
        inventory::adjust(c, &source, &line.sku_id, -short, "short pick: not on the shelf", act.actor, act.now)
    });
    let method = fulfilment.method()?;
    let moved = match method {
        Method::Pickup | Method::Curbside | Method::Ship => reallocate_units(conn, fulfilment, line, units, act)?,
        Method::SameDay | Method::Counter => None,
    };
    let note = match &moved {
        Some(location) => format!("{short} × {} re-allocated to {location}", line.sku_code),
        None => {
            repo::count_units(conn, &line.id, LineUnits::Short(short))?;
            let reason = format!("{short} × {} short: not in stock anywhere, refund due", line.sku_code);
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
    repo::audit(
        conn,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(&fulfilment.id),
            action: "short_pick",
            from: None,
            to: None,
            reason: Some(&note),
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
    )?;
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
    let levels = inventory::levels_of(conn, std::slice::from_ref(&line.sku_id))?;
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
            lines: vec![(line.sku_id.clone(), units)],
            expires_at: None,
            customer_ref: None,
            reference: Some(order.row.number.clone()),
        },
        act.actor,
        act.now,
    )?;
    let moved = Fulfilment {
        location_id: Some(part.location_id.clone()),
        pickup_location_id: fulfilment.pickup_location_id.clone(),
        status_reason: Some("re-allocated after a short pick at another location".to_owned()),
        reservation_id: Some(held.id),
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
    repo::audit(
        conn,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(&moved.id),
            action: "placed",
            from: None,
            to: Some("allocated"),
            reason: moved.status_reason.as_deref(),
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
    )?;
    Ok(locations.iter().find(|l| l.id == part.location_id).map(|l| l.code.to_string()))
}

/// Adds a note to the audit trail of a fulfilment (no status change).
pub fn audit_note(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    action: &str,
    note: &str,
    act: &Act<'_>,
) -> Result<(), OrderError> {
    repo::audit(
        conn,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(&fulfilment.id),
            action,
            from: None,
            to: None,
            reason: Some(note),
        },
        act.actor.key_id.as_str(),
        act.actor.channel.as_str(),
        act.now,
    )?;
    Ok(())
}

/// Allocates a `needs_attention` fulfilment once stock is back: every open
/// unit from one location (nearest first), or refused with the shortage.
pub fn reallocate(conn: &mut AnyConnection, fulfilment_id: &FulfilmentId, act: &Act<'_>) -> Result<Order, OrderError> {
    let fulfilment = repo::fulfilment(conn, fulfilment_id)?;
    let status = fulfilment.status()?;
    if status != FulfilmentStatus::NeedsAttention {
        let allowed =
            state::moves(fulfilment.method()?, fulfilment.is_transfer(), status).into_iter().map(|(a, _)| a).collect();
        return Err(OrderError::IllegalTransition { from: status, action: Action::Reallocate, allowed });
    }
    let order = get(conn, fulfilment.order_id.as_str())?;
    let lines: Vec<&OrderLine> = order.lines_of(fulfilment_id).filter(|l| l.open_quantity() > 0).collect();
    let wants: Vec<Want> =
        lines.iter().map(|l| Want { sku_id: l.sku_id.clone(), quantity: l.open_quantity() }).collect();
    let ids: Vec<SkuId> = wants.iter().map(|w| w.sku_id.clone()).collect();
    let skus = catalog::skus_by_ids(conn, &ids)?;
    let skus: Vec<Sku> = ids.iter().filter_map(|id| skus.iter().find(|s| &s.id == id).cloned()).collect();
    let levels = inventory::levels_of(conn, &ids)?;
    let locations = catalog::active_locations(conn)?;
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
            lines: wants
                .iter()
                .map(|w| Ok((w.sku_id.clone(), Quantity::new(i64::from(w.quantity)).map_err(DbError::Corrupt)?)))
                .collect::<Result<_, DbError>>()?,
            expires_at: inventory::expiry(purpose, None, &act.config.holds, act.now)?,
            customer_ref: None,
            reference: Some(order.row.number.clone()),
        },
        act.actor,
        act.now,
    )?;
    repo::assign(conn, fulfilment_id, &part.location_id, &held.id)?;
    advance(conn, fulfilment_id, Action::Reallocate, Some("stock allocated"), act)
}
