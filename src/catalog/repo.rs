//! Rows and queries of the catalog tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::location::{Address, Capabilities, Location, LocationInput, LocationKind, OpeningHours, TimeZone};
use super::sku::{Sku, SkuInput};
use crate::db::schema::{locations, skus};
use crate::db::{AnyConnection, DbError, one_of};
use crate::types::{Code, Currency, GeoPoint, Gtin, LocationId, Money, SkuId};

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations)]
pub struct LocationRow {
    pub id: LocationId,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: String,
    pub opening_hours: String,
    pub ships: bool,
    pub pickup: bool,
    pub curbside: bool,
    pub same_day: Option<String>,
    pub pickup_prep_minutes: i32,
    pub pickup_hold_days: i32,
    pub tax_region: String,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The columns an update replaces.
#[derive(AsChangeset)]
#[diesel(table_name = locations)]
pub struct LocationChanges {
    pub name: String,
    pub kind: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub time_zone: String,
    pub opening_hours: String,
    pub ships: bool,
    pub pickup: bool,
    pub curbside: bool,
    pub same_day: Option<String>,
    pub pickup_prep_minutes: i32,
    pub pickup_hold_days: i32,
    pub tax_region: String,
    pub updated_at: NaiveDateTime,
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T, DbError> {
    serde_json::from_str(raw).map_err(|e| DbError::Corrupt(format!("{what}: {e}")))
}

impl LocationChanges {
    pub fn from_input(input: &LocationInput, now: NaiveDateTime) -> Self {
        let caps = &input.capabilities;
        Self {
            name: input.name.clone(),
            kind: input.kind.as_str().to_owned(),
            address: json(&input.address),
            latitude: input.point.latitude,
            longitude: input.point.longitude,
            time_zone: input.time_zone.to_string(),
            opening_hours: json(&input.opening_hours),
            ships: caps.ships,
            pickup: caps.pickup,
            curbside: caps.curbside,
            same_day: caps.same_day.as_ref().map(json),
            pickup_prep_minutes: caps.pickup_preparation_minutes as i32,
            pickup_hold_days: caps.pickup_hold_days as i32,
            tax_region: input.address.tax_region(),
            updated_at: now,
        }
    }
}

impl LocationRow {
    pub fn new(id: LocationId, input: &LocationInput, now: NaiveDateTime) -> Self {
        let c = LocationChanges::from_input(input, now);
        Self {
            id,
            code: input.code.as_str().to_owned(),
            name: c.name,
            kind: c.kind,
            address: c.address,
            latitude: c.latitude,
            longitude: c.longitude,
            time_zone: c.time_zone,
            opening_hours: c.opening_hours,
            ships: c.ships,
            pickup: c.pickup,
            curbside: c.curbside,
            same_day: c.same_day,
            pickup_prep_minutes: c.pickup_prep_minutes,
            pickup_hold_days: c.pickup_hold_days,
            tax_region: c.tax_region,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn into_location(self) -> Result<Location, DbError> {
        let address: Address = parse_json("location address", &self.address)?;
        let opening_hours: OpeningHours = parse_json("opening hours", &self.opening_hours)?;
        let same_day = self.same_day.as_deref().map(|raw| parse_json("same-day config", raw)).transpose()?;
        Ok(Location {
            id: self.id,
            code: Code::from_stored(self.code),
            name: self.name,
            kind: LocationKind::parse(&self.kind).map_err(DbError::Corrupt)?,
            address,
            point: GeoPoint { latitude: self.latitude, longitude: self.longitude },
            time_zone: TimeZone::try_from(self.time_zone).map_err(DbError::Corrupt)?,
            opening_hours,
            capabilities: Capabilities {
                ships: self.ships,
                pickup: self.pickup,
                curbside: self.curbside,
                same_day,
                pickup_preparation_minutes: self.pickup_prep_minutes as u32,
                pickup_hold_days: self.pickup_hold_days as u32,
            },
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub fn find_location(conn: &mut AnyConnection, code: &str) -> Result<Option<Location>, DbError> {
    locations::table
        .filter(locations::code.eq(code))
        .select(LocationRow::as_select())
        .first(conn)
        .optional()?
        .map(LocationRow::into_location)
        .transpose()
}

pub fn locations_by_ids(conn: &mut AnyConnection, ids: &[LocationId]) -> Result<Vec<Location>, DbError> {
    locations::table
        .filter(one_of(locations::id, ids))
        .select(LocationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(LocationRow::into_location)
        .collect()
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = skus)]
pub struct SkuRow {
    pub id: SkuId,
    pub code: String,
    pub name: String,
    pub search_name: String,
    pub gtin: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub spoken_names: String,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = skus, treat_none_as_null = true)]
pub struct SkuChanges {
    pub name: String,
    pub search_name: String,
    pub gtin: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub spoken_names: String,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

impl SkuChanges {
    pub fn from_input(input: &SkuInput, now: NaiveDateTime) -> Self {
        Self {
            name: input.name.clone(),
            search_name: input.search_text(),
            gtin: input.gtin.as_ref().map(|g| g.as_str().to_owned()),
            price_minor: input.price.minor,
            currency: input.price.currency.code().to_owned(),
            spoken_names: json(&input.spoken_names),
            active: input.active,
            updated_at: now,
        }
    }
}

impl SkuRow {
    pub fn new(id: SkuId, input: &SkuInput, now: NaiveDateTime) -> Self {
        let c = SkuChanges::from_input(input, now);
        Self {
            id,
            code: input.code.as_str().to_owned(),
            name: c.name,
            search_name: c.search_name,
            gtin: c.gtin,
            price_minor: c.price_minor,
            currency: c.currency,
            spoken_names: c.spoken_names,
            active: c.active,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn into_sku(self) -> Result<Sku, DbError> {
        let currency = Currency::parse(&self.currency).map_err(DbError::Corrupt)?;
        Ok(Sku {
            id: self.id,
            code: Code::from_stored(self.code),
            name: self.name,
            gtin: self.gtin.map(Gtin::from_stored),
            price: Money::new(self.price_minor, currency),
            spoken_names: parse_json("spoken names", &self.spoken_names)?,
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub fn find_sku_by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Sku>, DbError> {
    skus::table
        .filter(skus::code.eq(code))
        .select(SkuRow::as_select())
        .first(conn)
        .optional()?
        .map(SkuRow::into_sku)
        .transpose()
}

/// Finds a SKU by its code or, for what a barcode scanner sends, its GTIN.
pub fn find_sku(conn: &mut AnyConnection, code_or_gtin: &str) -> Result<Option<Sku>, DbError> {
    match find_sku_by_code(conn, code_or_gtin)? {
        None if Gtin::looks_like(code_or_gtin) => skus::table
            .filter(skus::gtin.eq(code_or_gtin))
            .select(SkuRow::as_select())
            .first(conn)
            .optional()?
            .map(SkuRow::into_sku)
            .transpose(),
        found => Ok(found),
    }
}

pub fn skus_by_ids(conn: &mut AnyConnection, ids: &[SkuId]) -> Result<Vec<Sku>, DbError> {
    skus::table
        .filter(one_of(skus::id, ids))
        .select(SkuRow::as_select())
        .load(conn)?
        .into_iter()
        .map(SkuRow::into_sku)
        .collect()
}
