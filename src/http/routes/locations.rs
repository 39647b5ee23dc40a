//! `/v1/locations`: stores, warehouses and dark stores.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, get, post, put};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog;
use crate::context::Context;
use crate::http::auth::Caller;
use crate::http::dto::PageResponse;
use crate::http::dto::catalog::{LocationRequest, LocationResponse};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination, bodiless_fingerprint};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_location)
        .service(list_locations)
        .service(get_location)
        .service(replace_location)
        .service(deactivate_location);
}

fn reply(location: &catalog::Location) -> Reply {
    Reply::ok(&LocationResponse::from(location)).version(location.version)
}

/// Create a location (admin).
#[utoipa::path(
    tag = "locations",
    request_body = LocationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = LocationResponse))
)]
#[post("/locations")]
pub async fn create_location(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<LocationRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let input = body.value?.into_input(None)?;
    let now = ctx.now();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let location = catalog::create_location(conn, input, now)?;
        Ok(Reply::created(&LocationResponse::from(&location), "/v1/locations", location.code.as_str())
            .version(location.version))
    })
    .await
}

/// List locations (any key).
#[utoipa::path(tag = "locations", params(PageParams), responses((status = 200, body = PageResponse<LocationResponse>)))]
#[get("/locations")]
pub async fn list_locations(ctx: Data<Context>, caller: Caller, page: Pagination) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let page = ctx.db.read(move |conn| catalog::list_locations(conn, &page.0)).await?;
    Ok(Reply::ok(&PageResponse::from_page(page, |l| LocationResponse::from(&l))))
}

/// Read a location by code (any key).
#[utoipa::path(tag = "locations", params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$")), responses((status = 200, body = LocationResponse)))]
#[get("/locations/{code}")]
pub async fn get_location(ctx: Data<Context>, caller: Caller, code: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let code = code.into_inner();
    let location = ctx.db.read(move |conn| catalog::get_location(conn, &code)).await?;
    Ok(reply(&location))
}

/// Replace a location (admin); `If-Match` guards against overwriting a newer version.
#[utoipa::path(
    tag = "locations",
    request_body = LocationRequest,
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = LocationResponse))
)]
#[put("/locations/{code}")]
pub async fn replace_location(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    if_match: IfMatch,
    body: JsonBody<LocationRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let input = body.value?.into_input(Some(&code))?;
    let now = ctx.now();
    let location = ctx.db.write(move |conn| catalog::update_location(conn, input, if_match.0, now)).await?;
    Ok(reply(&location))
}

/// Deactivate a location (admin): it keeps its history but takes no new stock or orders.
#[utoipa::path(
    tag = "locations",
    params(("code" = String, Path, description = "Location code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = LocationResponse))
)]
#[post("/locations/{code}/deactivate")]
pub async fn deactivate_location(
    ctx: Data<Context>,
    caller: Caller,
    req: HttpRequest,
    code: Path<String>,
    if_match: IfMatch,
    key: IdempotencyKey,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let now = ctx.now();
    let code = code.into_inner();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, bodiless_fingerprint(&req), move |conn| {
        Ok(reply(&catalog::set_location_active(conn, &code, false, if_match.0, now)?))
    })
    .await
}
