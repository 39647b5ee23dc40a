//! `/v1/customers/{ref}/cart` (the one cart of a customer) and `/v1/carts`
//! (anonymous carts, merged on sign-in). Every handler is one [`Command`] run
//! by [`run`]: resolve the cart, apply, answer with the priced cart.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, delete, get, post, put};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::cart::{self, Cart, CartRef, Editor, Intent};
use crate::catalog;
use crate::context::Context;
use crate::customer;
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::cart::{
    AddLineRequest, CartChangeResponse, CartResponse, FulfilmentRequest, MergeRequest, PromotionCodeRequest,
    SetQuantityRequest, cart_quantity, validate_address,
};
use crate::http::dto::{PageResponse, Validator, text};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination, bodiless_fingerprint};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::types::{CartId, PageRequest, Quantity};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_cart)
        .service(add_line)
        .service(set_quantity)
        .service(remove_line)
        .service(set_fulfilment)
        .service(clear_fulfilment)
        .service(apply_promotion)
        .service(remove_promotion)
        .service(cart_history)
        .service(merge_cart)
        .service(create_anonymous_cart)
        .service(get_anonymous_cart)
        .service(add_anonymous_line)
        .service(set_anonymous_quantity)
        .service(remove_anonymous_line);
}

/// Whose cart.
#[derive(Clone)]
pub enum Owner {
    Customer(String),
    Token(String),
}

/// What to do to it.
enum Command {
    Read,
    Add(String, Quantity),
    Set(String, Quantity),
    Remove(String),
    Fulfil(Option<FulfilmentRequest>),
    ApplyCode(String),
    RemoveCode,
    Merge(String),
}

/// The cart of `owner` (a customer's open cart, which the edit finds and
/// creates on first use) and the customer's reference.
pub fn resolve(conn: &mut AnyConnection, owner: &Owner) -> Result<(CartRef, Option<String>), ApiError> {
    match owner {
        Owner::Customer(reference) => {
            Ok((CartRef::OpenFor(customer::id_of(conn, reference)?), Some(reference.clone())))
        }
        Owner::Token(token) => Ok((CartRef::Id(cart::id_by_token(conn, token)?), None)),
    }
}

/// The cart of `owner` if it has one yet, and the customer's reference.
fn existing(conn: &mut AnyConnection, owner: &Owner) -> Result<Option<(Cart, Option<String>)>, ApiError> {
    match owner {
        Owner::Customer(reference) => {
            let customer = customer::id_of(conn, reference)?;
            Ok(cart::open_of(conn, &customer)?.map(|cart| (cart, Some(reference.clone()))))
        }
        Owner::Token(token) => Ok(Some((cart::by_token(conn, token)?, None))),
    }
}

/// The priced cart as the caller's channel sees it, with its version as ETag.
pub fn cart_reply(
    conn: &mut AnyConnection,
    cart: Cart,
    customer_ref: Option<String>,
    e: &Editor<'_>,
) -> Result<Reply, ApiError> {
    let quote = cart::quote(conn, cart, e)?;
    let ready_by = crate::fulfilment::ready_by(conn, &quote.cart, e.now)?;
    Ok(Reply::ok(&CartResponse::new(&quote, customer_ref, ready_by)).version(quote.cart.version))
}

fn intent(conn: &mut AnyConnection, request: FulfilmentRequest) -> Result<Intent, ApiError> {
    Ok(match request {
        FulfilmentRequest::Ship { address } => Intent::Ship { address },
        FulfilmentRequest::Pickup { location, curbside } => {
            cart::pickup_at(&catalog::get_location(conn, &location)?, curbside)?
        }
        FulfilmentRequest::SameDay { address, slot } => Intent::SameDay { address, slot_id: slot },
    })
}

fn apply(conn: &mut AnyConnection, id: &CartRef, command: Command, e: &Editor<'_>) -> Result<Cart, ApiError> {
    Ok(match command {
        Command::Read => cart::open_cart(conn, id, e)?,
        Command::Add(sku, quantity) => {
            let sku = catalog::get_sku(conn, &sku)?;
            cart::add_line(conn, id, &sku, quantity, e)?
        }
        Command::Set(sku, quantity) => {
            let sku = catalog::get_sku(conn, &sku)?;
            cart::set_quantity(conn, id, &sku, quantity, e)?
        }
        Command::Remove(sku) => {
            let sku = catalog::get_sku(conn, &sku)?;
            cart::remove_line(conn, id, &sku, e)?
        }
        Command::Fulfil(request) => {
            let intent = request.map(|r| intent(conn, r)).transpose()?;
            cart::set_intent(conn, id, intent, e)?
        }
        Command::ApplyCode(code) => cart::apply_code(conn, id, &code, e)?,
        Command::RemoveCode => cart::remove_code(conn, id, e)?,
        Command::Merge(token) => cart::merge(conn, id, &token, e)?,
    })
}

async fn run(
    ctx: Data<Context>,
    caller: Caller,
    owner: Owner,
    if_match: IfMatch,
    key: Option<String>,
    fingerprint: String,
    command: Command,
) -> Result<Reply, ApiError> {
    caller.may(if matches!(command, Command::Read) { Op::ReadCustomers } else { Op::ShopForCustomers })?;
    let now = ctx.now();
    let config = ctx.config.clone();
    if matches!(command, Command::Read) {
        // Reading a cart that exists takes no write transaction (on SQLite, no
        // turn on the writer); only a customer's first read creates the cart.
        let (caller, owner, config) = (caller.clone(), owner.clone(), config.clone());
        let found = ctx
            .db
            .read_optimistic(move |conn| {
                let Some((cart, customer_ref)) = existing(conn, &owner)? else { return Ok(None) };
                let read = Editor { actor: &caller, now, expected_version: None, config: &config };
                cart_reply(conn, cart, customer_ref, &read).map(Some)
            })
            .await?;
        if let Some(reply) = found {
            return Ok(reply);
        }
    }
    // The answer is priced inside the write transaction, even when no
    // Idempotency-Key stores it. Priced on a reader after the commit instead,
    // it left SQLite's writer thread a sixth less work but gained no
    // checkout throughput, and cost 28 % more server CPU per checkout: a
    // SQLite connection drops its whole page cache when another connection
    // has committed since its last read (pagerBeginReadTransaction in
    // pager.c), so each such answer read its pages from the OS again.
    idempotency::run(&ctx, &caller.key_id.clone(), key, fingerprint, move |conn| {
        let e = Editor { actor: &caller, now, expected_version: if_match.0, config: &config };
        let read = Editor { expected_version: None, ..e };
        let (id, customer_ref) = resolve(conn, &owner)?;
        let cart = apply(conn, &id, command, &e)?;
        cart_reply(conn, cart, customer_ref, &read)
    })
    .await
}

fn sku_line(request: AddLineRequest) -> Result<(String, Quantity), ApiError> {
    let mut v = Validator::default();
    let sku = v.check("/sku", text(&request.sku, 64));
    let quantity = cart_quantity(&mut v, "/quantity", request.quantity);
    match (sku, quantity) {
        (Some(sku), Some(quantity)) => Ok((sku, quantity)),
        _ => Err(v.into_error()),
    }
}

fn new_quantity(request: SetQuantityRequest) -> Result<Quantity, ApiError> {
    let mut v = Validator::default();
    cart_quantity(&mut v, "/quantity", request.quantity).ok_or_else(|| v.into_error())
}

/// The customer's one open cart, priced for the caller's channel.
#[utoipa::path(tag = "carts", params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$")), responses((status = 200, body = CartResponse)))]
#[get("/customers/{ref}/cart")]
pub async fn get_cart(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    reference: Path<String>,
) -> Result<Reply, ApiError> {
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, IfMatch(None), None, bodiless_fingerprint(&req), Command::Read).await
}

/// Add units of a SKU (code or GTIN); they add up with a line already there.
#[utoipa::path(
    tag = "carts",
    request_body = AddLineRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CartResponse))
)]
#[post("/customers/{ref}/cart/lines")]
pub async fn add_line(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<AddLineRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let (sku, quantity) = sku_line(body.value?)?;
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, if_match, key.0, body.fingerprint, Command::Add(sku, quantity)).await
}

/// Set the quantity of a line.
#[utoipa::path(
    tag = "carts",
    request_body = SetQuantityRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CartResponse))
)]
#[put("/customers/{ref}/cart/lines/{sku}")]
pub async fn set_quantity(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<SetQuantityRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let quantity = new_quantity(body.value?)?;
    let (reference, sku) = path.into_inner();
    run(ctx, caller, Owner::Customer(reference), if_match, key.0, body.fingerprint, Command::Set(sku, quantity)).await
}

/// Remove a line.
#[utoipa::path(
    tag = "carts",
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CartResponse))
)]
#[delete("/customers/{ref}/cart/lines/{sku}")]
pub async fn remove_line(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    path: Path<(String, String)>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<Reply, ApiError> {
    let (reference, sku) = path.into_inner();
    run(ctx, caller, Owner::Customer(reference), if_match, key.0, bodiless_fingerprint(&req), Command::Remove(sku))
        .await
}

/// Choose how the cart is fulfilled: ship, pickup (or curbside) or same-day.
#[utoipa::path(
    tag = "carts",
    request_body = FulfilmentRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = CartResponse))
)]
#[put("/customers/{ref}/cart/fulfilment")]
pub async fn set_fulfilment(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<FulfilmentRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let request = body.value?;
    let mut v = Validator::default();
    match &request {
        FulfilmentRequest::Ship { address } => validate_address(&mut v, "/address", address),
        FulfilmentRequest::SameDay { address, slot } => {
            validate_address(&mut v, "/address", address);
            if let Some(slot) = slot {
                v.check("/slot", text(slot, 100));
            }
        }
        FulfilmentRequest::Pickup { location, .. } => {
            v.check("/location", text(location, 64));
        }
    }
    v.finish()?;
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, if_match, key.0, body.fingerprint, Command::Fulfil(Some(request))).await
}

/// Forget the fulfilment choice.
#[utoipa::path(tag = "carts", params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)), responses((status = 200, body = CartResponse)))]
#[delete("/customers/{ref}/cart/fulfilment")]
pub async fn clear_fulfilment(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    reference: Path<String>,
    if_match: IfMatch,
) -> Result<Reply, ApiError> {
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, if_match, None, bodiless_fingerprint(&req), Command::Fulfil(None)).await
}

/// Apply a promotion code; refused with the reason when it cannot be used now in this channel.
#[utoipa::path(
    tag = "carts",
    request_body = PromotionCodeRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = CartResponse))
)]
#[put("/customers/{ref}/cart/promotion")]
pub async fn apply_promotion(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<PromotionCodeRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let mut v = Validator::default();
    let code = v.check("/code", text(&body.value?.code, 40)).ok_or_else(|| v.into_error())?;
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, if_match, key.0, body.fingerprint, Command::ApplyCode(code)).await
}

/// Remove the promotion code.
#[utoipa::path(tag = "carts", params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)), responses((status = 200, body = CartResponse)))]
#[delete("/customers/{ref}/cart/promotion")]
pub async fn remove_promotion(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    reference: Path<String>,
    if_match: IfMatch,
) -> Result<Reply, ApiError> {
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, if_match, None, bodiless_fingerprint(&req), Command::RemoveCode).await
}

/// Merge an anonymous cart into the customer's cart (on sign-in); quantities add up.
#[utoipa::path(
    tag = "carts",
    request_body = MergeRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CartResponse))
)]
#[post("/customers/{ref}/cart/merge")]
pub async fn merge_cart(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<MergeRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let mut v = Validator::default();
    let token = v.check("/token", text(&body.value?.token, 100)).ok_or_else(|| v.into_error())?;
    let owner = Owner::Customer(reference.into_inner());
    run(ctx, caller, owner, IfMatch(None), key.0, body.fingerprint, Command::Merge(token)).await
}

/// Who changed the cart, how, through which channel, oldest first.
#[utoipa::path(tag = "carts", params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), PageParams), responses((status = 200, body = PageResponse<CartChangeResponse>)))]
#[get("/customers/{ref}/cart/history")]
pub async fn cart_history(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCustomers)?;
    let reference = reference.into_inner();
    ctx.db
        .read(move |conn| {
            let customer = customer::id_of(conn, &reference)?;
            let Some(id) = cart::open_cart_id(conn, &customer)? else {
                return Ok(Reply::ok(&PageResponse::<CartChangeResponse> { items: Vec::new(), next_cursor: None }));
            };
            history_reply(conn, &id, &page.0)
        })
        .await
}

/// A page of a cart's trail (its merged carts' changes included).
pub fn history_reply(conn: &mut AnyConnection, id: &CartId, page: &PageRequest) -> Result<Reply, ApiError> {
    let page = cart::history(conn, id, page)?;
    let ids: Vec<_> = page.items.iter().filter_map(|c| c.sku_id.clone()).collect();
    let codes = catalog::sku_codes(conn, &ids)?;
    Ok(Reply::ok(&PageResponse::from_page(page, |change| {
        let code = change.sku_id.as_ref().and_then(|id| codes.get(id).cloned());
        CartChangeResponse::new(change, code)
    })))
}

/// Start an anonymous cart; its token is the only key to it.
#[utoipa::path(tag = "carts", params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")), responses((status = 201, body = CartResponse)))]
#[post("/carts")]
pub async fn create_anonymous_cart(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    key: IdempotencyKey,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let now = ctx.now();
    let config = ctx.config.clone();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, bodiless_fingerprint(&req), move |conn| {
        let e = Editor { actor: &caller, now, expected_version: None, config: &config };
        let cart = cart::create_anonymous(conn, &e)?;
        let location = format!("/v1/carts/{}", cart.token.clone().unwrap_or_default());
        let mut reply = cart_reply(conn, cart, None, &e)?;
        reply.status = actix_web::http::StatusCode::CREATED;
        reply.location = Some(location);
        Ok(reply)
    })
    .await
}

/// An anonymous cart.
#[utoipa::path(tag = "carts", params(("token" = String, Path)), responses((status = 200, body = CartResponse)))]
#[get("/carts/{token}")]
pub async fn get_anonymous_cart(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    token: Path<String>,
) -> Result<Reply, ApiError> {
    run(ctx, caller, Owner::Token(token.into_inner()), IfMatch(None), None, bodiless_fingerprint(&req), Command::Read)
        .await
}

/// Add units to an anonymous cart.
#[utoipa::path(
    tag = "carts",
    request_body = AddLineRequest,
    params(("token" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CartResponse))
)]
#[post("/carts/{token}/lines")]
pub async fn add_anonymous_line(
    ctx: Data<Context>,
    caller: Caller,
    token: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<AddLineRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let (sku, quantity) = sku_line(body.value?)?;
    run(ctx, caller, Owner::Token(token.into_inner()), if_match, key.0, body.fingerprint, Command::Add(sku, quantity))
        .await
}

/// Set a line's quantity in an anonymous cart.
#[utoipa::path(
    tag = "carts",
    request_body = SetQuantityRequest,
    params(("token" = String, Path), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = CartResponse))
)]
#[put("/carts/{token}/lines/{sku}")]
pub async fn set_anonymous_quantity(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<SetQuantityRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let quantity = new_quantity(body.value?)?;
    let (token, sku) = path.into_inner();
    run(ctx, caller, Owner::Token(token), if_match, key.0, body.fingerprint, Command::Set(sku, quantity)).await
}

/// Remove a line from an anonymous cart.
#[utoipa::path(
    tag = "carts",
    params(("token" = String, Path), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = CartResponse))
)]
#[delete("/carts/{token}/lines/{sku}")]
pub async fn remove_anonymous_line(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    path: Path<(String, String)>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<Reply, ApiError> {
    let (token, sku) = path.into_inner();
    run(ctx, caller, Owner::Token(token), if_match, key.0, bodiless_fingerprint(&req), Command::Remove(sku)).await
}
