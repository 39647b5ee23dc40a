//! `/v1/locations/{code}/stock`: receipts, adjustments, counts, transfers,
//! settings, and the levels and ledger of one location (staff of that
//! location, or admin).

use actix_web::web::{Data, Path};
use actix_web::{get, post, put};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::access::Principal;
use crate::catalog::Location;
use crate::context::Context;
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::inventory::{
    AdjustmentRequest, CountRequest, CountResponse, LevelResponse, LevelsResponse, MovementResponse, ReceiptRequest,
    StockSettingsRequest, TransferRequest, optional_text, validate_lines,
};
use crate::http::dto::{PageResponse, Validator, text};
use crate::http::extractors::{IdempotencyKey, JsonBody, PageParams, Pagination};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::inventory::{self, Level};
use crate::types::{Quantity, SkuId};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(receive)
        .service(adjust)
        .service(count)
        .service(transfer)
        .service(set_settings)
        .service(list_levels)
        .service(get_level)
        .service(list_movements);
}

/// The location of the path, if this caller may change its stock.
fn writable_location(conn: &mut AnyConnection, caller: &Caller, code: &str) -> Result<Location, ApiError> {
    let location = inventory::active_location(conn, code)?;
    caller.require_at(&location.id, code)?;
    Ok(location)
}

/// Resolves (code, quantity) lines to SKU ids.
fn sku_lines(conn: &mut AnyConnection, lines: &[(String, Quantity)]) -> Result<Vec<(SkuId, Quantity)>, ApiError> {
    let codes: Vec<String> = lines.iter().map(|(c, _)| c.clone()).collect();
    let skus = inventory::resolve_stocked(conn, &codes)?;
    Ok(skus.into_iter().zip(lines).map(|(sku, (_, q))| (sku.id, *q)).collect())
}

/// Responses carry SKU codes; levels carry ids.
fn level_responses(conn: &mut AnyConnection, levels: &[Level], location: &str) -> Result<Vec<LevelResponse>, ApiError> {
    let ids: Vec<SkuId> = levels.iter().map(|l| l.sku_id.clone()).collect();
    let skus = crate::catalog::skus_by_ids(conn, &ids)?;
    Ok(levels
        .iter()
        .map(|l| {
            let code = skus.iter().find(|s| s.id == l.sku_id).map(|s| s.code.as_str()).unwrap_or(l.sku_id.as_str());
            LevelResponse::new(l, code, location)
        })
        .collect())
}

/// Receive stock (staff of the location, admin).
#[utoipa::path(
    tag = "stock",
    request_body = ReceiptRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = LevelsResponse))
)]
#[post("/locations/{code}/stock/receipts")]
pub async fn receive(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<ReceiptRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveStock)?;
    let mut v = Validator::default();
    let request = body.value?;
    let lines = validate_lines(&mut v, "/lines", &request.lines);
    let reference = optional_text(&mut v, "/reference", &request.reference, 200);
    v.finish()?;
    let now = ctx.now();
    let principal: Principal = caller.0.clone();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let location = writable_location(conn, &caller, &code)?;
        let lines = sku_lines(conn, &lines)?;
        let levels = inventory::receive(conn, &location.id, &lines, reference.as_deref(), &principal, now)?;
        Ok(Reply::ok(&LevelsResponse { levels: level_responses(conn, &levels, location.code.as_str())? }))
    })
    .await
}

/// Adjust stock by a signed number of units, with a reason (staff, admin).
#[utoipa::path(
    tag = "stock",
    request_body = AdjustmentRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = LevelResponse))
)]
#[post("/locations/{code}/stock/adjustments")]
pub async fn adjust(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<AdjustmentRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveStock)?;
    let request = body.value?;
    let mut v = Validator::default();
    let sku = v.check("/sku", text(&request.sku, 64));
    let delta = v.check(
        "/delta",
        match request.delta {
            0 => Err("must not be zero".to_owned()),
            d => Quantity::new(d.abs()).map(|q| q.get() * d.signum() as i32),
        },
    );
    let reason = v.check("/reason", text(&request.reason, 200));
    let (Some(sku), Some(delta), Some(reason)) = (sku, delta, reason) else { return Err(v.into_error()) };
    let now = ctx.now();
    let principal = caller.0.clone();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let location = writable_location(conn, &caller, &code)?;
        let sku = inventory::stocked_sku(conn, &sku)?;
        let level = inventory::adjust(conn, &location.id, &sku.id, delta, &reason, &principal, now)?;
        Ok(Reply::ok(&LevelResponse::new(&level, sku.code.as_str(), location.code.as_str())))
    })
    .await
}

/// Record a physical count; the ledger records the difference (staff, admin).
#[utoipa::path(
    tag = "stock",
    request_body = CountRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = CountResponse))
)]
#[post("/locations/{code}/stock/counts")]
pub async fn count(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<CountRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveStock)?;
    let request = body.value?;
    let mut v = Validator::default();
    if request.lines.is_empty() || request.lines.len() > 200 {
        v.error("/lines", "must hold 1 to 200 lines");
    }
    let lines: Vec<(String, i32)> = request
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let sku = v.check(&format!("/lines/{i}/sku"), text(&line.sku, 64));
            let counted = v.check(
                &format!("/lines/{i}/counted"),
                if line.counted == 0 { Ok(0) } else { Quantity::new(line.counted).map(Quantity::get) },
            );
            Some((sku?, counted?))
        })
        .collect();
    let reason = optional_text(&mut v, "/reason", &request.reason, 200);
    v.finish()?;
    let now = ctx.now();
    let principal = caller.0.clone();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let location = writable_location(conn, &caller, &code)?;
        let (mut levels, mut differences) = (Vec::new(), Vec::new());
        for (sku, counted) in &lines {
            let sku = inventory::stocked_sku(conn, sku)?;
            let (level, difference) =
                inventory::count(conn, &location.id, &sku.id, *counted, reason.as_deref(), &principal, now)?;
            levels.push(level);
            differences.push(difference);
        }
        Ok(Reply::ok(&CountResponse { levels: level_responses(conn, &levels, location.code.as_str())?, differences }))
    })
    .await
}

/// Move stock to another location; both sides change in one transaction (staff of the source, admin).
#[utoipa::path(
    tag = "stock",
    request_body = TransferRequest,
    params(("code" = String, Path, description = "Source location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = crate::http::dto::inventory::TransferResponse))
)]
#[post("/locations/{code}/stock/transfers")]
pub async fn transfer(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    key: IdempotencyKey,
    body: JsonBody<TransferRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveStock)?;
    let request = body.value?;
    let mut v = Validator::default();
    let to = v.check("/to", text(&request.to, 64));
    let lines = validate_lines(&mut v, "/lines", &request.lines);
    let reference = optional_text(&mut v, "/reference", &request.reference, 200);
    let Some(to) = to else { return Err(v.into_error()) };
    v.finish()?;
    let now = ctx.now();
    let principal = caller.0.clone();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let from = writable_location(conn, &caller, &code)?;
        let destination = inventory::active_location(conn, &to)?;
        let lines = sku_lines(conn, &lines)?;
        let moved =
            inventory::transfer(conn, &from.id, &destination.id, &lines, reference.as_deref(), &principal, now)?;
        let (out, arrived): (Vec<Level>, Vec<Level>) = moved.into_iter().unzip();
        Ok(Reply::ok(&crate::http::dto::inventory::TransferResponse {
            from: level_responses(conn, &out, from.code.as_str())?,
            to: level_responses(conn, &arrived, destination.code.as_str())?,
        }))
    })
    .await
}

/// Set safety stock and aisle of one SKU here (staff, admin).
#[utoipa::path(
    tag = "stock",
    request_body = StockSettingsRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$")),
    responses((status = 200, body = LevelResponse))
)]
#[put("/locations/{code}/stock/{sku}")]
pub async fn set_settings(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody<StockSettingsRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::MoveStock)?;
    let (code, sku) = path.into_inner();
    let request = body.value?;
    let mut v = Validator::default();
    let safety = v.check(
        "/safety_stock",
        if request.safety_stock == 0 { Ok(0) } else { Quantity::new(request.safety_stock).map(Quantity::get) },
    );
    let aisle = optional_text(&mut v, "/aisle", &request.aisle, 40);
    let Some(safety) = safety else { return Err(v.into_error()) };
    v.finish()?;
    let now = ctx.now();
    ctx.db
        .write(move |conn| {
            let location = writable_location(conn, &caller, &code)?;
            let sku = inventory::stocked_sku(conn, &sku)?;
            let level = inventory::set_settings(conn, &location.id, &sku.id, safety, aisle.as_deref(), now)?;
            Ok(Reply::ok(&LevelResponse::new(&level, sku.code.as_str(), location.code.as_str())))
        })
        .await
}

/// Stock levels at a location (staff and POS of the location, admin).
#[utoipa::path(tag = "stock", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), PageParams), responses((status = 200, body = PageResponse<LevelResponse>)))]
#[get("/locations/{code}/stock")]
pub async fn list_levels(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadStock)?;
    ctx.db
        .read(move |conn| {
            let location = crate::catalog::get_location(conn, &code)?;
            caller.require_at(&location.id, &code)?;
            let page = inventory::levels_at(conn, &location.id, &page.0)?;
            Ok(Reply::ok(&PageResponse::from_page(page, |(level, sku)| {
                LevelResponse::new(&level, &sku, location.code.as_str())
            })))
        })
        .await
}

/// One SKU's level at a location (staff and POS of the location, admin).
#[utoipa::path(tag = "stock", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$")), responses((status = 200, body = LevelResponse)))]
#[get("/locations/{code}/stock/{sku}")]
pub async fn get_level(ctx: Data<Context>, caller: Caller, path: Path<(String, String)>) -> Result<Reply, ApiError> {
    caller.may(Op::ReadStock)?;
    let (code, sku) = path.into_inner();
    ctx.db
        .read(move |conn| {
            let location = crate::catalog::get_location(conn, &code)?;
            caller.require_at(&location.id, &code)?;
            let sku = crate::catalog::get_sku(conn, &sku)?;
            let level = inventory::level(conn, &location.id, &sku.id)?;
            Ok(Reply::ok(&LevelResponse::new(&level, sku.code.as_str(), location.code.as_str())))
        })
        .await
}

/// The ledger of one SKU at a location, oldest first (staff of the location, admin).
#[utoipa::path(
    tag = "stock",
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$"), PageParams),
    responses((status = 200, body = PageResponse<MovementResponse>))
)]
#[get("/locations/{code}/stock/{sku}/movements")]
pub async fn list_movements(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadLedger)?;
    let (code, sku) = path.into_inner();
    ctx.db
        .read(move |conn| {
            let location = crate::catalog::get_location(conn, &code)?;
            caller.require_at(&location.id, &code)?;
            let sku = crate::catalog::get_sku(conn, &sku)?;
            let page = inventory::movements(conn, &location.id, &sku.id, &page.0)?;
            Ok(Reply::ok(&PageResponse::from_page(page, MovementResponse::from)))
        })
        .await
}
