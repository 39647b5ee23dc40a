//! Who may do what: the authorization model of the README, in one place.
//!
//! Two questions, asked in this order by every handler:
//! 1. May a key of this role ask for the operation at all? [`PERMISSIONS`],
//!    one row per operation, answered by [`Caller::may`] before the request
//!    body is even read (a key without the role learns nothing of it).
//! 2. Is the resource one this key acts on? Ownership: admins anywhere;
//!    staff and POS at their own location; storefront keys for customers
//!    (one customer across every storefront channel), never on marketplace
//!    orders; marketplace keys on their own marketplace's orders, holds and
//!    listings. The functions below answer it for orders, fulfilments,
//!    reservations and locations.

use super::auth::Caller;
use super::problem::ApiError;
use crate::access::{Channel, Principal, Role};
use crate::catalog::Location;
use crate::inventory::{Purpose, Reservation};
use crate::order::{Fulfilment, Order, OrderFilter, touches};
use crate::types::{LocationId, MarketplaceId};

/// What a request asks to do, by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Locations, SKUs, availability, same-day slots.
    ReadCatalog,
    /// Create and replace locations, SKUs, promotions, tax rates.
    ManageCatalog,
    /// Levels of a location.
    ReadStock,
    /// Receipts, adjustments, counts, transfers, settings.
    MoveStock,
    /// A level's ledger rows.
    ReadLedger,
    /// Why a level's available quantity is what it is.
    ExplainStock,
    /// Place, read, extend, release and commit reservations.
    Hold,
    /// Sales, holds, checkouts and orders at the counter.
    Counter,
    /// Customers and their carts, read.
    ReadCustomers,
    /// Customers and their carts, written; checkout.
    ShopForCustomers,
    /// Find customers by email or phone.
    SearchCustomers,
    /// Orders and their audit trails.
    ReadOrders,
    /// Cancel orders and lines.
    CancelOrders,
    /// Take goods back.
    ReturnOrders,
    /// "The customer is at the curb."
    AnnounceArrival,
    /// Pick, pack, ship, send out, deliver.
    MoveFulfilments,
    /// Cancel one fulfilment.
    CancelFulfilments,
    /// Allocate a fulfilment that needed attention.
    Reallocate,
    /// A store's pickup queue.
    ReadPickups,
    /// Pick lists, picks, marking ready, reissuing codes.
    PreparePickups,
    /// Verify a code and hand over.
    CollectPickups,
    /// The event feed.
    ReadEvents,
    /// Per-channel figures (staff: of their own store).
    ReadAnalytics,
    /// Connect marketplaces, map listings, resync.
    ManageMarketplaces,
    /// A marketplace's listings and sync state.
    ReadListings,
    /// Spoken commands.
    Voice,
}

use Role::{Admin as A, Marketplace as M, Pos as P, Staff as S, Storefront as W};

/// Which roles may ask for each operation. Ownership is checked on top.
pub const PERMISSIONS: &[(Op, &[Role])] = &[
    (Op::ReadCatalog, &[A, S, P, W, M]),
    (Op::ManageCatalog, &[A]),
    (Op::ReadStock, &[A, S, P]),
    (Op::MoveStock, &[A, S]),
    (Op::ReadLedger, &[A, S]),
    (Op::ExplainStock, &[A, S, P]),
    (Op::Hold, &[A, S, P, W, M]),
    (Op::Counter, &[P]),
    (Op::ReadCustomers, &[A, S, P, W]),
    (Op::ShopForCustomers, &[A, P, W]),
    (Op::SearchCustomers, &[A, S, P]),
    (Op::ReadOrders, &[A, S, P, W, M]),
    (Op::CancelOrders, &[A, S, W, M]),
    (Op::ReturnOrders, &[A, S, P, M]),
    (Op::AnnounceArrival, &[A, S, P, W]),
    (Op::MoveFulfilments, &[A, S]),
    (Op::CancelFulfilments, &[A, S, W, M]),
    (Op::Reallocate, &[A, S]),
    (Op::ReadPickups, &[A, S, P]),
    (Op::PreparePickups, &[A, S]),
    (Op::CollectPickups, &[A, S, P]),
    (Op::ReadEvents, &[A, S, W]),
    (Op::ReadAnalytics, &[A, S]),
    (Op::ManageMarketplaces, &[A]),
    (Op::ReadListings, &[A, M]),
    (Op::Voice, &[W]),
];

fn roles_for(op: Op) -> &'static [Role] {
    PERMISSIONS.iter().find(|(o, _)| *o == op).map_or(&[], |(_, roles)| *roles)
}

fn forbidden(detail: impl Into<String>) -> ApiError {
    ApiError::forbidden(detail)
}

impl Caller {
    /// 403 unless a key of this role may ask for `op`.
    pub fn may(&self, op: Op) -> Result<(), ApiError> {
        let roles = roles_for(op);
        if roles.contains(&self.role) && (op != Op::Voice || self.channel == Channel::Voice) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let detail = if op == Op::Voice {
            "voice commands need a storefront key of channel voice".to_owned()
        } else {
            format!("this call needs a key with role {}; this key is {}", allowed.join(" or "), self.role)
        };
        Err(forbidden(detail).with("allowed_roles", allowed))
    }

    /// 403 when a location-bound key (POS, staff) acts at another location.
    pub fn require_at(&self, location: &LocationId, code: &str) -> Result<(), ApiError> {
        if self.may_act_at(location) {
            Ok(())
        } else {
            Err(forbidden(format!("this {} key belongs to another location than '{code}'", self.role)))
        }
    }
}

/// Whether a marketplace key belongs to this marketplace.
fn own_marketplace(caller: &Principal, marketplace: Option<&MarketplaceId>) -> bool {
    caller.role == Role::Marketplace && marketplace.is_some() && marketplace == caller.marketplace_id.as_ref()
}

/// The location of a staff or POS key.
fn own_location(caller: &Principal) -> Option<&LocationId> {
    caller.location_id.as_ref().filter(|_| matches!(caller.role, Role::Staff | Role::Pos))
}

/// Narrows a list of orders to those the caller may see: staff and POS
/// their store's, marketplaces their own, storefronts their customers'.
pub fn scope_orders(caller: &Principal, filter: &mut OrderFilter) -> Result<(), ApiError> {
    match caller.role {
        Role::Staff | Role::Pos => {
            if filter.location_id.is_some() && filter.location_id != caller.location_id {
                return Err(forbidden("this key sees the orders of its own store"));
            }
            filter.location_id = caller.location_id.clone();
        }
        Role::Marketplace => filter.marketplace_id = caller.marketplace_id.clone(),
        Role::Storefront => filter.customers_only = true,
        Role::Admin => {}
    }
    Ok(())
}

/// The location whose events or figures the caller reads: the one asked
/// for, where the key may act; staff read their own store's when they ask
/// for none.
pub fn scope_location(caller: &Caller, asked: Option<&Location>) -> Result<Option<LocationId>, ApiError> {
    match asked {
        Some(location) => {
            caller.require_at(&location.id, location.code.as_str())?;
            Ok(Some(location.id.clone()))
        }
        None => Ok(own_location(caller).cloned()),
    }
}

/// Whether the caller is shown pickup codes: the customer's own channels
/// are, until the order is collected; the store, which verifies the code, is not.
pub fn sees_pickup_codes(caller: &Principal) -> bool {
    caller.role == Role::Storefront
}

/// What a caller wants of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderUse {
    Read,
    /// Cancel the order or a line of it.
    Change,
    /// Take its goods back (at the caller's own store, for staff and POS).
    Return,
}

/// Whether an order belongs to a store: a fulfilment from or for pickup at
/// it, or its till placed the order.
fn at_store(order: &Order, location: &LocationId) -> bool {
    touches(order, location) || order.row.store_id.as_ref() == Some(location)
}

/// Whether a storefront placed the order (web, app, voice, kiosk).
fn storefront_order(order: &Order) -> bool {
    Channel::parse(&order.row.channel).is_ok_and(|c| Channel::STOREFRONT.contains(&c))
}

/// 403 unless the caller may `use_` this order.
pub fn order(caller: &Principal, order: &Order, use_: OrderUse) -> Result<(), ApiError> {
    let marketplace = order.row.marketplace_id.as_ref();
    let allowed = match (caller.role, use_) {
        (Role::Admin, _) => true,
        (Role::Marketplace, _) => own_marketplace(caller, marketplace),
        // A customer's orders, whichever channel placed them; a marketplace's buyers are not theirs.
        (Role::Storefront, OrderUse::Read) => order.row.customer_id.is_some() && marketplace.is_none(),
        (Role::Storefront, OrderUse::Change) => storefront_order(order) && marketplace.is_none(),
        (Role::Storefront, OrderUse::Return) => false,
        (Role::Staff | Role::Pos, OrderUse::Read) => own_location(caller).is_some_and(|l| at_store(order, l)),
        // Every fulfilment of the order is the store's own.
        (Role::Staff | Role::Pos, OrderUse::Change) => own_location(caller).is_some_and(|l| {
            order
                .fulfilments
                .iter()
                .all(|f| f.location_id.as_ref() == Some(l) || f.pickup_location_id.as_ref() == Some(l))
        }),
        // Goods come back at any store, to its own shelf; marketplace orders
        // come back through their marketplace.
        (Role::Staff | Role::Pos, OrderUse::Return) => own_location(caller).is_some() && marketplace.is_none(),
    };
    if allowed {
        Ok(())
    } else {
        Err(forbidden(format!("order {} is not one this key may {}", order.row.number, verb(use_))))
    }
}

fn verb(use_: OrderUse) -> &'static str {
    match use_ {
        OrderUse::Read => "see",
        OrderUse::Change => "change",
        OrderUse::Return => "take back",
    }
}

/// 403 unless the caller may change this part of an order (a line, a
/// fulfilment): staff and POS when it is at their store, others when they
/// may change the order.
pub fn order_part(caller: &Principal, order: &Order, part: &Fulfilment) -> Result<(), ApiError> {
    match own_location(caller) {
        Some(_) => {
            self::order(caller, order, OrderUse::Read)?;
            fulfilment(caller, part, Side::Either)
        }
        None => self::order(caller, order, OrderUse::Change),
    }
}

/// Which end of a fulfilment a staff or POS key must be at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Where the stock is (picking, packing, shipping).
    Source,
    /// Either end (cancelling).
    Either,
    /// Where the customer collects, else where the stock is (reallocating).
    Pickup,
}

/// 403 unless a staff or POS caller works at `side` of the fulfilment
/// (other roles are decided by the order).
pub fn fulfilment(caller: &Principal, fulfilment: &Fulfilment, side: Side) -> Result<(), ApiError> {
    let Some(own) = own_location(caller) else { return Ok(()) };
    let source = fulfilment.location_id.as_ref() == Some(own);
    let pickup = fulfilment.pickup_location_id.as_ref() == Some(own);
    let ok = match side {
        Side::Source => source,
        Side::Pickup => fulfilment.pickup_location_id.as_ref().or(fulfilment.location_id.as_ref()) == Some(own),
        Side::Either => source || pickup,
    };
    if ok { Ok(()) } else { Err(forbidden("this fulfilment is handled by another location")) }
}

/// What a caller wants of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldUse {
    Read,
    /// Extend, release or commit it.
    Change,
}

/// 403 unless the caller may `use_` this hold; 409 when it allocates stock
/// for an order, which only the order's own moves may release or commit.
pub fn reservation(caller: &Principal, hold: &Reservation, use_: HoldUse) -> Result<(), ApiError> {
    let placed_by_storefront =
        Channel::parse(&hold.channel).is_ok_and(|c| Channel::STOREFRONT.contains(&c)) && hold.marketplace_id.is_none();
    let allowed = match (caller.role, use_) {
        (Role::Admin, _) => true,
        (Role::Staff | Role::Pos, HoldUse::Read) => caller.may_act_at(&hold.location_id),
        // The store's own holds, of the purposes the key may place.
        (Role::Staff | Role::Pos, HoldUse::Change) => {
            caller.may_act_at(&hold.location_id) && holds_for(caller.role, hold.purpose)
        }
        (Role::Storefront, _) => placed_by_storefront && hold.purpose == Purpose::CartHold,
        (Role::Marketplace, _) => own_marketplace(caller, hold.marketplace_id.as_ref()),
    };
    if !allowed {
        return Err(forbidden(format!("reservation {} is not one this key may use", hold.id)));
    }
    match (&hold.order_id, use_) {
        (Some(order), HoldUse::Change) => Err(ApiError::conflict(
            "held-for-order",
            "Held for an order",
            format!(
                "reservation {} allocates stock for order {order}: cancel, ship or collect the order instead",
                hold.id
            ),
        )
        .with("order", order)),
        _ => Ok(()),
    }
}

/// The purposes each role holds stock for: staff for the counter and for
/// orders taken in store, POS for the counter, storefronts for carts,
/// marketplaces for their orders.
fn holds_for(role: Role, purpose: Purpose) -> bool {
    match role {
        Role::Admin => true,
        Role::Staff => matches!(purpose, Purpose::PosHold | Purpose::Order),
        Role::Pos => purpose == Purpose::PosHold,
        Role::Storefront => purpose == Purpose::CartHold,
        Role::Marketplace => purpose == Purpose::MarketplaceOrder,
    }
}

/// 403 unless a key of this role may hold stock for `purpose`.
pub fn may_hold(caller: &Principal, purpose: Purpose) -> Result<(), ApiError> {
    if holds_for(caller.role, purpose) {
        Ok(())
    } else {
        Err(forbidden(format!("a {} key cannot hold stock for {purpose}", caller.role)))
    }
}

/// 403 unless a marketplace key asks about its own marketplace.
pub fn marketplace(caller: &Principal, marketplace: &MarketplaceId) -> Result<(), ApiError> {
    if caller.role == Role::Admin || own_marketplace(caller, Some(marketplace)) {
        Ok(())
    } else {
        Err(forbidden("this key belongs to another marketplace"))
    }
}
