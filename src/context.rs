//! What request handlers and background jobs share.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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
    /// When each background job last succeeded here, for the metrics.
    pub job_runs: Arc<JobRuns>,
}

/// When each background job last finished without error on this instance.
#[derive(Debug, Default)]
pub struct JobRuns(Mutex<BTreeMap<&'static str, DateTime<Utc>>>);

impl JobRuns {
    pub fn record(&self, job: &'static str, at: DateTime<Utc>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(job, at);
    }

    pub fn all(&self) -> Vec<(&'static str, DateTime<Utc>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(job, at)| (*job, *at)).collect()
    }
}

impl Context {
    /// Now, to the microsecond: the precision both databases store, so a
    /// value read back equals the value written.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }
}
