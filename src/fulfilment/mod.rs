//! Store fulfilment: pickup in store (and curbside), same-day delivery.
//!
//! `same_day` sits below `order` (checkout books slots through it); the
//! pickup flow sits above it (it moves orders through `order::advance`).

pub mod pickup;
pub mod same_day;

use chrono::{DateTime, Utc};

use crate::cart::{Cart, Intent};
use crate::catalog::{self, CatalogError};
use crate::db::schema::fulfilments;
use crate::db::{AnyConnection, DbError};
use crate::types::FulfilmentId;

/// The ready-by promise of a cart whose intent is pickup.
pub fn ready_by(
    conn: &mut AnyConnection,
    cart: &Cart,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CatalogError> {
    let Some(Intent::Pickup { location_id, .. }) = &cart.intent else { return Ok(None) };
    let location = catalog::locations_by_ids(conn, std::slice::from_ref(location_id))?;
    Ok(location.first().and_then(|l| l.pickup_ready_by(now)))
}

/// Forgets the readable pickup code once the customer's channel has shown it;
/// only its hash remains.
pub fn forget_shown_code(conn: &mut AnyConnection, fulfilment: &FulfilmentId) -> Result<(), DbError> {
    use diesel::prelude::*;
    diesel::update(fulfilments::table.find(fulfilment))
        .set(fulfilments::pickup_code_plain.eq(None::<String>))
        .execute(conn)?;
    Ok(())
}
