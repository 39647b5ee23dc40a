//! Placing an order: prices fixed, payment checked, stock allocated and held
//! (or sold at the counter), fulfilments and lines written, all in the
//! caller's transaction. Checkout of a cart, POS sales, endless aisle and
//! marketplace orders all come through [`place`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::allocation::{self, Part, Rule, Want, candidates, shortages};
use super::model::{self, Fulfilment, Order, OrderLine};
use super::repo::{self, Audit};
use super::same_day::{self, SameDayError, Unavailable};
use super::state::{self, FulfilmentStatus};
use super::{Act, Destination, NewOrder, OrderError, Payment, Prices, money_string};
use crate::access::Role;
use crate::cart::{self, CartError, CartRef, Editor, Intent};
use crate::catalog::{self, CatalogError, Location, Sku};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::events::{self, NewEvent};
use crate::inventory::reservation::{self, NewReservation};
use crate::inventory::{self, InventoryError, Item, LevelAt, Purpose};
use crate::pricing::{self, Pricing};
use crate::types::{Currency, CustomerId, LocationId, Money, OrderId, OrderLineId, Quantity};

pub const ORDER_CREATED: &str = "order.created";

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
    let items: Vec<Item> = skus.iter().map(Item::of).collect();
    let locations = catalog::active_locations(conn)?;
    let levels = inventory::levels_among(conn, &items, locations.iter())?;
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
            let shipping: Vec<&Location> = locations
                .iter()
                .filter(|l| l.capabilities.ships)
                .filter(|l| new.ship_from.as_ref().is_none_or(|from| from.contains(&l.id)))
                .collect();
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

/// One line of an order to place: a SKU once, with every unit asked for it
/// and, for given prices, what they cost together.
struct MergedLine {
    sku: Sku,
    quantity: Quantity,
    given: Option<Money>,
}

/// Most lines an order has.
pub const MAX_LINES: usize = 100;

/// One line per SKU, in the order first seen; refused (never truncated)
/// beyond an order's limits.
fn merge_lines(new: &NewOrder) -> Result<Vec<MergedLine>, OrderError> {
    let given = match &new.prices {
        Prices::Given(totals) if totals.len() != new.lines.len() => {
            return Err(DbError::Corrupt("a price for every line".into()).into());
        }
        Prices::Given(totals) => Some(totals),
        Prices::Catalog { .. } => None,
    };
    let mut merged: Vec<(Sku, i64, Option<Money>)> = Vec::new();
    for (i, (sku, q)) in new.lines.iter().enumerate() {
        let price = given.map(|totals| totals[i]);
        match merged.iter_mut().find(|(s, _, _)| s.id == sku.id) {
            Some((_, total, sum)) => {
                *total += i64::from(q.get());
                if let (Some(sum), Some(price)) = (sum.as_mut(), price) {
                    sum.minor += price.minor;
                }
            }
            None => merged.push((sku.clone(), i64::from(q.get()), price)),
        }
    }
    if merged.is_empty() {
        return Err(OrderError::CartEmpty);
    }
    if merged.len() > MAX_LINES {
        return Err(OrderError::TooLarge(format!("an order takes at most {MAX_LINES} SKUs, not {}", merged.len())));
    }
    merged
        .into_iter()
        .map(|(sku, total, given)| {
            let quantity = Quantity::new(total)
                .map_err(|e| OrderError::TooLarge(format!("{total} units of {} in all: {e}", sku.code)))?;
            Ok(MergedLine { sku, quantity, given })
        })
        .collect()
}

/// Places an order atomically in the caller's transaction: prices fixed,
/// payment checked, stock allocated and held (or sold, at the counter),
/// fulfilments and lines written, audited and announced.
pub fn place(conn: &mut AnyConnection, new: NewOrder, act: &Act<'_>) -> Result<Order, OrderError> {
    if let Some(store) = new.destination.store().filter(|s| !s.active) {
        // A deactivated store sells and hands over nothing; saying so beats
        // the shortage its missing stock would otherwise report.
        return Err(InventoryError::LocationInactive(store.code.to_string()).into());
    }
    let merged = merge_lines(&new)?;
    if let Some(inactive) = merged.iter().find(|l| !l.sku.active) {
        return Err(InventoryError::SkuInactive(inactive.sku.code.to_string()).into());
    }
    let catalog_currency: Currency = merged[0].sku.price.currency;
    if merged.iter().any(|l| l.sku.price.currency != catalog_currency) {
        return Err(OrderError::MixedCurrency);
    }
    // Given prices keep their currency; one the catalog does not sell is
    // never relabelled, and nothing is allocated until someone checks it.
    let currency = merged.iter().find_map(|l| l.given.map(|g| g.currency)).unwrap_or(catalog_currency);
    if merged.iter().any(|l| l.given.is_some_and(|g| g.currency != currency)) {
        return Err(OrderError::MixedCurrency);
    }
    let foreign = currency != catalog_currency;
    let price_lines: Vec<pricing::Line<'_>> = merged
        .iter()
        .map(|l| match l.given {
            Some(total) => pricing::Line {
                sku_id: l.sku.id.clone(),
                quantity: l.quantity.get(),
                gross: total,
                tax_class: &l.sku.tax_class,
            },
            None => pricing::Line::at_unit(l.sku.id.clone(), l.quantity.get(), l.sku.price, &l.sku.tax_class),
        })
        .collect();
    let code = match &new.prices {
        Prices::Catalog { promotion_code } => promotion_code.clone(),
        Prices::Given(_) => None,
    };
    let tax_region = new.destination.tax_region();
    let pricing_of = Pricing {
        currency,
        code: code.as_deref(),
        tax_region: Some(&tax_region),
        channel: act.actor.channel,
        now: act.now,
        include_tax: act.config.pricing.prices_include_tax,
    };
    // No line is sold untaxed by accident: a destination without a rate for
    // a line's class is refused until the retailer sets one (an explicit 0
    // included).
    let priced = match &new.prices {
        Prices::Catalog { .. } => pricing::price_lines(conn, &price_lines, &pricing_of)?.require_rates()?,
        Prices::Given(_) => {
            let mut priced =
                pricing::price_lines(conn, &price_lines, &Pricing { code: None, ..pricing_of })?.require_rates()?;
            // Marketplaces run their own promotions: only their prices count.
            priced.offers.clear();
            priced
        }
    };
    let new = NewOrder { lines: merged.iter().map(|l| (l.sku.clone(), l.quantity)).collect(), ..new };
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
    let order_id = OrderId::generate();
    let (Plan { parts, missing }, holds) = if foreign {
        let missing = wants.iter().enumerate().map(|(i, w)| (i, w.quantity)).collect();
        (Plan { parts: Vec::new(), missing }, Vec::new())
    } else {
        plan_and_hold(conn, &new, &wants, (&order_id, &number), act)?
    };
    if let Destination::SameDay { slot_id: Some(slot_id), .. } = &new.destination {
        // Booked in the same transaction as the stock: both or neither.
        let (store, slot) = same_day::find(conn, slot_id)?;
        same_day::book(conn, &store, &slot, act.now)?;
    }

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
    let missing_reason = match (foreign, missing.is_empty()) {
        (true, _) => {
            Some(format!("priced in {currency}, which the catalog does not sell: check the prices, then reallocate"))
        }
        (false, true) => None,
        (false, false) => Some(
            missing
                .iter()
                .map(|(i, q)| format!("{} × {} could not be allocated", q, new.lines[*i].0.code))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    if let Some(reason) = &missing_reason {
        let mut fulfilment = new_fulfilment(&new, &order_id, None, FulfilmentStatus::NeedsAttention, None, act.now);
        fulfilment.status_reason = Some(reason.clone());
        fulfilments.push((fulfilment, missing.as_slice()));
    }
    // The order's status follows from its fulfilments, as refresh_status would make it.
    let pairs = fulfilments.iter().map(|(f, _)| Ok((f.method()?, f.status()?))).collect::<Result<Vec<_>, DbError>>()?;
    let at = timestamp(act.now);
    let mut channels = new.channels.clone();
    let placing = act.actor.channel.as_str().to_owned();
    if !channels.contains(&placing) {
        channels.push(placing);
    }
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
        promotion_code: code,
        payment_reference: new.payment.as_ref().map(|p| p.reference.clone()),
        payment_minor: new.payment.as_ref().map(|p| p.amount.minor),
        contact: new.contact.as_ref().map(ToString::to_string),
        version: 1,
        created_at: at,
        updated_at: at,
        store_id: act.actor.location_id.clone().filter(|_| matches!(act.actor.role, Role::Pos | Role::Staff)),
        channels: Some(serde_json::Value::from(channels).to_string()),
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

    let mut lines = Vec::new();
    for (p, (fulfilment, carried)) in fulfilments.iter().enumerate() {
        let placed = order_lines(fulfilment, &new, &priced, &shares, p, carried)?;
        let entry = Audit {
            order: &order_id,
            fulfilment: Some(&fulfilment.id),
            action: "placed",
            from: None,
            to: Some(fulfilment.status.as_str()),
            reason: fulfilment.status_reason.as_deref(),
        };
        let actor = (act.actor.key_id.as_str(), act.actor.channel.as_str());
        repo::insert_placed(conn, fulfilment, &placed, entry, actor, act.now)?;
        lines.extend(placed);
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
    Ok(Order { row, fulfilments, lines, refunds: Vec::new() })
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
    (order_id, number): (&OrderId, &str),
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
                            Ok((Item::of(&new.lines[*i].0), Quantity::new(i64::from(*q)).map_err(DbError::Corrupt)?))
                        })
                        .collect::<Result<Vec<_>, DbError>>()?;
                    if let Destination::Counter { .. } = &new.destination {
                        for (item, quantity) in &lines {
                            inventory::sell(conn, &part.location_id, item, *quantity, number, act.actor, act.now)?;
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
                        order_id: Some(order_id.clone()),
                    };
                    Ok(Some(reservation::create(conn, hold, act.actor, act.now)?.id().clone()))
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

/// The lines of a fulfilment: its share of each order line it carries.
fn order_lines(
    fulfilment: &Fulfilment,
    new: &NewOrder,
    priced: &pricing::Priced,
    shares: &HashMap<(usize, usize), (i32, [i64; 3])>,
    part: usize,
    lines: &[(usize, i32)],
) -> Result<Vec<OrderLine>, DbError> {
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
            components: sku
                .is_kit()
                .then(|| serde_json::to_string(&sku.components))
                .transpose()
                .map_err(|e| DbError::Corrupt(e.to_string()))?,
        };
        inserted.push(line);
    }
    Ok(inserted)
}

/// Checks out a customer's open cart. `expected_version` is the cart version
/// the customer saw; `counter` is the POS store when the customer takes the
/// goods at the counter now, whatever the cart's intent.
pub fn checkout(
    conn: &mut AnyConnection,
    customer: &CustomerId,
    expected_version: i32,
    payment: Payment,
    counter: Option<Location>,
    act: &Act<'_>,
) -> Result<Order, OrderError> {
    let e = Editor { actor: act.actor, now: act.now, expected_version: Some(expected_version), config: act.config };
    let open = CartRef::OpenFor(customer.clone());
    let placed = cart::check_out(conn, &open, &e, |conn, cart| {
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
                customer_id: Some(customer.clone()),
                cart_id: Some(cart.id.clone()),
                channels: cart.channels.clone(),
                lines,
                destination,
                prices: Prices::Catalog { promotion_code: cart.promotion_code.clone() },
                payment: Some(payment),
                marketplace: None,
                contact: None,
                accept_shortage: false,
                ship_from: None,
            },
            act,
        )?;
        let number = order.row.number.clone();
        Ok((order, number))
    });
    // No open cart: nothing was ever added (or the last cart was checked out).
    placed.map_err(|error| match error {
        OrderError::Cart(CartError::NotFound(_)) => OrderError::CartEmpty,
        other => other,
    })
}
