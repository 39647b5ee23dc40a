//! The one cart: a customer's open cart is the same whichever channel reads
//! or writes it. Every change bumps the cart's version first (which also
//! locks the row on PostgreSQL), so concurrent edits queue instead of
//! overwriting each other, and a writer holding an old version gets refused.

pub mod model;
mod quote;
mod repo;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

pub use model::{Cart, CartAction, CartChange, CartLine, CartStatus, DeliveryAddress, Intent};
pub use quote::{Basis, CodeProblem, LineAvailability, Quote, TaxView, quote};
pub use repo::Conversion;
use repo::{IfOpen, LineWrite, NewCart, Record, RowChange};

use crate::access::Principal;
use crate::catalog::{self, CatalogError, Location, Sku};
use crate::config::Config;
use crate::customer::CustomerError;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::inventory::reservation::{self, NewReservation};
use crate::inventory::{self, InventoryError, Item, Purpose, ReservationStatus};
use crate::pricing::{self, PricingError};
use crate::secret;
use crate::types::{CartId, Currency, CustomerId, Page, PageRequest, Quantity, ReservationId, SkuId};

/// Most units of one SKU a cart line takes.
pub const MAX_LINE_QUANTITY: i32 = 999;
/// Most lines a cart takes.
pub const MAX_LINES: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("no cart '{0}'")]
    NotFound(String),
    #[error("the cart is {0}; the customer's next cart starts empty")]
    Closed(CartStatus),
    #[error("the cart has changed since version {seen}")]
    Stale { seen: i32, current: Box<Quote> },
    #[error("the cart is in {cart}; SKU {sku} is priced in {sku_currency}")]
    CurrencyMismatch { cart: Currency, sku: String, sku_currency: Currency },
    #[error("a cart holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("a line holds at most {MAX_LINE_QUANTITY} units")]
    QuantityTooLarge,
    #[error("SKU {0} is not in the cart")]
    LineNotFound(String),
    #[error("SKU {0} is deactivated and cannot be sold")]
    SkuInactive(String),
    #[error("location {code} cannot {what}")]
    LocationCannot { code: String, what: &'static str },
    #[error("same-day delivery needs the address's latitude and longitude")]
    AddressNeedsCoordinates,
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Customer(#[from] CustomerError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(CartError);

/// Which cart an edit is for: one known by its id, or a customer's open
/// cart, which the edit's version bump finds by itself (no lookup before it).
#[derive(Debug, Clone)]
pub enum CartRef {
    Id(CartId),
    OpenFor(CustomerId),
}

/// Who edits a cart, when, against which version they saw.
pub struct Editor<'a> {
    pub actor: &'a Principal,
    pub now: DateTime<Utc>,
    /// `If-Match`: refuse the change if the cart moved on since.
    pub expected_version: Option<i32>,
    pub config: &'a Config,
}

pub fn load(conn: &mut AnyConnection, id: &CartId) -> Result<Cart, CartError> {
    let (row, stored) =
        repo::load(conn, &CartRef::Id(id.clone()))?.ok_or_else(|| CartError::NotFound(id.to_string()))?;
    assemble(conn, row, stored)
}

/// The customer's open cart, if there is one: read by the customer, without
/// looking its id up first. Found by `open_for`, it is open (a CHECK sets
/// that column exactly while the cart is open), even when a checkout
/// commits alongside: there is no second read for it to slip between.
pub fn open_of(conn: &mut AnyConnection, customer: &CustomerId) -> Result<Option<Cart>, CartError> {
    let found = repo::load(conn, &CartRef::OpenFor(customer.clone()))?;
    found.map(|(row, stored)| assemble(conn, row, stored)).transpose()
}

/// A cart from its row and lines, with the lines' SKUs read.
fn assemble(conn: &mut AnyConnection, row: repo::CartRow, stored: Vec<repo::LineRow>) -> Result<Cart, CartError> {
    let ids: Vec<SkuId> = stored.iter().map(|l| l.sku_id.clone()).collect();
    let skus: HashMap<SkuId, Sku> = catalog::skus_by_ids(conn, &ids)?.into_iter().map(|s| (s.id.clone(), s)).collect();
    let corrupt = |what: String| CartError::Db(DbError::Corrupt(what));
    let lines = stored
        .into_iter()
        .map(|l| {
            let sku = skus
                .get(&l.sku_id)
                .cloned()
                .ok_or_else(|| corrupt(format!("cart line of unknown SKU {}", l.sku_id)))?;
            Ok(CartLine {
                sku,
                quantity: l.quantity,
                hold_id: l.hold_id,
                updated_channel: l.updated_channel.unwrap_or_else(|| l.added_channel.clone()),
                added_channel: l.added_channel,
                added_at: l.added_at,
                updated_at: l.updated_at,
            })
        })
        .collect::<Result<_, CartError>>()?;
    Ok(Cart {
        status: CartStatus::parse(&row.status).map_err(corrupt)?,
        currency: row.currency.as_deref().map(Currency::parse).transpose().map_err(corrupt)?,
        intent: row
            .fulfilment
            .as_deref()
            .map(serde_json::from_str::<Intent>)
            .transpose()
            .map_err(|e| corrupt(format!("cart fulfilment: {e}")))?,
        id: row.id,
        customer_id: row.customer_id,
        token: row.token,
        promotion_code: row.promotion_code,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        lines,
        channels: channel_list(&row.channels),
    })
}

/// The id of the customer's open cart, if there is one.
pub fn open_cart_id(conn: &mut AnyConnection, customer: &CustomerId) -> Result<Option<CartId>, CartError> {
    Ok(repo::open_for_customer(conn, customer)?)
}

/// ",web,app," as ["app", "web"].
fn channel_list(stored: &str) -> Vec<String> {
    let mut channels: Vec<String> = stored.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect();
    channels.sort();
    channels.dedup();
    channels
}

/// What a cart's first version records.
fn created() -> Record {
    Record { action: CartAction::Create, sku: None, quantity: None, detail: None }
}

/// Records changes of the cart by `e`, each at its version.
fn record(conn: &mut AnyConnection, id: &CartId, records: &[(i32, Record)], e: &Editor<'_>) -> Result<(), DbError> {
    repo::record(conn, id, records, e.actor.channel.as_str(), e.actor.key_id.as_str(), e.now)
}

/// The id of the customer's open cart, created on first use.
fn create_open(conn: &mut AnyConnection, customer: &CustomerId, e: &Editor<'_>) -> Result<CartId, CartError> {
    loop {
        let id = CartId::generate();
        // The unique `open_for` keeps one open cart per customer: when the
        // customer has one (another channel may have created it just now),
        // the insert does nothing and the open cart is read instead.
        let new = NewCart { id: &id, customer: Some(customer), token: None, version: 1 };
        let channel = e.actor.channel.as_str();
        if repo::insert(conn, &new, &RowChange::default(), channel, e.now, IfOpen::Keep)?.is_some() {
            record(conn, &id, &[(1, created())], e)?;
            return Ok(id);
        }
        if let Some(id) = repo::open_for_customer(conn, customer)? {
            return Ok(id);
        }
    }
}

/// The cart `cart` names; a customer's open cart is created on first use.
pub fn open_cart(conn: &mut AnyConnection, cart: &CartRef, e: &Editor<'_>) -> Result<Cart, CartError> {
    let id = match cart {
        CartRef::Id(id) => id.clone(),
        CartRef::OpenFor(customer) => match repo::open_for_customer(conn, customer)? {
            Some(id) => id,
            None => create_open(conn, customer, e)?,
        },
    };
    load(conn, &id)
}

/// A cart for a visitor who has not signed in; its token is its only key.
pub fn create_anonymous(conn: &mut AnyConnection, e: &Editor<'_>) -> Result<Cart, CartError> {
    let id = CartId::generate();
    let token = format!("ct_{}", secret::random_token(24));
    let new = NewCart { id: &id, customer: None, token: Some(&token), version: 1 };
    repo::insert(conn, &new, &RowChange::default(), e.actor.channel.as_str(), e.now, IfOpen::Keep)?;
    record(conn, &id, &[(1, created())], e)?;
    load(conn, &id)
}

pub fn id_by_token(conn: &mut AnyConnection, token: &str) -> Result<CartId, CartError> {
    repo::by_token(conn, token)?.ok_or_else(|| CartError::NotFound(token.to_owned()))
}

pub fn by_token(conn: &mut AnyConnection, token: &str) -> Result<Cart, CartError> {
    let id = id_by_token(conn, token)?;
    load(conn, &id)
}

/// Why a version bump of a cart that exists did not take: closed, or stale.
fn refusal(conn: &mut AnyConnection, id: &CartId, e: &Editor<'_>) -> CartError {
    match load(conn, id) {
        Err(error) => error,
        Ok(cart) if cart.status != CartStatus::Open => CartError::Closed(cart.status),
        Ok(cart) => match quote(conn, cart, e) {
            Ok(current) => {
                CartError::Stale { seen: e.expected_version.unwrap_or_default(), current: Box::new(current) }
            }
            Err(error) => error,
        },
    }
}

/// Takes the cart's next version, writing `row` (what the edit changes on
/// the cart's own row) in the same statement; a cart that is closed or not
/// at the expected version is refused. With `first_use`, a customer without
/// an open cart gets one, inserted with `row` written at version 2 (its
/// creation is version 1): it needs no second bump, and has no lines. The
/// flag says it was created.
fn bump(
    conn: &mut AnyConnection,
    cart: &CartRef,
    e: &Editor<'_>,
    row: &RowChange,
    first_use: bool,
) -> Result<(repo::CartRow, bool), CartError> {
    let channel = e.actor.channel.as_str();
    // A cart its first edit creates: the edit is version 2, the creation 1.
    let by_first_edit = |customer, id| NewCart { id, customer: Some(customer), token: None, version: 2 };
    // Without If-Match, one statement finds the customer's cart or creates it.
    if first_use
        && let CartRef::OpenFor(customer) = cart
        && e.expected_version.is_none()
    {
        let id = CartId::generate();
        let taken = repo::insert(conn, &by_first_edit(customer, &id), row, channel, e.now, IfOpen::Bump)?;
        let taken = taken.ok_or_else(|| CartError::Db(DbError::Corrupt("an upsert of a cart wrote no row".into())))?;
        let new = taken.id == id;
        return Ok((taken, new));
    }
    if let Some(bumped) = repo::bump(conn, cart, e.expected_version, row, channel, e.now)? {
        return Ok((bumped, false));
    }
    // Version 1 is the only one a cart that does not exist yet can be
    // expected at.
    if first_use
        && let CartRef::OpenFor(customer) = cart
        && e.expected_version == Some(1)
        && let Some(inserted) =
            repo::insert(conn, &by_first_edit(customer, &CartId::generate()), row, channel, e.now, IfOpen::Keep)?
    {
        return Ok((inserted, true));
    }
    // A customer's open cart the bump did not find: there is none (first
    // use creates it), or another request created it and committed
    // meanwhile. Either way it is bumped by id; a cart known by id that
    // still refuses is closed or moved on.
    let (id, retry) = match cart {
        CartRef::Id(id) => (id.clone(), false),
        CartRef::OpenFor(customer) if first_use => (create_open(conn, customer, e)?, true),
        CartRef::OpenFor(customer) => match repo::open_for_customer(conn, customer)? {
            Some(id) => (id, true),
            None => return Err(CartError::NotFound(format!("open cart of customer {customer}"))),
        },
    };
    let retried = match retry {
        true => repo::bump(conn, &CartRef::Id(id.clone()), e.expected_version, row, channel, e.now)?,
        false => None,
    };
    Ok((retried.ok_or_else(|| refusal(conn, &id, e))?, false))
}

/// The records of an edit made at the cart's `version`: a cart it created
/// records its creation first.
fn records_of(version: i32, created_now: bool, made: Record) -> Vec<(i32, Record)> {
    match created_now {
        true => vec![(version - 1, created()), (version, made)],
        false => vec![(version, made)],
    }
}

/// Runs one edit: takes the next version, reads the lines, lets `change`
/// write (and mirror what it wrote in the cart it is given), records it.
/// The answer is that cart: what this transaction wrote, without reading it
/// back. For edits whose record depends on the cart; the others use
/// [`edit_line`], which costs fewer statements.
fn edit(
    conn: &mut AnyConnection,
    cart: &CartRef,
    e: &Editor<'_>,
    row: RowChange,
    change: impl FnOnce(&mut AnyConnection, &mut Cart) -> Result<Record, CartError>,
) -> Result<Cart, CartError> {
    let (bumped, created_now) = bump(conn, cart, e, &row, true)?;
    let lines = match created_now {
        true => Vec::new(),
        false => repo::lines(conn, &bumped.id)?,
    };
    let mut cart = assemble(conn, bumped, lines)?;
    let made = change(conn, &mut cart)?;
    record(conn, &cart.id, &records_of(cart.version, created_now, made), e)?;
    Ok(cart)
}

/// Runs an edit that is known before the cart is read: takes the next
/// version, then writes `line` (if any), records `made` and reads the lines
/// as written, in one statement on PostgreSQL. The answer is the cart and
/// the line written (see [`repo::Written`]); the caller checks the limits
/// on what was written, and a refusal rolls the whole edit back.
fn edit_line(
    conn: &mut AnyConnection,
    cart: &CartRef,
    e: &Editor<'_>,
    row: RowChange,
    line: Option<LineWrite>,
    made: Record,
) -> Result<(Cart, Option<repo::LineRow>), CartError> {
    let (bumped, created_now) = bump(conn, cart, e, &row, true)?;
    let records = records_of(bumped.version, created_now, made);
    let actor = (e.actor.channel.as_str(), e.actor.key_id.as_str());
    let written = repo::write(conn, &bumped.id, line.as_ref(), &records, actor, e.now)?;
    Ok((assemble(conn, bumped, written.lines)?, written.line))
}

fn line_of<'c>(cart: &'c Cart, sku: &SkuId) -> Option<&'c CartLine> {
    cart.lines.iter().find(|l| &l.sku.id == sku)
}

/// Adds units of a SKU (summing with a line already there).
pub fn add_line(
    conn: &mut AnyConnection,
    cart: &CartRef,
    sku: &Sku,
    quantity: Quantity,
    e: &Editor<'_>,
) -> Result<Cart, CartError> {
    if !sku.active {
        return Err(CartError::SkuInactive(sku.code.to_string()));
    }
    if quantity.get() > MAX_LINE_QUANTITY {
        return Err(CartError::QuantityTooLarge);
    }
    // The bump gives an empty cart this SKU's currency.
    let row = RowChange { currency: Some(sku.price.currency), ..RowChange::default() };
    let made =
        Record { action: CartAction::AddLine, sku: Some(sku.id.clone()), quantity: Some(quantity.get()), detail: None };
    let (mut cart, line) = edit_line(conn, cart, e, row, Some(LineWrite::Add(&sku.id, quantity.get())), made)?;
    let line = line.ok_or_else(|| CartError::Db(DbError::Corrupt("an upsert of a cart line wrote no row".into())))?;
    // Checked on what was written: a refusal rolls the edit back.
    if line.quantity > MAX_LINE_QUANTITY {
        return Err(CartError::QuantityTooLarge);
    }
    if cart.lines.len() > MAX_LINES {
        return Err(CartError::TooManyLines);
    }
    if let Some(currency) = cart.currency.filter(|c| *c != sku.price.currency) {
        return Err(CartError::CurrencyMismatch {
            cart: currency,
            sku: sku.code.to_string(),
            sku_currency: sku.price.currency,
        });
    }
    hold_line(conn, &mut cart, sku, line, e)?;
    Ok(cart)
}

/// Sets the quantity of a line already in the cart.
pub fn set_quantity(
    conn: &mut AnyConnection,
    cart: &CartRef,
    sku: &Sku,
    quantity: Quantity,
    e: &Editor<'_>,
) -> Result<Cart, CartError> {
    if quantity.get() > MAX_LINE_QUANTITY {
        return Err(CartError::QuantityTooLarge);
    }
    let made = Record {
        action: CartAction::SetQuantity,
        sku: Some(sku.id.clone()),
        quantity: Some(quantity.get()),
        detail: None,
    };
    let set = LineWrite::Set(&sku.id, quantity.get());
    let (mut cart, line) = edit_line(conn, cart, e, RowChange::default(), Some(set), made)?;
    let line = line.ok_or_else(|| CartError::LineNotFound(sku.code.to_string()))?;
    hold_line(conn, &mut cart, sku, line, e)?;
    Ok(cart)
}

pub fn remove_line(conn: &mut AnyConnection, cart: &CartRef, sku: &Sku, e: &Editor<'_>) -> Result<Cart, CartError> {
    let made = Record { action: CartAction::RemoveLine, sku: Some(sku.id.clone()), quantity: None, detail: None };
    let (mut cart, removed) = edit_line(conn, cart, e, RowChange::default(), Some(LineWrite::Remove(&sku.id)), made)?;
    let removed = removed.ok_or_else(|| CartError::LineNotFound(sku.code.to_string()))?;
    release_hold(conn, removed.hold_id.as_ref(), e)?;
    if cart.lines.is_empty() {
        repo::set_currency(conn, &cart.id, None)?;
        cart.currency = None;
    }
    Ok(cart)
}

/// With cart holds on, holds a line's units anew (see [`rehold`]) and keeps
/// the hold on the line, which held the previous one until now.
fn hold_line(
    conn: &mut AnyConnection,
    cart: &mut Cart,
    sku: &Sku,
    line: repo::LineRow,
    e: &Editor<'_>,
) -> Result<(), CartError> {
    if !e.config.holds.cart_holds {
        return Ok(());
    }
    let hold = rehold(conn, cart, &Item::of(sku), line.quantity, line.hold_id.as_ref(), e)?;
    repo::set_hold(conn, &cart.id, &sku.id, hold.as_ref())?;
    if let Some(held) = cart.lines.iter_mut().find(|l| l.sku.id == sku.id) {
        held.hold_id = hold;
    }
    Ok(())
}

/// Pickup at `location`, if it takes pickups (and hands over at the curb
/// when asked): the caller has the location already, so it is not read again.
pub fn pickup_at(location: &Location, curbside: bool) -> Result<Intent, CartError> {
    let code = location.code.to_string();
    if !location.active || !location.capabilities.pickup {
        return Err(CartError::LocationCannot { code, what: "take pickup orders" });
    }
    if curbside && !location.capabilities.curbside {
        return Err(CartError::LocationCannot { code, what: "hand over at the curb" });
    }
    Ok(Intent::Pickup { location_id: location.id.clone(), curbside })
}

/// Checks that the intent can be served at all before storing it (pickups
/// are checked by [`pickup_at`], which makes them).
fn check_intent(intent: &Intent) -> Result<(), CartError> {
    match intent {
        Intent::SameDay { address, .. } if address.point().is_none() => Err(CartError::AddressNeedsCoordinates),
        Intent::SameDay { .. } | Intent::Ship { .. } | Intent::Pickup { .. } => Ok(()),
    }
}

pub fn set_intent(
    conn: &mut AnyConnection,
    cart: &CartRef,
    intent: Option<Intent>,
    e: &Editor<'_>,
) -> Result<Cart, CartError> {
    if let Some(intent) = &intent {
        check_intent(intent)?;
    }
    let row = RowChange { intent: Some(intent.as_ref()), ..RowChange::default() };
    let detail =
        intent.as_ref().map(|i| serde_json::to_value(i).ok().and_then(|v| v["method"].as_str().map(str::to_owned)));
    let made = Record { action: CartAction::SetFulfilment, sku: None, quantity: None, detail: detail.flatten() };
    Ok(edit_line(conn, cart, e, row, None, made)?.0)
}

/// Applies a promotion code: refused, with the reason, when it cannot be used
/// now through the caller's channel.
pub fn apply_code(conn: &mut AnyConnection, cart: &CartRef, code: &str, e: &Editor<'_>) -> Result<Cart, CartError> {
    let promotion = pricing::usable_code(conn, code, e.actor.channel, e.now)?;
    let code = promotion.input.code.unwrap_or_default();
    let row = RowChange { code: Some(Some(&code)), ..RowChange::default() };
    let made = Record { action: CartAction::ApplyPromotion, sku: None, quantity: None, detail: Some(code.clone()) };
    Ok(edit_line(conn, cart, e, row, None, made)?.0)
}

pub fn remove_code(conn: &mut AnyConnection, cart: &CartRef, e: &Editor<'_>) -> Result<Cart, CartError> {
    // Not written by the bump: the trail names the code removed, which the
    // bump's row still holds.
    edit(conn, cart, e, RowChange::default(), |conn, cart| {
        repo::set_code(conn, &cart.id, None)?;
        Ok(Record {
            action: CartAction::RemovePromotion,
            sku: None,
            quantity: None,
            detail: cart.promotion_code.take(),
        })
    })
}

/// Merges an anonymous cart into a customer's cart on sign-in: quantities add
/// up; the anonymous cart is closed as merged. Its intent and code carry over
/// where the customer's cart has none.
pub fn merge(conn: &mut AnyConnection, into: &CartRef, token: &str, e: &Editor<'_>) -> Result<Cart, CartError> {
    let from = by_token(conn, token)?;
    if from.status != CartStatus::Open {
        return Err(CartError::Closed(from.status));
    }
    let merged = edit(conn, into, e, RowChange::default(), |conn, cart| {
        let id = &cart.id.clone();
        if let (Some(mine), Some(theirs)) = (cart.currency, from.currency)
            && mine != theirs
        {
            let sku = from.lines.first().map(|l| l.sku.code.to_string()).unwrap_or_default();
            return Err(CartError::CurrencyMismatch { cart: mine, sku, sku_currency: theirs });
        }
        if cart.currency.is_none() && from.currency.is_some() {
            repo::set_currency(conn, id, from.currency)?;
            cart.currency = from.currency;
        }
        for line in &from.lines {
            let existing = line_of(cart, &line.sku.id).cloned();
            let existing = existing.as_ref();
            let total = (existing.map(|l| l.quantity).unwrap_or(0) + line.quantity).min(MAX_LINE_QUANTITY);
            if existing.is_none() && cart.lines.len() >= MAX_LINES {
                return Err(CartError::TooManyLines);
            }
            release_hold(conn, line.hold_id.as_ref(), e)?;
            let hold = rehold(conn, cart, &Item::of(&line.sku), total, existing.and_then(|l| l.hold_id.as_ref()), e)?;
            // A line keeps the channel it was first added through; the merge
            // is its latest change, made through the signing-in channel.
            let via = (line.added_channel.as_str(), e.actor.channel.as_str());
            match existing {
                Some(_) => repo::update_line(conn, id, &line.sku.id, total, hold.as_ref(), via.1, e.now)?,
                None => repo::insert_line(conn, id, &line.sku.id, total, hold.as_ref(), via, e.now)?,
            }
            cart.put_line(&line.sku, total, hold, via, timestamp(e.now));
        }
        let mut channels = cart.channels.clone();
        channels.extend(from.channels.iter().cloned());
        channels.sort();
        channels.dedup();
        if channels != cart.channels {
            repo::set_channels(conn, id, &channels)?;
            cart.channels = channels;
        }
        if cart.intent.is_none() && from.intent.is_some() {
            repo::set_intent(conn, id, from.intent.as_ref())?;
            cart.intent = from.intent.clone();
        }
        if cart.promotion_code.is_none() && from.promotion_code.is_some() {
            repo::set_code(conn, id, from.promotion_code.as_deref())?;
            cart.promotion_code = from.promotion_code.clone();
        }
        let units: i32 = from.lines.iter().map(|l| l.quantity).sum();
        Ok(Record {
            action: CartAction::Merge,
            sku: None,
            quantity: Some(units),
            detail: Some(format!("{} lines from anonymous cart {}", from.lines.len(), from.id)),
        })
    })?;
    let closer = Editor { expected_version: None, ..*e };
    edit(conn, &CartRef::Id(from.id.clone()), &closer, RowChange::default(), |conn, closed| {
        repo::mark_merged(conn, &from.id, &merged.id)?;
        closed.status = CartStatus::Merged;
        Ok(Record { action: CartAction::MergedInto, sku: None, quantity: None, detail: Some(merged.id.to_string()) })
    })?;
    Ok(merged)
}

/// Checks the cart out: takes its next version (refused if it moved on since
/// `e.expected_version`; `NotFound` for a customer without an open cart), releases its holds, lets `place` create the order
/// (returning it and its number) and closes the cart, all in the caller's
/// transaction. The customer's next cart starts empty.
pub fn check_out<T, E: From<CartError>>(
    conn: &mut AnyConnection,
    cart: &CartRef,
    e: &Editor<'_>,
    place: impl FnOnce(&mut AnyConnection, &Cart) -> Result<(T, String), E>,
) -> Result<T, E> {
    // The bump closes the cart as it takes the version: if placing the
    // order fails, the transaction (and the closing with it) rolls back.
    let row = RowChange { close: Some(CartStatus::CheckedOut), ..RowChange::default() };
    let (bumped, _) = bump(conn, cart, e, &row, false)?;
    let lines = repo::lines(conn, &bumped.id).map_err(CartError::from)?;
    let cart = assemble(conn, bumped, lines)?;
    for line in &cart.lines {
        release_hold(conn, line.hold_id.as_ref(), e)?;
    }
    let (placed, number) = place(conn, &cart)?;
    let closing = Record { action: CartAction::CheckOut, sku: None, quantity: None, detail: Some(number) };
    record(conn, &cart.id, &[(cart.version, closing)], e).map_err(CartError::from)?;
    Ok(placed)
}

/// Carts started in a window by channel, and how many became orders.
pub fn conversion(conn: &mut AnyConnection, window: &crate::db::report::Window) -> Result<Vec<Conversion>, CartError> {
    Ok(repo::conversion(conn, window)?)
}

/// The cart's trail, its merged carts' changes included.
pub fn history(conn: &mut AnyConnection, id: &CartId, page: &PageRequest) -> Result<Page<CartChange>, CartError> {
    let after = page.after.as_deref().and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
    let rows = repo::changes(conn, id, after, page.limit + 1)?;
    Ok(Page::from_rows(rows, page.limit, |c| c.id.to_string()))
}

fn release_hold(conn: &mut AnyConnection, hold: Option<&ReservationId>, e: &Editor<'_>) -> Result<(), CartError> {
    let Some(hold) = hold else { return Ok(()) };
    let held = reservation::get(conn, hold)?;
    if held.status == ReservationStatus::Active {
        reservation::release(conn, &held, e.actor, "cart line changed", e.now)?;
    }
    Ok(())
}

/// With cart holds on, replaces a line's hold by one for `quantity` units at
/// the pickup store, or else where most is available. A hold that cannot be
/// placed is no error: the line stays, and its availability says so.
fn rehold(
    conn: &mut AnyConnection,
    cart: &Cart,
    item: &Item,
    quantity: i32,
    previous: Option<&ReservationId>,
    e: &Editor<'_>,
) -> Result<Option<ReservationId>, CartError> {
    if !e.config.holds.cart_holds {
        return Ok(None);
    }
    release_hold(conn, previous, e)?;
    let levels = inventory::levels_of(conn, std::slice::from_ref(item))?;
    let at = match &cart.intent {
        Some(Intent::Pickup { location_id, .. }) => Some(location_id.clone()),
        _ => levels.iter().filter(|l| l.ships).max_by_key(|l| l.available()).map(|l| l.location_id.clone()),
    };
    let Some(location_id) = at else { return Ok(None) };
    let Ok(quantity) = Quantity::new(i64::from(quantity)) else { return Ok(None) };
    let new = NewReservation {
        location_id,
        purpose: Purpose::CartHold,
        lines: vec![(item.clone(), quantity)],
        expires_at: inventory::expiry(Purpose::CartHold, None, &e.config.holds, e.now)?,
        customer_ref: None,
        reference: Some(cart.id.to_string()),
        order_id: None,
    };
    // A savepoint: a hold refused for stock must leave nothing behind.
    match conn.write(|c| reservation::create(c, new, e.actor, e.now)) {
        Ok(held) => Ok(Some(held.id().clone())),
        Err(InventoryError::Insufficient(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}
