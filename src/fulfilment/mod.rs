//! Store fulfilment: the pickup flow in store (and curbside). It moves
//! orders through `order::lifecycle`; same-day slots are booked by checkout
//! and live in `order::same_day`.

pub mod pickup;

use chrono::{DateTime, Utc};

use crate::cart::{Cart, Intent};
use crate::catalog::{self, CatalogError};
use crate::db::AnyConnection;

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
