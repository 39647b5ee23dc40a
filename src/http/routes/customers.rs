//! `/v1/customers`: who the carts and orders belong to.

use std::sync::{Arc, OnceLock};

use actix_web::web::{Data, Path};
use actix_web::{get, post, put};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::cart;
use crate::context::Context;
use crate::customer::{self, Customer};
use crate::db::AnyConnection;
use crate::http::auth::Caller;
use crate::http::dto::cart::{CartSummary, CustomerRequest, CustomerResponse, CustomersResponse};
use crate::http::dto::{Email, Phone, utc};
use crate::http::extractors::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_customer).service(search_customers).service(get_customer).service(put_customer);
}

/// The customer with their open cart and latest orders, across channels.
pub fn customer_view(conn: &mut AnyConnection, customer: &Customer) -> Result<CustomerResponse, ApiError> {
    let open_cart = cart::open_of(conn, &customer.id)?.map(|cart| CartSummary {
        lines: cart.lines.len(),
        units: cart.lines.iter().map(|l| l.quantity).sum(),
        version: cart.version,
        updated_at: utc(cart.updated_at),
    });
    Ok(CustomerResponse::new(customer, open_cart, super::orders::recent_for(conn, &customer.id)?))
}

/// Create a customer (storefront, POS, admin).
#[utoipa::path(
    tag = "customers",
    request_body = CustomerRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 201, body = CustomerResponse))
)]
#[post("/customers")]
pub async fn create_customer(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<CustomerRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let input = body.value?.into_input(None)?;
    let now = ctx.now();
    // The customer created, to remember once its transaction has committed.
    let created = Arc::new(OnceLock::new());
    let creating = created.clone();
    let reply = idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let customer = customer::create(conn, input, now)?;
        let reply = Reply::created(&customer_view(conn, &customer)?, "/v1/customers", &customer.external_ref);
        let reply = reply.version(customer.version);
        creating.get_or_init(|| customer);
        Ok(reply)
    })
    .await?;
    if let Some(customer) = created.get() {
        customer::remember(&ctx.db, customer);
    }
    Ok(reply)
}

/// Create the customer with this reference, or replace their details.
#[utoipa::path(
    tag = "customers",
    request_body = CustomerRequest,
    params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"), ("If-Match" = Option<String>, Header, description = "The ETag last seen, e.g. `\"3\"`; a stale one answers 412. Absent, empty or `*`: any version", pattern = r#"^(|\*|(W/)?"[0-9]{1,9}")$"#)),
    responses((status = 200, body = CustomerResponse), (status = 201, body = CustomerResponse))
)]
#[put("/customers/{ref}")]
pub async fn put_customer(
    ctx: Data<Context>,
    caller: Caller,
    reference: Path<String>,
    if_match: IfMatch,
    body: JsonBody<CustomerRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ShopForCustomers)?;
    let input = body.value?.into_input(Some(&reference))?;
    let now = ctx.now();
    let (reply, customer) = ctx
        .db
        .write(move |conn| {
            let (customer, created) = customer::put(conn, input, if_match.0, now)?;
            let view = customer_view(conn, &customer)?;
            let reply =
                if created { Reply::created(&view, "/v1/customers", &customer.external_ref) } else { Reply::ok(&view) };
            Ok::<_, ApiError>((reply.version(customer.version), customer))
        })
        .await?;
    customer::remember(&ctx.db, &customer);
    Ok(reply)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearch {
    /// Give `email`, `phone` or both.
    #[param(value_type = Option<Email>)]
    pub email: Option<String>,
    #[param(value_type = Option<Phone>)]
    pub phone: Option<String>,
}

/// Find customers by email or phone (staff, POS, admin).
#[utoipa::path(tag = "customers", params(CustomerSearch), responses((status = 200, body = CustomersResponse)))]
#[get("/customers")]
pub async fn search_customers(
    ctx: Data<Context>,
    caller: Caller,
    query: QueryParams<CustomerSearch>,
) -> Result<Reply, ApiError> {
    caller.may(Op::SearchCustomers)?;
    let CustomerSearch { email, phone } = query.0;
    let email = email.map(|e| customer::normalize_email(&e).map_err(|d| ApiError::field("/email", d))).transpose()?;
    let phone = phone.map(|p| customer::normalize_phone(&p).map_err(|d| ApiError::field("/phone", d))).transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(ApiError::field("/email", "search by email or phone"));
    }
    ctx.db
        .read(move |conn| {
            let found = customer::search(conn, email.as_deref(), phone.as_deref())?;
            let items = found.iter().map(|c| customer_view(conn, c)).collect::<Result<Vec<_>, _>>()?;
            Ok(Reply::ok(&CustomersResponse { items }))
        })
        .await
}

/// A customer with their open cart and latest orders.
#[utoipa::path(tag = "customers", params(("ref" = String, Path, description = "The customer's reference in the retailer's systems", max_length = 200, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$")), responses((status = 200, body = CustomerResponse)))]
#[get("/customers/{ref}")]
pub async fn get_customer(ctx: Data<Context>, caller: Caller, reference: Path<String>) -> Result<Reply, ApiError> {
    caller.may(Op::ReadCustomers)?;
    let reference = reference.into_inner();
    ctx.db
        .read(move |conn| {
            let customer = customer::get(conn, &reference)?;
            Ok(Reply::ok(&customer_view(conn, &customer)?).version(customer.version))
        })
        .await
}
