//! `/v1/pos`: what a store's terminal does at the counter (the key fixes the store).

use actix_web::post;
use actix_web::web::Data;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog::{self, Location};
use crate::context::Context;
use crate::customer;
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::Validator;
use crate::http::dto::cart::validate_address;
use crate::http::dto::order::{
    EndlessAisleFulfilment, EndlessAisleRequest, OrderResponse, PosCheckoutRequest, PosSaleRequest, order_items,
};
use crate::http::dto::text;
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::order::{self, Act, Destination, NewOrder, Order, Prices};
use crate::types::Quantity;

use super::orders::order_view;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(counter_sale).service(counter_checkout).service(endless_aisle);
}

/// The POS key's own store.
fn own_store(conn: &mut AnyConnection, caller: &Caller) -> Result<Location, ApiError> {
    catalog::locations_by_ids(conn, caller.location_id.as_slice())?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::forbidden("this POS key is bound to no location"))
}

fn created(conn: &mut AnyConnection, placed: &Order, caller: &Caller) -> Result<Reply, ApiError> {
    Ok(Reply::created(&order_view(conn, placed, caller)?, "/v1/orders", placed.row.id.as_str())
        .version(placed.row.version))
}

fn skus(
    conn: &mut AnyConnection,
    items: &[(String, Quantity)],
) -> Result<Vec<(crate::catalog::Sku, Quantity)>, ApiError> {
    let codes: Vec<String> = items.iter().map(|(c, _)| c.clone()).collect();
    Ok(catalog::resolve_skus(conn, &codes)?.into_iter().zip(items.iter().map(|(_, q)| *q)).collect())
}

/// Sell scanned items at the counter: stock is sold at once.
#[utoipa::path(
    tag = "pos",
    request_body = PosSaleRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = OrderResponse))
)]
#[post("/pos/sales")]
pub async fn counter_sale(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<PosSaleRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Counter)?;
    let request = body.value?;
    let mut v = Validator::default();
    let items = order_items(&mut v, "/items", &request.items);
    let payment = request.payment.validate(&mut v, "/payment");
    let customer_ref = request.customer_ref.as_deref().and_then(|c| v.check("/customer_ref", text(c, 200)));
    let Some(payment) = payment else { return Err(v.into_error()) };
    v.finish()?;
    let (now, config) = (ctx.now(), ctx.config.clone());
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let store = own_store(conn, &caller)?;
        let customer_id = customer_ref.map(|r| customer::id_of(conn, &r)).transpose()?;
        let new = NewOrder {
            customer_id,
            cart_id: None,
            channels: Vec::new(),
            lines: skus(conn, &items)?,
            destination: Destination::Counter { store },
            prices: Prices::Catalog { promotion_code: None },
            payment: Some(payment),
            marketplace: None,
            contact: None,
            accept_shortage: false,
            ship_from: None,
        };
        let placed = order::place::place(conn, new, &Act { actor: &caller, config: &config, now })?;
        created(conn, &placed, &caller)
    })
    .await
}

/// Check out a customer's online cart at the counter: the goods are handed over now.
#[utoipa::path(
    tag = "pos",
    request_body = PosCheckoutRequest,
    params(("If-Match" = String, Header, description = "The cart version (ETag) the customer saw, e.g. `\"3\"`", pattern = r#"^(W/)?"[0-9]{1,9}"$"#), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = OrderResponse))
)]
#[post("/pos/checkout")]
pub async fn counter_checkout(
    ctx: Data<Context>,
    caller: Caller,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<PosCheckoutRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Counter)?;
    let version = if_match
        .0
        .ok_or_else(|| ApiError::precondition_required("send If-Match with the cart version shown at the counter"))?;
    let mut v = Validator::default();
    let request = body.value?;
    let reference = v.check("/customer_ref", text(&request.customer_ref, 200));
    let payment = request.payment.validate(&mut v, "/payment");
    let (Some(reference), Some(payment)) = (reference, payment) else { return Err(v.into_error()) };
    let (now, config) = (ctx.now(), ctx.config.clone());
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let store = own_store(conn, &caller)?;
        let customer = customer::id_of(conn, &reference)?;
        let act = Act { actor: &caller, config: &config, now };
        let placed = order::place::checkout(conn, &customer, version, payment, Some(store), &act)?;
        created(conn, &placed, &caller)
    })
    .await
}

/// Endless aisle: order at the counter what this store lacks, shipped from
/// another location or sent here and held for pickup.
#[utoipa::path(
    tag = "pos",
    request_body = EndlessAisleRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = OrderResponse))
)]
#[post("/pos/orders")]
pub async fn endless_aisle(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<EndlessAisleRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Counter)?;
    let request = body.value?;
    let mut v = Validator::default();
    let items = order_items(&mut v, "/items", &request.items);
    let payment = request.payment.validate(&mut v, "/payment");
    let customer_ref = request.customer_ref.as_deref().and_then(|c| v.check("/customer_ref", text(c, 200)));
    if let EndlessAisleFulfilment::Ship { address } = &request.fulfilment {
        validate_address(&mut v, "/fulfilment/address", address);
    }
    let Some(payment) = payment else { return Err(v.into_error()) };
    v.finish()?;
    let (now, config) = (ctx.now(), ctx.config.clone());
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let store = own_store(conn, &caller)?;
        let destination = match request.fulfilment {
            EndlessAisleFulfilment::Ship { address } => Destination::Ship { address },
            EndlessAisleFulfilment::Pickup => Destination::Pickup { store, curbside: false, allow_transfer: true },
        };
        let customer_id = customer_ref.map(|r| customer::id_of(conn, &r)).transpose()?;
        let new = NewOrder {
            customer_id,
            cart_id: None,
            channels: Vec::new(),
            lines: skus(conn, &items)?,
            destination,
            prices: Prices::Catalog { promotion_code: None },
            payment: Some(payment),
            marketplace: None,
            contact: None,
            accept_shortage: false,
            ship_from: None,
        };
        let placed = order::place::place(conn, new, &Act { actor: &caller, config: &config, now })?;
        created(conn, &placed, &caller)
    })
    .await
}
