//! Marketplaces: channels with their own APIs. Each listing's quantity is
//! computed from network stock (share and buffer applied, [`stock`]), kept
//! in the database and pushed by a worker ([`sync`]); order webhooks come in
//! signed and become orders with stock allocated at once ([`webhook`]).
//! This file keeps marketplaces and listings; `repo` owns every table.

pub mod amazon;
pub mod connector;
pub mod model;
mod repo;
pub mod shopify;
pub mod stock;
pub mod sync;
pub mod webhook;

use chrono::{DateTime, Utc};

pub use model::{
    ConnectorKind, Listing, Marketplace, MarketplaceError, MarketplaceInput, PushLogEntry, Share, SyncState,
};

use crate::catalog;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::secret::{Keyring, Sealed};
use crate::types::{MarketplaceId, Page, PageRequest, SkuId};

/// Resolves a marketplace by its name or id.
pub fn id_by_name_or_id(conn: &mut AnyConnection, name_or_id: &str) -> Result<Option<MarketplaceId>, DbError> {
    repo::id_by_name_or_id(conn, name_or_id)
}

fn name_taken(input: &MarketplaceInput, error: DbError) -> MarketplaceError {
    match error {
        DbError::Unique(_) => MarketplaceError::NameTaken(input.name.clone()),
        other => other.into(),
    }
}

pub fn create(
    conn: &mut AnyConnection,
    input: MarketplaceInput,
    now: DateTime<Utc>,
) -> Result<Marketplace, MarketplaceError> {
    check_locations(conn, &input)?;
    let id = MarketplaceId::generate();
    let credentials = input.credentials.clone().unwrap_or_default();
    let secret = input.webhook_secret.clone().unwrap_or_default();
    repo::insert(conn, &id, &input, (credentials.as_stored(), secret.as_stored()), timestamp(now))
        .map_err(|e| name_taken(&input, e))?;
    get(conn, &id)
}

/// Refuses a set of locations that names one that does not exist.
fn check_locations(conn: &mut AnyConnection, input: &MarketplaceInput) -> Result<(), MarketplaceError> {
    for code in input.locations.iter().flatten() {
        if catalog::location_id_by_code(conn, code)?.is_none() {
            return Err(MarketplaceError::UnknownLocation(code.to_string()));
        }
    }
    Ok(())
}

/// (marketplace name, `pending` or `dead`, stock pushes), for the metrics.
pub fn backlog(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, MarketplaceError> {
    Ok(repo::backlog(conn)?)
}

pub fn get(conn: &mut AnyConnection, id: &MarketplaceId) -> Result<Marketplace, MarketplaceError> {
    repo::find(conn, id)?.ok_or_else(|| MarketplaceError::NotFound(id.to_string()))
}

pub fn list(conn: &mut AnyConnection, page: &PageRequest) -> Result<Page<Marketplace>, MarketplaceError> {
    let rows = repo::page(conn, page.after.as_deref(), page.limit + 1)?;
    Ok(Page::from_rows(rows, page.limit, |m| m.id.to_string()))
}

/// Replaces a marketplace (keeping secrets not given); quantities follow.
pub fn update(
    conn: &mut AnyConnection,
    id: &MarketplaceId,
    input: MarketplaceInput,
    expected_version: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Marketplace, MarketplaceError> {
    let current = get(conn, id)?;
    if let Some(seen) = expected_version.filter(|seen| *seen != current.version) {
        return Err(MarketplaceError::Stale { seen, current: Box::new(current) });
    }
    check_locations(conn, &input)?;
    let credentials = input.credentials.clone().unwrap_or_else(|| current.credentials.clone());
    let secret = input.webhook_secret.clone().unwrap_or_else(|| current.webhook_secret.clone());
    let secrets = (credentials.as_stored(), secret.as_stored());
    let replaced =
        repo::replace(conn, id, current.version, &input, secrets, timestamp(now)).map_err(|e| name_taken(&input, e))?;
    if !replaced {
        let now_is = get(conn, id)?;
        return Err(MarketplaceError::Stale { seen: current.version, current: Box::new(now_is) });
    }
    // Share, buffer, locations or activity changed: every listing is recomputed.
    stock::refresh_all(conn, id, false, now)?;
    get(conn, id)
}

/// Seals the secrets of marketplaces stored before secrets were sealed
/// (at start-up); returns how many marketplaces it sealed.
pub fn seal_stored_secrets(conn: &mut AnyConnection, keyring: &Keyring) -> Result<usize, DbError> {
    let plain = repo::unsealed(conn)?;
    for (id, credentials, secret) in &plain {
        let seal =
            |raw: &str| if raw.is_empty() || raw == "{}" { Sealed::default() } else { keyring.seal(raw.as_bytes()) };
        let (credentials, secret) = (seal(credentials), seal(secret));
        repo::set_secrets(conn, id, (credentials.as_stored(), secret.as_stored()))?;
    }
    Ok(plain.len())
}

/// Maps a SKU to its listing (creating or replacing); its quantity follows.
pub fn put_listing(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku_code: &str,
    listing_id: &str,
    seller_sku: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Listing, MarketplaceError> {
    get(conn, marketplace)?;
    let sku = catalog::get_sku(conn, sku_code)?;
    let listing = Listing {
        marketplace_id: marketplace.clone(),
        sku_id: sku.id.clone(),
        listing_id: listing_id.to_owned(),
        seller_sku: seller_sku.unwrap_or(sku.code.as_str()).to_owned(),
    };
    repo::put_listing(conn, &listing).map_err(|e| match e {
        DbError::Unique(_) => MarketplaceError::ListingTaken(listing_id.to_owned()),
        other => other.into(),
    })?;
    stock::refresh(conn, Some(marketplace), std::slice::from_ref(&sku.id), false, now)?;
    Ok(listing)
}

/// A SKU was replaced or deactivated: what its listings offer may have
/// changed (a kit's components, or whether it sells at all).
pub fn sku_changed(conn: &mut AnyConnection, sku: &SkuId, now: DateTime<Utc>) -> Result<(), MarketplaceError> {
    stock::refresh(conn, None, std::slice::from_ref(sku), false, now).map(|_| ())
}

pub fn remove_listing(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    sku_code: &str,
) -> Result<(), MarketplaceError> {
    let sku = catalog::get_sku(conn, sku_code)?;
    if !repo::delete_listing(conn, marketplace, &sku.id)? {
        return Err(MarketplaceError::ListingNotFound(sku_code.to_owned()));
    }
    Ok(())
}

/// A marketplace's listings, each with our SKU's code.
pub fn listings(
    conn: &mut AnyConnection,
    marketplace: &MarketplaceId,
    page: &PageRequest,
) -> Result<Page<(Listing, String)>, MarketplaceError> {
    let rows = repo::listings_page(conn, marketplace, page.after.as_deref(), page.limit + 1)?;
    let ids: Vec<SkuId> = rows.iter().map(|l| l.sku_id.clone()).collect();
    let codes = catalog::sku_codes(conn, &ids)?;
    let rows = rows
        .into_iter()
        .map(|l| {
            let code = codes.get(&l.sku_id).cloned().unwrap_or_else(|| l.sku_id.to_string());
            (l, code)
        })
        .collect();
    Ok(Page::from_rows(rows, page.limit, |(l, _)| l.sku_id.to_string()))
}
