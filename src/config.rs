//! Configuration from the environment (12-factor). Parsed once at start-up;
//! a bad value stops the process with one line naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::db::{DatabaseUrl, Durability, PoolSettings};

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub addr: SocketAddr,
    pub log: String,
    pub log_json: bool,
    pub pool: PoolSettings,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub shutdown_timeout: Duration,
    pub jobs: JobsConfig,
    pub holds: HoldsConfig,
    pub pricing: PricingConfig,
    pub marketplace: MarketplaceConfig,
    /// The key that seals stored secrets (URL-safe base64 of 32 bytes); when
    /// absent, read from (or, on first start, generated into) `secret_key_file`.
    pub secret_key: Option<SecretText>,
    pub secret_key_file: PathBuf,
}

/// A setting that is a secret: `Debug` never prints it.
#[derive(Clone)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Background loops run inside `serve`; tests turn them off and run jobs by hand.
    pub enabled: bool,
    pub interval: Duration,
    /// How long a stored idempotent response is replayed.
    pub idempotency_retention: Duration,
}

/// Default lifetime of a reservation per purpose; `None` holds until released.
#[derive(Debug, Clone)]
pub struct HoldsConfig {
    pub pos_hold: Duration,
    pub cart_hold: Duration,
    pub order: Option<Duration>,
    pub marketplace_order: Option<Duration>,
    /// Whether adding to a cart places a short `cart_hold` reservation.
    pub cart_holds: bool,
    /// Longest lifetime a caller may ask for.
    pub max: Duration,
}

#[derive(Debug, Clone)]
pub struct PricingConfig {
    /// Catalog prices include tax (EU style) or tax is added on top (US style).
    pub prices_include_tax: bool,
    /// Where a cart's tax is estimated before its fulfilment is chosen, for
    /// callers without a store of their own.
    pub default_tax_region: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MarketplaceConfig {
    pub request_timeout: Duration,
    pub max_attempts: i32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How far a signed webhook timestamp may be from now.
    pub replay_window: Duration,
    /// Whether a marketplace may be called over plain http on this machine
    /// (127.0.0.0/8, ::1, localhost): local test peers. Otherwise https only.
    pub allow_insecure_loopback: bool,
}

/// One line that says which variable is wrong and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&get);
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self {
            database_url: vars.parse_with("DATABASE_URL", "sqlite://omnistock.db", DatabaseUrl::parse)?,
            addr: vars.parse("OMNISTOCK_ADDR", "127.0.0.1:8080")?,
            log: vars.string("OMNISTOCK_LOG", "info"),
            log_json: vars.parse_with("OMNISTOCK_LOG_FORMAT", "text", |v| match v {
                "text" => Ok(false),
                "json" => Ok(true),
                _ => Err("must be text or json".into()),
            })?,
            // Measured (scripts/bench, 2 cores): 2 connections per core served
            // the hot SKU at ~1,100 requests/s and 16 at ~600, because more
            // connections only queue on the row lock and on the CPUs; SQLite
            // readers likewise gained throughput and lost memory below 16.
            pool: PoolSettings {
                size: vars.positive("OMNISTOCK_DB__POOL_SIZE", 2 * cpus as u32)?,
                acquire_timeout: Duration::from_millis(u64::from(
                    vars.positive("OMNISTOCK_DB__ACQUIRE_TIMEOUT_MS", 1000)?,
                )),
                write_queue: vars.positive("OMNISTOCK_DB__WRITE_QUEUE", 4096)? as usize,
                durability: vars.parse_with("OMNISTOCK_DB__SQLITE_SYNCHRONOUS", "full", Durability::parse)?,
            },
            workers: vars.positive("OMNISTOCK_HTTP__WORKERS", cpus as u32)? as usize,
            max_body_bytes: vars.positive("OMNISTOCK_HTTP__MAX_BODY_BYTES", 256 * 1024)? as usize,
            shutdown_timeout: vars.seconds("OMNISTOCK_HTTP__SHUTDOWN_TIMEOUT_SECS", 30)?,
            jobs: JobsConfig {
                enabled: vars.parse("OMNISTOCK_JOBS__ENABLED", "true")?,
                interval: Duration::from_millis(u64::from(vars.positive("OMNISTOCK_JOBS__INTERVAL_MS", 1000)?)),
                idempotency_retention: vars.seconds("OMNISTOCK_JOBS__IDEMPOTENCY_RETENTION_SECS", 24 * 3600)?,
            },
            holds: HoldsConfig {
                pos_hold: vars.seconds("OMNISTOCK_HOLDS__POS_HOLD_SECS", 30 * 60)?,
                cart_hold: vars.seconds("OMNISTOCK_HOLDS__CART_HOLD_SECS", 15 * 60)?,
                order: vars.optional_seconds("OMNISTOCK_HOLDS__ORDER_SECS")?,
                marketplace_order: vars.optional_seconds("OMNISTOCK_HOLDS__MARKETPLACE_ORDER_SECS")?,
                cart_holds: vars.parse("OMNISTOCK_CART__HOLDS", "false")?,
                max: vars.seconds("OMNISTOCK_HOLDS__MAX_SECS", 30 * 24 * 3600)?,
            },
            pricing: PricingConfig {
                prices_include_tax: vars.parse("OMNISTOCK_PRICING__PRICES_INCLUDE_TAX", "true")?,
                default_tax_region: get("OMNISTOCK_PRICING__DEFAULT_TAX_REGION")
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| {
                        crate::types::parse_region(&v).map_err(|reason| ConfigError {
                            name: "OMNISTOCK_PRICING__DEFAULT_TAX_REGION".into(),
                            value: v.clone(),
                            reason,
                        })
                    })
                    .transpose()?,
            },
            marketplace: MarketplaceConfig {
                request_timeout: Duration::from_millis(u64::from(
                    vars.positive("OMNISTOCK_MARKETPLACE__TIMEOUT_MS", 5000)?,
                )),
                max_attempts: vars.positive("OMNISTOCK_MARKETPLACE__MAX_ATTEMPTS", 8)? as i32,
                backoff_base: Duration::from_millis(u64::from(
                    vars.positive("OMNISTOCK_MARKETPLACE__BACKOFF_BASE_MS", 500)?,
                )),
                backoff_max: vars.seconds("OMNISTOCK_MARKETPLACE__BACKOFF_MAX_SECS", 300)?,
                replay_window: vars.seconds("OMNISTOCK_MARKETPLACE__REPLAY_WINDOW_SECS", 300)?,
                allow_insecure_loopback: vars.parse("OMNISTOCK_MARKETPLACE__ALLOW_INSECURE_LOOPBACK", "false")?,
            },
            secret_key: get("OMNISTOCK_SECRET_KEY").filter(|k| !k.trim().is_empty()).map(SecretText),
            secret_key_file: PathBuf::from(vars.string("OMNISTOCK_SECRET_KEY_FILE", "omnistock.key")),
        })
    }
}

struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn string(&self, name: &str, default: &str) -> String {
        (self.0)(name).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
    }

    fn parse_with<T>(
        &self,
        name: &str,
        default: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.string(name, default);
        f(value.trim()).map_err(|reason| ConfigError { name: name.to_owned(), value, reason })
    }

    fn parse<T: FromStr>(&self, name: &str, default: &str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.parse_with(name, default, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    fn positive(&self, name: &str, default: u32) -> Result<u32, ConfigError> {
        self.parse_with(name, &default.to_string(), |v| match v.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("must be a whole number above 0".into()),
        })
    }

    fn seconds(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.parse_with(name, &default.to_string(), |v| {
            v.parse::<u64>().map(Duration::from_secs).map_err(|_| "must be a whole number of seconds".into())
        })
    }

    /// Seconds, where 0 or unset means "no limit".
    fn optional_seconds(&self, name: &str) -> Result<Option<Duration>, ConfigError> {
        Ok(Some(self.seconds(name, 0)?).filter(|d| !d.is_zero()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_locally_on_sqlite() {
        let config = load(&[]).unwrap();
        assert_eq!(config.database_url, DatabaseUrl::Sqlite("omnistock.db".into()));
        assert_eq!(config.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.holds.order, None);
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        let error = load(&[("OMNISTOCK_ADDR", "localhost")]).unwrap_err();
        assert_eq!(error.name, "OMNISTOCK_ADDR");
        let error = load(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
        assert!(load(&[("OMNISTOCK_DB__POOL_SIZE", "0")]).is_err());
    }
}
