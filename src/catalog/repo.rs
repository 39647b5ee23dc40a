//! Rows and queries of the catalog tables.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::location::{Address, Capabilities, Location, LocationInput, LocationKind, OpeningHours, TimeZone};
use super::sku::{Component, Sku, SkuInput};
use crate::db::schema::{locations, skus};
use crate::db::{AnyConnection, DbError, one_of, reference};
use crate::types::{Code, Currency, GeoPoint, Gtin, LocationId, Money, SkuId};

diesel::define_sql_function! {
    /// SQL `lower`: location codes are one whatever their case (a unique
    /// index on `lower(code)` keeps them so).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

fn rows_to_locations(rows: Vec<LocationRow>) -> Result<Vec<Location>, DbError> {
    rows.into_iter().map(LocationRow::into_location).collect()
}

fn rows_to_skus(rows: Vec<SkuRow>) -> Result<Vec<Sku>, DbError> {
    rows.into_iter().map(SkuRow::into_sku).collect()
}

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

// Locations and SKUs are reference data: the lookups below are served from
// the process's cache while no instance has changed them (`db::reference`),
// and every write here tells the others.

pub fn find_location(conn: &mut AnyConnection, code: &str) -> Result<Option<Location>, DbError> {
    let code = code.to_lowercase();
    reference::cached(conn, &format!("location-code:{code}"), |conn| {
        locations::table
            .filter(lower(locations::code).eq(&code))
            .select(LocationRow::as_select())
            .get_result(conn)
            .optional()?
            .map(LocationRow::into_location)
            .transpose()
    })
}

pub fn locations_by_ids(conn: &mut AnyConnection, ids: &[LocationId]) -> Result<Vec<Location>, DbError> {
    reference::cached_each(
        conn,
        ids,
        |id| format!("location:{id}"),
        |l: &Location| [format!("location:{}", l.id)],
        |conn, ids| {
            rows_to_locations(
                locations::table.filter(one_of(locations::id, ids)).select(LocationRow::as_select()).load(conn)?,
            )
        },
    )
}

pub fn insert_location(conn: &mut AnyConnection, row: &LocationRow) -> Result<(), DbError> {
    diesel::insert_into(locations::table).values(row).execute(conn)?;
    reference::changed(conn)
}

pub fn location_id_by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<LocationId>, DbError> {
    Ok(find_location(conn, code)?.map(|l| l.id))
}

/// Shared, not copied: every availability read and quote reads them all.
pub fn active_locations(conn: &mut AnyConnection) -> Result<Arc<Vec<Location>>, DbError> {
    reference::cached(conn, "locations:active", |conn| {
        rows_to_locations(
            locations::table
                .filter(locations::active.eq(true))
                .order(locations::code)
                .select(LocationRow::as_select())
                .load(conn)?,
        )
        .map(Arc::new)
    })
}

/// Up to `limit` locations after the id `after`, by id.
pub fn locations_page(conn: &mut AnyConnection, after: Option<&str>, limit: i64) -> Result<Vec<Location>, DbError> {
    let mut query = locations::table.select(LocationRow::as_select()).order(locations::id).into_boxed();
    if let Some(after) = after {
        query = query.filter(locations::id.gt(after.to_owned()));
    }
    rows_to_locations(query.limit(limit).load(conn)?)
}

/// Replaces a location's fields, if it is at `expected` (when given); false otherwise.
pub fn update_location(
    conn: &mut AnyConnection,
    code: &str,
    changes: &LocationChanges,
    expected: Option<i32>,
) -> Result<bool, DbError> {
    let target = locations::table.filter(lower(locations::code).eq(code.to_lowercase()));
    let bump = locations::version.eq(locations::version + 1);
    let changed = match expected {
        Some(seen) => diesel::update(target.filter(locations::version.eq(seen))).set((changes, bump)).execute(conn)?,
        None => diesel::update(target).set((changes, bump)).execute(conn)?,
    };
    if changed == 1 {
        reference::changed(conn)?;
    }
    Ok(changed == 1)
}

/// Activates or deactivates a location still at `version`; false otherwise.
pub fn set_location_active(
    conn: &mut AnyConnection,
    id: &LocationId,
    version: i32,
    active: bool,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let changed = diesel::update(locations::table.find(id).filter(locations::version.eq(version)))
        .set((
            locations::active.eq(active),
            locations::version.eq(locations::version + 1),
            locations::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1;
    if changed {
        reference::changed(conn)?;
    }
    Ok(changed)
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
    pub tax_class: String,
    pub components: Option<String>,
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
    pub tax_class: String,
    pub components: Option<String>,
}

impl SkuChanges {
    pub fn from_input(input: &SkuInput, components: Option<&[Component]>, now: NaiveDateTime) -> Self {
        Self {
            name: input.name.clone(),
            search_name: input.search_text(),
            gtin: input.gtin.as_ref().map(|g| g.as_str().to_owned()),
            price_minor: input.price.minor,
            currency: input.price.currency.code().to_owned(),
            spoken_names: json(&input.spoken_names),
            active: input.active,
            updated_at: now,
            tax_class: input.tax_class.clone(),
            components: components.map(|c| json(&c)),
        }
    }
}

impl SkuRow {
    pub fn new(id: SkuId, input: &SkuInput, components: Option<&[Component]>, now: NaiveDateTime) -> Self {
        let c = SkuChanges::from_input(input, components, now);
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
            tax_class: c.tax_class,
            components: c.components,
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
            tax_class: self.tax_class,
            components: match &self.components {
                Some(raw) => parse_json("kit components", raw)?,
                None => Vec::new(),
            },
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub fn find_sku_by_code(conn: &mut AnyConnection, code: &str) -> Result<Option<Sku>, DbError> {
    Ok(skus_by_codes(conn, &[code])?.pop())
}

/// Finds a SKU by its code or, for what a barcode scanner sends, its GTIN.
pub fn find_sku(conn: &mut AnyConnection, code_or_gtin: &str) -> Result<Option<Sku>, DbError> {
    match find_sku_by_code(conn, code_or_gtin)? {
        None if Gtin::looks_like(code_or_gtin) => {
            reference::cached(conn, &format!("sku-gtin:{code_or_gtin}"), |conn| {
                skus::table
                    .filter(skus::gtin.eq(code_or_gtin))
                    .select(SkuRow::as_select())
                    .get_result(conn)
                    .optional()?
                    .map(SkuRow::into_sku)
                    .transpose()
            })
        }
        found => Ok(found),
    }
}

/// A SKU is kept under its id and its code: a request that resolved a code
/// finds the SKU again by id (its cart lines, its order lines) for free.
fn sku_keys(sku: &Sku) -> [String; 2] {
    [format!("sku:{}", sku.id), format!("sku-code:{}", sku.code)]
}

pub fn skus_by_ids(conn: &mut AnyConnection, ids: &[SkuId]) -> Result<Vec<Sku>, DbError> {
    reference::cached_each(
        conn,
        ids,
        |id| format!("sku:{id}"),
        sku_keys,
        |conn, ids| rows_to_skus(skus::table.filter(one_of(skus::id, ids)).select(SkuRow::as_select()).load(conn)?),
    )
}

pub fn insert_sku(conn: &mut AnyConnection, row: &SkuRow) -> Result<(), DbError> {
    diesel::insert_into(skus::table).values(row).execute(conn)?;
    reference::changed(conn)
}

pub fn sku_codes(conn: &mut AnyConnection, ids: &[SkuId]) -> Result<Vec<(SkuId, String)>, DbError> {
    Ok(skus_by_ids(conn, ids)?.into_iter().map(|s| (s.id, s.code.into_string())).collect())
}

/// SKUs by code; unknown codes are absent (and looked up again next time:
/// only found SKUs are cached).
pub fn skus_by_codes(conn: &mut AnyConnection, codes: &[&str]) -> Result<Vec<Sku>, DbError> {
    reference::cached_each(
        conn,
        codes,
        |code| format!("sku-code:{code}"),
        sku_keys,
        |conn, codes| {
            rows_to_skus(skus::table.filter(one_of(skus::code, codes)).select(SkuRow::as_select()).load(conn)?)
        },
    )
}

/// Every kit. Kits are a few of a catalogue and their components are JSON,
/// so the list is read whole, once per change of the catalogue (cached): a
/// marketplace refresh asks on every stock change.
pub fn kits(conn: &mut AnyConnection) -> Result<Vec<Sku>, DbError> {
    reference::cached(conn, "skus:kits", |conn| {
        rows_to_skus(skus::table.filter(skus::components.is_not_null()).select(SkuRow::as_select()).load(conn)?)
    })
}

pub fn active_skus(conn: &mut AnyConnection) -> Result<Vec<Sku>, DbError> {
    rows_to_skus(skus::table.filter(skus::active.eq(true)).select(SkuRow::as_select()).load(conn)?)
}

/// Up to `limit` SKUs after the id `after`, by id; with `words`, those whose
/// normalised names contain them.
pub fn skus_page(
    conn: &mut AnyConnection,
    words: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Sku>, DbError> {
    let mut query = skus::table.select(SkuRow::as_select()).order(skus::id).into_boxed();
    if let Some(after) = after {
        query = query.filter(skus::id.gt(after.to_owned()));
    }
    if let Some(words) = words {
        query = query.filter(skus::search_name.like(format!("%{words}%")));
    }
    rows_to_skus(query.limit(limit).load(conn)?)
}

/// Replaces a SKU's fields, if it is at `expected` (when given); false otherwise.
pub fn update_sku(
    conn: &mut AnyConnection,
    code: &str,
    changes: &SkuChanges,
    expected: Option<i32>,
) -> Result<bool, DbError> {
    // Invariant: whether a SKU is a kit never changes (see `catalog::update_sku`).
    let target =
        skus::table.filter(skus::code.eq(code)).filter(skus::components.is_null().eq(changes.components.is_none()));
    let bump = skus::version.eq(skus::version + 1);
    let changed = match expected {
        Some(seen) => diesel::update(target.filter(skus::version.eq(seen))).set((changes, bump)).execute(conn)?,
        None => diesel::update(target).set((changes, bump)).execute(conn)?,
    };
    if changed == 1 {
        reference::changed(conn)?;
    }
    Ok(changed == 1)
}
