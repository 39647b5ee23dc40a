//! `/v1/events`: the outbox for pull consumers.

use std::collections::HashMap;

use actix_web::get;
use actix_web::web::Data;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::catalog;
use crate::context::Context;
use crate::events::{self, EventFilter};
use crate::http::auth::Caller;
use crate::http::dto::inventory::{EventResponse, EventsResponse};
use crate::http::dto::utc;
use crate::http::extractors::{QueryParams, decode_cursor, encode_cursor};
use crate::http::policy::{self, Op};
use crate::http::problem::ApiError;
use crate::http::reply::Reply;
use crate::types::{LocationId, SkuId};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_events);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// The last `seq` seen (0 to start); or pass `cursor` instead.
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
    /// `next_cursor` of the previous page (the same as `after=<last_seq>`).
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// A topic (`stock.changed`) or a family (`stock`, `order`, `pickup`).
    pub topic: Option<String>,
    /// Location code.
    pub location: Option<String>,
}

/// Events in commit order after `after`. A consumer that resumes from the last
/// `seq` it saw misses nothing; `id` de-duplicates (admin, staff, storefront).
#[utoipa::path(tag = "events", params(EventsQuery), responses((status = 200, body = EventsResponse)))]
#[get("/events")]
pub async fn list_events(
    ctx: Data<Context>,
    caller: Caller,
    query: QueryParams<EventsQuery>,
) -> Result<Reply, ApiError> {
    caller.may(Op::ReadEvents)?;
    let query = query.0;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("/limit", "must be 1 to 1000"));
    }
    if query.after < 0 {
        return Err(ApiError::field("/after", "must be a seq, 0 or more"));
    }
    let after = match query.cursor.as_deref().map(decode_cursor).transpose()? {
        Some(seq) => {
            seq.parse::<i64>().map_err(|_| ApiError::field("/cursor", "is not a cursor this service issued"))?
        }
        None => query.after,
    };
    // Put whatever has committed in order first, so a reader is never behind the job.
    ctx.db.write(events::sequence_pending).await?;
    ctx.db
        .read(move |conn| {
            let asked = query.location.as_deref().map(|code| catalog::get_location(conn, code)).transpose()?;
            let location_id = policy::scope_location(&caller, asked.as_ref())?;
            let filter = EventFilter { after, limit, topic: query.topic, location_id, order_id: None };
            let found = events::list(conn, &filter)?;
            let sku_ids: Vec<SkuId> = found.iter().filter_map(|e| e.sku_id.clone()).collect();
            let location_ids: Vec<LocationId> = found.iter().filter_map(|e| e.location_id.clone()).collect();
            let skus: HashMap<SkuId, String> =
                catalog::skus_by_ids(conn, &sku_ids)?.into_iter().map(|s| (s.id, s.code.into_string())).collect();
            let locations: HashMap<LocationId, String> = catalog::locations_by_ids(conn, &location_ids)?
                .into_iter()
                .map(|l| (l.id, l.code.into_string()))
                .collect();
            let last_seq = found.last().and_then(|e| e.seq).unwrap_or(after);
            // A full page may have more behind it; a short one is the end for now.
            let next_cursor = (found.len() as i64 == limit).then(|| encode_cursor(&last_seq.to_string()));
            let items = found
                .into_iter()
                .map(|e| EventResponse {
                    id: e.id,
                    seq: e.seq.unwrap_or_default(),
                    topic: e.topic,
                    sku: e.sku_id.and_then(|id| skus.get(&id).cloned()),
                    location: e.location_id.and_then(|id| locations.get(&id).cloned()),
                    order: e.order_id.map(|o| o.to_string()),
                    data: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
                    created_at: utc(e.created_at),
                })
                .collect();
            Ok::<_, ApiError>(Reply::ok(&EventsResponse { items, next_cursor, last_seq }))
        })
        .await
}
