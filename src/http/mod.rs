//! The HTTP layer: wire shapes, authentication, problem documents, and the
//! actix-web app. Domains never see any of it.

pub mod auth;
mod contract;
pub mod dto;
pub mod errors;
pub mod extractors;
pub mod idempotency;
pub mod metrics;
pub mod policy;
pub mod problem;
mod reference;
pub mod reply;
pub mod routes;
mod staff;

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::web::{self, Data};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, ResponseError};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, ResponseBuilder};
use utoipa_actix_web::{AppExt, scope};

use crate::context::Context;
use crate::inventory::HoldCombiner;
use auth::KeyCache;
use metrics::Metrics;
use problem::ApiError;

/// How long an authenticated key is trusted before it is looked up again.
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Starts the HTTP server on `listener` with `workers` worker threads.
pub fn serve(listener: TcpListener, ctx: Context) -> std::io::Result<Server> {
    let metrics = Data::new(Metrics::default());
    let keys = Data::new(KeyCache::new(KEY_CACHE_TTL));
    // One for the instance: holds of a level combine across its workers.
    let holds = Data::new(HoldCombiner::default());
    let config = ctx.config.clone();
    let ctx = Data::new(ctx);
    let server = HttpServer::new(move || app(ctx.clone(), metrics.clone(), keys.clone(), holds.clone()))
        .workers(config.workers)
        // A blocking thread beyond the pool's connections would only wait for
        // one, holding its own stack and malloc arena meanwhile.
        .worker_max_blocking_threads((config.pool.size as usize).div_ceil(config.workers).max(1))
        .shutdown_timeout(config.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
    Ok(server)
}

fn app(
    ctx: Data<Context>,
    metrics: Data<Metrics>,
    keys: Data<KeyCache>,
    holds: Data<HoldCombiner>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = ctx.config.max_body_bytes;
    let (app, _) = App::new()
        .app_data(ctx)
        .app_data(metrics)
        .app_data(keys)
        .app_data(holds)
        .app_data(web::PayloadConfig::new(max_body))
        .app_data(
            web::PathConfig::default()
                .error_handler(|error, _| ApiError::bad_request(format!("invalid path: {error}")).into()),
        )
        .wrap(from_fn(metrics::record))
        .wrap(from_fn(request_id_header))
        .wrap(TracingLogger::default())
        .into_utoipa_app()
        .service(routes::health::healthz)
        .service(routes::health::readyz)
        .service(routes::health::metrics)
        .service(scope("/v1").configure(routes::configure_v1))
        .split_for_parts();
    app.route("/openapi.json", web::get().to(openapi_json))
        .route("/", web::get().to(reference::page))
        .route("/reference/{file}", web::get().to(reference::asset))
        .configure(staff::configure)
        .default_service(web::to(fallback))
}

/// Echoes the request id of the tracing span as `X-Request-Id`, so a caller
/// can quote it and operators can find every log line of that request.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut response = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(openapi_document())
}

/// Unknown routes: 405 with `Allow` when the path exists for other methods, else 404.
async fn fallback(req: HttpRequest) -> HttpResponse {
    let allowed = allowed_methods(req.path());
    if allowed.is_empty() {
        ApiError::route_not_found(format!("there is no route {} {}; see /openapi.json", req.method(), req.path()))
    } else {
        let detail = format!("{} is not allowed on {}; use {}", req.method(), req.path(), allowed.join(", "));
        ApiError::method_not_allowed(detail, &allowed)
    }
    .error_response()
}

/// The methods the contract offers on `path`.
fn allowed_methods(path: &str) -> Vec<String> {
    static TABLE: OnceLock<Vec<(ResourceDef, Vec<String>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table: Vec<(ResourceDef, Vec<String>)> = openapi()
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allowed = methods.iter().filter(|(_, on)| *on).map(|(m, _)| m.to_string()).collect();
                (ResourceDef::new(pattern.as_str()), allowed)
            })
            .collect();
        for served in ["/openapi.json", "/", "/reference/{file}"] {
            table.push((ResourceDef::new(served), vec!["GET".to_owned()]));
        }
        table
    });
    // The most specific templates answer: `/stock/receipts` is not also `/stock/{sku}`.
    let matching: Vec<&(ResourceDef, Vec<String>)> = table.iter().filter(|(def, _)| def.is_match(path)).collect();
    let params = |def: &ResourceDef| def.pattern().map(|p| p.matches('{').count()).unwrap_or(0);
    let fewest = matching.iter().map(|(def, _)| params(def)).min().unwrap_or(0);
    matching.into_iter().filter(|(def, _)| params(def) == fewest).flat_map(|(_, methods)| methods.clone()).collect()
}

/// The OpenAPI 3.1 document, generated from the handlers' annotations.
pub fn openapi() -> OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .service(routes::health::healthz)
        .service(routes::health::readyz)
        .service(routes::health::metrics)
        .service(scope("/v1").configure(routes::configure_v1))
        .split_for_parts();
    api.info.title = "omnistock".to_owned();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api.info.description = Some(
        "One order and inventory service for every channel. Errors are RFC 9457 problem documents; \
         money is a decimal string with an ISO 4217 currency; times are RFC 3339 UTC."
            .to_owned(),
    );
    api.info.license = None;
    api.info.contact = None;
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("osk_…").build()),
    );
    let name = <problem::Problem as utoipa::ToSchema>::name().into_owned();
    components.schemas.insert(name.clone(), <problem::Problem as utoipa::PartialSchema>::schema());
    api.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new())]);
    let problem = ResponseBuilder::new()
        .description("A problem document (RFC 9457)")
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name)))).build(),
        )
        .build();
    for item in api.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            operation.responses.responses.entry("default".to_owned()).or_insert_with(|| RefOr::T(problem.clone()));
        }
    }
    api
}

/// The document as served and as checked in at `api-spec/openapi.json`.
pub fn openapi_document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = serde_json::to_value(openapi()).unwrap_or_default();
        contract::refine(&mut document);
        serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
    })
}
