//! Value types shared by every domain: ids, codes, quantities, GTINs, money.
//! Each parses once from untrusted input and is valid from then on.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Declares a text id newtype stored as TEXT and made as a time-ordered UUIDv7,
/// so that ordering by id is ordering by creation (cursor pagination relies on it).
macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, diesel_derive_newtype::DieselNewType)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type!(
    LocationId,
    SkuId,
    ApiKeyId,
    MarketplaceId,
    ReservationId,
    CustomerId,
    CartId,
    PromotionId,
    OrderId,
    FulfilmentId,
    OrderLineId,
    ReturnId,
    RefundId,
);

/// A human code (location code, SKU code): 1–64 of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    /// The contract's pattern of a code (with its length, 1 to 64).
    pub const PATTERN: &'static str = "^[A-Za-z0-9._-]+$";

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > 64 {
            return Err("must be 1 to 64 characters".into());
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// For values read back from the database, which were validated on the way in.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A count of units moved or held: at least 1, at most [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(i32);

impl Quantity {
    /// Far above any real movement, far below i32 overflow when summed in SQL.
    pub const MAX: i64 = 1_000_000;

    pub fn new(value: i64) -> Result<Self, String> {
        if value < 1 {
            return Err("must be at least 1".into());
        }
        if value > Self::MAX {
            return Err(format!("must be at most {}", Self::MAX));
        }
        Ok(Self(value as i32))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A GS1 GTIN-8, -12, -13 or -14 with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Gtin(String);

impl Gtin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if !matches!(raw.len(), 8 | 12 | 13 | 14) || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be 8, 12, 13 or 14 digits".into());
        }
        if gtin_check_digit(&raw[..raw.len() - 1]) != raw.as_bytes()[raw.len() - 1] - b'0' {
            return Err("check digit is wrong".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a scanned string looks like a GTIN rather than a SKU code.
    pub fn looks_like(raw: &str) -> bool {
        matches!(raw.len(), 8 | 12 | 13 | 14) && raw.bytes().all(|b| b.is_ascii_digit())
    }
}

/// GS1 mod-10: weights 3,1,3,… from the rightmost payload digit.
pub fn gtin_check_digit(payload: &str) -> u8 {
    let sum: u32 =
        payload.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

/// An ISO 4217 currency this service prices in, with its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_units: u32,
}

const CURRENCIES: &[(&str, u32)] = &[
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PLN", 2),
    ("RON", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("TND", 3),
    ("TRY", 2),
    ("USD", 2),
    ("ZAR", 2),
];

impl Currency {
    /// An ISO 4217 code this service supports, in capitals as the standard writes it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == raw)
            .map(|&(code, minor_units)| Self { code, minor_units })
            .ok_or_else(|| format!("'{raw}' is not a supported ISO 4217 currency (in capitals, e.g. EUR)"))
    }

    /// Every supported currency.
    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|&(code, minor_units)| Self { code, minor_units })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    pub fn minor_units(self) -> u32 {
        self.minor_units
    }

    /// The one rounding rule of the service: half away from zero, to the minor
    /// unit. Every amount that can carry fractions passes here exactly once.
    pub fn round_to_minor(self, amount: Decimal) -> i64 {
        let scaled = amount.round_dp_with_strategy(self.minor_units, RoundingStrategy::MidpointAwayFromZero)
            * Decimal::from(10_i64.pow(self.minor_units));
        i64::try_from(scaled).unwrap_or(if scaled.is_sign_negative() { i64::MIN } else { i64::MAX })
    }

    pub fn minor_to_decimal(self, minor: i64) -> Decimal {
        Decimal::new(minor, self.minor_units)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount of money: integer minor units in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Largest amount accepted from callers (a billion major units).
    const MAX_MAJOR: i64 = 1_000_000_000;

    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Parses a decimal amount such as `"12.50"`: 1 to 9 digits, then
    /// optionally a point and decimals ([`Money::pattern`]). Digits beyond
    /// the currency's minor unit are refused, not rounded: a price is never
    /// silently changed.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, String> {
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, "0"));
        let digits = |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole, 9) || !digits(fraction, 28) {
            return Err(format!("'{amount}' is not a decimal amount such as \"12.50\" (below 1,000,000,000)"));
        }
        let value = Decimal::from_str(amount).map_err(|_| format!("'{amount}' is not a decimal amount"))?;
        Self::from_decimal(value, currency)
    }

    /// The pattern of amounts [`Money::parse`] accepts in `currency`.
    pub fn pattern(currency: Currency) -> String {
        match currency.minor_units {
            0 => r"^[0-9]{1,9}(\.0{1,28})?$".to_owned(),
            m => format!(r"^[0-9]{{1,9}}(\.[0-9]{{1,{m}}}0{{0,{}}})?$", 28 - m),
        }
    }

    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Self, String> {
        let value = value.normalize();
        if value.scale() > currency.minor_units {
            return Err(format!("{} allows at most {} decimal places", currency.code, currency.minor_units));
        }
        if value.is_sign_negative() && !value.is_zero() {
            return Err("must not be negative".into());
        }
        if value > Decimal::from(Self::MAX_MAJOR) {
            return Err("is too large".into());
        }
        Ok(Self { minor: currency.round_to_minor(value), currency })
    }

    pub fn to_decimal(self) -> Decimal {
        self.currency.minor_to_decimal(self.minor)
    }

    /// The wire form: a decimal string with exactly the currency's minor digits.
    pub fn amount_string(self) -> String {
        let mut value = self.to_decimal();
        value.rescale(self.currency.minor_units);
        value.to_string()
    }
}

/// A point on Earth in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, String> {
        if !(-90.0..=90.0).contains(&latitude) || !latitude.is_finite() {
            return Err("latitude must be between -90 and 90".into());
        }
        if !(-180.0..=180.0).contains(&longitude) || !longitude.is_finite() {
            return Err("longitude must be between -180 and 180".into());
        }
        Ok(Self { latitude, longitude })
    }

    /// Great-circle distance (haversine, mean Earth radius) in kilometres.
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0088;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }
}

/// A page of a cursor-paginated list: `after` is the last id of the previous page.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The id to continue after, when more items exist.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says "more".
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next = if more { rows.last().map(&id_of) } else { None };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}

/// Declares an enum stored and sent as a fixed snake_case string.
#[macro_export]
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* pub enum $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),*
        }

        // Written out rather than derived: the derive does not see a serde
        // rename that comes from a macro argument, and would document the
        // Rust variant names instead of the strings on the wire.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                let description = doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ");
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),*]))
                    .description((!description.is_empty()).then_some(description))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }

            pub fn parse(raw: &str) -> Result<Self, String> {
                match raw {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!("'{}' is not one of: {}", raw, [$($text),*].join(", "))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A region code: an ISO 3166-1 country (`DE`) or 3166-2 subdivision (`DE-BY`).
pub fn parse_region(raw: &str) -> Result<String, String> {
    let region = raw.to_ascii_uppercase();
    let (country, subdivision) = match region.split_once('-') {
        Some((country, sub)) => (country, Some(sub)),
        None => (region.as_str(), None),
    };
    let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
    let sub_ok = subdivision.is_none_or(|s| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if country_ok && sub_ok {
        Ok(region)
    } else {
        Err(format!("'{raw}' is not a region: an ISO 3166 country (DE) or subdivision (DE-BY)"))
    }
}

/// A percent written as a decimal string: 1 to 3 digits, up to `decimals`
/// decimals, at most 100 (and above 0 unless `zero` is allowed). The
/// contract's patterns for the two uses are [`RATE_PATTERN`] and
/// [`DISCOUNT_PATTERN`].
pub fn parse_percent(raw: &str, decimals: usize, zero: bool) -> Result<Decimal, String> {
    let (whole, fraction) = raw.split_once('.').map_or((raw, None), |(w, f)| (w, Some(f)));
    let digits = |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let value = (digits(whole, 3) && fraction.is_none_or(|f| digits(f, decimals)))
        .then(|| Decimal::from_str(raw).ok())
        .flatten()
        .filter(|v| *v <= Decimal::ONE_HUNDRED && (zero || *v > Decimal::ZERO));
    let low = if zero { "0" } else { "above 0" };
    value.ok_or_else(|| {
        format!("'{raw}' is not a percent from {low} to 100 with at most {decimals} decimals, e.g. \"19\"")
    })
}

/// A tax rate: 0 to 100 with up to 4 decimals ("8.875").
pub const RATE_PATTERN: &str = r"^(100(\.0{1,4})?|0?[0-9]{1,2}(\.[0-9]{1,4})?)$";

/// A percent off: above 0, at most 100, up to 2 decimals.
pub const DISCOUNT_PATTERN: &str =
    r"^(100(\.0{1,2})?|0?[1-9][0-9]?(\.[0-9]{1,2})?|00?[1-9](\.[0-9]{1,2})?|0{1,3}\.(0[1-9]|[1-9][0-9]?))$";

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn gtin_check_digits() {
        assert!(Gtin::parse("4006381333931").is_ok());
        assert!(Gtin::parse("4006381333932").is_err());
        assert!(Gtin::parse("96385074").is_ok());
        assert!(Gtin::parse("036000291452").is_ok());
        assert!(Gtin::parse("12345").is_err());
        assert!(Gtin::parse("40063813339a1").is_err());
    }

    #[test]
    fn money_refuses_more_precision_than_the_currency() {
        assert_eq!(Money::parse("12.50", eur()).unwrap().minor, 1250);
        assert_eq!(Money::parse("12.500", eur()).unwrap().minor, 1250);
        assert!(Money::parse("12.505", eur()).is_err());
        assert!(Money::parse("1.5", Currency::parse("JPY").unwrap()).is_err());
        assert_eq!(Money::parse("1.234", Currency::parse("KWD").unwrap()).unwrap().minor, 1234);
        assert!(Money::parse("-1", eur()).is_err());
        assert!(Money::parse("abc", eur()).is_err());
    }

    #[test]
    fn money_prints_all_minor_digits() {
        assert_eq!(Money::new(1250, eur()).amount_string(), "12.50");
        assert_eq!(Money::new(5, eur()).amount_string(), "0.05");
        assert_eq!(Money::new(700, Currency::parse("JPY").unwrap()).amount_string(), "700");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(eur().round_to_minor(d("0.125")), 13);
        assert_eq!(eur().round_to_minor(d("0.124")), 12);
        assert_eq!(eur().round_to_minor(d("-0.125")), -13);
    }

    #[test]
    fn quantities_are_bounded() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(i64::from(i32::MAX) + 1).is_err());
        assert_eq!(Quantity::new(5).unwrap().get(), 5);
    }

    #[test]
    fn codes_are_checked() {
        assert!(Code::parse("STORE-01").is_ok());
        assert!(Code::parse("").is_err());
        assert!(Code::parse("a b").is_err());
    }

    #[test]
    fn great_circle_distance() {
        let berlin = GeoPoint::new(52.5200, 13.4050).unwrap();
        let potsdam = GeoPoint::new(52.3906, 13.0645).unwrap();
        let d = berlin.distance_km(potsdam);
        assert!((d - 26.9).abs() < 0.5, "{d}");
    }
}
