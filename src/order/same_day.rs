//! Same-day delivery: which stores cover an address, their delivery slots in
//! their own time zone, the daily cut-off, and booking a slot so that it is
//! never overbooked.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::repo;
use crate::catalog::hours::{local_date, to_utc};
use crate::catalog::{self, CatalogError, Location};
use crate::db::{AnyConnection, DbError, timestamp};
use crate::inventory::{self, InventoryError, Item, LevelAt};
use crate::text_enum;
use crate::types::{GeoPoint, LocationId};

/// Days ahead searched for the next possible slot.
const LOOKAHEAD_DAYS: i64 = 7;

text_enum! {
    /// Why nothing can be promised for today.
    pub enum Unavailable {
        OutOfRange => "out_of_range",
        NoStock => "no_stock",
        AfterCutoff => "after_cutoff",
        Full => "full",
        SlotFull => "slot_full",
        UnknownSlot => "unknown_slot",
    }
}

/// One delivery window of one store.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// `<location code>@<local start, YYYY-MM-DDTHH:MM>`.
    pub id: String,
    pub location_id: LocationId,
    pub location_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub booked: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum SameDayError {
    #[error("{}", describe(.reason, .next.as_deref()))]
    Unavailable { reason: Unavailable, next: Option<Box<Slot>> },
    #[error("same-day delivery needs a slot: choose one from /v1/same-day/slots")]
    SlotRequired,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(SameDayError);

fn describe(reason: &Unavailable, next: Option<&Slot>) -> String {
    let why = match reason {
        Unavailable::OutOfRange => "no store delivering same-day covers this address",
        Unavailable::NoStock => "no store in range has every item",
        Unavailable::AfterCutoff => "today's cut-off for same-day orders has passed",
        Unavailable::Full => "today's delivery slots are full",
        Unavailable::SlotFull => "that delivery slot is full",
        Unavailable::UnknownSlot => "that delivery slot does not exist",
    };
    match next {
        Some(slot) => format!("{why}; the next possible slot is {} from {}", slot.id, slot.starts_at.to_rfc3339()),
        None => format!("{why}; standard shipping is available"),
    }
}

/// The slot id of a store's window starting at a local time.
fn slot_id(location: &Location, local_start: NaiveDateTime) -> String {
    format!("{}@{}", location.code, local_start.format("%Y-%m-%dT%H:%M"))
}

/// Splits a slot id into the location code and local start.
pub fn parse_slot_id(id: &str) -> Option<(&str, NaiveDateTime)> {
    let (code, start) = id.rsplit_once('@')?;
    Some((code, NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M").ok()?))
}

/// A store's windows on a local date (pure).
pub fn schedule(location: &Location, date: NaiveDate) -> Vec<Slot> {
    let Some(config) = location.capabilities.same_day else { return Vec::new() };
    let zone = location.time_zone.0;
    let step = Duration::minutes(i64::from(config.slot_minutes));
    let mut slots = Vec::new();
    let mut start = date.and_time(config.window_start.0);
    let end = date.and_time(config.window_end.0);
    while start + step <= end {
        slots.push(Slot {
            id: slot_id(location, start),
            location_id: location.id.clone(),
            location_code: location.code.to_string(),
            starts_at: to_utc(zone, start),
            ends_at: to_utc(zone, start + step),
            capacity: config.slot_capacity as i32,
            booked: 0,
        });
        start += step;
    }
    slots
}

/// The moment orders stop for the store's slots of a local date.
pub fn cutoff(location: &Location, date: NaiveDate) -> Option<DateTime<Utc>> {
    location.capabilities.same_day.map(|c| to_utc(location.time_zone.0, date.and_time(c.cutoff.0)))
}

/// Whether a slot can still be promised at `now`: before its day's cut-off
/// (in the store's zone) and not yet started.
pub fn open_for_orders(location: &Location, slot: &Slot, now: DateTime<Utc>) -> Result<(), Unavailable> {
    let date = local_date(location.time_zone.0, slot.starts_at);
    match cutoff(location, date) {
        Some(cut) if now < cut && now < slot.starts_at => Ok(()),
        Some(_) => Err(Unavailable::AfterCutoff),
        None => Err(Unavailable::UnknownSlot),
    }
}

/// Whether the store delivers same-day to this point.
pub fn covers(location: &Location, point: GeoPoint) -> bool {
    location.active && location.capabilities.same_day.is_some_and(|c| location.point.distance_km(point) <= c.radius_km)
}

/// Fills in how many deliveries each slot already holds.
fn with_bookings(conn: &mut AnyConnection, mut slots: Vec<Slot>) -> Result<Vec<Slot>, DbError> {
    let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
    let booked: HashMap<String, i32> = repo::slot_bookings(conn, &ids)?.into_iter().collect();
    for slot in &mut slots {
        slot.booked = booked.get(&slot.id).copied().unwrap_or(0);
    }
    Ok(slots)
}

/// Stores covering the point that have every line in stock.
fn stocked(
    conn: &mut AnyConnection,
    point: GeoPoint,
    lines: &[(Item, i32)],
) -> Result<(Vec<Location>, Vec<Location>), SameDayError> {
    let locations = catalog::active_locations(conn)?;
    let items: Vec<Item> = lines.iter().map(|(item, _)| item.clone()).collect();
    let levels: Vec<LevelAt> = inventory::levels_among(conn, &items, locations.iter())?;
    let covering: Vec<Location> = locations.iter().filter(|l| covers(l, point)).cloned().collect();
    let has_all = |l: &Location| {
        lines.iter().all(|(item, q)| {
            let here = levels.iter().find(|v| v.sku_id == item.sku_id && v.location_id == l.id);
            here.is_some_and(|v| v.available() >= *q)
        })
    };
    let stocked = covering.iter().filter(|l| has_all(l)).cloned().collect();
    Ok((covering, stocked))
}

/// Slots that can be promised today for these lines to this point, soonest
/// first; when there are none, why, with the next possible slot.
pub fn offers(
    conn: &mut AnyConnection,
    point: GeoPoint,
    lines: &[(Item, i32)],
    now: DateTime<Utc>,
) -> Result<Vec<Slot>, SameDayError> {
    let (covering, stores) = stocked(conn, point, lines)?;
    if covering.is_empty() {
        return Err(SameDayError::Unavailable { reason: Unavailable::OutOfRange, next: None });
    }
    if stores.is_empty() {
        return Err(SameDayError::Unavailable { reason: Unavailable::NoStock, next: None });
    }
    let mut today = Vec::new();
    let mut after_cutoff = true;
    for store in &stores {
        if cutoff(store, local_date(store.time_zone.0, now)).is_some_and(|cut| now < cut) {
            after_cutoff = false;
        }
        today.extend(with_room_today(conn, store, now)?);
    }
    today.sort_by_key(|s| s.starts_at);
    if !today.is_empty() {
        return Ok(today);
    }
    let reason = if after_cutoff { Unavailable::AfterCutoff } else { Unavailable::Full };
    Err(SameDayError::Unavailable { reason, next: next_slot(conn, &stores, now)?.map(Box::new) })
}

/// A store's slots of today that can still be promised and have room, soonest first.
fn with_room_today(conn: &mut AnyConnection, store: &Location, now: DateTime<Utc>) -> Result<Vec<Slot>, DbError> {
    let open: Vec<Slot> = schedule(store, local_date(store.time_zone.0, now))
        .into_iter()
        .filter(|s| open_for_orders(store, s, now).is_ok())
        .collect();
    Ok(with_bookings(conn, open)?.into_iter().filter(|s| s.booked < s.capacity).collect())
}

/// The earliest slot on a later day with room, among these stores.
fn next_slot(conn: &mut AnyConnection, stores: &[Location], now: DateTime<Utc>) -> Result<Option<Slot>, DbError> {
    let mut best: Option<Slot> = None;
    for store in stores {
        let today = local_date(store.time_zone.0, now);
        for days in 1..=LOOKAHEAD_DAYS {
            let open: Vec<Slot> = schedule(store, today + Duration::days(days))
                .into_iter()
                .filter(|s| open_for_orders(store, s, now).is_ok())
                .collect();
            if let Some(slot) = with_bookings(conn, open)?.into_iter().find(|s| s.booked < s.capacity) {
                if best.as_ref().is_none_or(|b| slot.starts_at < b.starts_at) {
                    best = Some(slot);
                }
                break;
            }
        }
    }
    Ok(best)
}

/// The slot an id names, if the store offers it.
pub fn find(conn: &mut AnyConnection, id: &str) -> Result<(Location, Slot), SameDayError> {
    let unknown = || SameDayError::Unavailable { reason: Unavailable::UnknownSlot, next: None };
    let (code, local) = parse_slot_id(id).ok_or_else(unknown)?;
    let store = catalog::get_location(conn, code).map_err(|_| unknown())?;
    let slot = schedule(&store, local.date()).into_iter().find(|s| s.id == id).ok_or_else(unknown)?;
    Ok((store, slot))
}

/// Books one delivery in the slot, in the caller's transaction. Refused when
/// it cannot be had, offering the earliest slot with room: later today if
/// any (the chosen one is full), otherwise on a later day.
pub fn book(conn: &mut AnyConnection, store: &Location, slot: &Slot, now: DateTime<Utc>) -> Result<(), SameDayError> {
    let refuse = |conn: &mut AnyConnection, reason: Unavailable| -> Result<(), SameDayError> {
        let today = with_room_today(conn, store, now)?.into_iter().find(|s| s.id != slot.id);
        let (reason, next) = match today {
            Some(other) => (if reason == Unavailable::Full { Unavailable::SlotFull } else { reason }, Some(other)),
            None => (reason, next_slot(conn, std::slice::from_ref(store), now)?),
        };
        Err(SameDayError::Unavailable { reason, next: next.map(Box::new) })
    };
    if let Err(reason) = open_for_orders(store, slot, now) {
        return refuse(conn, reason);
    }
    let window = (timestamp(slot.starts_at), timestamp(slot.ends_at));
    if !repo::book_slot(conn, &slot.id, &store.id, window, slot.capacity)? {
        return refuse(conn, Unavailable::Full);
    }
    Ok(())
}

/// Gives the delivery of a same-day fulfilment that ended undelivered back
/// to its slot. Only the fulfilment that delivers (the one with a store)
/// holds the booking, so a part that was never allocated gives nothing back.
pub fn unbook(conn: &mut AnyConnection, fulfilment: &super::Fulfilment) -> Result<(), DbError> {
    match (&fulfilment.slot_id, &fulfilment.location_id) {
        (Some(slot_id), Some(_)) if fulfilment.method == super::state::Method::SameDay.as_str() => {
            repo::unbook_slot(conn, slot_id)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveTime, TimeZone};

    use super::*;
    use crate::catalog::location::{
        Address, Capabilities, LocalTime, LocationKind, OpeningHours, SameDayConfig, TimeZone as Zone,
    };
    use crate::types::Code;

    fn store(zone: chrono_tz::Tz) -> Location {
        let t = |h| LocalTime(NaiveTime::from_hms_opt(h, 0, 0).unwrap());
        Location {
            id: LocationId("L".into()),
            code: Code::parse("NYC-1").unwrap(),
            name: "Store".into(),
            kind: LocationKind::Store,
            address: Address {
                line1: "1".into(),
                line2: None,
                city: "x".into(),
                postal_code: "1".into(),
                region: None,
                country: "US".into(),
            },
            point: GeoPoint { latitude: 40.7, longitude: -74.0 },
            time_zone: Zone(zone),
            opening_hours: OpeningHours(BTreeMap::new()),
            capabilities: Capabilities {
                ships: false,
                pickup: true,
                curbside: false,
                same_day: Some(SameDayConfig {
                    radius_km: 10.0,
                    cutoff: t(14),
                    slot_minutes: 120,
                    slot_capacity: 5,
                    window_start: t(16),
                    window_end: t(22),
                }),
                pickup_preparation_minutes: 30,
                pickup_hold_days: 3,
            },
            active: true,
            version: 1,
            created_at: NaiveDateTime::default(),
            updated_at: NaiveDateTime::default(),
        }
    }

    #[test]
    fn slots_and_cutoff_follow_the_stores_clock_across_dst() {
        let s = store(chrono_tz::America::New_York);
        // 2026-03-08: clocks go forward in New York at 02:00 (UTC-5 → UTC-4).
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let slots = schedule(&s, day);
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0].id, "NYC-1@2026-03-08T16:00");
        assert_eq!(slots[0].starts_at, Utc.with_ymd_and_hms(2026, 3, 8, 20, 0, 0).unwrap(), "16:00 EDT is 20:00 UTC");
        assert_eq!(cutoff(&s, day), Some(Utc.with_ymd_and_hms(2026, 3, 8, 18, 0, 0).unwrap()));
        // The day before, still on standard time, the cut-off is an hour later in UTC.
        let before = day.pred_opt().unwrap();
        assert_eq!(cutoff(&s, before), Some(Utc.with_ymd_and_hms(2026, 3, 7, 19, 0, 0).unwrap()));
        let just_after = Utc.with_ymd_and_hms(2026, 3, 8, 18, 1, 0).unwrap();
        assert_eq!(open_for_orders(&s, &slots[0], just_after), Err(Unavailable::AfterCutoff));
        let just_before = Utc.with_ymd_and_hms(2026, 3, 8, 17, 59, 0).unwrap();
        assert_eq!(open_for_orders(&s, &slots[2], just_before), Ok(()));
        assert_eq!(parse_slot_id("NYC-1@2026-03-08T16:00").map(|(c, _)| c), Some("NYC-1"));
    }
}
