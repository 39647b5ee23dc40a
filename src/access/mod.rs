//! API keys: who may call, in which role, bound to which location, channel or
//! marketplace. Only a SHA-256 of each secret is stored.

mod repo;

use chrono::{DateTime, Utc};

pub use repo::ApiKey;

use crate::db::{AnyConnection, DbError, timestamp};
use crate::secret;
use crate::text_enum;
use crate::types::{ApiKeyId, LocationId, MarketplaceId};

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
    #[error("no API key with id '{0}'")]
    UnknownKey(String),
    #[error(transparent)]
    Db(#[from] DbError),
}
crate::db_error_conversions!(AccessError);

/// What `keys create` asks for. The caller has resolved the location and
/// marketplace it names to their ids.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
    pub location_id: Option<LocationId>,
    pub channel: Option<Channel>,
    pub marketplace_id: Option<MarketplaceId>,
}

/// The channel a key of `role` records, checking what it is bound to: a
/// location for staff and POS, a storefront channel for storefronts, a
/// marketplace for marketplaces, and nothing else.
fn binding(new: &NewKey) -> Result<Channel, AccessError> {
    let invalid = |detail: String| Err(AccessError::Invalid(detail));
    match (new.role, &new.location_id) {
        (Role::Pos | Role::Staff, None) => return invalid(format!("a {} key needs --location CODE", new.role)),
        (Role::Pos | Role::Staff, Some(_)) | (_, None) => {}
        (_, Some(_)) => return invalid(format!("a {} key is not bound to a location", new.role)),
    }
    match (new.role, &new.marketplace_id) {
        (Role::Marketplace, None) => return invalid("a marketplace key needs --marketplace NAME".into()),
        (Role::Marketplace, Some(_)) | (_, None) => {}
        (_, Some(_)) => return invalid(format!("a {} key is not bound to a marketplace", new.role)),
    }
    match (new.role, new.channel) {
        (Role::Storefront, Some(channel)) if Channel::STOREFRONT.contains(&channel) => Ok(channel),
        (Role::Storefront, _) => invalid("a storefront key needs --channel web, app, voice or kiosk".into()),
        (_, Some(_)) => invalid(format!("a {} key has a fixed channel", new.role)),
        (Role::Admin, None) => Ok(Channel::Admin),
        (Role::Staff, None) => Ok(Channel::Staff),
        (Role::Pos, None) => Ok(Channel::Pos),
        (Role::Marketplace, None) => Ok(Channel::Marketplace),
    }
}

/// Creates a key and returns it with its secret, which is shown this once.
pub fn create_key(conn: &mut AnyConnection, new: NewKey, now: DateTime<Utc>) -> Result<(ApiKey, String), AccessError> {
    let channel = binding(&new)?;
    let secret = format!("osk_{}", secret::random_token(32));
    let name = if new.name.trim().is_empty() { format!("{} key", new.role) } else { new.name.trim().to_owned() };
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name,
        role: new.role.as_str().to_owned(),
        location_id: new.location_id,
        channel: channel.as_str().to_owned(),
        marketplace_id: new.marketplace_id,
        created_at: timestamp(now),
        revoked_at: None,
    };
    repo::insert(conn, &key, &hash_secret(&secret))?;
    Ok((key, secret))
}

pub fn list_keys(conn: &mut AnyConnection) -> Result<Vec<ApiKey>, AccessError> {
    Ok(repo::list(conn)?)
}

pub fn revoke_key(conn: &mut AnyConnection, id: &str, now: DateTime<Utc>) -> Result<(), AccessError> {
    if !repo::revoke(conn, id, timestamp(now))? && !repo::exists(conn, id)? {
        return Err(AccessError::UnknownKey(id.to_owned()));
    }
    Ok(())
}

/// Finds the live key whose secret this is.
pub fn authenticate(conn: &mut AnyConnection, secret: &str) -> Result<Option<Principal>, AccessError> {
    repo::live_by_hash(conn, &hash_secret(secret))?.map(|key| principal_of(&key)).transpose()
}

/// The principal a stored key stands for.
pub fn principal_of(key: &ApiKey) -> Result<Principal, AccessError> {
    let corrupt = |what: String| AccessError::Db(DbError::Corrupt(what));
    Ok(Principal {
        role: Role::parse(&key.role).map_err(corrupt)?,
        channel: Channel::parse(&key.channel).map_err(corrupt)?,
        key_id: key.id.clone(),
        location_id: key.location_id.clone(),
        marketplace_id: key.marketplace_id.clone(),
    })
}

/// Secrets carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
fn hash_secret(secret: &str) -> String {
    secret::sha256_hex(secret.as_bytes())
}

/// How long a browser stays signed in: one shift, then the key again.
pub const SESSION_HOURS: i64 = 12;

/// A signed-in browser of the staff app.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// Every form of the session carries it; a form without it is refused.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs a browser in with a staff or admin key: the token for its cookie
/// (shown this once; only its hash is stored) and the session.
pub fn sign_in(conn: &mut AnyConnection, secret: &str, now: DateTime<Utc>) -> Result<(String, Session), AccessError> {
    let principal =
        authenticate(conn, secret)?.ok_or_else(|| AccessError::Invalid("the key is unknown or revoked".into()))?;
    if !matches!(principal.role, Role::Staff | Role::Admin) {
        return Err(AccessError::Invalid(format!("a {} key cannot sign in to the staff app", principal.role)));
    }
    let token = secret::random_token(32);
    let csrf_token = secret::random_token(32);
    let expires_at = now + chrono::Duration::hours(SESSION_HOURS);
    repo::insert_session(
        conn,
        &hash_secret(&token),
        &principal.key_id,
        &csrf_token,
        timestamp(now),
        timestamp(expires_at),
    )?;
    Ok((token, Session { principal, csrf_token, expires_at }))
}

/// The session of a cookie's token, if it is unexpired and its key live.
pub fn session(conn: &mut AnyConnection, token: &str, now: DateTime<Utc>) -> Result<Option<Session>, AccessError> {
    let Some((key, csrf_token, expires_at)) = repo::live_session(conn, &hash_secret(token), timestamp(now))? else {
        return Ok(None);
    };
    Ok(Some(Session { principal: principal_of(&key)?, csrf_token, expires_at: expires_at.and_utc() }))
}

pub fn sign_out(conn: &mut AnyConnection, token: &str) -> Result<(), AccessError> {
    Ok(repo::delete_session(conn, &hash_secret(token))?)
}
