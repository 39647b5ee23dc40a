//! `/v1/orders`.

use crate::db::AnyConnection;
use crate::http::dto::cart::OrderSummary;
use crate::http::problem::ApiError;
use crate::types::CustomerId;

/// A customer's latest orders.
pub fn recent_for(_conn: &mut AnyConnection, _customer: &CustomerId) -> Result<Vec<OrderSummary>, ApiError> {
    Ok(Vec::new())
}
