//! `/v1/locations/{code}/pickups` (the store's queue and handover),
//! `/v1/locations/{code}/pick-list`, curbside arrivals and same-day slots.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, get, post};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog::{self, Location};
use crate::config::Config;
use crate::context::Context;
use crate::db::AnyConnection;
use crate::fulfilment::pickup::{self, Handover};
use crate::http::auth::Caller;
use crate::http::dto::fulfilment::{
    AisleGroup, ArrivalRequest, CollectRequest, PickListResponse, PicksRequest, PickupEntry, PickupQueueResponse,
    SlotResponse, SlotsResponse,
};
use crate::http::dto::order::OrderResponse;
use crate::http::dto::{CodeText, Validator, text};
use crate::http::extractors::{JsonBody, QueryParams};
use crate::http::policy::{self, Op, OrderUse, Side};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::inventory;
use crate::order::same_day;
use crate::order::state::FulfilmentStatus;
use crate::order::{self, Act};
use crate::types::{FulfilmentId, GeoPoint, OrderLineId};

use super::orders::order_reply;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_pickups)
        .service(pick_list)
        .service(record_picks)
        .service(mark_ready)
        .service(collect)
        .service(reissue_code)
        .service(arrived)
        .service(slots);
}

/// The store of the path, if this caller works there (admins anywhere).
fn store(conn: &mut AnyConnection, caller: &Caller, code: &str) -> Result<Location, ApiError> {
    let location = catalog::get_location(conn, code)?;
    caller.require_at(&location.id, code)?;
    Ok(location)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only pickups in this status (default: all not yet handed over).
    pub status: Option<FulfilmentStatus>,
}

/// The store's pickup queue: curbside arrivals first (staff and POS of the store).
#[utoipa::path(tag = "pickups", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), QueueQuery), responses((status = 200, body = PickupQueueResponse)))]
#[get("/locations/{code}/pickups")]
pub async fn list_pickups(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    query: QueryParams<QueueQuery>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadPickups)?;
    let status = query.0.status;
    ctx.db
        .read(move |conn| {
            let location = store(conn, &caller, &code)?;
            let wanted = status.map(|s| vec![s]);
            let entries = pickup::queue(conn, &location, wanted.as_deref())?;
            Ok(Reply::ok(&PickupQueueResponse { items: entries.iter().map(PickupEntry::from).collect() }))
        })
        .await
}

/// What to take from the shelves for orders fulfilled from this store, by aisle (staff).
#[utoipa::path(tag = "pickups", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$")), responses((status = 200, body = PickListResponse)))]
#[get("/locations/{code}/pick-list")]
pub async fn pick_list(ctx: Data<Context>, caller: Caller, code: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::PreparePickups)?;
    ctx.db
        .read(move |conn| {
            let location = store(conn, &caller, &code)?;
            let grouped = pickup::pick_list(conn, &location)?;
            // Known aisles in order, the unknown last.
            let mut aisles: Vec<AisleGroup> = grouped
                .into_iter()
                .map(|(aisle, items)| AisleGroup { aisle, items: items.into_iter().map(Into::into).collect() })
                .collect();
            aisles.sort_by_key(|g| (g.aisle.is_none(), g.aisle.clone()));
            Ok(Reply::ok(&PickListResponse { location: location.code.to_string(), aisles }))
        })
        .await
}

fn act<'a>(caller: &'a Caller, config: &'a Config, now: chrono::DateTime<chrono::Utc>) -> Act<'a> {
    Act { actor: caller, config, now }
}

/// Record what was picked; a short pick is re-allocated or shown on the order (staff of the source store).
#[utoipa::path(
    tag = "pickups",
    request_body = PicksRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("id" = String, Path)),
    responses((status = 200, body = OrderResponse))
)]
#[post("/locations/{code}/pickups/{id}/picks")]
pub async fn record_picks(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody<PicksRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::PreparePickups)?;
    let request = body.value?;
    let mut v = Validator::default();
    if request.lines.is_empty() || request.lines.len() > 100 {
        v.error("/lines", "name 1 to 100 lines");
    }
    // Picks are checked against the order as read: a line named twice would
    // be short-picked twice from the same open units.
    let mut named = std::collections::HashSet::new();
    let picks: Vec<(OrderLineId, i32)> = request
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            if !named.insert(&l.line) {
                v.error(format!("/lines/{i}/line"), "names a line already named; name each line once");
            }
            let picked = v.check(
                &format!("/lines/{i}/picked"),
                i32::try_from(l.picked)
                    .ok()
                    .filter(|p| (0..=1_000_000).contains(p))
                    .ok_or_else(|| "must be 0 to 1000000".to_owned()),
            );
            let line = v.check(&format!("/lines/{i}/line"), text(&l.line, 100));
            Some((OrderLineId(line?), picked?))
        })
        .collect();
    v.finish()?;
    let (code, id) = path.into_inner();
    let (now, config) = (ctx.now(), ctx.config.clone());
    ctx.db
        .write(move |conn| {
            let location = store(conn, &caller, &code)?;
            let fulfilment = order::fulfilment(conn, &FulfilmentId(id))?;
            if fulfilment.location_id.as_ref() != Some(&location.id) {
                return Err(ApiError::forbidden(format!("this fulfilment is not picked at {code}")));
            }
            let changed = order::picking::record_picks(conn, &fulfilment.id, &picks, &act(&caller, &config, now))?;
            order_reply(conn, &changed, &caller)
        })
        .await
}

/// Mark a pickup ready: a pickup code is issued (shown to the customer's storefront channels until collected) with a deadline.
#[utoipa::path(tag = "pickups", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/locations/{code}/pickups/{id}/ready")]
pub async fn mark_ready(ctx: Data<Context>, caller: Caller, path: Path<(String, String)>) -> Result<Reply, ApiError> {
    caller.may(Op::PreparePickups)?;
    let (code, id) = path.into_inner();
    let (now, config) = (ctx.now(), ctx.config.clone());
    ctx.db
        .write(move |conn| {
            let location = store(conn, &caller, &code)?;
            let ready = pickup::mark_ready(conn, &location, &FulfilmentId(id), &act(&caller, &config, now))?;
            order_reply(conn, &ready, &caller)
        })
        .await
}

/// Hand over at the counter: verify the customer's code; the stock is sold. Wrong codes
/// are counted (422); after five the pickup locks (423) until staff reissue a code.
#[utoipa::path(
    tag = "pickups",
    request_body = CollectRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("id" = String, Path)),
    responses((status = 200, body = OrderResponse))
)]
#[post("/locations/{code}/pickups/{id}/collect")]
pub async fn collect(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody<CollectRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::CollectPickups)?;
    let mut v = Validator::default();
    let pickup_code = v.check("/code", text(&body.value?.code, 20)).ok_or_else(|| v.into_error())?;
    let (code, id) = path.into_inner();
    let (now, config) = (ctx.now(), ctx.config.clone());
    // A wrong code must be counted even though the answer is an error: the
    // transaction commits first, and the answer is decided after.
    let outcome = ctx
        .db
        .write(move |conn| {
            let location = store(conn, &caller, &code)?;
            match pickup::collect(conn, &location, &FulfilmentId(id), &pickup_code, &act(&caller, &config, now))? {
                Handover::Collected(order) => order_reply(conn, &order, &caller).map(Ok),
                other => Ok::<_, ApiError>(Err(other)),
            }
        })
        .await?;
    match outcome {
        Ok(reply) => Ok(reply),
        Err(Handover::WrongCode { attempts_left }) => Err(ApiError::unprocessable(
            "wrong-pickup-code",
            "Wrong pickup code",
            format!("the pickup code does not match; {attempts_left} tries left before the pickup locks"),
        )
        .with("attempts_left", attempts_left)),
        Err(_) => Err(ApiError::locked(
            "pickup-locked",
            "Pickup locked",
            "too many wrong pickup codes: staff must reissue a code",
        )),
    }
}

/// Issue a new pickup code (lost, or locked after wrong tries) (staff, admin).
#[utoipa::path(tag = "pickups", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("id" = String, Path)), responses((status = 200, body = OrderResponse)))]
#[post("/locations/{code}/pickups/{id}/reissue-code")]
pub async fn reissue_code(ctx: Data<Context>, caller: Caller, path: Path<(String, String)>) -> Result<Reply, ApiError> {
    caller.may(Op::PreparePickups)?;
    let (code, id) = path.into_inner();
    let (now, config) = (ctx.now(), ctx.config.clone());
    ctx.db
        .write(move |conn| {
            let location = store(conn, &caller, &code)?;
            let reissued = pickup::reissue_code(conn, &location, &FulfilmentId(id), &act(&caller, &config, now))?;
            order_reply(conn, &reissued, &caller)
        })
        .await
}

/// "I have arrived": a curbside customer, through any channel, with bay or car.
#[utoipa::path(
    tag = "pickups",
    request_body = ArrivalRequest,
    params(("id" = String, Path, description = "Order id or number"), ("fulfilment" = String, Path)),
    responses((status = 200, body = OrderResponse))
)]
#[post("/orders/{id}/fulfilments/{fulfilment}/arrived")]
pub async fn arrived(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody<ArrivalRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::AnnounceArrival)?;
    let mut v = Validator::default();
    let note = body.value?.note.as_deref().and_then(|n| v.check("/note", text(n, 200)));
    v.finish()?;
    let (id, fulfilment) = path.into_inner();
    let (now, config) = (ctx.now(), ctx.config.clone());
    ctx.db
        .write(move |conn| {
            let found = order::get(conn, &id)?;
            policy::order(&caller, &found, OrderUse::Read)?;
            let fulfilment = FulfilmentId(fulfilment);
            let part = found
                .fulfilments
                .iter()
                .find(|f| f.id == fulfilment)
                .ok_or_else(|| order::OrderError::FulfilmentNotFound(fulfilment.to_string()))?;
            policy::fulfilment(&caller, part, Side::Pickup)?;
            let changed = pickup::arrived(conn, &fulfilment, note.as_deref(), &act(&caller, &config, now))?;
            order_reply(conn, &changed, &caller)
        })
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    #[param(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[param(minimum = -180, maximum = 180)]
    pub lon: f64,
    /// SKU code or GTIN, one per unit wanted; repeat (1 to 100).
    #[param(value_type = Vec<CodeText>, min_items = 1, max_items = 100)]
    pub sku: Vec<String>,
}

/// Same-day delivery slots that can be promised today for these items to this
/// point; when none, a problem with the reason and the next possible slot.
#[utoipa::path(tag = "same-day", params(SlotsQuery), responses((status = 200, body = SlotsResponse)))]
#[get("/same-day/slots")]
pub async fn slots(ctx: Data<Context>, caller: Caller, req: HttpRequest) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
    let number = |name: &str| -> Result<f64, ApiError> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .ok_or_else(|| ApiError::field(&format!("/{name}"), "is required, as a number"))
    };
    let point = GeoPoint::new(number("lat")?, number("lon")?).map_err(|e| ApiError::field("/lat", e))?;
    let codes: Vec<String> = pairs.iter().filter(|(k, _)| k == "sku").map(|(_, v)| v.clone()).collect();
    if codes.is_empty() || codes.len() > 100 {
        return Err(ApiError::field("/sku", "give 1 to 100 sku parameters"));
    }
    let now = ctx.now();
    ctx.db
        .read(move |conn| {
            let skus = catalog::resolve_skus(conn, &codes)?;
            let mut lines: Vec<(inventory::Item, i32)> = Vec::new();
            for sku in skus {
                match lines.iter_mut().find(|(item, _)| item.sku_id == sku.id) {
                    Some((_, q)) => *q += 1,
                    None => lines.push((inventory::Item::of(&sku), 1)),
                }
            }
            let offers = same_day::offers(conn, point, &lines, now)?;
            Ok::<_, ApiError>(Reply::ok(&SlotsResponse { slots: offers.iter().map(SlotResponse::from).collect() }))
        })
        .await
}
