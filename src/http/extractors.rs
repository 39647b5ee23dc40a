//! Request extractors that turn headers, query strings and bodies into
//! validated values, answering with problem documents when they cannot.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, IF_MATCH};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
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
        let media = json_media_type(req);
        Box::pin(async move {
            let bytes = body.await?.0;
            if !bytes.is_empty() {
                media?;
            }
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

/// Refuses a body declared as anything but JSON (`application/json` or a
/// `+json` type), or not declared at all: a form or text body is never
/// guessed at.
fn json_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    let declared = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = declared.map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => Ok(()),
        Some(other) => Err(ApiError::unsupported_media_type(format!(
            "the body is declared as '{other}'; send JSON with Content-Type: application/json"
        ))),
        None => Err(ApiError::unsupported_media_type(
            "the body has no Content-Type; send JSON with Content-Type: application/json",
        )),
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
    let mut value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed_json(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        // serde would read a struct from an array too; the contract says object.
        return Err(ApiError::field("", "the body must be a JSON object"));
    }
    whole_numbers_as_integers(&mut value);
    // serde_json's Map is ordered by key, so equal documents print equally.
    let fingerprint = sha256_hex(format!("{target}\n{value}").as_bytes());
    let value = serde_path_to_error::deserialize(value).map_err(|error| {
        let pointer = json_pointer(error.path());
        ApiError::field(&pointer, error.into_inner().to_string())
    });
    Ok(JsonBody { value, fingerprint })
}

/// JSON does not tell `3` from `3.0`, and JSON Schema calls both an
/// integer: a whole number written with a fraction is read as the integer.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it a float is no exact integer
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
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

/// A typed query string: a value of the wrong type, or not one of an enum's
/// values, is a 422 naming the parameter (as a body field would be).
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        ready(serde_path_to_error::deserialize(pairs).map(Self).map_err(|error| {
            let pointer = json_pointer(error.path());
            ApiError::field(&pointer, error.into_inner().to_string())
        }))
    }
}

/// The fingerprint of a request without a body.
pub fn bodiless_fingerprint(req: &HttpRequest) -> String {
    sha256_hex(request_target(req).as_bytes())
}

/// `If-Match: "7"`: the version the caller last saw. Absent or `*` means "any".
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl IfMatch {
    /// `*`, `"N"` or `W/"N"`, as the contract's pattern says; anything else
    /// is a 400 naming what was sent.
    pub fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(raw) = headers.get(IF_MATCH) else { return Ok(Self(None)) };
        let raw = raw
            .to_str()
            .map_err(|_| ApiError::bad_request("If-Match must be an ETag this service issued (like \"3\")"))?
            .trim();
        // An empty header names no version, like no header at all.
        if raw == "*" || raw.is_empty() {
            return Ok(Self(None));
        }
        let digits = raw.strip_prefix("W/").unwrap_or(raw).strip_prefix('"').and_then(|r| r.strip_suffix('"'));
        digits
            .filter(|d| (1..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<i32>().ok())
            .map(|v| Self(Some(v)))
            .ok_or_else(|| {
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
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
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
        let after = params.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(Self(PageRequest { limit, after }))
    }
}

/// What a cursor this service issued continues after: the key of the last
/// item seen. Any key of the right form is a valid place to continue from.
pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    if (1..=100).contains(&cursor.len()) && cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(cursor.to_owned())
    } else {
        Err(ApiError::field("/cursor", "is not a cursor this service issued"))
    }
}

/// The cursor that continues after `id`.
pub fn encode_cursor(id: &str) -> String {
    id.to_owned()
}
