//! Idempotent writes. The key is claimed, the operation runs, and its answer
//! is stored, all in one transaction: a retry replays the stored answer, and a
//! concurrent retry waits on the claim (PostgreSQL: the unique index; SQLite:
//! the write lock) and then replays, so the operation never runs twice.
//!
//! Only successful answers are stored. A request that failed wrote nothing,
//! so retrying it with the same key runs it afresh.

use actix_web::http::StatusCode;

use super::problem::ApiError;
use super::reply::Reply;
use crate::context::Context;
use crate::db::idempotency::{self, StoredAnswer};
use crate::db::{AnyConnection, timestamp};
use crate::types::ApiKeyId;

/// Runs `op` in a write transaction, exactly once per (caller, key).
pub async fn run<F>(
    ctx: &Context,
    caller: &ApiKeyId,
    key: Option<String>,
    fingerprint: String,
    op: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<Reply, ApiError> + Send + 'static,
{
    let Some(key) = key else { return ctx.db.write(op).await };
    let mut answer = StoredAnswer {
        caller_id: caller.to_string(),
        idempotency_key: key,
        request_hash: fingerprint,
        response_status: 0,
        response_body: String::new(),
        response_etag: None,
        response_location: None,
        created_at: timestamp(ctx.now()),
    };
    ctx.db
        .write(move |conn| {
            if !idempotency::claim(conn, &answer)? {
                return replay(conn, &answer);
            }
            let reply = op(conn)?;
            answer.response_status = i32::from(reply.status.as_u16());
            answer.response_body.clone_from(&reply.body);
            answer.response_etag.clone_from(&reply.etag);
            answer.response_location.clone_from(&reply.location);
            idempotency::complete(conn, &answer)?;
            Ok(reply)
        })
        .await
}

fn replay(conn: &mut AnyConnection, request: &StoredAnswer) -> Result<Reply, ApiError> {
    let stored = idempotency::load(conn, &request.caller_id, &request.idempotency_key)?;
    if stored.request_hash != request.request_hash {
        return Err(ApiError::unprocessable(
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was already used for a different request; use a new key for a new request",
        ));
    }
    Ok(Reply {
        status: StatusCode::from_u16(stored.response_status as u16).unwrap_or(StatusCode::OK),
        body: stored.response_body,
        etag: stored.response_etag,
        location: stored.response_location,
        replayed: true,
    })
}
