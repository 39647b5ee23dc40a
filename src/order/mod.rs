//! Orders: made atomically from a cart (or at the counter, or by a
//! marketplace), prices fixed, stock allocated at concrete locations, one
//! fulfilment per location and method, each moving through
//! [`state`]'s machine with an audit trail.
//!
//! By use case: [`place`] (checkout and every other way an order is made),
//! [`lifecycle`] (fulfilment moves, cancellations), [`returns`], [`picking`]
//! (picks, short picks, re-allocation), [`handover`] (pickup codes, curbside
//! arrivals, deadlines), [`same_day`] (delivery slots). This file keeps the
//! types they share, the reads and the audit helper; `repo` owns the tables.

pub mod allocation;
pub mod analytics;
pub mod handover;
pub mod lifecycle;
pub mod model;
pub mod picking;
pub mod place;
pub mod refund;
mod repo;
pub mod returns;
pub mod same_day;
pub mod state;

use chrono::{DateTime, Utc};

pub use model::{AuditEntry, Disposition, Fulfilment, Order, OrderLine, RefundKind, RefundRow, ReturnLine, ReturnRow};
use repo::Audit;
pub use repo::{OrderFilter, touches};
use same_day::SameDayError;
use state::{Action, FulfilmentStatus, Method, OrderStatus};

use crate::access::Principal;
use crate::cart::{CartError, DeliveryAddress};
use crate::catalog::{CatalogError, Location, Sku};
use crate::config::Config;
use crate::customer::CustomerError;
use crate::db::{AnyConnection, DbError};
use crate::inventory::InventoryError;
use crate::pricing::PricingError;
use crate::types::{
    CartId, CustomerId, FulfilmentId, LocationId, MarketplaceId, Money, OrderId, OrderLineId, Page, PageRequest,
    Quantity,
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
    /// More lines or units than an order takes.
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    SameDay(#[from] SameDayError),
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error(transparent)]
    Pricing(#[from] PricingError),
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
    /// What each line cost elsewhere (a marketplace), in that currency.
    Given(Vec<Money>),
}

/// An order to place.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: Option<CustomerId>,
    pub cart_id: Option<CartId>,
    /// The channels that changed the cart the order comes from (none
    /// without a cart); the placing channel is added.
    pub channels: Vec<String>,
    pub lines: Vec<(Sku, Quantity)>,
    pub destination: Destination,
    pub prices: Prices,
    pub payment: Option<Payment>,
    pub marketplace: Option<(MarketplaceId, String)>,
    pub contact: Option<serde_json::Value>,
    /// The sale already happened elsewhere (a marketplace): lines that cannot
    /// be allocated go to a `needs_attention` fulfilment instead of refusing.
    pub accept_shortage: bool,
    /// The locations a shipped order may be served from (a marketplace's);
    /// None: every ship-enabled one.
    pub ship_from: Option<Vec<LocationId>>,
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
    repo::fulfilment(conn, id)?.ok_or_else(|| OrderError::FulfilmentNotFound(id.to_string()))
}

/// The refusal of `action` on a fulfilment that cannot make it, naming the
/// moves it can make.
pub fn illegal(fulfilment: &Fulfilment, action: Action) -> Result<OrderError, DbError> {
    let from = fulfilment.status()?;
    let allowed =
        state::moves(fulfilment.method()?, fulfilment.is_transfer(), from).into_iter().map(|(a, _)| a).collect();
    Ok(OrderError::IllegalTransition { from, action, allowed })
}

fn money_string(money: Money) -> String {
    format!("{} {}", money.amount_string(), money.currency)
}

/// Writes one audit row as `act`'s actor, through its channel, at its time.
fn audit(conn: &mut AnyConnection, act: &Act<'_>, entry: Audit<'_>) -> Result<(), DbError> {
    repo::audit(conn, entry, act.actor.key_id.as_str(), act.actor.channel.as_str(), act.now)
}

/// Adds a note to the audit trail of a fulfilment (no status change).
pub fn audit_note(
    conn: &mut AnyConnection,
    fulfilment: &Fulfilment,
    action: &str,
    note: &str,
    act: &Act<'_>,
) -> Result<(), OrderError> {
    audit(
        conn,
        act,
        Audit {
            order: &fulfilment.order_id,
            fulfilment: Some(&fulfilment.id),
            action,
            from: None,
            to: None,
            reason: Some(note),
        },
    )?;
    Ok(())
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
    // The order's reason is that of the fulfilments that make its status: a
    // cancelled part's "customer changed mind" does not describe an order
    // that was otherwise delivered.
    let ended = [FulfilmentStatus::Cancelled, FulfilmentStatus::Expired];
    let explains = |f: &&Fulfilment| match status {
        OrderStatus::Cancelled => f.status == FulfilmentStatus::Cancelled.as_str(),
        OrderStatus::Expired => f.status == FulfilmentStatus::Expired.as_str(),
        _ => !ended.iter().any(|s| f.status == s.as_str()),
    };
    let reason: Option<String> = {
        let reasons: Vec<String> =
            order.fulfilments.iter().filter(explains).filter_map(|f| f.status_reason.clone()).collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    };
    if order.row.status != status.as_str() || order.row.status_reason != reason {
        repo::set_order_status(conn, order_id, status.as_str(), reason.as_deref(), now)?;
    }
    Ok(status)
}

/// A line of `order` and the fulfilment it ships in.
pub fn line_and_fulfilment<'o>(
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

/// A customer's latest orders, newest first.
pub fn recent_for(conn: &mut AnyConnection, customer: &CustomerId, limit: i64) -> Result<Vec<Order>, OrderError> {
    let filter = OrderFilter { customer_id: Some(customer.clone()), ..OrderFilter::default() };
    Ok(repo::list(conn, &filter, &PageRequest { limit, after: None })?.items)
}
