//! The voice assistant's backend: spoken intents on the customer's one cart
//! and orders. Nothing changes on a phrase that is unclear: an ambiguous
//! phrase asks back with up to three choices, one that names nothing is refused.

pub mod phrase;

use crate::cart::{self, Cart, CartError, CartRef, Editor};
use crate::catalog::{self, CatalogError, Sku};
use crate::customer::Customer;
use crate::db::{AnyConnection, DbError};
use crate::order::state::OrderStatus;
use crate::order::{self, Act, Order, OrderError, Payment};
use crate::text_enum;
use crate::types::{Money, Quantity};
use phrase::Match;

text_enum! {
    pub enum VoiceIntent {
        Add => "add",
        Remove => "remove",
        WhatIsInMyCart => "what_is_in_my_cart",
        Checkout => "checkout",
        WhereIsMyOrder => "where_is_my_order",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("{speech}")]
    NotUnderstood { speech: String },
    #[error("this intent needs a phrase")]
    NeedsPhrase,
    #[error("checking out by voice needs the payment the assistant's provider authorised")]
    NeedsPayment,
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(VoiceError);

pub struct Command {
    pub customer: Customer,
    pub intent: VoiceIntent,
    pub phrase: Option<String>,
    pub payment: Option<Payment>,
}

/// What happened, with a sentence to speak.
#[derive(Debug)]
pub enum Outcome {
    Cart { cart: Cart, speech: String },
    Ask { choices: Vec<Sku>, speech: String },
    Order { order: Order, speech: String },
    NoOrder { speech: String },
}

fn words_of(command: &Command) -> Result<phrase::Request, VoiceError> {
    let said = command.phrase.as_deref().filter(|p| !p.trim().is_empty()).ok_or(VoiceError::NeedsPhrase)?;
    let request = phrase::parse(said);
    if request.words.is_empty() {
        return Err(VoiceError::NotUnderstood { speech: format!("Sorry, which product did you mean by \"{said}\"?") });
    }
    Ok(request)
}

fn quantity(request: &phrase::Request) -> Result<Quantity, VoiceError> {
    let n = request.quantity.unwrap_or(1);
    Quantity::new(n).ok().filter(|q| q.get() <= cart::MAX_LINE_QUANTITY).ok_or_else(|| VoiceError::NotUnderstood {
        speech: format!("I can add between 1 and {} of something, not {n}.", cart::MAX_LINE_QUANTITY),
    })
}

fn choose(request: &phrase::Request, skus: Vec<Sku>, said: &str) -> Result<Result<Sku, Outcome>, VoiceError> {
    let candidates: Vec<(usize, Vec<String>)> = skus
        .iter()
        .enumerate()
        .map(|(i, s)| (i, std::iter::once(s.name.clone()).chain(s.spoken_names.iter().cloned()).collect()))
        .collect();
    match phrase::best(request, &candidates) {
        Match::One(i) => Ok(Ok(skus[i].clone())),
        Match::Ambiguous(choices) => {
            let choices: Vec<Sku> = choices.into_iter().map(|i| skus[i].clone()).collect();
            let names: Vec<&str> = choices.iter().map(|s| s.name.as_str()).collect();
            let speech = match names.as_slice() {
                [a, b] => format!("Did you mean {a} or {b}?"),
                [a, b, c] => format!("Did you mean {a}, {b} or {c}?"),
                _ => format!("Did you mean {}?", names.join(", ")),
            };
            Ok(Err(Outcome::Ask { choices, speech }))
        }
        Match::Nothing => Err(VoiceError::NotUnderstood { speech: format!("Sorry, I couldn't find \"{said}\".") }),
    }
}

fn units(cart: &Cart) -> i32 {
    cart.lines.iter().map(|l| l.quantity).sum()
}

fn spoken_money(money: Money) -> String {
    format!("{} {}", money.amount_string(), money.currency)
}

/// Runs one spoken command for the customer.
pub fn run(conn: &mut AnyConnection, command: Command, act: &Act<'_>) -> Result<Outcome, VoiceError> {
    let e = Editor { actor: act.actor, now: act.now, expected_version: None, config: act.config };
    let said = command.phrase.clone().unwrap_or_default();
    let mine = CartRef::OpenFor(command.customer.id.clone());
    match command.intent {
        VoiceIntent::Add => {
            let request = words_of(&command)?;
            let q = quantity(&request)?;
            let sku = match choose(&request, catalog::active_skus(conn)?, &said)? {
                Ok(sku) => sku,
                Err(ask) => return Ok(ask),
            };
            let cart = cart::add_line(conn, &mine, &sku, q, &e)?;
            let speech = format!("Added {} {} to your cart. It now holds {} items.", q.get(), sku.name, units(&cart));
            Ok(Outcome::Cart { cart, speech })
        }
        VoiceIntent::Remove => {
            let request = words_of(&command)?;
            let open = cart::open_cart(conn, &mine, &e)?;
            let in_cart: Vec<Sku> = open.lines.iter().map(|l| l.sku.clone()).collect();
            if in_cart.is_empty() {
                return Ok(Outcome::Cart { cart: open, speech: "Your cart is already empty.".into() });
            }
            let sku = match choose(&request, in_cart, &said)? {
                Ok(sku) => sku,
                Err(ask) => return Ok(ask),
            };
            let held = open.lines.iter().find(|l| l.sku.id == sku.id).map(|l| l.quantity).unwrap_or(0);
            let fewer = request.quantity.filter(|q| *q < i64::from(held));
            let cart = match fewer {
                Some(q) => {
                    let left = Quantity::new(i64::from(held) - q).map_err(DbError::Corrupt)?;
                    cart::set_quantity(conn, &mine, &sku, left, &e)?
                }
                None => cart::remove_line(conn, &mine, &sku, &e)?,
            };
            let speech = match fewer {
                Some(q) => format!("Removed {q} {}. {} left in your cart.", sku.name, held - q as i32),
                None => format!("Removed {} from your cart.", sku.name),
            };
            Ok(Outcome::Cart { cart, speech })
        }
        VoiceIntent::WhatIsInMyCart => {
            let open = cart::open_cart(conn, &mine, &e)?;
            if open.lines.is_empty() {
                return Ok(Outcome::Cart { cart: open, speech: "Your cart is empty.".into() });
            }
            let items: Vec<String> = open.lines.iter().map(|l| format!("{} {}", l.quantity, l.sku.name)).collect();
            let quote = cart::quote(conn, open, &e)?;
            let total = match (quote.cart.currency, &quote.priced) {
                (Some(c), Some(p)) => format!(", {} in total", spoken_money(Money::new(p.total, c))),
                _ => String::new(),
            };
            let list = match items.as_slice() {
                [one] => one.clone(),
                [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
                [] => String::new(),
            };
            Ok(Outcome::Cart { speech: format!("Your cart has {list}{total}."), cart: quote.cart })
        }
        VoiceIntent::Checkout => {
            let payment = command.payment.ok_or(VoiceError::NeedsPayment)?;
            let open = cart::open_cart(conn, &mine, &e)?;
            let order = order::place::checkout(conn, &command.customer.id, open.version, payment, None, act)?;
            let total = order.money(order.row.total_minor)?;
            let speech = format!("Done. Your order {} is placed, {} in total.", order.row.number, spoken_money(total));
            Ok(Outcome::Order { order, speech })
        }
        VoiceIntent::WhereIsMyOrder => {
            let Some(order) = order::recent_for(conn, &command.customer.id, 1)?.into_iter().next() else {
                return Ok(Outcome::NoOrder { speech: "You have no orders yet.".into() });
            };
            let number = &order.row.number;
            let speech = match order.status()? {
                OrderStatus::Placed => format!("Your order {number} has been received and is being prepared."),
                OrderStatus::InProgress => format!("Your order {number} is on its way."),
                OrderStatus::ReadyForPickup => format!("Your order {number} is ready for pickup."),
                OrderStatus::Fulfilled => format!("Your order {number} has been delivered."),
                OrderStatus::Cancelled => format!("Your order {number} was cancelled."),
                OrderStatus::Expired => {
                    format!("Your order {number} was not picked up in time and has been cancelled.")
                }
                OrderStatus::NeedsAttention => format!("Your order {number} needs our attention; we will be in touch."),
            };
            Ok(Outcome::Order { order, speech })
        }
    }
}
