//! Locations: stores, warehouses and dark stores, with where they are, when
//! they open in their own time zone, and what they can do.

use std::fmt;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::hours::{Day, LocalTime, OpenInterval, OpeningHours};
use crate::text::{Text200, text};
use crate::text_enum;
use crate::types::{Code, GeoPoint, LocationId};

text_enum! {
    pub enum LocationKind {
        Store => "store",
        Warehouse => "warehouse",
        DarkStore => "dark_store",
    }
}

/// An IANA time zone name such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(pub Tz);

// Written out: the contract lists the zone names this service knows.
impl utoipa::PartialSchema for TimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())))
            .description(Some("An IANA time zone name"))
            .examples(["Europe/Berlin"])
            .into()
    }
}

impl utoipa::ToSchema for TimeZone {}

impl TryFrom<String> for TimeZone {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        raw.parse::<Tz>().map(TimeZone).map_err(|_| format!("'{raw}' is not an IANA time zone"))
    }
}

impl From<TimeZone> for String {
    fn from(zone: TimeZone) -> String {
        zone.0.name().to_owned()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(value_type = Text200)]
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text200>)]
    pub line2: Option<String>,
    #[schema(value_type = Text200)]
    pub city: String,
    #[schema(value_type = Text200)]
    pub postal_code: String,
    /// ISO 3166-2 subdivision of `country` (e.g. `DE-BE`); also the tax
    /// region when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Z]{2}-[A-Z0-9]{1,3}$")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
}

impl Address {
    /// Checks what serde cannot: the lines are text, the country two
    /// letters, the region a subdivision of that country.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let lines = [("line1", Some(&self.line1)), ("line2", self.line2.as_ref())];
        let more = [("city", Some(&self.city)), ("postal_code", Some(&self.postal_code))];
        for (field, value) in lines.into_iter().chain(more) {
            if let Some(Err(e)) = value.map(|v| text(v, 200)) {
                errors.push((field, e));
            }
        }
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(("country", "must be an ISO 3166-1 alpha-2 code such as DE".to_owned()));
        }
        if let Some(region) = &self.region {
            match crate::types::parse_region(region) {
                Ok(parsed) if parsed == *region && region.starts_with(&format!("{}-", self.country)) => {}
                _ => errors.push((
                    "region",
                    format!("must be an ISO 3166-2 subdivision of {} such as {}-BE", self.country, self.country),
                )),
            }
        }
        errors
    }

    /// The region whose tax rate applies to sales here.
    pub fn tax_region(&self) -> String {
        self.region.clone().unwrap_or_else(|| self.country.clone())
    }
}

/// Same-day delivery from this location.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SameDayConfig {
    /// Addresses within this great-circle distance are covered (above 0, at most 500).
    #[schema(exclusive_minimum = 0, maximum = 500)]
    pub radius_km: f64,
    /// Orders for today's slots are taken until this local time.
    pub cutoff: LocalTime,
    /// Length of one delivery slot, 15 to 720 minutes.
    #[schema(minimum = 15, maximum = 720)]
    pub slot_minutes: u32,
    /// Deliveries one slot can take, 1 to 10,000.
    #[schema(minimum = 1, maximum = 10_000)]
    pub slot_capacity: u32,
    /// First slot starts at this local time; the last ends by `window_end`.
    pub window_start: LocalTime,
    /// After `window_start`.
    pub window_end: LocalTime,
}

impl SameDayConfig {
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        if !(self.radius_km > 0.0 && self.radius_km <= 500.0) {
            errors.push(("radius_km", "must be above 0 and at most 500".to_owned()));
        }
        if !(15..=720).contains(&self.slot_minutes) {
            errors.push(("slot_minutes", "must be 15 to 720".to_owned()));
        }
        if !(1..=10_000).contains(&self.slot_capacity) {
            errors.push(("slot_capacity", "must be 1 to 10000".to_owned()));
        }
        if self.window_end <= self.window_start {
            errors.push(("window_end", "must be after window_start".to_owned()));
        }
        errors
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    pub ships: bool,
    pub pickup: bool,
    /// Only with `pickup`.
    #[serde(default)]
    pub curbside: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_day: Option<SameDayConfig>,
    /// Minutes of opening time a pickup order takes to prepare (at most a week).
    #[serde(default = "default_prep_minutes")]
    #[schema(minimum = 0, maximum = 10_080)]
    pub pickup_preparation_minutes: u32,
    /// Days a ready pickup waits before it expires and its stock returns to the shelf.
    #[serde(default = "default_hold_days")]
    #[schema(minimum = 1, maximum = 60)]
    pub pickup_hold_days: u32,
}

fn default_prep_minutes() -> u32 {
    60
}

fn default_hold_days() -> u32 {
    3
}

impl Capabilities {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors: Vec<(String, String)> = Vec::new();
        if self.curbside && !self.pickup {
            errors.push(("curbside".into(), "needs pickup".into()));
        }
        if self.pickup_preparation_minutes > 7 * 24 * 60 {
            errors.push(("pickup_preparation_minutes".into(), "must be at most a week".into()));
        }
        if !(1..=60).contains(&self.pickup_hold_days) {
            errors.push(("pickup_hold_days".into(), "must be 1 to 60".into()));
        }
        if let Some(same_day) = &self.same_day {
            errors.extend(same_day.validate().into_iter().map(|(f, m)| (format!("same_day/{f}"), m)));
        }
        errors
    }
}

/// Everything a location is, as created or replaced by operators.
#[derive(Debug, Clone)]
pub struct LocationInput {
    pub code: Code,
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    pub point: GeoPoint,
    pub time_zone: TimeZone,
    pub opening_hours: OpeningHours,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: LocationId,
    pub code: Code,
    pub name: String,
    pub kind: LocationKind,
    pub address: Address,
    pub point: GeoPoint,
    pub time_zone: TimeZone,
    pub opening_hours: OpeningHours,
    pub capabilities: Capabilities,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Location {
    /// When a pickup order placed `now` here will be ready: the preparation
    /// time counted in opening hours, in the location's own time zone.
    pub fn pickup_ready_by(&self, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        super::hours::after_open_minutes(
            &self.opening_hours,
            self.time_zone.0,
            now,
            self.capabilities.pickup_preparation_minutes,
        )
    }
}
