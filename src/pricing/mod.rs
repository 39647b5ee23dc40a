//! Pricing: promotions, tax and rounding, the same for carts, orders and
//! marketplace orders. The arithmetic is a pure function ([`calc::price`]);
//! this module fetches what it needs (live promotions, the tax rate) and
//! owns the `promotions` and `tax_rates` tables.

pub mod calc;
pub mod promotion;
mod repo;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

pub use calc::{Discount, Offer, PriceLine, Priced, allocate};
pub use promotion::{Promotion, PromotionInput};

use crate::access::Channel;
use crate::db::{AnyConnection, DbError};
use crate::types::{Currency, Page, PageRequest, PromotionId};

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("no promotion '{0}'")]
    PromotionNotFound(String),
    #[error("promotion code '{0}' is already taken")]
    PromotionCodeTaken(String),
    #[error("promotion '{}' has changed since version {seen}", .current.id)]
    PromotionStale { seen: i32, current: Box<Promotion> },
    #[error("promotion code '{code}' {reason}")]
    PromotionInvalid { code: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(PricingError);

/// How lines are priced: in which currency, with which code, for which tax
/// region, as which channel sees them, when.
pub struct Pricing<'a> {
    pub currency: Currency,
    pub code: Option<&'a str>,
    pub tax_region: Option<&'a str>,
    pub channel: Channel,
    pub now: DateTime<Utc>,
    pub include_tax: bool,
}

/// Prices lines with the promotions usable now in the channel and the tax
/// rate of the region; returns the priced lines and the rate in percent.
pub fn price_lines(
    conn: &mut AnyConnection,
    lines: &[PriceLine],
    p: &Pricing<'_>,
) -> Result<(Priced, Decimal), PricingError> {
    let rate = match p.tax_region {
        Some(region) => repo::tax_rate(conn, region)?,
        None => Decimal::ZERO,
    };
    let offers = offers(conn, p.code, p.channel, p.now)?;
    Ok((calc::price(p.currency, lines, &offers, rate / Decimal::ONE_HUNDRED, p.include_tax), rate))
}

/// The offers of a cart priced through `channel` now: every usable automatic
/// promotion, and the cart's code if it is usable.
fn offers(
    conn: &mut AnyConnection,
    code: Option<&str>,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, PricingError> {
    let live = repo::live_promotions(conn, code, now)?;
    Ok(live.iter().filter(|p| p.unusable(channel, now).is_none()).map(Promotion::offer).collect())
}

fn code_taken(input: &PromotionInput, error: DbError) -> PricingError {
    match error {
        DbError::Unique(_) => PricingError::PromotionCodeTaken(input.code.clone().unwrap_or_default()),
        other => other.into(),
    }
}

pub fn create_promotion(
    conn: &mut AnyConnection,
    input: PromotionInput,
    now: DateTime<Utc>,
) -> Result<Promotion, PricingError> {
    let id = PromotionId::generate();
    repo::insert_promotion(conn, &id, &input, now).map_err(|e| code_taken(&input, e))?;
    get_promotion(conn, &id)
}

/// Replaces a promotion; with `expected_version`, one changed since is refused.
pub fn update_promotion(
    conn: &mut AnyConnection,
    id: &PromotionId,
    input: PromotionInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Promotion, PricingError> {
    let current = get_promotion(conn, id)?;
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(PricingError::PromotionStale { seen, current: Box::new(current) });
    }
    if !repo::replace_promotion(conn, id, current.version, &input, now).map_err(|e| code_taken(&input, e))? {
        let now_is = get_promotion(conn, id)?;
        return Err(PricingError::PromotionStale { seen: current.version, current: Box::new(now_is) });
    }
    get_promotion(conn, id)
}

pub fn get_promotion(conn: &mut AnyConnection, id: &PromotionId) -> Result<Promotion, PricingError> {
    repo::find_promotion(conn, id)?.ok_or_else(|| PricingError::PromotionNotFound(id.to_string()))
}

pub fn list_promotions(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<Promotion>, PricingError> {
    let rows = repo::promotions_page(conn, page.after.as_deref(), page.limit + 1)?;
    Ok(Page::from_rows(rows, page.limit, |p| p.id.to_string()))
}

/// The code's promotion if it can be used now through `channel`; else why not.
pub fn usable_code(
    conn: &mut AnyConnection,
    code: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Promotion, PricingError> {
    let promotion = repo::promotion_by_code(conn, &code.trim().to_uppercase())?
        .ok_or_else(|| PricingError::PromotionInvalid { code: code.to_owned(), reason: "does not exist".into() })?;
    match promotion.unusable(channel, now) {
        Some(reason) => Err(PricingError::PromotionInvalid { code: code.to_owned(), reason }),
        None => Ok(promotion),
    }
}

/// Sets the tax rate of a region, in percent.
pub fn set_tax_rate(
    conn: &mut AnyConnection,
    region: &str,
    percent: Decimal,
    now: DateTime<Utc>,
) -> Result<(), PricingError> {
    Ok(repo::set_tax_rate(conn, region, percent, now)?)
}

/// Every region's tax rate in percent, by region.
pub fn tax_rates(conn: &mut AnyConnection) -> Result<Vec<(String, Decimal)>, PricingError> {
    Ok(repo::tax_rates(conn)?)
}
