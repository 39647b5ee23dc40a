//! The catalog: locations and SKUs, the master data every other domain names.

pub mod hours;
pub mod location;
mod repo;
pub mod sku;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use location::{Location, LocationInput};
pub use sku::{Component, Sku, SkuInput, normalize_words};

use crate::db::{AnyConnection, DbError, timestamp};
use crate::types::{Code, LocationId, Page, PageRequest, SkuId};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no location with code '{0}'")]
    LocationNotFound(String),
    #[error("no SKU with code or GTIN '{0}'")]
    SkuNotFound(String),
    #[error("location code '{0}' is already taken")]
    LocationCodeTaken(String),
    #[error("SKU code '{0}' is already taken")]
    SkuCodeTaken(String),
    #[error("GTIN '{0}' already belongs to another SKU")]
    GtinTaken(String),
    #[error("location '{}' has changed since version {seen}", .current.code)]
    LocationStale { seen: i32, current: Box<Location> },
    #[error("SKU '{}' has changed since version {seen}", .current.code)]
    SkuStale { seen: i32, current: Box<Sku> },
    #[error("no SKU with code or GTIN '{0}' to be a component of the kit")]
    ComponentUnknown(String),
    #[error("'{0}' is itself a kit; a kit's components must be ordinary SKUs")]
    KitInKit(String),
    #[error("'{0}' is listed twice among the kit's components; give it once with its quantity")]
    ComponentTwice(String),
    #[error("{}", kind_fixed(.code, *.kit))]
    KitKindFixed { code: String, kit: bool },
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(CatalogError);

fn kind_fixed(code: &str, kit: bool) -> String {
    if kit {
        format!("SKU '{code}' is a kit and stays one: give its components (a new SKU code sells the items alone)")
    } else {
        format!("SKU '{code}' is an ordinary SKU with stock and cannot become a kit: create the kit under a new code")
    }
}

/// A kit's components as stored, from the codes asked for: each an existing,
/// ordinary SKU, listed once (by code or GTIN). None for an ordinary SKU.
fn resolve_components(
    conn: &mut AnyConnection,
    wanted: Option<&[(String, i32)]>,
) -> Result<Option<Vec<Component>>, CatalogError> {
    let Some(wanted) = wanted else { return Ok(None) };
    let codes: Vec<String> = wanted.iter().map(|(code, _)| code.clone()).collect();
    let skus = resolve_skus(conn, &codes).map_err(|e| match e {
        CatalogError::SkuNotFound(code) => CatalogError::ComponentUnknown(code),
        other => other,
    })?;
    let mut components: Vec<Component> = Vec::with_capacity(wanted.len());
    for (sku, (code, quantity)) in skus.into_iter().zip(wanted) {
        if sku.is_kit() {
            return Err(CatalogError::KitInKit(code.clone()));
        }
        if components.iter().any(|c| c.sku_id == sku.id) {
            return Err(CatalogError::ComponentTwice(code.clone()));
        }
        components.push(Component { sku_id: sku.id, sku_code: sku.code.into_string(), quantity: *quantity });
    }
    Ok(Some(components))
}

pub fn create_location(
    conn: &mut AnyConnection,
    input: LocationInput,
    now: DateTime<Utc>,
) -> Result<Location, CatalogError> {
    let row = repo::LocationRow::new(LocationId::generate(), &input, timestamp(now));
    repo::insert_location(conn, &row).map_err(|e| match e {
        DbError::Unique(_) => CatalogError::LocationCodeTaken(input.code.to_string()),
        other => other.into(),
    })?;
    Ok(row.into_location()?)
}

pub fn get_location(conn: &mut AnyConnection, code: &str) -> Result<Location, CatalogError> {
    repo::find_location(conn, code)?.ok_or_else(|| CatalogError::LocationNotFound(code.to_owned()))
}

pub fn location_id_by_code(conn: &mut AnyConnection, code: &Code) -> Result<Option<LocationId>, CatalogError> {
    Ok(repo::location_id_by_code(conn, code.as_str())?)
}

pub fn locations_by_ids(conn: &mut AnyConnection, ids: &[LocationId]) -> Result<Vec<Location>, CatalogError> {
    Ok(repo::locations_by_ids(conn, ids)?)
}

/// Every active location (a retailer has tens or hundreds, not millions).
pub fn active_locations(conn: &mut AnyConnection) -> Result<Arc<Vec<Location>>, CatalogError> {
    Ok(repo::active_locations(conn)?)
}

pub fn list_locations(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<Location>, CatalogError> {
    let rows = repo::locations_page(conn, page.after.as_deref(), page.limit + 1)?;
    Ok(Page::from_rows(rows, page.limit, |l| l.id.to_string()))
}

/// Replaces a location's fields. With `expected_version`, a location changed
/// since then is refused with its current state.
pub fn update_location(
    conn: &mut AnyConnection,
    input: LocationInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Location, CatalogError> {
    let code = input.code.to_string();
    let changes = repo::LocationChanges::from_input(&input, timestamp(now));
    let changed = repo::update_location(conn, &code, &changes, expected_version)?;
    let current = get_location(conn, &code)?;
    match (changed, expected_version) {
        (false, Some(seen)) => Err(CatalogError::LocationStale { seen, current: Box::new(current) }),
        _ => Ok(current),
    }
}

pub fn set_location_active(
    conn: &mut AnyConnection,
    code: &str,
    active: bool,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Location, CatalogError> {
    let current = get_location(conn, code)?;
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(CatalogError::LocationStale { seen, current: Box::new(current) });
    }
    if !repo::set_location_active(conn, &current.id, current.version, active, timestamp(now))? {
        let now_is = get_location(conn, code)?;
        return Err(CatalogError::LocationStale { seen: current.version, current: Box::new(now_is) });
    }
    get_location(conn, code)
}

fn sku_write_error(input: &SkuInput, error: DbError) -> CatalogError {
    match error {
        DbError::Unique(constraint) if constraint.contains("gtin") => {
            CatalogError::GtinTaken(input.gtin.as_ref().map(|g| g.as_str().to_owned()).unwrap_or_default())
        }
        DbError::Unique(_) => CatalogError::SkuCodeTaken(input.code.to_string()),
        other => other.into(),
    }
}

pub fn create_sku(conn: &mut AnyConnection, input: SkuInput, now: DateTime<Utc>) -> Result<Sku, CatalogError> {
    let components = resolve_components(conn, input.components.as_deref())?;
    let row = repo::SkuRow::new(SkuId::generate(), &input, components.as_deref(), timestamp(now));
    repo::insert_sku(conn, &row).map_err(|e| sku_write_error(&input, e))?;
    Ok(row.into_sku()?)
}

/// Looks SKUs up by code or GTIN, in the order given: the codes in one
/// query, then each miss by GTIN.
pub fn resolve_skus(conn: &mut AnyConnection, codes: &[String]) -> Result<Vec<Sku>, CatalogError> {
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let found: HashMap<String, Sku> =
        repo::skus_by_codes(conn, &refs)?.into_iter().map(|s| (s.code.to_string(), s)).collect();
    codes
        .iter()
        .map(|code| match found.get(code) {
            Some(sku) => Ok(sku.clone()),
            None => get_sku(conn, code),
        })
        .collect()
}

/// Finds a SKU by code or GTIN.
pub fn get_sku(conn: &mut AnyConnection, code_or_gtin: &str) -> Result<Sku, CatalogError> {
    repo::find_sku(conn, code_or_gtin)?.ok_or_else(|| CatalogError::SkuNotFound(code_or_gtin.to_owned()))
}

pub fn skus_by_ids(conn: &mut AnyConnection, ids: &[SkuId]) -> Result<Vec<Sku>, CatalogError> {
    Ok(repo::skus_by_ids(conn, ids)?)
}

/// The codes of these SKUs, by id.
pub fn sku_codes(conn: &mut AnyConnection, ids: &[SkuId]) -> Result<HashMap<SkuId, String>, CatalogError> {
    Ok(repo::sku_codes(conn, ids)?.into_iter().collect())
}

/// SKUs by code, in one query; unknown codes are simply absent.
pub fn skus_by_codes(conn: &mut AnyConnection, codes: &[&str]) -> Result<Vec<Sku>, CatalogError> {
    Ok(repo::skus_by_codes(conn, codes)?)
}

/// The kits that hold any of these SKUs.
pub fn kits_containing(conn: &mut AnyConnection, skus: &[SkuId]) -> Result<Vec<SkuId>, CatalogError> {
    let wanted: HashSet<&SkuId> = skus.iter().collect();
    Ok(repo::kits(conn)?
        .into_iter()
        .filter(|kit| kit.components.iter().any(|c| wanted.contains(&c.sku_id)))
        .map(|kit| kit.id)
        .collect())
}

/// Every active SKU, for matching spoken phrases.
pub fn active_skus(conn: &mut AnyConnection) -> Result<Vec<Sku>, CatalogError> {
    Ok(repo::active_skus(conn)?)
}

/// Lists SKUs, optionally those whose name or spoken names contain `search`.
pub fn list_skus(
    conn: &mut AnyConnection,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Sku>, CatalogError> {
    // normalize_words leaves only letters, digits and spaces: no LIKE wildcards.
    let words = search.map(normalize_words).filter(|w| !w.is_empty());
    let rows = repo::skus_page(conn, words.as_deref(), page.after.as_deref(), page.limit + 1)?;
    Ok(Page::from_rows(rows, page.limit, |s| s.id.to_string()))
}

pub fn update_sku(
    conn: &mut AnyConnection,
    input: SkuInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Sku, CatalogError> {
    let code = input.code.to_string();
    let components = resolve_components(conn, input.components.as_deref())?;
    let changes = repo::SkuChanges::from_input(&input, components.as_deref(), timestamp(now));
    // Guarded by the kind as well: a kit stays a kit and an ordinary SKU
    // ordinary, so what holds stock never changes under an open order.
    let changed = repo::update_sku(conn, &code, &changes, expected_version).map_err(|e| sku_write_error(&input, e))?;
    let current = get_sku(conn, &code)?;
    if !changed && current.is_kit() != components.is_some() {
        return Err(CatalogError::KitKindFixed { code, kit: current.is_kit() });
    }
    match (changed, expected_version) {
        (false, Some(seen)) => Err(CatalogError::SkuStale { seen, current: Box::new(current) }),
        _ => Ok(current),
    }
}

pub fn set_sku_active(
    conn: &mut AnyConnection,
    code: &str,
    active: bool,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Sku, CatalogError> {
    let current = get_sku(conn, code)?;
    let input = SkuInput {
        code: current.code.clone(),
        name: current.name.clone(),
        gtin: current.gtin.clone(),
        price: current.price,
        spoken_names: current.spoken_names.clone(),
        active,
        tax_class: current.tax_class.clone(),
        components: current
            .is_kit()
            .then(|| current.components.iter().map(|c| (c.sku_code.clone(), c.quantity)).collect()),
    };
    update_sku(conn, input, expected_version, now)
}

/// What a bulk import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Creates the SKU or replaces the one with the same code (bulk import).
pub fn upsert_sku(conn: &mut AnyConnection, input: SkuInput, now: DateTime<Utc>) -> Result<Upserted, CatalogError> {
    match repo::find_sku_by_code(conn, input.code.as_str())? {
        None => create_sku(conn, input, now).map(|_| Upserted::Created),
        Some(existing) if same_sku(&existing, &input) => Ok(Upserted::Unchanged),
        Some(_) => update_sku(conn, input, None, now).map(|_| Upserted::Updated),
    }
}

fn same_sku(existing: &Sku, input: &SkuInput) -> bool {
    existing.name == input.name
        && existing.gtin == input.gtin
        && existing.price == input.price
        && existing.spoken_names == input.spoken_names
        && existing.active == input.active
        && existing.tax_class == input.tax_class
        && existing.is_kit() == input.components.is_some()
        && input.components.as_ref().is_none_or(|wanted| {
            wanted.len() == existing.components.len()
                && wanted.iter().zip(&existing.components).all(|((code, q), c)| *code == c.sku_code && *q == c.quantity)
        })
}
