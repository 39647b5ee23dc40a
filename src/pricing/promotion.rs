//! Promotions: percent or amount off a SKU or the cart, automatic or by code,
//! within a validity window, in every channel unless scoped.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::calc::{Discount, Offer};
use crate::access::Channel;
use crate::types::{Money, PromotionId, SkuId};

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
