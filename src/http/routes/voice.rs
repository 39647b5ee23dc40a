//! `/v1/voice/commands`: the voice assistant's backend (storefront key of channel `voice`).

use actix_web::post;
use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::cart::{self, Editor};
use crate::context::Context;
use crate::customer;
use crate::http::auth::Caller;
use crate::http::dto::cart::CartResponse;
use crate::http::dto::order::{OrderResponse, PaymentRequest};
use crate::http::dto::{Reference, Text200, Validator, text};
use crate::http::extractors::{IdempotencyKey, JsonBody};
use crate::http::idempotency;
use crate::http::policy::Op;
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::order::Act;
use crate::voice::{self, Command, Outcome, VoiceIntent};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(command);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceCommandRequest {
    #[schema(value_type = Reference)]
    pub customer_ref: String,
    pub intent: VoiceIntent,
    /// What the customer said, e.g. "two oat milk": required by `add` and `remove`.
    #[serde(default)]
    #[schema(value_type = Option<Text200>)]
    pub phrase: Option<String>,
    /// For `checkout`: what the assistant's payment provider authorised.
    #[serde(default)]
    pub payment: Option<PaymentRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceChoice {
    pub sku: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceResponse {
    pub intent: VoiceIntent,
    /// `done`, or `ask` when the phrase fits several products.
    pub outcome: &'static str,
    /// A short sentence for the assistant to say.
    pub speech: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<VoiceChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart: Option<CartResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderResponse>,
}

/// Run a spoken intent: `add`, `remove`, `what_is_in_my_cart`, `checkout`, `where_is_my_order`.
#[utoipa::path(
    tag = "voice",
    request_body = VoiceCommandRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 1 to 255 visible ASCII characters", min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses((status = 200, body = VoiceResponse))
)]
#[post("/voice/commands")]
pub async fn command(
    ctx: Data<Context>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<VoiceCommandRequest>,
) -> Result<Reply, ApiError> {
    caller.may(Op::Voice)?;
    let request = body.value?;
    let mut v = Validator::default();
    let reference = v.check("/customer_ref", text(&request.customer_ref, 200));
    let phrase = request.phrase.as_deref().and_then(|p| v.check("/phrase", text(p, 200)));
    let payment = match &request.payment {
        Some(p) => p.validate(&mut v, "/payment").map(Some),
        None => Some(None),
    };
    let (Some(reference), Some(payment)) = (reference, payment) else { return Err(v.into_error()) };
    v.finish()?;
    let intent = request.intent;
    let (now, config) = (ctx.now(), ctx.config.clone());
    idempotency::run(&ctx, &caller.key_id.clone(), key.0, body.fingerprint, move |conn| {
        let customer = customer::get(conn, &reference)?;
        let act = Act { actor: &caller, config: &config, now };
        let outcome = voice::run(conn, Command { customer: customer.clone(), intent, phrase, payment }, &act)?;
        let e = Editor { actor: &caller, now, expected_version: None, config: &config };
        let mut response = VoiceResponse {
            intent,
            outcome: "done",
            speech: String::new(),
            choices: Vec::new(),
            cart: None,
            order: None,
        };
        match outcome {
            Outcome::Cart { cart, speech } => {
                let quote = cart::quote(conn, cart, &e)?;
                response.cart = Some(CartResponse::new(&quote, Some(customer.external_ref.clone()), None));
                response.speech = speech;
            }
            Outcome::Ask { choices, speech } => {
                response.outcome = "ask";
                response.choices =
                    choices.iter().map(|s| VoiceChoice { sku: s.code.to_string(), name: s.name.clone() }).collect();
                response.speech = speech;
            }
            Outcome::Order { order, speech } => {
                response.order = Some(super::orders::order_view(conn, &order, &caller)?);
                response.speech = speech;
            }
            Outcome::NoOrder { speech } => response.speech = speech,
        }
        Ok(Reply::ok(&response))
    })
    .await
}
