//! Promotions and tax rates on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CodeText, DiscountPercent, MoneyDto, MoneyInput, RatePercent, Text200, Validator, text};
use crate::access::Channel;
use crate::pricing::{Discount, Promotion, PromotionInput};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    Percent,
    Fixed,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRequest {
    /// A code customers enter (stored in capitals); omit for an automatic promotion.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,40}$")]
    pub code: Option<String>,
    #[schema(value_type = Text200)]
    pub name: String,
    pub kind: PromotionKind,
    /// Percent off: required with kind `percent`, absent with `fixed`.
    #[serde(default)]
    #[schema(value_type = Option<DiscountPercent>)]
    pub percent: Option<String>,
    /// Amount off (per unit for a SKU, once for the cart): required with
    /// kind `fixed`, absent with `percent`.
    #[serde(default)]
    pub amount: Option<MoneyInput>,
    /// The SKU it is for; omit for the whole cart.
    #[serde(default)]
    #[schema(value_type = Option<CodeText>)]
    pub sku: Option<String>,
    #[serde(default)]
    pub min_subtotal: Option<MoneyInput>,
    /// Default: now.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// After `starts_at`; absent: open-ended.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Channels it is offered in; absent: every channel.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub channels: Option<Vec<Channel>>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A validated promotion whose SKU code is still to be resolved.
pub struct PromotionDraft {
    pub input_without_sku: PromotionInput,
    pub sku_code: Option<String>,
}

impl PromotionRequest {
    pub fn into_draft(self, now: DateTime<Utc>) -> Result<PromotionDraft, crate::http::problem::ApiError> {
        let mut v = Validator::default();
        let name = v.check("/name", text(&self.name, 200));
        let code = match self.code.as_deref() {
            Some(c)
                if (1..=40).contains(&c.len())
                    && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') =>
            {
                Some(c.to_uppercase())
            }
            Some(_) => {
                v.error("/code", "must be 1 to 40 letters, digits, '-' or '_'");
                None
            }
            None => None,
        };
        let discount = match (self.kind, &self.percent, &self.amount) {
            (PromotionKind::Percent, Some(raw), None) => {
                v.check("/percent", crate::types::parse_percent(raw, 2, false)).map(Discount::Percent)
            }
            (PromotionKind::Fixed, None, Some(amount)) => amount.validate(&mut v, "/amount").map(Discount::Fixed),
            (PromotionKind::Percent, _, _) => {
                v.error("/percent", "a percent promotion needs percent and no amount");
                None
            }
            (PromotionKind::Fixed, _, _) => {
                v.error("/amount", "a fixed promotion needs amount and no percent");
                None
            }
        };
        let min_subtotal = match &self.min_subtotal {
            Some(m) => m.validate(&mut v, "/min_subtotal").map(Some),
            None => Some(None),
        };
        if let (Some(Discount::Fixed(a)), Some(Some(m))) = (&discount, &min_subtotal)
            && a.currency != m.currency
        {
            v.error("/min_subtotal/currency", "must be the currency of the amount");
        }
        let starts_at = self.starts_at.unwrap_or(now);
        if let Some(end) = self.ends_at.filter(|end| *end <= starts_at) {
            v.error("/ends_at", format!("must be after starts_at ({})", end.to_rfc3339()));
        }
        if self.channels.as_ref().is_some_and(Vec::is_empty) {
            v.error("/channels", "leave out for every channel, or name at least one");
        }
        let sku_code = self.sku.as_deref().and_then(|s| v.check("/sku", text(s, 64)));
        let (Some(name), Some(discount), Some(min_subtotal)) = (name, discount, min_subtotal) else {
            return Err(v.into_error());
        };
        v.finish()?;
        Ok(PromotionDraft {
            input_without_sku: PromotionInput {
                code,
                name,
                discount,
                sku_id: None,
                min_subtotal,
                starts_at,
                ends_at: self.ends_at,
                channels: self.channels,
                active: self.active,
            },
            sku_code,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionResponse {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub name: String,
    pub kind: PromotionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<MoneyDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_subtotal: Option<MoneyDto>,
    pub starts_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// Absent: every channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    pub active: bool,
    pub version: i32,
}

impl PromotionResponse {
    pub fn new(p: &Promotion, sku_code: Option<String>) -> Self {
        let i = &p.input;
        let (kind, percent, amount) = match &i.discount {
            Discount::Percent(pct) => (PromotionKind::Percent, Some(pct.normalize().to_string()), None),
            Discount::Fixed(m) => (PromotionKind::Fixed, None, Some((*m).into())),
        };
        Self {
            id: p.id.to_string(),
            code: i.code.clone(),
            name: i.name.clone(),
            kind,
            percent,
            amount,
            sku: sku_code,
            min_subtotal: i.min_subtotal.map(Into::into),
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            channels: i.channels.clone(),
            active: i.active,
            version: p.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRateRequest {
    /// Percent, e.g. `"19"` or `"8.875"`; `"0"` says the region is untaxed.
    #[schema(value_type = RatePercent)]
    pub rate_percent: String,
    /// The tax class the rate is for; `standard` when absent.
    #[serde(default)]
    #[schema(example = "reduced", pattern = "^[a-z0-9_]{1,32}$")]
    pub tax_class: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRateResponse {
    pub region: String,
    pub tax_class: String,
    pub rate_percent: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRatesResponse {
    pub items: Vec<TaxRateResponse>,
}
