//! `/v1/promotions` and `/v1/tax-rates`: what carts are priced with (admin).

use actix_web::web::{Data, Path};
use actix_web::{get, post, put};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog;
use crate::context::Context;
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::PageResponse;
use crate::http::dto::pricing::{
    PromotionDraft, PromotionRequest, PromotionResponse, TaxRateRequest, TaxRateResponse, TaxRatesResponse,
};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::pricing::{self, Promotion, PromotionInput, tax};
use crate::types::PromotionId;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_promotion)
        .service(list_promotions)
        .service(get_promotion)
        .service(replace_promotion)
        .service(list_tax_rates)
        .service(put_tax_rate);
}

fn input(conn: &mut AnyConnection, draft: PromotionDraft) -> Result<PromotionInput, ApiError> {
    let mut input = draft.input_without_sku;
    input.sku_id = draft.sku_code.map(|code| catalog::get_sku(conn, &code).map(|s| s.id)).transpose()?;
    Ok(input)
}

fn response(conn: &mut AnyConnection, promotion: &Promotion) -> Result<PromotionResponse, ApiError> {
    let ids: Vec<_> = promotion.input.sku_id.iter().cloned().collect();
    let code = catalog::sku_codes(conn, &ids)?.into_values().next();
    Ok(PromotionResponse::new(promotion, code))
}

/// Create a promotion (admin).
#[utoipa::path(
    tag = "promotions",
    request_body = PromotionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = PromotionResponse))
)]
#[post("/promotions")]
pub async fn create_promotion(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<PromotionRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let now = ctx.now();
    let draft = body.value?.into_draft(now)?;
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let input = input(conn, draft)?;
        let created = pricing::create_promotion(conn, input, now)?;
        Ok(Reply::created(&response(conn, &created)?, "/v1/promotions", &created.id.to_string())
            .version(created.version))
    })
    .await
}

/// List promotions (admin).
#[utoipa::path(tag = "promotions", params(PageParams), responses((status = 200, body = PageResponse<PromotionResponse>)))]
#[get("/promotions")]
pub async fn list_promotions(ctx: Data<Context>, caller: Caller, page: Pagination) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    ctx.db
        .read(move |conn| {
            let page = pricing::list_promotions(conn, &page.0)?;
            let items = page.items.iter().map(|p| response(conn, p)).collect::<Result<Vec<_>, _>>()?;
            Ok(Reply::ok(&PageResponse {
                items,
                next_cursor: page.next.as_deref().map(crate::http::extractors::encode_cursor),
            }))
        })
        .await
}

/// Read a promotion (admin).
#[utoipa::path(tag = "promotions", params(("id" = String, Path)), responses((status = 200, body = PromotionResponse)))]
#[get("/promotions/{id}")]
pub async fn get_promotion(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let id = PromotionId(id.into_inner());
    ctx.db
        .read(move |conn| {
            let found = pricing::get_promotion(conn, &id)?;
            Ok(Reply::ok(&response(conn, &found)?).version(found.version))
        })
        .await
}

/// Replace a promotion (admin); set `active: false` to end it.
#[utoipa::path(
    tag = "promotions",
    request_body = PromotionRequest,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = PromotionResponse))
)]
#[put("/promotions/{id}")]
pub async fn replace_promotion(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    if_match: IfMatch,
    body: JsonBody<PromotionRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let now = ctx.now();
    let draft = body.value?.into_draft(now)?;
    let id = PromotionId(id.into_inner());
    ctx.db
        .write(move |conn| {
            let input = input(conn, draft)?;
            let updated = pricing::update_promotion(conn, &id, input, if_match.0, now)?;
            Ok(Reply::ok(&response(conn, &updated)?).version(updated.version))
        })
        .await
}

/// Tax rates by region (admin).
#[utoipa::path(tag = "promotions", responses((status = 200, body = TaxRatesResponse)))]
#[get("/tax-rates")]
pub async fn list_tax_rates(ctx: Data<Context>, caller: Caller) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let rates = ctx.db.read(pricing::tax_rates).await?;
    let items = rates
        .into_iter()
        .map(|(region, tax_class, rate)| TaxRateResponse {
            region,
            tax_class,
            rate_percent: rate.normalize().to_string(),
        })
        .collect();
    Ok(Reply::ok(&TaxRatesResponse { items }))
}

/// Set the tax rate of a region for a tax class (`standard` unless the body
/// names one). The region is an ISO 3166 country (`DE`) or subdivision
/// (`DE-BY`); a subdivision's own rate overrides its country's. An explicit
/// `"0"` is how a retailer says a region is untaxed (admin).
#[utoipa::path(tag = "promotions", request_body = TaxRateRequest, params(("region" = String, Path, description = "ISO 3166 country (`DE`) or subdivision (`DE-BY`)", pattern = "^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$")), responses((status = 200, body = TaxRateResponse)))]
#[put("/tax-rates/{region}")]
pub async fn put_tax_rate(
    ctx: Data<Context>,
    caller: Caller,
    region: Path<String>,
    body: JsonBody<TaxRateRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageCatalog)?;
    let region = tax::parse_region(&region).map_err(|e| ApiError::field("/region", e))?;
    let body = body.value?;
    let tax_class = match body.tax_class.as_deref() {
        Some(raw) => tax::parse_class(raw).map_err(|e| ApiError::field("/tax_class", e))?,
        None => pricing::STANDARD.to_owned(),
    };
    let rate =
        crate::types::parse_percent(&body.rate_percent, 4, true).map_err(|e| ApiError::field("/rate_percent", e))?;
    let now = ctx.now();
    let response = TaxRateResponse {
        region: region.clone(),
        tax_class: tax_class.clone(),
        rate_percent: rate.normalize().to_string(),
    };
    ctx.db.write(move |conn| pricing::set_tax_rate(conn, &region, &tax_class, rate, now)).await?;
    Ok(Reply::ok(&response))
}
