//! `/v1/marketplaces` (admin): connectors, listings, sync state; and the
//! webhook endpoint, where the signature is the authentication.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, delete, get, post, put};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog;
use crate::context::Context;
use crate::db::timestamp;
use crate::http::auth::Caller;
use crate::http::dto::marketplace::{
    ListingRequest, ListingResponse, MarketplaceRequest, MarketplaceResponse, ResyncResponse, SyncResponse,
    WebhookResponse,
};
use crate::http::dto::{PageResponse, Validator, text};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, PageParams, Pagination, RawBody};
use crate::http::idempotency;
use crate::http::policy::{self, Op};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::marketplace::connector::{AnyConnector, Connector, Headers};
use crate::marketplace::webhook::{self, Received};
use crate::marketplace::{self, sync};
use crate::types::MarketplaceId;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_marketplace)
        .service(list_marketplaces)
        .service(get_marketplace)
        .service(replace_marketplace)
        .service(put_listing)
        .service(delete_listing)
        .service(list_listings)
        .service(sync_state)
        .service(resync)
        .service(receive_webhook);
}

/// Connect a marketplace (admin).
#[utoipa::path(
    tag = "marketplaces",
    request_body = MarketplaceRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = MarketplaceResponse))
)]
#[post("/marketplaces")]
pub async fn create_marketplace(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<MarketplaceRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let loopback = ctx.config.marketplace.allow_insecure_loopback;
    let input = body.value?.into_input(true, &ctx.keyring, loopback)?;
    let now = ctx.now();
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let created = marketplace::create(conn, input, now)?;
        Ok(Reply::created(&MarketplaceResponse::from(&created), "/v1/marketplaces", &created.id.to_string())
            .version(created.version))
    })
    .await
}

/// List marketplaces (admin).
#[utoipa::path(tag = "marketplaces", params(PageParams), responses((status = 200, body = PageResponse<MarketplaceResponse>)))]
#[get("/marketplaces")]
pub async fn list_marketplaces(ctx: Data<Context>, caller: Caller, page: Pagination) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let page = ctx.db.read(move |conn| marketplace::list(conn, &page.0)).await?;
    Ok(Reply::ok(&PageResponse::from_page(page, |m| MarketplaceResponse::from(&m))))
}

/// Read a marketplace (admin; never its secrets).
#[utoipa::path(tag = "marketplaces", params(("id" = String, Path)), responses((status = 200, body = MarketplaceResponse)))]
#[get("/marketplaces/{id}")]
pub async fn get_marketplace(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let id = MarketplaceId(id.into_inner());
    let found = ctx.db.read(move |conn| marketplace::get(conn, &id)).await?;
    Ok(Reply::ok(&MarketplaceResponse::from(&found)).version(found.version))
}

/// Replace a marketplace; credentials and secret left out are kept (admin).
#[utoipa::path(
    tag = "marketplaces",
    request_body = MarketplaceRequest,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = MarketplaceResponse))
)]
#[put("/marketplaces/{id}")]
pub async fn replace_marketplace(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    if_match: IfMatch,
    body: JsonBody<MarketplaceRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let loopback = ctx.config.marketplace.allow_insecure_loopback;
    let input = body.value?.into_input(false, &ctx.keyring, loopback)?;
    let (now, id) = (ctx.now(), MarketplaceId(id.into_inner()));
    let updated = ctx.db.write(move |conn| marketplace::update(conn, &id, input, if_match.0, now)).await?;
    Ok(Reply::ok(&MarketplaceResponse::from(&updated)).version(updated.version))
}

/// Map a SKU to its listing on the marketplace (admin).
#[utoipa::path(
    tag = "marketplaces",
    request_body = ListingRequest,
    params(("id" = String, Path), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$")),
    responses((status = 200, body = ListingResponse))
)]
#[put("/marketplaces/{id}/listings/{sku}")]
pub async fn put_listing(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
    body: JsonBody<ListingRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let request = body.value?;
    let mut v = Validator::default();
    let listing = v.check("/listing_id", text(&request.listing_id, 200));
    let seller_sku = request.seller_sku.as_deref().and_then(|s| v.check("/seller_sku", text(s, 200)));
    let Some(listing) = listing else { return Err(v.into_error()) };
    v.finish()?;
    let (id, sku) = path.into_inner();
    let now = ctx.now();
    ctx.db
        .write(move |conn| {
            let saved = marketplace::put_listing(conn, &MarketplaceId(id), &sku, &listing, seller_sku.as_deref(), now)?;
            let code =
                catalog::sku_codes(conn, std::slice::from_ref(&saved.sku_id))?.into_values().next().unwrap_or(sku);
            Ok::<_, ApiError>(Reply::ok(&ListingResponse {
                sku: code,
                listing_id: saved.listing_id,
                seller_sku: saved.seller_sku,
            }))
        })
        .await
}

/// Remove a SKU's listing (admin).
#[utoipa::path(tag = "marketplaces", params(("id" = String, Path), ("sku" = String, Path, description = "SKU code or GTIN", pattern = "^[A-Za-z0-9._-]{1,64}$")), responses((status = 200, body = ResyncResponse)))]
#[delete("/marketplaces/{id}/listings/{sku}")]
pub async fn delete_listing(
    ctx: Data<Context>,
    caller: Caller,
    path: Path<(String, String)>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let (id, sku) = path.into_inner();
    ctx.db.write(move |conn| marketplace::remove_listing(conn, &MarketplaceId(id), &sku)).await?;
    Ok(Reply::ok(&ResyncResponse { queued: 0 }))
}

/// A marketplace's listings (admin, or the marketplace's own key).
#[utoipa::path(tag = "marketplaces", params(("id" = String, Path), PageParams), responses((status = 200, body = PageResponse<ListingResponse>)))]
#[get("/marketplaces/{id}/listings")]
pub async fn list_listings(
    ctx: Data<Context>,
    caller: Caller,
    id: Path<String>,
    page: Pagination,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadListings)?;
    let id = MarketplaceId(id.into_inner());
    policy::marketplace(&caller, &id)?;
    let page = ctx.db.read(move |conn| marketplace::listings(conn, &id, &page.0)).await?;
    Ok(Reply::ok(&PageResponse::from_page(page, |(l, sku)| ListingResponse {
        sku,
        listing_id: l.listing_id,
        seller_sku: l.seller_sku,
    })))
}

/// Stock sync: pending and dead-lettered pushes and confirmations, latest attempts (admin).
#[utoipa::path(tag = "marketplaces", params(("id" = String, Path)), responses((status = 200, body = SyncResponse)))]
#[get("/marketplaces/{id}/sync")]
pub async fn sync_state(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let id = MarketplaceId(id.into_inner());
    ctx.db
        .read(move |conn| {
            let state = sync::state(conn, &id)?;
            let ids: Vec<_> = state.dead.iter().map(|d| d.sku_id.clone()).collect();
            let codes = catalog::sku_codes(conn, &ids)?;
            let response = SyncResponse::new(state, |id| codes.get(id).cloned().unwrap_or_else(|| id.to_string()));
            Ok::<_, ApiError>(Reply::ok(&response))
        })
        .await
}

/// Full resync: every listing is pushed again, dead letters included (admin).
#[utoipa::path(tag = "marketplaces", params(("id" = String, Path)), responses((status = 200, body = ResyncResponse)))]
#[post("/marketplaces/{id}/resync")]
pub async fn resync(ctx: Data<Context>, caller: Caller, id: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ManageMarketplaces)?;
    let (now, id) = (ctx.now(), MarketplaceId(id.into_inner()));
    let queued = ctx
        .db
        .write(move |conn| {
            let queued = marketplace::stock::refresh_all(conn, &id, true, now)?;
            sync::revive_outbound(conn, &id, timestamp(now))?;
            Ok::<_, ApiError>(queued)
        })
        .await?;
    Ok(Reply::ok(&ResyncResponse { queued }))
}

/// A marketplace's webhook: no API key, the signature over the raw body is the
/// authentication. Duplicates answer 200 and create nothing.
#[utoipa::path(
    tag = "marketplaces",
    security(()),
    params(("id" = String, Path)),
    request_body(content = Object, description = "The marketplace's own webhook body"),
    responses((status = 200, body = WebhookResponse))
)]
#[post("/marketplaces/{id}/webhooks")]
pub async fn receive_webhook(
    ctx: Data<Context>,
    req: HttpRequest,
    id: Path<String>,
    body: RawBody,
) -> Result<Reply, ApiError> {
    let id = MarketplaceId(id.into_inner());
    let found = ctx.db.read(move |conn| marketplace::get(conn, &id)).await?;
    let headers = Headers(
        req.headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect(),
    );
    let connector = AnyConnector::of(&found, &ctx.keyring, ctx.config.marketplace.request_timeout)?;
    let now = ctx.now();
    connector.verify(&headers, &body.0, now, ctx.config.marketplace.replay_window).map_err(|e| {
        tracing::warn!(marketplace = %found.name, error = %e, "webhook refused");
        ApiError::from(e)
    })?;
    // Only a signed delivery learns that the marketplace is deactivated.
    if !found.active {
        return Err(ApiError::gone(
            "marketplace-inactive",
            "Marketplace inactive",
            format!("marketplace '{}' is deactivated: its webhooks change nothing", found.name),
        ));
    }
    let delivery = connector.parse(&headers, &body.0)?;
    let config = ctx.config.clone();
    let marketplace = found.clone();
    let received = ctx.db.write(move |conn| webhook::receive(conn, &marketplace, delivery, &config, now)).await?;
    let (status, order) = match &received {
        Received::Created(o) => ("created", Some(o.as_ref())),
        Received::Cancelled(o) => ("cancelled", Some(o.as_ref())),
        Received::NotCancellable(o) => ("not_cancellable", Some(o.as_ref())),
        Received::Returned(o) => ("returned", Some(o.as_ref())),
        Received::Duplicate { order } => ("duplicate", order.as_deref()),
        Received::Ignored { .. } => ("ignored", None),
    };
    if matches!(received, Received::Created(_)) {
        // Every marketplace hears of the new quantities now, not at the next job pass.
        let ctx = ctx.clone();
        actix_web::rt::spawn(async move {
            if let Err(error) = sync::push_due(&ctx).await {
                tracing::warn!(%error, "stock push after a marketplace order failed; the job retries");
            }
        });
    }
    Ok(Reply::ok(&WebhookResponse {
        status,
        order: order.map(|o| o.row.id.to_string()),
        order_number: order.map(|o| o.row.number.clone()),
        order_status: order.map(|o| o.row.status.clone()),
    }))
}
