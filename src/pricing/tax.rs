//! Which tax rate applies: rates are kept per region, a country (`DE`) or a
//! subdivision (`DE-BY`), and per tax class (`standard`, `reduced`, …). The
//! most specific region with a rate for the class wins; with none, there is
//! no rate, never an assumed zero (a retailer who means zero says so).

use rust_decimal::Decimal;

pub use crate::types::parse_region;

/// A tax class: 1 to 32 of `a-z 0-9 _`.
pub fn parse_class(raw: &str) -> Result<String, String> {
    let class = raw.trim();
    if (1..=32).contains(&class.len())
        && class.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Ok(class.to_owned())
    } else {
        Err(format!("'{raw}' is not a tax class: 1 to 32 of a-z, 0-9 and _ (e.g. standard, reduced)"))
    }
}

/// The regions whose rates can apply to `region`, most specific first.
pub fn lookup_order(region: &str) -> Vec<&str> {
    match region.split_once('-') {
        Some((country, _)) => vec![region, country],
        None => vec![region],
    }
}

/// The rate in percent for `class` in `region`, from `(region, class, rate)`
/// rows: the subdivision's own, else its country's; None when neither has one.
pub fn rate_for(rates: &[(String, String, Decimal)], region: &str, class: &str) -> Option<Decimal> {
    lookup_order(region)
        .into_iter()
        .find_map(|r| rates.iter().find(|(rr, c, _)| rr == r && c == class).map(|(_, _, rate)| *rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Vec<(String, String, Decimal)> {
        let row = |r: &str, c: &str, p: i64| (r.to_owned(), c.to_owned(), Decimal::from(p));
        vec![row("DE", "standard", 19), row("DE", "reduced", 7), row("US-NY", "standard", 8), row("FR", "zero", 0)]
    }

    #[test]
    fn the_most_specific_region_wins() {
        assert_eq!(rate_for(&rates(), "DE-BY", "standard"), Some(Decimal::from(19)), "Bavaria takes Germany's");
        assert_eq!(rate_for(&rates(), "DE", "reduced"), Some(Decimal::from(7)));
        assert_eq!(rate_for(&rates(), "US-NY", "standard"), Some(Decimal::from(8)));
        assert_eq!(rate_for(&rates(), "US", "standard"), None, "a state's rate is not the country's");
        assert_eq!(rate_for(&rates(), "AT", "standard"), None, "no rate is never zero");
        assert_eq!(rate_for(&rates(), "FR", "zero"), Some(Decimal::ZERO), "an explicit zero is a rate");
    }

    #[test]
    fn regions_and_classes_are_checked() {
        assert_eq!(parse_region("de-by").unwrap(), "DE-BY");
        for bad in ["0", "D", "DEU", "DE-", "DE-ABCD", "DE BY", ""] {
            assert!(parse_region(bad).is_err(), "{bad}");
        }
        assert!(parse_class("reduced").is_ok());
        assert!(parse_class("Reduced").is_err());
    }
}
