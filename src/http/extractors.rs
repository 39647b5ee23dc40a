//! Request extractors that turn headers, query strings and bodies into
//! validated values, answering with problem documents when they cannot.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, IF_MATCH};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use super::problem::ApiError;
use crate::secret::sha256_hex;
use crate::types::PageRequest;

/// A JSON body parsed into `T`, with a fingerprint of the request (method,
/// path and canonical body) for idempotent replays. A body that does not
/// parse is not refused here but when the handler takes `value`, after it
/// has checked the caller's role: a caller without the role learns nothing
/// about what the endpoint expects.
pub struct JsonBody<T> {
    pub value: Result<T, ApiError>,
    pub fingerprint: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = RawBody::from_request(req, payload);
        let target = request_target(req);
        Box::pin(async move {
            let bytes = body.await?.0;
            Ok(match parse_json(&bytes, &target) {
                Ok(parsed) => parsed,
                Err(error) => JsonBody { value: Err(error), fingerprint: String::new() },
            })
        })
    }
}

/// The request body as sent (for signatures), within the size limit.
pub struct RawBody(pub Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Bytes::from_request(req, payload);
        Box::pin(async move {
            body.await.map(RawBody).map_err(|error| match error.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::payload_too_large(),
                _ => ApiError::bad_request(format!("the request body could not be read: {error}")),
            })
        })
    }
}

fn request_target(req: &HttpRequest) -> String {
    format!("{} {}", req.method(), req.path())
}

/// Parses `bytes` as JSON into `T`: syntax errors are 400, shape errors 422
/// with a JSON Pointer to the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], target: &str) -> Result<JsonBody<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_json("the request body is empty; send a JSON object"));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed_json(format!("the body is not valid JSON: {e}")))?;
    // serde_json's Map is ordered by key, so equal documents print equally.
    let fingerprint = sha256_hex(format!("{target}\n{value}").as_bytes());
    let value = serde_path_to_error::deserialize(value).map_err(|error| {
        let pointer = json_pointer(error.path());
        ApiError::field(&pointer, error.into_inner().to_string())
    });
    Ok(JsonBody { value, fingerprint })
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// The fingerprint of a request without a body.
pub fn bodiless_fingerprint(req: &HttpRequest) -> String {
    sha256_hex(request_target(req).as_bytes())
}

/// `If-Match: "7"`: the version the caller last saw. Absent or `*` means "any".
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl IfMatch {
    pub fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(raw) = headers.get(IF_MATCH) else { return Ok(Self(None)) };
        let raw = raw.to_str().unwrap_or_default().trim();
        if raw == "*" {
            return Ok(Self(None));
        }
        raw.trim_start_matches("W/").trim_matches('"').parse::<i32>().map(|v| Self(Some(v))).map_err(|_| {
            ApiError::bad_request(format!("If-Match '{raw}' is not an ETag this service issued (like \"3\")"))
        })
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.headers()))
    }
}

/// The `ETag` value for a version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// `Idempotency-Key`: up to 255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get("idempotency-key") {
            None => Ok(Self(None)),
            Some(raw) => match raw.to_str() {
                Ok(key) if !key.trim().is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic()) => {
                    Ok(Self(Some(key.to_owned())))
                }
                _ => Err(ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")),
            },
        };
        ready(parsed)
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The page a list request asks for.
pub struct Pagination(pub PageRequest);

impl FromRequest for Pagination {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

impl Pagination {
    fn parse(query: &str) -> Result<Self, ApiError> {
        let params: PageParams = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        let limit = params.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::field("/limit", "must be 1 to 200"));
        }
        let after = params
            .cursor
            .map(|cursor| {
                URL_SAFE_NO_PAD
                    .decode(cursor.as_bytes())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::field("/cursor", "is not a cursor this service issued"))
            })
            .transpose()?;
        Ok(Self(PageRequest { limit, after }))
    }
}

/// The opaque cursor that continues after `id`.
pub fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}
