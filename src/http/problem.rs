//! RFC 9457 problem documents: the one `ResponseError` of the service, and
//! the named constructors every answer that is not a success is made with
//! (routes never pick a status themselves). `http::errors` maps each domain
//! error onto them, once.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

/// Base of every problem `type`; the stable slug follows it.
pub const PROBLEM_BASE: &str = "https://omnistock.dev/problems/";

/// One field that failed validation, located by JSON Pointer (RFC 6901).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

/// The problem document as sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://omnistock.dev/problems/<slug>`; the slug is stable.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The slug in snake_case, for switch statements.
    pub code: String,
    /// Further members that depend on the type (`errors`, `lines`, `current`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// An error answer. Boxed: it travels through every `?` of the request path.
#[derive(Debug)]
pub struct ApiError(Box<ErrorData>);

#[derive(Debug)]
struct ErrorData {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    headers: Vec<(header::HeaderName, String)>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self(Box::new(ErrorData {
            status,
            slug,
            title,
            detail: detail.into(),
            extensions: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Adds a member to the document (never one of the standard members).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        debug_assert!(!matches!(key, "type" | "title" | "status" | "detail" | "code"), "reserved member {key}");
        self.0.extensions.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn slug(&self) -> &'static str {
        self.0.slug
    }

    /// What went wrong, as shown to the caller (a 5xx shows a generic text).
    pub fn detail(&self) -> &str {
        if self.0.status.is_server_error() { "something went wrong on our side; try again" } else { &self.0.detail }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }

    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON", detail)
    }

    /// 422 with one entry per field that is wrong.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", display_pointer(&one.pointer), one.detail),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", "Validation failed", detail)
            .with("errors", errors)
    }

    pub fn field(pointer: &str, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(pointer, detail)])
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 404 for a kind of resource with its own type (`order-not-found`, …).
    pub fn missing(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, slug, title, detail)
    }

    /// 422 for a refusal with its own type that is not about one field.
    pub fn unprocessable(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, detail)
    }

    /// 404 for a path no route serves.
    pub fn route_not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "route-not-found", "Not found", detail)
    }

    /// 405 with the methods the path does allow.
    pub fn method_not_allowed(detail: impl Into<String>, allowed: &[String]) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail)
            .with_header(header::ALLOW, allowed.join(", "))
    }

    /// 413: the body is larger than the service takes.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "the request body is larger than this service accepts",
        )
    }

    /// 415: a body that is not JSON.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type", detail)
    }

    /// 428: a write that must say which version it saw (`If-Match`).
    pub fn precondition_required(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_REQUIRED, "precondition-required", "Precondition required", detail)
    }

    /// 423: the resource is locked until someone unlocks it.
    pub fn locked(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::LOCKED, slug, title, detail)
    }

    /// 401 for a webhook whose signature does not verify.
    pub fn bad_signature(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid-signature", "Invalid signature", detail)
    }

    /// 410: the resource is gone for good.
    pub fn gone(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, slug, title, detail)
    }

    /// 503 from `/readyz`: the database does not answer.
    pub fn not_ready(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn conflict(slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, title, detail)
    }

    /// 412 carrying the resource as it is now, so the caller can merge and retry.
    pub fn stale(detail: impl Into<String>, current: impl Serialize) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "stale-version", "Precondition failed", detail)
            .with("current", current)
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "the request failed inside the service; it has been logged",
        );
        error.0.cause = Some(Box::new(cause));
        error
    }

    /// 503 with `Retry-After`: nothing was written, and a retry soon may succeed.
    pub fn unavailable(
        detail: impl Into<String>,
        retry_after: Duration,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
            .with_header(header::RETRY_AFTER, retry_after.as_secs().max(1).to_string());
        error.0.cause = Some(Box::new(cause));
        error
    }

    pub fn to_problem(&self) -> Problem {
        let e = &self.0;
        Problem {
            problem_type: format!("{PROBLEM_BASE}{}", e.slug),
            title: e.title.to_owned(),
            status: e.status.as_u16(),
            detail: e.detail.clone(),
            code: e.slug.replace('-', "_"),
            extensions: e.extensions.clone(),
        }
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "body" } else { pointer.trim_start_matches('/') }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.slug, self.0.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let e = &self.0;
        if e.status.is_server_error() {
            // The cause chain goes to the log, never to the caller.
            let mut chain = String::new();
            let mut source: Option<&(dyn std::error::Error + 'static)> = e.cause.as_deref().map(|c| c as _);
            while let Some(error) = source {
                chain.push_str(&format!(": {error}"));
                source = error.source();
            }
            tracing::error!(status = e.status.as_u16(), code = e.slug, "request failed{chain}");
        }
        let mut response = HttpResponse::build(e.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        for (name, value) in &e.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        response.body(serde_json::to_string(&self.to_problem()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_shows_no_internals() {
        let problem = ApiError::internal(std::io::Error::other("secret table detail")).to_problem();
        assert!(!problem.detail.contains("secret table detail"));
        assert_eq!(problem.status, 500);
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let error = ApiError::unavailable("later", Duration::from_secs(2), std::io::Error::other("down"));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = error.error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
    }
}
