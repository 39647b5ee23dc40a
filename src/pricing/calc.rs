//! Cart pricing: pure arithmetic in `rust_decimal`, no I/O.
//!
//! Rules, in order:
//! 1. A line's gross is unit price × quantity (exact, in minor units).
//! 2. The best SKU promotion of each line (largest discount) applies to it;
//!    its discount is rounded to the minor unit once, per line.
//! 3. The best cart promotion whose minimum subtotal is met applies to the
//!    subtotal after SKU discounts; it is rounded once and shared across the
//!    lines in proportion to their value, by largest remainder, so the shares
//!    add up to it exactly.
//! 4. Tax per line from its net amount at the rate of the tax region: taken
//!    out of the price (tax-inclusive) or added on top (tax-exclusive), rounded
//!    once per line.
//! 5. Totals are the sums of the rounded lines, so the lines always add up.
//!
//! Promotions do not stack beyond one per line and one per cart.

use rust_decimal::Decimal;

use crate::types::{Currency, Money, PromotionId, SkuId};

#[derive(Debug, Clone)]
pub struct PriceLine {
    pub sku_id: SkuId,
    pub quantity: i32,
    /// What the units cost before promotions and tax.
    pub gross: Money,
    /// The line's tax rate, a fraction (0.19 for 19 %).
    pub tax_rate: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Discount {
    /// Percent off, 0 < p ≤ 100.
    Percent(Decimal),
    /// An amount off (per unit for a SKU promotion, once for a cart promotion).
    Fixed(Money),
}

/// A promotion as pricing sees it.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: PromotionId,
    pub name: String,
    pub code: Option<String>,
    pub discount: Discount,
    /// The SKU it is for; none means the whole cart.
    pub sku_id: Option<SkuId>,
    pub min_subtotal: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub gross: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferResult {
    pub id: PromotionId,
    pub name: String,
    pub code: Option<String>,
    /// What it took off, in minor units (0 when it did not apply).
    pub amount: i64,
    /// Why it did not apply, when it did not.
    pub not_applied: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub currency: Currency,
    pub lines: Vec<PricedLine>,
    pub offers: Vec<OfferResult>,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
}

/// The discount of `offer` on an amount of `base` minor units (`units` units).
fn discount_on(offer: &Offer, base: i64, units: i64, currency: Currency) -> Option<Decimal> {
    match &offer.discount {
        Discount::Percent(p) => Some(Decimal::from(base) * p / Decimal::ONE_HUNDRED),
        Discount::Fixed(m) if m.currency == currency => Some(Decimal::from(m.minor * units)),
        Discount::Fixed(_) => None,
    }
    .map(|d| d.min(Decimal::from(base)).max(Decimal::ZERO))
}

/// Rounds an amount of minor units to a whole minor unit (the one rule of `Currency`).
fn whole(currency: Currency, minor: Decimal) -> i64 {
    currency.round_to_minor(minor / Decimal::from(10_i64.pow(currency.minor_units())))
}

/// Splits `amount` across `weights` in proportion, by largest remainder: the
/// parts are whole and add up to `amount` exactly.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i64 = weights.iter().sum();
    if total <= 0 || amount == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<(usize, i64, i128)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let exact = i128::from(amount) * i128::from(*w);
            (i, (exact / i128::from(total)) as i64, exact % i128::from(total))
        })
        .collect();
    let mut left = amount - parts.iter().map(|p| p.1).sum::<i64>();
    parts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    for part in parts.iter_mut() {
        if left == 0 {
            break;
        }
        part.1 += 1;
        left -= 1;
    }
    parts.sort_by_key(|p| p.0);
    parts.into_iter().map(|p| p.1).collect()
}

/// Prices `lines` in `currency`, each at its own tax rate.
pub fn price(currency: Currency, lines: &[PriceLine], offers: &[Offer], include_tax: bool) -> Priced {
    let gross: Vec<i64> = lines.iter().map(|l| l.gross.minor).collect();
    let mut results: Vec<OfferResult> = offers
        .iter()
        .map(|o| OfferResult {
            id: o.id.clone(),
            name: o.name.clone(),
            code: o.code.clone(),
            amount: 0,
            not_applied: None,
        })
        .collect();

    // SKU promotions: the best per line, rounded once per line.
    let mut line_discount = vec![0_i64; lines.len()];
    for (i, line) in lines.iter().enumerate() {
        let best = offers
            .iter()
            .enumerate()
            .filter(|(_, o)| o.sku_id.as_ref() == Some(&line.sku_id))
            .filter_map(|(k, o)| discount_on(o, gross[i], i64::from(line.quantity), currency).map(|d| (k, d)))
            .max_by(|a, b| a.1.cmp(&b.1));
        if let Some((k, d)) = best {
            line_discount[i] = whole(currency, d);
            results[k].amount += line_discount[i];
        }
    }

    // The best cart promotion on what is left, rounded once, shared exactly.
    let after_sku: Vec<i64> = gross.iter().zip(&line_discount).map(|(g, d)| g - d).collect();
    let base: i64 = after_sku.iter().sum();
    let mut cart_best: Option<(usize, i64)> = None;
    for (k, offer) in offers.iter().enumerate().filter(|(_, o)| o.sku_id.is_none()) {
        match &offer.min_subtotal {
            Some(min) if min.currency != currency || min.minor > base => {
                let short = Money::new(min.minor - base, currency).amount_string();
                results[k].not_applied = Some(format!("add {short} {currency} more to reach the minimum"));
                continue;
            }
            _ => {}
        }
        let Some(d) = discount_on(offer, base, 1, currency) else {
            results[k].not_applied = Some(format!("this promotion is not in {currency}"));
            continue;
        };
        let amount = whole(currency, d);
        if cart_best.is_none_or(|(_, best)| amount > best) {
            cart_best = Some((k, amount));
        }
    }
    let cart_discount = cart_best.map(|(_, a)| a).unwrap_or(0);
    if let Some((k, amount)) = cart_best {
        results[k].amount = amount;
    }
    for (k, offer) in offers.iter().enumerate() {
        if results[k].amount == 0 && results[k].not_applied.is_none() {
            results[k].not_applied = Some(if offer.sku_id.is_some() {
                "the SKU it is for is not in the cart".to_owned()
            } else {
                "a better cart promotion applies".to_owned()
            });
        }
    }
    let shares = allocate(cart_discount, &after_sku);

    let mut priced_lines = Vec::with_capacity(lines.len());
    for i in 0..lines.len() {
        let net = after_sku[i] - shares[i];
        let tax_rate = lines[i].tax_rate;
        let tax = if include_tax {
            whole(currency, Decimal::from(net) * tax_rate / (Decimal::ONE + tax_rate))
        } else {
            whole(currency, Decimal::from(net) * tax_rate)
        };
        let total = if include_tax { net } else { net + tax };
        priced_lines.push(PricedLine { gross: gross[i], discount: gross[i] - net, tax, total });
    }
    Priced {
        currency,
        subtotal: priced_lines.iter().map(|l| l.gross).sum(),
        discount: priced_lines.iter().map(|l| l.discount).sum(),
        tax: priced_lines.iter().map(|l| l.tax).sum(),
        total: priced_lines.iter().map(|l| l.total).sum(),
        lines: priced_lines,
        offers: results,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn line(sku: &str, quantity: i32, cents: i64) -> PriceLine {
        taxed(sku, quantity, cents, Decimal::ZERO)
    }

    fn taxed(sku: &str, quantity: i32, cents: i64, tax_rate: Decimal) -> PriceLine {
        PriceLine {
            sku_id: SkuId(sku.into()),
            quantity,
            gross: Money::new(cents * i64::from(quantity), eur()),
            tax_rate,
        }
    }

    fn offer(id: &str, discount: Discount, sku: Option<&str>, min: Option<i64>) -> Offer {
        Offer {
            id: PromotionId(id.into()),
            name: id.into(),
            code: None,
            discount,
            sku_id: sku.map(|s| SkuId(s.into())),
            min_subtotal: min.map(|m| Money::new(m, eur())),
        }
    }

    fn pct(p: &str) -> Discount {
        Discount::Percent(Decimal::from_str(p).unwrap())
    }

    #[test]
    fn tax_inclusive_prices_keep_their_total() {
        let priced = price(eur(), &[taxed("A", 3, 119, Decimal::from_str("0.19").unwrap())], &[], true);
        assert_eq!(priced.total, 357);
        assert_eq!(priced.tax, 57);
    }

    #[test]
    fn tax_exclusive_prices_add_it() {
        let priced = price(eur(), &[taxed("A", 1, 1000, Decimal::from_str("0.08875").unwrap())], &[], false);
        assert_eq!(priced.tax, 89);
        assert_eq!(priced.total, 1089);
    }

    #[test]
    fn the_best_sku_promotion_and_a_shared_cart_promotion() {
        let lines = [line("A", 2, 500), line("B", 1, 333)];
        let offers = [
            offer("10pct-A", pct("10"), Some("A"), None),
            offer("1off-A", Discount::Fixed(Money::new(100, eur())), Some("A"), None),
            offer("cart-5", Discount::Fixed(Money::new(500, eur())), None, Some(1000)),
        ];
        let priced = price(eur(), &lines, &offers, true);
        assert_eq!(priced.offers[0].amount, 0, "1 off per unit (2.00) beats 10 % (1.00)");
        assert_eq!(priced.offers[1].amount, 200);
        assert_eq!(priced.offers[2].amount, 500);
        assert_eq!(priced.discount, 700);
        assert_eq!(priced.total, 1333 - 700);
    }

    #[test]
    fn a_minimum_subtotal_not_met_says_how_much_is_missing() {
        let priced = price(eur(), &[line("A", 1, 800)], &[offer("c", pct("10"), None, Some(1000))], true);
        assert_eq!(priced.discount, 0);
        assert_eq!(priced.offers[0].not_applied.as_deref(), Some("add 2.00 EUR more to reach the minimum"));
    }

    #[test]
    fn allocation_adds_up_exactly() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(0, &[5, 5]), vec![0, 0]);
        assert_eq!(allocate(7, &[0, 0]), vec![0, 0]);
    }

    proptest! {
        #[test]
        fn totals_are_the_sums_of_rounded_lines(
            lines in proptest::collection::vec((1..50i32, 1..100_000i64), 1..8),
            percent in 0..=100u32,
            fixed in 0..20_000i64,
            rate in 0..30u32,
            include in any::<bool>(),
        ) {
            let rate = Decimal::from(rate) / Decimal::ONE_HUNDRED;
            let lines: Vec<PriceLine> =
                lines.iter().enumerate().map(|(i, (q, c))| taxed(&format!("S{i}"), *q, *c, rate)).collect();
            let offers = [
                offer("p", Discount::Percent(Decimal::from(percent)), Some("S0"), None),
                offer("f", Discount::Fixed(Money::new(fixed, eur())), None, None),
            ];
            let priced = price(eur(), &lines, &offers, include);
            prop_assert_eq!(priced.subtotal, priced.lines.iter().map(|l| l.gross).sum::<i64>());
            prop_assert_eq!(priced.total, priced.lines.iter().map(|l| l.total).sum::<i64>());
            prop_assert_eq!(priced.tax, priced.lines.iter().map(|l| l.tax).sum::<i64>());
            prop_assert_eq!(priced.discount, priced.offers.iter().map(|o| o.amount).sum::<i64>());
            for l in &priced.lines {
                prop_assert!(l.discount >= 0 && l.discount <= l.gross);
                prop_assert!(l.tax >= 0);
            }
            if include {
                prop_assert_eq!(priced.total, priced.subtotal - priced.discount);
            } else {
                prop_assert_eq!(priced.total, priced.subtotal - priced.discount + priced.tax);
            }
        }
    }
}
