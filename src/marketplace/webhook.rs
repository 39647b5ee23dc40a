//! Inbound webhooks, already verified: each delivery is claimed once (its id,
//! and the marketplace's order id, are unique), so duplicates, concurrent
//! ones too, create nothing twice. An order takes stock at once; what cannot
//! be allocated waits as `needs_attention` (the marketplace already sold it)
//! and the listings involved drop to what is left.

use chrono::{DateTime, Utc};

use super::connector::{Delivery, Inbound, MarketOrder};
use super::model::{Marketplace, MarketplaceError};
use super::{repo, stock};
use crate::access::{Channel, Principal, Role};
use crate::cart::DeliveryAddress;
use crate::catalog::{self, Sku};
use crate::config::Config;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::order::lifecycle::cancel;
use crate::order::place::place as place_order;
use crate::order::returns::{ReturnRequestLine, create_return};
use crate::order::{self, Act, Destination, Disposition, NewOrder, Order, OrderError, Prices};
use crate::types::{ApiKeyId, OrderId, SkuId};

/// What a delivery did.
#[derive(Debug)]
pub enum Received {
    Created(Box<Order>),
    /// Seen before (under this delivery id or another): the order it made, if any.
    Duplicate {
        order: Option<Box<Order>>,
    },
    Cancelled(Box<Order>),
    /// The order had already left and cannot be cancelled here.
    NotCancellable(Box<Order>),
    Returned(Box<Order>),
    Ignored {
        topic: String,
    },
}

/// The marketplace as the actor of what its webhooks do.
pub fn principal(marketplace: &Marketplace) -> Principal {
    Principal {
        key_id: ApiKeyId(format!("marketplace:{}", marketplace.name)),
        role: Role::Marketplace,
        location_id: None,
        channel: Channel::Marketplace,
        marketplace_id: Some(marketplace.id.clone()),
    }
}

/// Our SKU for the marketplace's: its listing, else our own code.
fn sku_for(conn: &mut AnyConnection, marketplace: &Marketplace, seller_sku: &str) -> Result<Sku, MarketplaceError> {
    let unknown = || MarketplaceError::UnknownListing(seller_sku.to_owned());
    match repo::sku_of_seller_sku(conn, &marketplace.id, seller_sku)? {
        Some(id) => catalog::skus_by_ids(conn, std::slice::from_ref(&id))?.into_iter().next().ok_or_else(unknown),
        None => catalog::get_sku(conn, seller_sku).map_err(|_| unknown()),
    }
}

fn note_order(
    conn: &mut AnyConnection,
    marketplace: &Marketplace,
    delivery: &Delivery,
    order: &OrderId,
) -> Result<(), DbError> {
    repo::note_delivery_order(conn, &marketplace.id, &delivery.delivery_id, order)
}

/// Handles a verified delivery in the caller's transaction.
pub fn receive(
    conn: &mut AnyConnection,
    marketplace: &Marketplace,
    delivery: Delivery,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Received, MarketplaceError> {
    let external = match &delivery.inbound {
        Inbound::Order(o) => Some(o.external_id.clone()),
        Inbound::Cancelled { external_id } | Inbound::Returned { external_id, .. } => Some(external_id.clone()),
        Inbound::Ignored { .. } => None,
    };
    // One claim for the delivery id and the effect together: a delivery seen
    // before, or the same effect under another delivery id (also one still
    // being handled by a concurrent delivery, which PostgreSQL waits for),
    // is a duplicate.
    let claimed = repo::claim_delivery(
        conn,
        &marketplace.id,
        (&delivery.delivery_id, delivery.effect.as_deref()),
        external.as_deref(),
        &delivery.topic,
        timestamp(now),
    )?;
    if !claimed {
        let order = repo::delivery_order(conn, &marketplace.id, &delivery.delivery_id, delivery.effect.as_deref())?
            .map(|id| order::get(conn, id.as_str()).map(Box::new))
            .transpose()?;
        return Ok(Received::Duplicate { order });
    }
    let actor = principal(marketplace);
    let act = Act { actor: &actor, config, now };
    let existing = match &external {
        Some(id) => order::by_marketplace(conn, &marketplace.id, id)?,
        None => None,
    };
    match delivery.inbound.clone() {
        Inbound::Order(sold) => {
            if let Some(found) = existing {
                // The same order under a new delivery id: still one order.
                note_order(conn, marketplace, &delivery, &found.row.id)?;
                return Ok(Received::Duplicate { order: Some(Box::new(found)) });
            }
            let placed = place(conn, marketplace, *sold, &act)?;
            note_order(conn, marketplace, &delivery, &placed.row.id)?;
            // Whatever it took, every marketplace's listings follow now, not at the next event pass.
            let skus: Vec<SkuId> = placed.lines.iter().map(|l| l.sku_id.clone()).collect();
            stock::refresh(conn, None, &skus, false, now)?;
            Ok(Received::Created(Box::new(placed)))
        }
        Inbound::Cancelled { external_id } => {
            let found = existing.ok_or_else(|| MarketplaceError::Order(OrderError::NotFound(external_id)))?;
            note_order(conn, marketplace, &delivery, &found.row.id)?;
            // A savepoint: an order that already left stays as it is.
            match conn.write(|c| cancel(c, &found.row.id, "cancelled on the marketplace", &act)) {
                Ok(cancelled) => Ok(Received::Cancelled(Box::new(cancelled))),
                Err(OrderError::IllegalTransition { .. }) => {
                    for f in &found.fulfilments {
                        order::audit_note(
                            conn,
                            f,
                            "marketplace_cancel_refused",
                            "the marketplace cancelled after it left",
                            &act,
                        )?;
                    }
                    Ok(Received::NotCancellable(Box::new(order::get(conn, found.row.id.as_str())?)))
                }
                Err(other) => Err(other.into()),
            }
        }
        Inbound::Returned { external_id, lines } => {
            let found = existing.ok_or_else(|| MarketplaceError::Order(OrderError::NotFound(external_id)))?;
            note_order(conn, marketplace, &delivery, &found.row.id)?;
            let mut requests = Vec::new();
            for (seller_sku, quantity) in lines {
                let sku = sku_for(conn, marketplace, &seller_sku)?;
                let line = found
                    .lines
                    .iter()
                    .find(|l| l.sku_id == sku.id && l.open_quantity() > 0)
                    .ok_or_else(|| OrderError::LineNotFound(seller_sku.clone()))?;
                requests.push(ReturnRequestLine {
                    line_id: line.id.clone(),
                    quantity,
                    disposition: Disposition::Restock,
                    components: None,
                });
            }
            create_return(conn, &found.row.id, None, &requests, Some("returned through the marketplace"), &act)?;
            Ok(Received::Returned(Box::new(order::get(conn, found.row.id.as_str())?)))
        }
        Inbound::Ignored { topic } => Ok(Received::Ignored { topic }),
    }
}

fn place(
    conn: &mut AnyConnection,
    marketplace: &Marketplace,
    sold: MarketOrder,
    act: &Act<'_>,
) -> Result<Order, MarketplaceError> {
    let mut lines = Vec::new();
    let mut prices = Vec::new();
    for line in &sold.lines {
        lines.push((sku_for(conn, marketplace, &line.seller_sku)?, line.quantity));
        prices.push(line.total);
    }
    // The marketplace keeps the buyer's address where it does not share it.
    let address = sold.address.unwrap_or_else(|| DeliveryAddress {
        recipient: Some(format!("{} buyer", marketplace.name)),
        line1: "held by the marketplace".into(),
        line2: None,
        city: "-".into(),
        postal_code: "-".into(),
        region: None,
        country: marketplace.settings["country"].as_str().unwrap_or("DE").to_owned(),
        latitude: None,
        longitude: None,
    });
    let new = NewOrder {
        customer_id: None,
        cart_id: None,
        channels: Vec::new(),
        lines,
        destination: Destination::Ship { address },
        prices: Prices::Given(prices),
        payment: None,
        marketplace: Some((marketplace.id.clone(), sold.external_id)),
        contact: sold.buyer,
        accept_shortage: true,
        ship_from: Some(marketplace.sources(&catalog::active_locations(conn)?)),
    };
    Ok(place_order(conn, new, act)?)
}
