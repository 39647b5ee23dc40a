//! Store time: opening hours and cut-offs are wall-clock times in the store's
//! own zone; everything stored is UTC. The conversions live here.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::text_enum;

text_enum! {
    /// Days of the week as they appear in opening hours.
    pub enum Day {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

impl From<Weekday> for Day {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

/// A wall-clock time of day, written `"HH:MM"`, in the location's own zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "09:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
pub struct LocalTime(pub NaiveTime);

impl TryFrom<String> for LocalTime {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        raw.split_once(':')
            .filter(|(h, m)| two_digits(h) && two_digits(m))
            .and_then(|_| NaiveTime::parse_from_str(&raw, "%H:%M").ok())
            .map(LocalTime)
            .ok_or_else(|| format!("'{raw}' is not a time of day as HH:MM"))
    }
}

impl From<LocalTime> for String {
    fn from(time: LocalTime) -> String {
        time.0.format("%H:%M").to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInterval {
    pub open: LocalTime,
    pub close: LocalTime,
}

/// Opening hours per weekday; a day that is absent or empty is closed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpeningHours(pub BTreeMap<Day, Vec<OpenInterval>>);

// Written out: a map keyed by `Day` is an object with exactly those seven
// keys, which the derive would document as any key at all.
impl utoipa::PartialSchema for OpeningHours {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
        let intervals = || ArrayBuilder::new().items(OpenInterval::schema()).max_items(Some(24));
        Day::ALL
            .iter()
            .fold(ObjectBuilder::new(), |object, day| object.property(day.as_str(), intervals()))
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
            .description(Some("Opening intervals per weekday (`mon` … `sun`); a day absent or empty is closed. Intervals close after they open and do not overlap."))
            .into()
    }
}

impl utoipa::ToSchema for OpeningHours {}

impl OpeningHours {
    pub fn on(&self, day: Weekday) -> &[OpenInterval] {
        self.0.get(&Day::from(day)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Each interval must close after it opens and not overlap the next.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (day, intervals) in &self.0 {
            let mut sorted = intervals.clone();
            sorted.sort_by_key(|i| i.open);
            for interval in &sorted {
                if interval.close <= interval.open {
                    errors.push(format!("{day}: closes before it opens"));
                }
            }
            if sorted.windows(2).any(|w| w[1].open < w[0].close) {
                errors.push(format!("{day}: intervals overlap"));
            }
        }
        errors
    }
}

/// The UTC instant of a local wall-clock time. In the autumn overlap the
/// earlier instant counts; in the spring gap, the first instant after it.
pub fn to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // A wall-clock time that does not exist: move past the gap (at most an hour or two).
            let mut probe = local;
            loop {
                probe += Duration::minutes(15);
                if let Some(at) = zone.from_local_datetime(&probe).earliest() {
                    return at.with_timezone(&Utc);
                }
            }
        }
    }
}

/// The local date of an instant in `zone`.
pub fn local_date(zone: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// When `work` minutes of opening time have passed after `now`: the time a
/// pickup order is ready. A store with no hours at all counts as always open.
/// Looks two weeks ahead; a store closed that long gives `None`.
pub fn after_open_minutes(hours: &OpeningHours, zone: Tz, now: DateTime<Utc>, work: u32) -> Option<DateTime<Utc>> {
    if hours.0.values().all(Vec::is_empty) {
        return Some(now + Duration::minutes(i64::from(work)));
    }
    let mut left = i64::from(work);
    let today = local_date(zone, now);
    for offset in 0..14 {
        let day = today + Duration::days(offset);
        let mut intervals = hours.on(chrono::Datelike::weekday(&day)).to_vec();
        intervals.sort_by_key(|i| i.open);
        for interval in intervals {
            let open = to_utc(zone, day.and_time(interval.open.0));
            let close = to_utc(zone, day.and_time(interval.close.0));
            let start = open.max(now);
            if start >= close {
                continue;
            }
            let available = (close - start).num_minutes();
            if left <= available {
                return Some(start + Duration::minutes(left));
            }
            left -= available;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveTime;

    use super::*;

    fn hours() -> OpeningHours {
        let t = |h, m| LocalTime(NaiveTime::from_hms_opt(h, m, 0).unwrap());
        let day = vec![OpenInterval { open: t(8, 0), close: t(22, 0) }];
        OpeningHours(BTreeMap::from([(Day::Mon, day.clone()), (Day::Tue, day.clone()), (Day::Sat, day)]))
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        to_utc(chrono_tz::Europe::Berlin, NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap())
    }

    #[test]
    fn ready_within_the_same_opening() {
        let ready = after_open_minutes(&hours(), chrono_tz::Europe::Berlin, berlin(2026, 6, 15, 10, 0), 60);
        assert_eq!(ready, Some(berlin(2026, 6, 15, 11, 0)));
    }

    #[test]
    fn an_order_just_before_closing_is_ready_next_opening_morning() {
        // Monday 21:50, 60 minutes: 10 tonight, 50 from Tuesday 08:00.
        let ready = after_open_minutes(&hours(), chrono_tz::Europe::Berlin, berlin(2026, 6, 15, 21, 50), 60);
        assert_eq!(ready, Some(berlin(2026, 6, 16, 8, 50)));
    }

    #[test]
    fn closed_days_are_skipped() {
        // Tuesday 23:00: Wednesday to Friday closed, Saturday opens at 08:00.
        let ready = after_open_minutes(&hours(), chrono_tz::Europe::Berlin, berlin(2026, 6, 16, 23, 0), 30);
        assert_eq!(ready, Some(berlin(2026, 6, 20, 8, 30)));
    }

    #[test]
    fn local_times_across_the_spring_gap_and_autumn_overlap() {
        let zone = chrono_tz::Europe::Berlin;
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(to_utc(zone, gap).to_rfc3339(), "2026-03-29T01:00:00+00:00");
        let overlap = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(to_utc(zone, overlap).to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }
}
