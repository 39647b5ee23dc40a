//! Store fulfilment: pickup in store (and curbside), same-day delivery.

pub mod hours;

use chrono::{DateTime, Utc};

use crate::cart::{Cart, Intent};
use crate::catalog::{self, CatalogError, Location};
use crate::db::AnyConnection;

/// When a pickup order placed `now` at `location` will be ready: its
/// preparation time counted in its opening hours, in its own time zone.
pub fn pickup_ready_by(location: &Location, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    hours::after_open_minutes(
        &location.opening_hours,
        location.time_zone.0,
        now,
        location.capabilities.pickup_preparation_minutes,
    )
}

/// The ready-by promise of a cart whose intent is pickup.
pub fn ready_by(
    conn: &mut AnyConnection,
    cart: &Cart,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CatalogError> {
    let Some(Intent::Pickup { location_id, .. }) = &cart.intent else { return Ok(None) };
    let location = catalog::locations_by_ids(conn, std::slice::from_ref(location_id))?;
    Ok(location.first().and_then(|l| pickup_ready_by(l, now)))
}
