//! `/v1/reservations` and `/v1/pos/holds`: holds of stock for a purpose.

use std::time::Duration;

use chrono::{DateTime, Utc};

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, get, post};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog::{self, Location, Sku};
use crate::context::Context;
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::inventory::{
    ExtendRequest, PosHoldRequest, ReservationLineResponse, ReservationRequest, ReservationResponse, optional_text,
    validate_lines,
};
use crate::http::dto::{Validator, text, utc};
use crate::http::extractors::{IdempotencyKey, JsonBody, bodiless_fingerprint};
use crate::http::idempotency;
use crate::http::policy::{self, HoldUse, Op};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::inventory::reservation::{self, Ending, NewReservation};
use crate::inventory::{self, HoldCombiner, Purpose, Reservation};
use crate::types::ReservationId;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_reservation)
        .service(get_reservation)
        .service(extend_reservation)
        .service(release_reservation)
        .service(commit_reservation)
        .service(create_pos_hold);
}

pub fn reservation_response(r: &Reservation) -> ReservationResponse {
    ReservationResponse {
        id: r.id.to_string(),
        location: r.location_code.clone(),
        purpose: r.purpose,
        status: r.status,
        lines: r
            .lines
            .iter()
            .map(|l| ReservationLineResponse { sku: l.sku_code.clone(), quantity: l.quantity })
            .collect(),
        customer_ref: r.customer_ref.clone(),
        reference: r.reference.clone(),
        channel: r.channel.clone(),
        expires_at: r.expires_at.map(utc),
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        version: r.version,
    }
}

fn reply(reservation: &Reservation) -> Reply {
    Reply::ok(&reservation_response(reservation)).version(reservation.version)
}

/// Validated input of a new hold, before SKU codes are resolved.
struct HoldInput {
    location: HoldAt,
    purpose: Purpose,
    lines: Vec<(String, crate::types::Quantity)>,
    lifetime: Option<Duration>,
    customer_ref: Option<String>,
    reference: Option<String>,
}

/// Where a hold is placed.
#[derive(Clone)]
enum HoldAt {
    /// The location with this code.
    Named(String),
    /// The POS key's own store (a code asked for must be it).
    OwnStore(Option<String>),
}

impl HoldAt {
    /// The active location, which the caller may hold stock at.
    fn resolve(&self, conn: &mut AnyConnection, caller: &Caller) -> Result<Location, ApiError> {
        let code = match self {
            HoldAt::Named(code) => code.clone(),
            HoldAt::OwnStore(asked) => {
                let own = catalog::locations_by_ids(conn, caller.location_id.as_slice())?
                    .into_iter()
                    .next()
                    .ok_or_else(|| ApiError::forbidden("this POS key is bound to no location"))?;
                if let Some(asked) = asked.as_deref().filter(|asked| *asked != own.code.as_str()) {
                    return Err(ApiError::forbidden(format!("this POS key belongs to {}, not {asked}", own.code)));
                }
                own.code.into_string()
            }
        };
        let location = inventory::active_location(conn, &code)?;
        caller.require_at(&location.id, &code)?;
        Ok(location)
    }
}

async fn place(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    key: IdempotencyKey,
    fingerprint: String,
    hold: HoldInput,
) -> Result<Reply, ApiError> {
    let now = ctx.now();
    let expires_at = inventory::expiry(hold.purpose, hold.lifetime, &ctx.config.holds, now)?;
    let codes: Vec<String> = hold.lines.iter().map(|(c, _)| c.clone()).collect();
    // Where and what, from this instance's reference data before the
    // transaction: the write transaction (on SQLite, the writer's turn) then
    // only holds stock. A failure here is found again inside the
    // transaction, where a retry's stored answer is replayed first.
    let resolved = {
        let (at, codes, caller) = (hold.location.clone(), codes.clone(), caller.clone());
        ctx.db.read(move |conn| resolve(conn, &at, &codes, &caller)).await.ok()
    };
    // A hold without a key has no stored answer to keep beside it: it may
    // share its write with the other holds of its level (the combiner
    // places a hold of several levels, or through a kit, alone).
    if let (None, Some((location, skus))) = (&key.0, &resolved) {
        let new = new_reservation(location, skus, hold, expires_at);
        let placed = holds.into_inner().place(&ctx.db, reservation::prepare(new, &caller, now)).await?;
        let reservation = placed.describe(location.code.as_str(), skus)?;
        let body = reservation_response(&reservation);
        return Ok(Reply::created(&body, "/v1/reservations", reservation.id.as_str()).version(reservation.version));
    }
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, fingerprint, move |conn| {
        let (location, skus) = match resolved {
            Some(resolved) => resolved,
            None => resolve(conn, &hold.location, &codes, &caller)?,
        };
        let new = new_reservation(&location, &skus, hold, expires_at);
        let reservation = reservation::create(conn, new, &caller, now)?.describe(location.code.as_str(), &skus)?;
        let body = reservation_response(&reservation);
        Ok(Reply::created(&body, "/v1/reservations", reservation.id.as_str()).version(reservation.version))
    })
    .await
}

/// The hold asked for, with its location and SKUs resolved.
fn new_reservation(
    location: &Location,
    skus: &[Sku],
    hold: HoldInput,
    expires_at: Option<DateTime<Utc>>,
) -> NewReservation {
    NewReservation {
        location_id: location.id.clone(),
        purpose: hold.purpose,
        lines: skus.iter().zip(&hold.lines).map(|(s, (_, q))| (inventory::Item::of(s), *q)).collect(),
        expires_at,
        customer_ref: hold.customer_ref,
        reference: hold.reference,
        order_id: None,
    }
}

/// Hold stock at a location for a purpose; all lines or none.
#[utoipa::path(
    tag = "reservations",
    request_body = ReservationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = ReservationResponse))
)]
#[post("/reservations")]
pub async fn create_reservation(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<ReservationRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Hold)?;
    let request = body.value?;
    policy::may_hold(&caller, request.purpose)?;
    let mut v = Validator::default();
    let location = v.check("/location", text(&request.location, 64));
    let lines = validate_lines(&mut v, "/lines", &request.lines);
    let customer_ref = optional_text(&mut v, "/customer_ref", &request.customer_ref, 200);
    let reference = optional_text(&mut v, "/reference", &request.reference, 200);
    let lifetime = lifetime(&mut v, request.expires_in_seconds);
    let Some(location) = location else { return Err(v.into_error()) };
    v.finish()?;
    let hold = HoldInput {
        location: HoldAt::Named(location),
        purpose: request.purpose,
        lines,
        lifetime,
        customer_ref,
        reference,
    };
    place(ctx, holds, caller, key, body.fingerprint, hold).await
}

/// Hold scanned items for a customer at this POS's store.
#[utoipa::path(
    tag = "pos",
    request_body = PosHoldRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = ReservationResponse))
)]
#[post("/pos/holds")]
pub async fn create_pos_hold(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<PosHoldRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Counter)?;
    let request = body.value?;
    let mut v = Validator::default();
    let lines = validate_lines(&mut v, "/items", &request.items);
    let customer_ref = optional_text(&mut v, "/customer_ref", &request.customer_ref, 200);
    let lifetime = lifetime(&mut v, request.expires_in_seconds);
    v.finish()?;
    let hold = HoldInput {
        location: HoldAt::OwnStore(request.location.clone()),
        purpose: Purpose::PosHold,
        lines,
        lifetime,
        customer_ref,
        reference: None,
    };
    place(ctx, holds, caller, key, body.fingerprint, hold).await
}

/// Read a reservation.
#[utoipa::path(tag = "reservations", params(("id" = String, Path)), responses((status = 200, body = ReservationResponse)))]
#[get("/reservations/{id}")]
pub async fn get_reservation(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::Hold)?;
    let id = ReservationId(id.into_inner());
    ctx.db
        .read(move |conn| {
            let reservation = reservation::get(conn, &id)?;
            policy::reservation(&caller, &reservation, HoldUse::Read)?;
            Ok(reply(&reservation))
        })
        .await
}

/// A hold's asked lifetime: at least a second (the longest is the holds
/// configuration's, checked where the hold is placed).
fn lifetime(v: &mut Validator, seconds: Option<u64>) -> Option<Duration> {
    if seconds == Some(0) {
        v.error("/expires_in_seconds", "must be at least 1 second");
    }
    seconds.map(Duration::from_secs)
}

/// Extend an active reservation from now.
#[utoipa::path(
    tag = "reservations",
    request_body = ExtendRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = ReservationResponse))
)]
#[post("/reservations/{id}/extend")]
pub async fn extend_reservation(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    body: JsonBody<ExtendRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Hold)?;
    let now = ctx.now();
    let id = ReservationId(id.into_inner());
    let lifetime = Duration::from_secs(body.value?.expires_in_seconds);
    if lifetime.is_zero() || lifetime > ctx.config.holds.max {
        return Err(ApiError::field(
            "/expires_in_seconds",
            format!("must be 1 to {} seconds", ctx.config.holds.max.as_secs()),
        ));
    }
    let expires_at = now + chrono::Duration::from_std(lifetime).unwrap_or_default();
    ctx.db
        .write(move |conn| {
            policy::reservation(&caller, &reservation::get(conn, &id)?, HoldUse::Change)?;
            let reservation = reservation::extend(conn, &id, expires_at, now)?;
            Ok(reply(&reservation))
        })
        .await
}

/// The active location and SKUs (by code or GTIN) a hold names.
fn resolve(
    conn: &mut AnyConnection,
    at: &HoldAt,
    codes: &[String],
    caller: &Caller,
) -> Result<(Location, Vec<Sku>), ApiError> {
    let location = at.resolve(conn, caller)?;
    let skus = catalog::resolve_skus(conn, codes)?;
    if let Some(inactive) = skus.iter().find(|s| !s.active) {
        return Err(inventory::InventoryError::SkuInactive(inactive.code.to_string()).into());
    }
    Ok((location, skus))
}

/// Release a reservation: its units go back on the shelf.
#[utoipa::path(tag = "reservations", params(("id" = String, Path)), responses((status = 200, body = ReservationResponse)))]
#[post("/reservations/{id}/release")]
pub async fn release_reservation(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    req: HttpRequest,
    key: IdempotencyKey,
    id: Path<String>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Hold)?;
    end(ctx, holds, caller, bodiless_fingerprint(&req), key, ReservationId(id.into_inner()), false).await
}

/// Commit a reservation: its units are sold (on hand and reserved both go down).
#[utoipa::path(tag = "reservations", params(("id" = String, Path)), responses((status = 200, body = ReservationResponse)))]
#[post("/reservations/{id}/commit")]
pub async fn commit_reservation(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    req: HttpRequest,
    key: IdempotencyKey,
    id: Path<String>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Hold)?;
    end(ctx, holds, caller, bodiless_fingerprint(&req), key, ReservationId(id.into_inner()), true).await
}

/// Why the ledger says a caller's release happened.
const RELEASED: &str = "released by caller";

async fn end(
    ctx: Data<Context>,
    holds: Data<HoldCombiner>,
    caller: Caller,
    fingerprint: String,
    key: IdempotencyKey,
    id: ReservationId,
    commit: bool,
) -> Result<Reply, ApiError> {
    let now = ctx.now();
    if key.0.is_none() && !commit {
        // A release without a key may share its write with the other
        // releases of its level; the reservation is read first to find the
        // level, and the release takes it only at the version read.
        let (reading, id) = (caller.clone(), id.clone());
        let seen = ctx
            .db
            .read(move |conn| {
                let held = reservation::get(conn, &id)?;
                policy::reservation(&reading, &held, HoldUse::Change)?;
                Ok::<_, ApiError>(held)
            })
            .await?;
        let ending = Ending { seen, actor: caller.0, reason: RELEASED, now };
        return Ok(reply(&holds.into_inner().release(&ctx.db, ending).await?));
    }
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, fingerprint, move |conn| {
        let held = reservation::get(conn, &id)?;
        policy::reservation(&caller, &held, HoldUse::Change)?;
        let ended = if commit {
            reservation::commit(conn, &held, &caller, "committed by caller", now)?
        } else {
            reservation::release(conn, &held, &caller, RELEASED, now)?
        };
        Ok(reply(&ended))
    })
    .await
}
