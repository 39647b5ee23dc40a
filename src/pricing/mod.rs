//! Pricing: promotions, tax and rounding, the same for carts, orders and
//! marketplace orders. The arithmetic is a pure function ([`calc::price`]);
//! this module fetches what it needs (live promotions, the tax rate) and
//! owns the `promotions` and `tax_rates` tables.

pub mod calc;
pub mod promotion;
mod repo;
pub mod tax;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

pub use calc::{Discount, Offer, PriceLine, Priced, allocate};
pub use promotion::{Promotion, PromotionInput};

use crate::access::Channel;
use crate::db::{AnyConnection, DbError};
use crate::types::{Currency, Money, Page, PageRequest, PromotionId, SkuId};

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
    #[error(
        "no tax rate is set for {class} goods in {region}: set one (an explicit 0 if there is no tax) before selling there"
    )]
    NoTaxRate { region: String, class: String },
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

/// A line to price: what its units cost before promotions and tax, and the
/// tax class of its SKU.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub sku_id: SkuId,
    pub quantity: i32,
    pub gross: Money,
    pub tax_class: &'a str,
}

impl<'a> Line<'a> {
    /// `quantity` units at a unit price (a catalog price).
    pub fn at_unit(sku_id: SkuId, quantity: i32, unit: Money, tax_class: &'a str) -> Self {
        Self { sku_id, quantity, gross: Money::new(unit.minor * i64::from(quantity), unit.currency), tax_class }
    }
}

/// Priced lines, each with its tax rate in percent (None: no rate is set for
/// its class where it goes; priced as zero), and what is missing.
#[derive(Debug, Clone)]
pub struct Taxed {
    pub priced: Priced,
    pub rates: Vec<Option<Decimal>>,
    /// (region, class) without a rate.
    pub missing: Vec<(String, String)>,
}

impl Taxed {
    /// Refuses when a line has no applicable rate: nothing is sold untaxed by accident.
    pub fn require_rates(self) -> Result<Priced, PricingError> {
        match self.missing.into_iter().next() {
            Some((region, class)) => Err(PricingError::NoTaxRate { region, class }),
            None => Ok(self.priced),
        }
    }
}

/// Prices lines with the promotions usable now in the channel and each
/// line's tax rate where it goes (none without a region: untaxed).
pub fn price_lines(conn: &mut AnyConnection, lines: &[Line<'_>], p: &Pricing<'_>) -> Result<Taxed, PricingError> {
    let (rates, missing) = match p.tax_region {
        Some(region) => {
            let known = repo::tax_rates_in(conn, &tax::lookup_order(region))?;
            let rates: Vec<Option<Decimal>> =
                lines.iter().map(|l| tax::rate_for(&known, region, l.tax_class)).collect();
            let mut missing: Vec<(String, String)> = lines
                .iter()
                .zip(&rates)
                .filter(|(_, rate)| rate.is_none())
                .map(|(l, _)| (region.to_owned(), l.tax_class.to_owned()))
                .collect();
            missing.dedup();
            (rates, missing)
        }
        None => (vec![Some(Decimal::ZERO); lines.len()], Vec::new()),
    };
    let priced_lines: Vec<PriceLine> = lines
        .iter()
        .zip(&rates)
        .map(|(l, rate)| PriceLine {
            sku_id: l.sku_id.clone(),
            quantity: l.quantity,
            gross: l.gross,
            tax_rate: rate.unwrap_or_default() / Decimal::ONE_HUNDRED,
        })
        .collect();
    let offers = offers(conn, p.code, p.channel, p.now)?;
    Ok(Taxed { priced: calc::price(p.currency, &priced_lines, &offers, p.include_tax), rates, missing })
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

/// The promotion with this code, usable or not.
pub fn find_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Promotion>, PricingError> {
    Ok(repo::promotion_by_code(conn, &code.trim().to_uppercase())?)
}

/// The class most goods are in.
pub const STANDARD: &str = "standard";

/// The rate of `class` in `region` in percent (a subdivision's, else its
/// country's); None when none is set.
pub fn rate_of(conn: &mut AnyConnection, region: &str, class: &str) -> Result<Option<Decimal>, PricingError> {
    let known = repo::tax_rates_in(conn, &tax::lookup_order(region))?;
    Ok(tax::rate_for(&known, region, class))
}

/// The code's promotion if it can be used now through `channel`; else why not.
pub fn usable_code(
    conn: &mut AnyConnection,
    code: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Promotion, PricingError> {
    let promotion = find_code(conn, code)?
        .ok_or_else(|| PricingError::PromotionInvalid { code: code.to_owned(), reason: "does not exist".into() })?;
    match promotion.unusable(channel, now) {
        Some(reason) => Err(PricingError::PromotionInvalid { code: code.to_owned(), reason }),
        None => Ok(promotion),
    }
}

/// Sets the tax rate of a class in a region, in percent (region and class
/// as `tax::parse_region` and `tax::parse_class` give them).
pub fn set_tax_rate(
    conn: &mut AnyConnection,
    region: &str,
    class: &str,
    percent: Decimal,
    now: DateTime<Utc>,
) -> Result<(), PricingError> {
    Ok(repo::set_tax_rate(conn, (region, class), percent, now)?)
}

/// Every tax rate: (region, class, percent), by region and class.
pub fn tax_rates(conn: &mut AnyConnection) -> Result<Vec<(String, String, Decimal)>, PricingError> {
    Ok(repo::tax_rates(conn)?)
}
