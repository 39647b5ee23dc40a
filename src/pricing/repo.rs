//! Queries of the pricing tables (`promotions`, `tax_rates`).

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use super::calc::Discount;
use super::promotion::{Promotion, PromotionInput};
use crate::access::Channel;
use crate::db::schema::{promotions as p, tax_rates};
use crate::db::{AnyConnection, DbError, one_of, reference, timestamp};
use crate::per_backend;
use crate::types::{Currency, Money, PromotionId, SkuId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = p)]
struct Row {
    id: PromotionId,
    code: Option<String>,
    name: String,
    kind: String,
    percent: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
    sku_id: Option<SkuId>,
    min_subtotal_minor: Option<i64>,
    starts_at: NaiveDateTime,
    ends_at: Option<NaiveDateTime>,
    channels: Option<String>,
    active: bool,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_promotion(self) -> Result<Promotion, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("promotion {}: {what}", self.id));
        let currency = self.currency.as_deref().map(Currency::parse).transpose().map_err(|_| corrupt("currency"))?;
        let discount = match (self.kind.as_str(), &self.percent, self.amount_minor, currency) {
            ("percent", Some(percent), _, _) => {
                Discount::Percent(Decimal::from_str(percent).map_err(|_| corrupt("percent"))?)
            }
            ("fixed", _, Some(minor), Some(currency)) => Discount::Fixed(Money::new(minor, currency)),
            _ => return Err(corrupt("kind")),
        };
        let channels = self
            .channels
            .as_deref()
            .map(|raw| serde_json::from_str::<Vec<Channel>>(raw).map_err(|_| corrupt("channels")))
            .transpose()?;
        let min_subtotal = match (self.min_subtotal_minor, currency) {
            (Some(minor), Some(currency)) => Some(Money::new(minor, currency)),
            (Some(_), None) => return Err(corrupt("minimum without currency")),
            _ => None,
        };
        Ok(Promotion {
            id: self.id,
            input: PromotionInput {
                code: self.code,
                name: self.name,
                discount,
                sku_id: self.sku_id,
                min_subtotal,
                starts_at: self.starts_at.and_utc(),
                ends_at: self.ends_at.map(|e| e.and_utc()),
                channels,
                active: self.active,
            },
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns an input sets.
type Columns = (
    Option<String>,
    String,
    &'static str,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<SkuId>,
    Option<i64>,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
    bool,
);

fn columns(i: &PromotionInput) -> Columns {
    let (kind, percent, amount, currency) = match &i.discount {
        Discount::Percent(pct) => ("percent", Some(pct.normalize().to_string()), None, None),
        Discount::Fixed(m) => ("fixed", None, Some(m.minor), Some(m.currency)),
    };
    let currency = currency.or(i.min_subtotal.map(|m| m.currency)).map(|c| c.code().to_owned());
    (
        i.code.clone(),
        i.name.clone(),
        kind,
        percent,
        amount,
        currency,
        i.sku_id.clone(),
        i.min_subtotal.map(|m| m.minor),
        timestamp(i.starts_at),
        i.ends_at.map(timestamp),
        i.channels.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default()),
        i.active,
    )
}

/// Stores a new promotion.
pub fn insert_promotion(
    conn: &mut AnyConnection,
    id: &PromotionId,
    input: &PromotionInput,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let c = columns(input);
    diesel::insert_into(p::table)
        .values((
            p::id.eq(id),
            (p::code.eq(c.0), p::name.eq(c.1), p::kind.eq(c.2), p::percent.eq(c.3), p::amount_minor.eq(c.4)),
            (p::currency.eq(c.5), p::sku_id.eq(c.6), p::min_subtotal_minor.eq(c.7), p::starts_at.eq(c.8)),
            (p::ends_at.eq(c.9), p::channels.eq(c.10), p::active.eq(c.11)),
            (p::version.eq(1), p::created_at.eq(timestamp(now)), p::updated_at.eq(timestamp(now))),
        ))
        .execute(conn)?;
    reference::changed(conn)
}

/// Replaces a promotion still at `version`; false otherwise.
pub fn replace_promotion(
    conn: &mut AnyConnection,
    id: &PromotionId,
    version: i32,
    input: &PromotionInput,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let c = columns(input);
    let replaced = diesel::update(p::table.find(id).filter(p::version.eq(version)))
        .set((
            (p::code.eq(c.0), p::name.eq(c.1), p::kind.eq(c.2), p::percent.eq(c.3), p::amount_minor.eq(c.4)),
            (p::currency.eq(c.5), p::sku_id.eq(c.6), p::min_subtotal_minor.eq(c.7), p::starts_at.eq(c.8)),
            (p::ends_at.eq(c.9), p::channels.eq(c.10), p::active.eq(c.11)),
            (p::version.eq(p::version + 1), p::updated_at.eq(timestamp(now))),
        ))
        .execute(conn)?
        == 1;
    if replaced {
        reference::changed(conn)?;
    }
    Ok(replaced)
}

pub fn find_promotion(conn: &mut AnyConnection, id: &PromotionId) -> Result<Option<Promotion>, DbError> {
    p::table.find(id).select(Row::as_select()).get_result(conn).optional()?.map(Row::into_promotion).transpose()
}

/// Up to `limit` promotions after the id `after`, by id.
pub fn promotions_page(conn: &mut AnyConnection, after: Option<&str>, limit: i64) -> Result<Vec<Promotion>, DbError> {
    let mut query = p::table.select(Row::as_select()).order(p::id).limit(limit).into_boxed();
    if let Some(after) = after {
        query = query.filter(p::id.gt(after.to_owned()));
    }
    query.load(conn)?.into_iter().map(Row::into_promotion).collect()
}

/// The promotion with this (upper-cased) code.
pub fn promotion_by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Promotion>, DbError> {
    p::table
        .filter(p::code.eq(code))
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map(Row::into_promotion)
        .transpose()
}

/// The promotions live at `now`: every automatic one, and the one with
/// `code` (when given). Whether each may be used in a channel is decided by
/// the caller. The active ones are reference data (cached); the time and the
/// code are applied here.
pub fn live_promotions(
    conn: &mut AnyConnection,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Promotion>, DbError> {
    let active: Vec<Promotion> = reference::cached(conn, "promotions:active", |conn| {
        p::table
            .filter(p::active.eq(true))
            .order(p::id)
            .select(Row::as_select())
            .load(conn)?
            .into_iter()
            .map(Row::into_promotion)
            .collect::<Result<Vec<_>, DbError>>()
    })?;
    Ok(active
        .into_iter()
        .filter(|promotion| {
            let i = &promotion.input;
            i.starts_at <= now
                && i.ends_at.is_none_or(|end| end > now)
                && i.code.as_deref().is_none_or(|own| Some(own) == code)
        })
        .collect())
}

/// A stored rate (region, class, percent).
pub type TaxRow = (String, String, Decimal);

fn parse_rows(rows: Vec<(String, String, String)>) -> Result<Vec<TaxRow>, DbError> {
    rows.into_iter()
        .map(|(region, class, raw)| {
            Decimal::from_str(&raw)
                .map(|rate| (region.clone(), class, rate))
                .map_err(|_| DbError::Corrupt(format!("tax rate of {region}")))
        })
        .collect()
}

/// The rates of these regions, every class (reference data: cached).
pub fn tax_rates_in(conn: &mut AnyConnection, regions: &[&str]) -> Result<Vec<TaxRow>, DbError> {
    reference::cached(conn, &format!("tax:{}", regions.join("|")), |conn| {
        parse_rows(
            tax_rates::table
                .filter(one_of(tax_rates::region, regions))
                .select((tax_rates::region, tax_rates::tax_class, tax_rates::rate_percent))
                .load(conn)?,
        )
    })
}

/// Sets the rate of a class in a region, in percent.
pub fn set_tax_rate(
    conn: &mut AnyConnection,
    (region, class): (&str, &str),
    percent: Decimal,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let rate = percent.normalize().to_string();
    let row = (
        tax_rates::region.eq(region),
        tax_rates::tax_class.eq(class),
        tax_rates::rate_percent.eq(&rate),
        tax_rates::updated_at.eq(timestamp(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(tax_rates::table)
        .values(row)
        .on_conflict((tax_rates::region, tax_rates::tax_class))
        .do_update()
        .set((tax_rates::rate_percent.eq(&rate), tax_rates::updated_at.eq(timestamp(now))))
        .execute(c))?;
    reference::changed(conn)
}

/// Every rate, by region and class.
pub fn tax_rates(conn: &mut AnyConnection) -> Result<Vec<TaxRow>, DbError> {
    parse_rows(
        tax_rates::table
            .order((tax_rates::region, tax_rates::tax_class))
            .select((tax_rates::region, tax_rates::tax_class, tax_rates::rate_percent))
            .load(conn)?,
    )
}
