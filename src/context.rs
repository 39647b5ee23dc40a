//! What request handlers and background jobs share.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::secret::Keyring;

#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// The client for calls to marketplaces (timeouts are per request). One
    /// per context, not per process: a pooled connection is driven by the
    /// runtime that opened it, and must not outlive it.
    pub http: reqwest::Client,
    /// Seals and opens the secrets stored in the database.
    pub keyring: Arc<Keyring>,
}

impl Context {
    /// Now, to the microsecond: the precision both databases store, so a
    /// value read back equals the value written.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}
