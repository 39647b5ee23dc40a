//! Successful responses: a status, a JSON body, and the headers that make
//! resources versioned (ETag) and addressable (Location).

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use actix_web::{HttpRequest, HttpResponse, Responder};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use super::extractors::etag;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
    /// Set when the body is a stored answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

impl Reply {
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        Self {
            status,
            body: serde_json::to_string(body).unwrap_or_default(),
            etag: None,
            location: None,
            replayed: false,
        }
    }

    pub fn ok(body: &impl Serialize) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// 201 with `Location: <collection>/<id>`, the id percent-encoded as one
    /// segment: an identifier with spaces, slashes or non-ASCII letters still
    /// makes a valid header that leads back to it.
    pub fn created(body: &impl Serialize, collection: &str, id: &str) -> Self {
        let location = format!("{collection}/{}", utf8_percent_encode(id, PATH_SEGMENT));
        Self { location: Some(location), ..Self::json(StatusCode::CREATED, body) }
    }

    pub fn version(mut self, version: i32) -> Self {
        self.etag = Some(etag(version));
        self
    }
}

/// What a path segment keeps as is: unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((CONTENT_TYPE, "application/json"));
        if let Some(etag) = self.etag {
            response.insert_header((ETAG, etag));
        }
        if let Some(location) = self.location {
            response.insert_header((LOCATION, location));
        }
        if self.replayed {
            response.insert_header(("idempotent-replayed", "true"));
        }
        response.body(self.body)
    }
}
