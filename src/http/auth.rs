//! `Authorization: Bearer <key>` → the calling [`Principal`], and role checks.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};

use super::problem::ApiError;
use crate::access::{self, AccessError, Principal};
use crate::context::Context;

/// The authenticated caller of this request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// Recently seen keys, so that a read-heavy client does not cost a key lookup
/// per request. A revoked key stops working within the TTL.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, secret: &str) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(secret).filter(|(_, at)| at.elapsed() < self.ttl).map(|(p, _)| p.clone())
    }

    fn put(&self, secret: &str, principal: &Principal) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Unknown secrets are never cached, so the map only holds real keys.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        entries.insert(secret.to_owned(), (principal.clone(), Instant::now()));
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let secret = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|v| v.trim().to_owned());
        let ctx = req.app_data::<Data<Context>>().cloned();
        let cache = req.app_data::<Data<KeyCache>>().cloned();
        Box::pin(async move {
            let secret = secret
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::unauthorized("send an API key as 'Authorization: Bearer <key>'"))?;
            let (Some(ctx), Some(cache)) = (ctx, cache) else {
                return Err(ApiError::internal(AccessError::Invalid("authentication is not configured".into())));
            };
            if let Some(principal) = cache.get(&secret) {
                return Ok(Caller(principal));
            }
            let lookup = secret.clone();
            let principal = ctx
                .db
                .read(move |conn| access::authenticate(conn, &lookup))
                .await?
                .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?;
            cache.put(&secret, &principal);
            Ok(Caller(principal))
        })
    }
}
