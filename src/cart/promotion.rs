//! Promotions: percent or amount off a SKU or the cart, automatic or by code,
//! within a validity window, in every channel unless scoped.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;

use super::CartError;
use super::pricing::{Discount, Offer};
use crate::access::Channel;
use crate::db::schema::promotions as p;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{Currency, Money, Page, PageRequest, PromotionId, SkuId};

#[derive(Debug, Clone)]
pub struct PromotionInput {
    /// Upper-cased; none for an automatic promotion.
    pub code: Option<String>,
    pub name: String,
    pub discount: Discount,
    pub sku_id: Option<SkuId>,
    pub min_subtotal: Option<Money>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// None: every channel.
    pub channels: Option<Vec<Channel>>,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Promotion {
    pub id: PromotionId,
    pub input: PromotionInput,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

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

impl Promotion {
    /// Why this promotion cannot be used now through `channel`, if it cannot.
    pub fn unusable(&self, channel: Channel, now: DateTime<Utc>) -> Option<String> {
        let i = &self.input;
        if !i.active {
            return Some("is no longer offered".into());
        }
        if now < i.starts_at {
            return Some(format!("starts at {}", i.starts_at.to_rfc3339()));
        }
        if let Some(end) = i.ends_at.filter(|end| *end <= now) {
            return Some(format!("expired at {}", end.to_rfc3339()));
        }
        if let Some(channels) = i.channels.as_ref().filter(|cs| !cs.contains(&channel)) {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            return Some(format!("is only for {}", names.join(", ")));
        }
        None
    }

    pub fn offer(&self) -> Offer {
        Offer {
            id: self.id.clone(),
            name: self.input.name.clone(),
            code: self.input.code.clone(),
            discount: self.input.discount.clone(),
            sku_id: self.input.sku_id.clone(),
            min_subtotal: self.input.min_subtotal,
        }
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

fn code_taken(input: &PromotionInput, error: diesel::result::Error) -> CartError {
    match DbError::from(error) {
        DbError::Unique(_) => CartError::PromotionCodeTaken(input.code.clone().unwrap_or_default()),
        other => other.into(),
    }
}

pub fn create(conn: &mut AnyConnection, input: PromotionInput, now: DateTime<Utc>) -> Result<Promotion, CartError> {
    let id = PromotionId::generate();
    let c = columns(&input);
    diesel::insert_into(p::table)
        .values((
            p::id.eq(&id),
            (p::code.eq(c.0), p::name.eq(c.1), p::kind.eq(c.2), p::percent.eq(c.3), p::amount_minor.eq(c.4)),
            (p::currency.eq(c.5), p::sku_id.eq(c.6), p::min_subtotal_minor.eq(c.7), p::starts_at.eq(c.8)),
            (p::ends_at.eq(c.9), p::channels.eq(c.10), p::active.eq(c.11)),
            (p::version.eq(1), p::created_at.eq(timestamp(now)), p::updated_at.eq(timestamp(now))),
        ))
        .execute(conn)
        .map_err(|e| code_taken(&input, e))?;
    get(conn, &id)
}

pub fn update(
    conn: &mut AnyConnection,
    id: &PromotionId,
    input: PromotionInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Promotion, CartError> {
    let current = get(conn, id)?;
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(CartError::PromotionStale { seen, current: Box::new(current) });
    }
    let c = columns(&input);
    diesel::update(p::table.find(id).filter(p::version.eq(current.version)))
        .set((
            (p::code.eq(c.0), p::name.eq(c.1), p::kind.eq(c.2), p::percent.eq(c.3), p::amount_minor.eq(c.4)),
            (p::currency.eq(c.5), p::sku_id.eq(c.6), p::min_subtotal_minor.eq(c.7), p::starts_at.eq(c.8)),
            (p::ends_at.eq(c.9), p::channels.eq(c.10), p::active.eq(c.11)),
            (p::version.eq(p::version + 1), p::updated_at.eq(timestamp(now))),
        ))
        .execute(conn)
        .map_err(|e| code_taken(&input, e))?;
    get(conn, id)
}

pub fn get(conn: &mut AnyConnection, id: &PromotionId) -> Result<Promotion, CartError> {
    p::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| CartError::PromotionNotFound(id.to_string()))?
        .into_promotion()
        .map_err(Into::into)
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<Promotion>, CartError> {
    let mut query = p::table.select(Row::as_select()).order(p::id).limit(page.limit + 1).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(p::id.gt(after.clone()));
    }
    let rows = query.load(conn)?.into_iter().map(Row::into_promotion).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, page.limit, |p| p.id.to_string()))
}

pub fn by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Promotion>, CartError> {
    p::table
        .filter(p::code.eq(code.trim().to_uppercase()))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(|r| r.into_promotion().map_err(CartError::from))
        .transpose()
}

/// The code's promotion if it can be used now through `channel`; else why not.
pub fn usable_code(
    conn: &mut AnyConnection,
    code: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Promotion, CartError> {
    let promotion = by_code(conn, code)?
        .ok_or_else(|| CartError::PromotionInvalid { code: code.to_owned(), reason: "does not exist".into() })?;
    match promotion.unusable(channel, now) {
        Some(reason) => Err(CartError::PromotionInvalid { code: code.to_owned(), reason }),
        None => Ok(promotion),
    }
}

/// The offers of a cart priced through `channel` now: every usable automatic
/// promotion, and the cart's code if it is usable.
pub fn offers(
    conn: &mut AnyConnection,
    code: Option<&str>,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>, CartError> {
    let at = timestamp(now);
    let mut query = p::table
        .filter(p::active.eq(true))
        .filter(p::starts_at.le(at))
        .filter(p::ends_at.is_null().or(p::ends_at.gt(at)))
        .select(Row::as_select())
        .into_boxed();
    query = match code {
        Some(code) => query.filter(p::code.is_null().or(p::code.eq(code.to_owned()))),
        None => query.filter(p::code.is_null()),
    };
    let live = query.order(p::id).load(conn)?.into_iter().map(Row::into_promotion).collect::<Result<Vec<_>, _>>()?;
    Ok(live.iter().filter(|p| p.unusable(channel, now).is_none()).map(Promotion::offer).collect())
}
