//! `/v1/skus`: the catalog of sellable items.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, get, post, put};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog::{self, Sku};
use crate::context::Context;
use crate::http::auth::Caller;
use crate::http::dto::PageResponse;
use crate::http::dto::catalog::{SkuRequest, SkuResponse};
use crate::http::extractors::{
    IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination, QueryParams, bodiless_fingerprint,
};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::marketplace;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_sku).service(list_skus).service(get_sku).service(replace_sku).service(deactivate_sku);
}

fn reply(sku: &Sku) -> Reply {
    Reply::ok(&SkuResponse::from(sku)).version(sku.version)
}

/// Create a SKU (admin).
#[utoipa::path(
    tag = "catalog",
    request_body = SkuRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = SkuResponse))
)]
#[post("/skus")]
pub async fn create_sku(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<SkuRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let input = body.value?.into_input(None)?;
    let now = ctx.now();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let sku = catalog::create_sku(conn, input, now)?;
        Ok(Reply::created(&SkuResponse::from(&sku), "/v1/skus", sku.code.as_str()).version(sku.version))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SkuSearch {
    /// Words to find in the name or spoken names.
    pub q: Option<String>,
}

/// List or search SKUs (any key).
#[utoipa::path(tag = "catalog", params(SkuSearch, PageParams), responses((status = 200, body = PageResponse<SkuResponse>)))]
#[get("/skus")]
pub async fn list_skus(
    ctx: Data<Context>,
    caller: Caller,
    search: QueryParams<SkuSearch>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let search = search.0.q;
    let page = ctx.db.read(move |conn| catalog::list_skus(conn, search.as_deref(), &page.0)).await?;
    Ok(Reply::ok(&PageResponse::from_page(page, |s| SkuResponse::from(&s))))
}

/// Read a SKU by code or GTIN (any key).
#[utoipa::path(tag = "catalog", params(("code" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$")), responses((status = 200, body = SkuResponse)))]
#[get("/skus/{code}")]
pub async fn get_sku(ctx: Data<Context>, caller: Caller, code: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let code = code.into_inner();
    let sku = ctx.db.read(move |conn| catalog::get_sku(conn, &code)).await?;
    Ok(reply(&sku))
}

/// Replace a SKU (admin); `If-Match` guards against overwriting a newer version.
#[utoipa::path(
    tag = "catalog",
    request_body = SkuRequest,
    params(("code" = String, Path, description = "SKU code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = SkuResponse))
)]
#[put("/skus/{code}")]
pub async fn replace_sku(
    ctx: Data<Context>,
    caller: Caller,
    code: Path<String>,
    if_match: IfMatch,
    body: JsonBody<SkuRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let input = body.value?.into_input(Some(&code))?;
    let now = ctx.now();
    let sku = ctx
        .db
        .write(move |conn| {
            let sku = catalog::update_sku(conn, input, if_match.0, now)?;
            marketplace::sku_changed(conn, &sku.id, now)?;
            Ok::<_, ApiError>(sku)
        })
        .await?;
    Ok(reply(&sku))
}

/// Deactivate a SKU (admin): it can no longer be added to carts or sold.
#[utoipa::path(
    tag = "catalog",
    params(("code" = String, Path, description = "SKU code", pattern = "^[A-Za-z0-9._-]{1,64}$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = SkuResponse))
)]
#[post("/skus/{code}/deactivate")]
pub async fn deactivate_sku(
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
        let sku = catalog::set_sku_active(conn, &code, false, if_match.0, now)?;
        marketplace::sku_changed(conn, &sku.id, now)?;
        Ok(reply(&sku))
    })
    .await
}
