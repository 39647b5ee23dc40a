//! `/v1/availability`: what can be promised, where, and why.

use actix_web::web::Data;
use actix_web::{HttpRequest, get};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::context::Context;
use crate::http::auth::Caller;
use crate::http::dto::CodeText;
use crate::http::dto::inventory::{AvailabilityResponse, ExplainResponse, MarketplaceShare};
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::inventory;
use crate::types::GeoPoint;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_availability).service(explain);
}

/// `?sku=A&sku=B&lat=&lon=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// SKU code or GTIN; repeat for several (1 to 50).
    #[param(value_type = Vec<CodeText>, min_items = 1, max_items = 50)]
    pub sku: Vec<String>,
    /// Only with `lon`: also list pickup locations nearest this point.
    #[param(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// Only with `lat`.
    #[param(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
}

fn parse_availability_query(req: &HttpRequest) -> Result<AvailabilityQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
    let mut query = AvailabilityQuery { sku: Vec::new(), lat: None, lon: None };
    let number = |name: &str, raw: &str| {
        raw.parse::<f64>().map_err(|_| ApiError::field(&format!("/{name}"), format!("'{raw}' is not a number")))
    };
    for (name, value) in pairs {
        match name.as_str() {
            "sku" => query.sku.push(value),
            "lat" => query.lat = Some(number("lat", &value)?),
            "lon" => query.lon = Some(number("lon", &value)?),
            _ => {}
        }
    }
    if query.sku.is_empty() || query.sku.len() > 50 {
        return Err(ApiError::field("/sku", "give 1 to 50 sku parameters"));
    }
    Ok(query)
}

/// Available to promise per location, across the ship-enabled network, and for
/// pickup near a point (any key).
#[utoipa::path(tag = "availability", params(AvailabilityQuery), responses((status = 200, body = AvailabilityResponse)))]
#[get("/availability")]
pub async fn get_availability(ctx: Data<Context>, caller: Caller, req: HttpRequest) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCatalog)?;
    let query = parse_availability_query(&req)?;
    let near = match (query.lat, query.lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint::new(lat, lon).map_err(|e| ApiError::field("/lat", e))?),
        (None, None) => None,
        _ => return Err(ApiError::field("/lat", "lat and lon go together")),
    };
    let availability = ctx.db.read_optimistic(move |conn| inventory::availability(conn, &query.sku, near)).await?;
    Ok(Reply::ok(&AvailabilityResponse::from(availability)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// SKU code or GTIN.
    #[param(value_type = CodeText)]
    pub sku: String,
    /// Location code.
    #[param(value_type = CodeText)]
    pub location: String,
}

/// Why the available quantity of a SKU at a location is what it is (admin, staff, POS).
#[utoipa::path(tag = "availability", params(ExplainQuery), responses((status = 200, body = ExplainResponse)))]
#[get("/availability/explain")]
pub async fn explain(ctx: Data<Context>, caller: Caller, req: HttpRequest) -> Result<Reply, ApiError> {
    caller.may(Op::ExplainStock)?;
    let ExplainQuery { sku, location } = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
    ctx.db
        .read(move |conn| {
            let sku = crate::catalog::get_sku(conn, &sku)?;
            let location = crate::catalog::get_location(conn, &location)?;
            let explanation = inventory::explain(conn, &inventory::Item::of(&sku), &location.id)?;
            let shares = crate::marketplace::stock::shares_of(conn, &sku)?
                .into_iter()
                .map(|s| MarketplaceShare {
                    marketplace: s.marketplace,
                    share_percent: s.share_percent,
                    buffer_units: s.buffer_units,
                    quantity: s.quantity,
                })
                .collect();
            Ok::<_, ApiError>(Reply::ok(&ExplainResponse::new(
                &explanation,
                sku.code.as_str(),
                location.code.as_str(),
                shares,
            )))
        })
        .await
}
