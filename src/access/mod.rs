//! API keys: who may call, in which role, bound to which location, channel or
//! marketplace. Only a SHA-256 of each secret is stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::catalog;
use crate::db::schema::api_keys;
use crate::db::{AnyConnection, DbError, timestamp};
use crate::secret;
use crate::text_enum;
use crate::types::{ApiKeyId, Code, LocationId, MarketplaceId};

text_enum! {
    /// What a key may do.
    pub enum Role {
        Admin => "admin",
        Staff => "staff",
        Pos => "pos",
        Storefront => "storefront",
        Marketplace => "marketplace",
    }
}

text_enum! {
    /// The channel a change came through, recorded on every cart change,
    /// order, ledger row and audit entry.
    pub enum Channel {
        Web => "web",
        App => "app",
        Voice => "voice",
        Kiosk => "kiosk",
        Pos => "pos",
        Staff => "staff",
        Admin => "admin",
        Marketplace => "marketplace",
        System => "system",
    }
}

impl Channel {
    /// Channels a storefront key can be bound to.
    pub const STOREFRONT: &'static [Channel] = &[Channel::Web, Channel::App, Channel::Voice, Channel::Kiosk];
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub role: Role,
    pub location_id: Option<LocationId>,
    pub channel: Channel,
    pub marketplace_id: Option<MarketplaceId>,
}

impl Principal {
    /// The actor recorded for changes made by background jobs.
    pub fn system() -> Self {
        Self {
            key_id: ApiKeyId("system".into()),
            role: Role::Admin,
            location_id: None,
            channel: Channel::System,
            marketplace_id: None,
        }
    }

    /// Whether this caller may act at `location`: admins anywhere, location-bound
    /// keys only at their own, other roles wherever the endpoint lets them.
    pub fn may_act_at(&self, location: &LocationId) -> bool {
        match (&self.location_id, self.role) {
            (Some(own), Role::Pos | Role::Staff) => own == location,
            _ => true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    Invalid(String),
    #[error("no location with code '{0}'")]
    UnknownLocation(String),
    #[error("no marketplace '{0}'")]
    UnknownMarketplace(String),
    #[error("no API key with id '{0}'")]
    UnknownKey(String),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(AccessError);

/// What `keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub location: Option<Code>,
    pub channel: Option<Channel>,
    pub marketplace: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub role: String,
    pub location_id: Option<LocationId>,
    pub channel: String,
    pub marketplace_id: Option<MarketplaceId>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
struct NewKeyRow<'a> {
    id: &'a ApiKeyId,
    name: &'a str,
    role: &'a str,
    location_id: Option<&'a LocationId>,
    channel: &'a str,
    marketplace_id: Option<&'a MarketplaceId>,
    secret_hash: &'a str,
    created_at: NaiveDateTime,
}

/// Creates a key and returns it with its secret, which is shown this once.
pub fn create_key(conn: &mut AnyConnection, new: NewKey, now: DateTime<Utc>) -> Result<(ApiKey, String), AccessError> {
    let location_id = match (new.role, &new.location) {
        (Role::Pos | Role::Staff, Some(code)) => Some(
            catalog::location_id_by_code(conn, code)?.ok_or_else(|| AccessError::UnknownLocation(code.to_string()))?,
        ),
        (Role::Pos | Role::Staff, None) => {
            return Err(AccessError::Invalid(format!("a {} key needs --location CODE", new.role)));
        }
        (_, Some(_)) => return Err(AccessError::Invalid(format!("a {} key is not bound to a location", new.role))),
        (_, None) => None,
    };
    let channel = match (new.role, new.channel) {
        (Role::Storefront, Some(channel)) if Channel::STOREFRONT.contains(&channel) => channel,
        (Role::Storefront, _) => {
            return Err(AccessError::Invalid("a storefront key needs --channel web, app, voice or kiosk".into()));
        }
        (_, Some(_)) => return Err(AccessError::Invalid(format!("a {} key has a fixed channel", new.role))),
        (Role::Admin, None) => Channel::Admin,
        (Role::Staff, None) => Channel::Staff,
        (Role::Pos, None) => Channel::Pos,
        (Role::Marketplace, None) => Channel::Marketplace,
    };
    let marketplace_id = match (new.role, &new.marketplace) {
        (Role::Marketplace, Some(name_or_id)) => Some(
            crate::marketplace::id_by_name_or_id(conn, name_or_id)?
                .ok_or_else(|| AccessError::UnknownMarketplace(name_or_id.clone()))?,
        ),
        (Role::Marketplace, None) => {
            return Err(AccessError::Invalid("a marketplace key needs --marketplace NAME".into()));
        }
        (_, Some(_)) => return Err(AccessError::Invalid(format!("a {} key is not bound to a marketplace", new.role))),
        (_, None) => None,
    };
    let secret = format!("osk_{}", secret::random_token(32));
    let id = ApiKeyId::generate();
    let name = if new.name.trim().is_empty() { format!("{} key", new.role) } else { new.name.trim().to_owned() };
    diesel::insert_into(api_keys::table)
        .values(NewKeyRow {
            id: &id,
            name: &name,
            role: new.role.as_str(),
            location_id: location_id.as_ref(),
            channel: channel.as_str(),
            marketplace_id: marketplace_id.as_ref(),
            secret_hash: &hash_secret(&secret),
            created_at: timestamp(now),
        })
        .execute(conn)?;
    let key = api_keys::table.find(&id).select(ApiKey::as_select()).first(conn)?;
    Ok((key, secret))
}

pub fn list_keys(conn: &mut AnyConnection) -> Result<Vec<ApiKey>, AccessError> {
    Ok(api_keys::table.order(api_keys::id).select(ApiKey::as_select()).load(conn)?)
}

pub fn revoke_key(conn: &mut AnyConnection, id: &str, now: DateTime<Utc>) -> Result<(), AccessError> {
    let changed = diesel::update(api_keys::table.find(id))
        .filter(api_keys::revoked_at.is_null())
        .set(api_keys::revoked_at.eq(timestamp(now)))
        .execute(conn)?;
    if changed == 0 {
        let exists = api_keys::table.find(id).count().get_result::<i64>(conn)? > 0;
        if !exists {
            return Err(AccessError::UnknownKey(id.to_owned()));
        }
    }
    Ok(())
}

/// Finds the live key whose secret this is.
pub fn authenticate(conn: &mut AnyConnection, secret: &str) -> Result<Option<Principal>, AccessError> {
    let row = api_keys::table
        .filter(api_keys::secret_hash.eq(hash_secret(secret)))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?;
    row.map(|key| {
        let corrupt = |what: String| AccessError::Db(DbError::Corrupt(what));
        Ok(Principal {
            role: Role::parse(&key.role).map_err(corrupt)?,
            channel: Channel::parse(&key.channel).map_err(corrupt)?,
            key_id: key.id,
            location_id: key.location_id,
            marketplace_id: key.marketplace_id,
        })
    })
    .transpose()
}

/// Secrets carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
fn hash_secret(secret: &str) -> String {
    secret::sha256_hex(secret.as_bytes())
}
