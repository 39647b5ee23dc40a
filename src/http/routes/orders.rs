//! `/v1/orders`, checkout, fulfilment transitions and returns.

use actix_web::web::{Data, Path};
use actix_web::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::{Channel, Principal, Role};
use crate::catalog;
use crate::context::Context;
use crate::customer;
use crate::db::{AnyConnection, timestamp};
use crate::http::auth::Caller;
use crate::http::dto::cart::{CartChangeResponse, OrderSummary, OrderSummaryFulfilment, OrderSummaryLine};
use crate::http::dto::catalog::component_list;
use crate::http::dto::order::{
    AuditResponse, CancelLineRequest, CheckoutRequest, OrderNames, OrderResponse, ReasonRequest, ReturnRequest,
    ReturnResponse, ShipRequest,
};
use crate::http::dto::{CodeText, PageResponse, Reference, Validator, text};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination, QueryParams};
use crate::http::idempotency;
use crate::http::policy::{self, Op, OrderUse, Side};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::http::routes::carts;
use crate::order::returns::ReturnRequestLine;
use crate::order::state::{Action, OrderStatus};
use crate::order::{self, Act, Order, OrderFilter};
use crate::types::{CustomerId, FulfilmentId, LocationId, OrderLineId, Quantity};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(checkout)
        .service(list_orders)
        .service(get_order)
        .service(order_audit)
        .service(order_cart_history)
        .service(cancel_order)
        .service(cancel_line)
        .service(create_return)
        .service(start_picking)
        .service(pack)
        .service(ship)
        .service(send_out)
        .service(deliver)
        .service(cancel_fulfilment)
        .service(reallocate);
}

/// The order as the caller sees it. Reading changes nothing.
pub fn order_view(conn: &mut AnyConnection, order: &Order, caller: &Principal) -> Result<OrderResponse, ApiError> {
    let customer_ref = match &order.row.customer_id {
        Some(id) => Some(customer::by_id(conn, id)?.external_ref),
        None => None,
    };
    order_view_for(conn, order, caller, customer_ref)
}

/// [`order_view`] when the caller already knows the customer's reference.
fn order_view_for(
    conn: &mut AnyConnection,
    order: &Order,
    caller: &Principal,
    customer_ref: Option<String>,
) -> Result<OrderResponse, ApiError> {
    let ids: Vec<LocationId> = order
        .fulfilments
        .iter()
        .flat_map(|f| [f.location_id.clone(), f.pickup_location_id.clone()])
        .flatten()
        .collect();
    let locations = catalog::locations_by_ids(conn, &ids)?;
    let reveal_codes = policy::sees_pickup_codes(caller);
    Ok(OrderResponse::new(order, &OrderNames { customer_ref, locations: &locations, reveal_codes }))
}

pub fn order_reply(conn: &mut AnyConnection, order: &Order, caller: &Principal) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&order_view(conn, order, caller)?).version(order.row.version))
}

/// A customer's latest orders, for the customer view.
pub fn recent_for(conn: &mut AnyConnection, customer: &CustomerId) -> Result<Vec<OrderSummary>, ApiError> {
    order::recent_for(conn, customer, 10)?
        .into_iter()
        .map(|o| {
            Ok(OrderSummary {
                id: o.row.id.to_string(),
                number: o.row.number.clone(),
                channel: o.row.channel.clone(),
                status: o.row.status.clone(),
                total: o.money(o.row.total_minor)?.into(),
                lines: o
                    .lines
                    .iter()
                    .map(|l| {
                        Ok(OrderSummaryLine {
                            sku: l.sku_code.clone(),
                            name: l.name.clone(),
                            quantity: l.quantity,
                            taken_off: l.quantity - l.open_quantity(),
                            total: o.money(l.total_minor)?.into(),
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                fulfilments: o
                    .fulfilments
                    .iter()
                    .map(|f| OrderSummaryFulfilment {
                        id: f.id.to_string(),
                        method: f.method.clone(),
                        status: f.status.clone(),
                    })
                    .collect(),
                created_at: crate::http::dto::utc(o.row.created_at),
            })
        })
        .collect()
}

/// Check out the customer's cart: one transaction reprices it, allocates and
/// holds stock, creates the order and closes the cart. `Idempotency-Key` and
/// `If-Match` (the cart version the customer saw) are required.
#[utoipa::path(
    tag = "orders",
    request_body = CheckoutRequest,
    params(
        ("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"),
        ("If-Match" = String, Header, description = "The cart version (ETag) the customer saw, e.g. `\"3\"`", pattern = r#"^(W/)?"[0-9]{1,9}"$"#),
        ("Idempotency-Key" = String, Header, description = "Required: a retry returns the same order. 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$"),
    ),
    responses((status = 201, body = OrderResponse))
)]
#[post("/customers/{ref}/cart/checkout")]
pub async fn checkout(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: JsonBody<CheckoutRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let key = key.0.ok_or_else(|| {
        ApiError::bad_request("checkout needs an Idempotency-Key header, so that a retry cannot order twice")
    })?;
    let version = if_match.0.ok_or_else(|| {
        ApiError::precondition_required("checkout needs If-Match with the cart version (ETag) the customer saw")
    })?;
    let mut v = Validator::default();
    let payment = body.value?.payment.validate(&mut v, "/payment");
    let Some(payment) = payment else { return Err(v.into_error()) };
    let now = ctx.now();
    let config = ctx.config.clone();
    let reference = reference.into_inner();
    idempotency::run(&ctx, &caller.key_id.clone(), Some(key), body.fingerprint, move |conn| {
        let customer = customer::id_of(conn, &reference)?;
        let act = Act { actor: &caller, config: &config, now };
        let placed = order::place::checkout(conn, &customer, version, payment, None, &act)?;
        let view = order_view_for(conn, &placed, &caller, Some(reference))?;
        Ok(Reply::created(&view, "/v1/orders", placed.row.id.as_str()).version(placed.row.version))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Customer reference.
    #[param(value_type = Option<Reference>)]
    pub customer: Option<String>,
    /// Location code: orders created at, fulfilled from or picked up at it.
    #[param(value_type = Option<CodeText>)]
    pub location: Option<String>,
    pub status: Option<OrderStatus>,
    pub channel: Option<Channel>,
    /// Placed at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub created_to: Option<DateTime<Utc>>,
}

/// List orders, newest first, with filters (staff and POS see their store's).
#[utoipa::path(tag = "orders", params(OrderQuery, PageParams), responses((status = 200, body = PageResponse<OrderResponse>)))]
#[get("/orders")]
pub async fn list_orders(
    ctx: Data<Context>,
    caller: Caller,
    query: QueryParams<OrderQuery>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadOrders)?;
    let q = query.0;
    ctx.db
        .read(move |conn| {
            let mut filter = OrderFilter {
                status: q.status.map(|s| s.as_str().to_owned()),
                channel: q.channel.map(|c| c.as_str().to_owned()),
                created_from: q.created_from.map(timestamp),
                created_to: q.created_to.map(timestamp),
                ..OrderFilter::default()
            };
            if let Some(reference) = &q.customer {
                filter.customer_id = Some(customer::id_of(conn, reference)?);
            }
            if let Some(code) = &q.location {
                filter.location_id = Some(catalog::get_location(conn, code)?.id);
            }
            policy::scope_orders(&caller, &mut filter)?;
            let page = order::list(conn, &filter, &page.0)?;
            let next_cursor = page.next.as_deref().map(crate::http::extractors::encode_cursor);
            let items = page.items.iter().map(|o| order_view(conn, o, &caller)).collect::<Result<Vec<_>, _>>()?;
            Ok(Reply::ok(&PageResponse { items, next_cursor }))
        })
        .await
}

/// Read an order by id or number.
#[utoipa::path(tag = "orders", params(("id" = String, Path, description = "Order id or number")), responses((status = 200, body = OrderResponse)))]
#[get("/orders/{id}")]
pub async fn get_order(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    let id = id.into_inner();
    ctx.db
        .read(move |conn| {
            let found = order::get(conn, &id)?;
            policy::order(&caller, &found, OrderUse::Read)?;
            order_reply(conn, &found, &caller)
        })
        .await
}

/// The audit trail of an order: every transition with actor, channel, time and reason.
#[utoipa::path(tag = "orders", params(("id" = String, Path)), responses((status = 200, body = AuditResponse)))]
#[get("/orders/{id}/audit")]
pub async fn order_audit(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    let id = id.into_inner();
    ctx.db
        .read(move |conn| {
            let found = order::get(conn, &id)?;
            policy::order(&caller, &found, OrderUse::Read)?;
            let entries = order::audit_trail(conn, &found.row.id)?.into_iter().map(Into::into).collect();
            Ok(Reply::ok(&AuditResponse { order: found.row.number, entries }))
        })
        .await
}

/// The change trail of the cart the order was checked out from, with the
/// channel of every change (anonymous carts merged into it included). Empty
/// for orders that had no cart (POS sales, marketplace orders).
#[utoipa::path(tag = "orders", params(("id" = String, Path), PageParams), responses((status = 200, body = PageResponse<CartChangeResponse>)))]
#[get("/orders/{id}/cart-history")]
pub async fn order_cart_history(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    let id = id.into_inner();
    ctx.db
        .read(move |conn| {
            let found = order::get(conn, &id)?;
            policy::order(&caller, &found, OrderUse::Read)?;
            match &found.row.cart_id {
                Some(cart_id) => carts::history_reply(conn, cart_id, &page.0),
                None => Ok(Reply::ok(&PageResponse::<CartChangeResponse> { items: Vec::new(), next_cursor: None })),
            }
        })
        .await
}

fn reason_of(v: &mut Validator, raw: &Option<String>) -> Option<String> {
    raw.as_deref().and_then(|r| v.check("/reason", text(r, 500)))
}

/// Cancel the whole order; its held stock goes back. Refused once anything has left.
#[utoipa::path(tag = "orders", request_body = ReasonRequest, params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/orders/{id}/cancel")]
pub async fn cancel_order(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<ReasonRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::CancelOrders)?;
    let mut v = Validator::default();
    let reason = reason_of(&mut v, &body.value?.reason).unwrap_or_else(|| "cancelled".to_owned());
    v.finish()?;
    let (now, config, id) = (ctx.now(), ctx.config.clone(), id.into_inner());
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let found = order::get(conn, &id)?;
        policy::order(&caller, &found, OrderUse::Change)?;
        let act = Act { actor: &caller, config: &config, now };
        let cancelled = order::lifecycle::cancel(conn, &found.row.id, &reason, &act)?;
        order_reply(conn, &cancelled, &caller)
    })
    .await
}

/// Cancel units of one line before it ships; they go back to the shelf.
#[utoipa::path(
    tag = "orders",
    request_body = CancelLineRequest,
    params(("id" = String, Path), ("line" = String, Path)),
    responses((status = 200, body = OrderResponse))
)]
#[post("/orders/{id}/lines/{line}/cancel")]
pub async fn cancel_line(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    key: IdempotencyKey,
    body: JsonBody<CancelLineRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::CancelOrders)?;
    let mut v = Validator::default();
    let request = body.value?;
    let quantity = request.quantity.map(|q| v.check("/quantity", Quantity::new(q)));
    let reason = reason_of(&mut v, &request.reason).unwrap_or_else(|| "line cancelled".to_owned());
    v.finish()?;
    let quantity = quantity.flatten();
    let (now, config) = (ctx.now(), ctx.config.clone());
    let (id, line) = path.into_inner();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let found = order::get(conn, &id)?;
        let line = OrderLineId(line);
        let (_, part) = order::line_and_fulfilment(&found, &line)?;
        policy::order_part(&caller, &found, part)?;
        let act = Act { actor: &caller, config: &config, now };
        let changed = order::lifecycle::cancel_line(conn, &found.row.id, &line, quantity, &reason, &act)?;
        order_reply(conn, &changed, &caller)
    })
    .await
}

/// Take delivered goods back: restock or write off per line; the refund is computed.
#[utoipa::path(
    tag = "orders",
    request_body = ReturnRequest,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = ReturnResponse))
)]
#[post("/orders/{id}/returns")]
pub async fn create_return(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<ReturnRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReturnOrders)?;
    let request = body.value?;
    let mut v = Validator::default();
    if request.lines.is_empty() || request.lines.len() > 100 {
        v.error("/lines", "name 1 to 100 lines");
    }
    let lines: Vec<ReturnRequestLine> = request
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let line = v.check(&format!("/lines/{i}/line"), text(&l.line, 100))?;
            let quantity = v.check(&format!("/lines/{i}/quantity"), Quantity::new(l.quantity))?;
            let pointer = format!("/lines/{i}/components");
            // The same bounds as a kit's definition, as the contract says.
            let most = crate::catalog::sku::MAX_COMPONENT_QUANTITY;
            let components = component_list(&mut v, &pointer, l.components.as_deref(), 1..=20, most)?;
            Some(ReturnRequestLine { line_id: OrderLineId(line), quantity, disposition: l.disposition, components })
        })
        .collect();
    let reason = reason_of(&mut v, &request.reason);
    v.finish()?;
    let (now, config, id, location) = (ctx.now(), ctx.config.clone(), id.into_inner(), request.location);
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let found = order::get(conn, &id)?;
        policy::order(&caller, &found, OrderUse::Return)?;
        let at = match (&location, caller.role) {
            (Some(code), _) => {
                let place = catalog::get_location(conn, code)?;
                caller.require_at(&place.id, code)?;
                Some(place.id)
            }
            (None, Role::Staff | Role::Pos) => caller.location_id.clone(),
            (None, _) => None,
        };
        let act = Act { actor: &caller, config: &config, now };
        let returned =
            order::returns::create_return(conn, &found.row.id, at.as_ref(), &lines, reason.as_deref(), &act)?;
        let after = order::get(conn, found.row.id.as_str())?;
        Ok(Reply::created(&ReturnResponse::new(&returned, &after), "/v1/orders", found.row.id.as_str()))
    })
    .await
}

/// One fulfilment move as an endpoint asks for it.
pub struct Move {
    pub action: Action,
    pub op: Op,
    pub side: Side,
    pub reason: Option<String>,
    pub tracking: Option<String>,
}

impl Move {
    pub fn by(action: Action, op: Op, side: Side) -> Self {
        Self { action, op, side, reason: None, tracking: None }
    }
}

/// Runs one fulfilment transition for a caller entitled to it.
pub async fn transition(ctx: Data<Context>, caller: Caller, id: String, step: Move) -> Result<Reply, ApiError> {
    let Move { action, op, side, reason, tracking } = step;
    caller.may(op)?;
    let (now, config) = (ctx.now(), ctx.config.clone());
    ctx.db
        .write(move |conn| {
            let fulfilment = order::fulfilment(conn, &FulfilmentId(id))?;
            let found = order::get(conn, fulfilment.order_id.as_str())?;
            if action == Action::Cancel {
                policy::order_part(&caller, &found, &fulfilment)?;
            } else {
                policy::order(&caller, &found, OrderUse::Read)?;
                policy::fulfilment(&caller, &fulfilment, side)?;
            }
            let act = Act { actor: &caller, config: &config, now };
            let moved = order::lifecycle::advance(conn, &fulfilment.id, action, reason.as_deref(), &act)?;
            if let Some(tracking) = &tracking {
                order::lifecycle::set_tracking(conn, &fulfilment.id, tracking)?;
            }
            let moved = if tracking.is_some() { order::get(conn, moved.row.id.as_str())? } else { moved };
            order_reply(conn, &moved, &caller)
        })
        .await
}

/// Start picking a fulfilment (staff of its location).
#[utoipa::path(tag = "fulfilments", params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/start-picking")]
pub async fn start_picking(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    transition(ctx, caller, id.into_inner(), Move::by(Action::StartPicking, Op::MoveFulfilments, Side::Source)).await
}

/// Mark a fulfilment packed (staff of its location).
#[utoipa::path(tag = "fulfilments", params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/pack")]
pub async fn pack(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    transition(ctx, caller, id.into_inner(), Move::by(Action::Pack, Op::MoveFulfilments, Side::Source)).await
}

/// Ship a fulfilment (to the customer, or to the pickup store); its stock is sold.
#[utoipa::path(tag = "fulfilments", request_body = ShipRequest, params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/ship")]
pub async fn ship(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    body: JsonBody<ShipRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveFulfilments)?;
    let mut v = Validator::default();
    let tracking = body.value?.tracking.as_deref().and_then(|t| v.check("/tracking", text(t, 100)));
    v.finish()?;
    transition(
        ctx,
        caller,
        id.into_inner(),
        Move { tracking, ..Move::by(Action::Ship, Op::MoveFulfilments, Side::Source) },
    )
    .await
}

/// Send a same-day fulfilment out for delivery; its stock is sold.
#[utoipa::path(tag = "fulfilments", params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/out-for-delivery")]
pub async fn send_out(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    transition(ctx, caller, id.into_inner(), Move::by(Action::SendOut, Op::MoveFulfilments, Side::Source)).await
}

/// Mark delivered (staff, or a courier integration with an admin key).
#[utoipa::path(tag = "fulfilments", params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/deliver")]
pub async fn deliver(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    transition(ctx, caller, id.into_inner(), Move::by(Action::Deliver, Op::MoveFulfilments, Side::Source)).await
}

/// Cancel one fulfilment before it leaves; its stock goes back.
#[utoipa::path(tag = "fulfilments", request_body = ReasonRequest, params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/cancel")]
pub async fn cancel_fulfilment(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    body: JsonBody<ReasonRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::CancelFulfilments)?;
    let mut v = Validator::default();
    let reason = reason_of(&mut v, &body.value?.reason).or_else(|| Some("cancelled".to_owned()));
    v.finish()?;
    transition(
        ctx,
        caller,
        id.into_inner(),
        Move { reason, ..Move::by(Action::Cancel, Op::CancelFulfilments, Side::Either) },
    )
    .await
}

/// Allocate a fulfilment that needed attention, once stock is back (staff, admin).
#[utoipa::path(tag = "fulfilments", params(("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/fulfilments/{id}/reallocate")]
pub async fn reallocate(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::Reallocate)?;
    let (now, config) = (ctx.now(), ctx.config.clone());
    let id = FulfilmentId(id.into_inner());
    ctx.db
        .write(move |conn| {
            let fulfilment = order::fulfilment(conn, &id)?;
            policy::order(&caller, &order::get(conn, fulfilment.order_id.as_str())?, OrderUse::Read)?;
            policy::fulfilment(&caller, &fulfilment, Side::Pickup)?;
            let act = Act { actor: &caller, config: &config, now };
            let moved = order::picking::reallocate(conn, &id, &act)?;
            order_reply(conn, &moved, &caller)
        })
        .await
}
