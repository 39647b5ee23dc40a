//! omnistock: one order and inventory service for every channel.
//! See README.md § Architecture for the map of this crate.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod access;
pub mod cart;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod context;
pub mod customer;
pub mod db;
pub mod demo;
pub mod events;
pub mod fulfilment;
pub mod http;
pub mod inventory;
pub mod jobs;
pub mod marketplace;
pub mod order;
pub mod pricing;
pub mod secret;
pub mod telemetry;
pub mod text;
pub mod types;
pub mod voice;

use std::net::TcpListener;
use std::sync::Arc;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::context::Context;
use crate::db::{Db, DbError};
use crate::secret::Keyring;

/// The service, built and bound but not yet serving.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    ctx: Context,
}

impl Application {
    /// Opens the database, applies migrations and binds the listener.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let ctx = open(config, clock).await?;
        let listener =
            TcpListener::bind(ctx.config.addr).map_err(|e| format!("cannot listen on {}: {e}", ctx.config.addr))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let server = http::serve(listener, ctx.clone()).map_err(|e| format!("cannot start the HTTP server: {e}"))?;
        Ok(Self { port, server, ctx })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (tests stop theirs when done).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The state handlers share, for tests and jobs.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests and stops the jobs.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let jobs = self
            .ctx
            .config
            .jobs
            .enabled
            .then(|| tokio::spawn(jobs::run_forever(self.ctx.clone(), self.ctx.config.jobs.interval, stopped)));
        let served = self.server.await;
        stop.send_replace(true);
        if let Some(Err(error)) = match jobs {
            Some(jobs) => Some(jobs.await),
            None => None,
        } {
            tracing::error!(%error, "the background jobs ended with a panic");
        }
        served
    }
}

/// Connects, migrates and checks the key that seals stored secrets: what
/// every command needs before it starts.
pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Context, String> {
    let db = Db::connect(&config.database_url, &config.pool)?;
    let migrated = db.read(db::migrate::run_pending).await.map_err(|e| format!("cannot migrate the database: {e}"))?;
    if migrated > 0 {
        tracing::info!(migrated, backend = db.backend(), "applied database migrations");
    }
    let keyring = Arc::new(Keyring::load(config.secret_key.as_ref().map(|k| k.0.as_str()), &config.secret_key_file)?);
    let check = keyring.clone();
    let sealed = db
        .write(move |conn| {
            if !db::settings::claim(conn, KEY_CHECK, check.check_value())? {
                return Err(DbError::Corrupt(
                    "the secret key is not the one this database's secrets are sealed with: \
                     set OMNISTOCK_SECRET_KEY (or OMNISTOCK_SECRET_KEY_FILE) to that key"
                        .into(),
                ));
            }
            marketplace::seal_stored_secrets(conn, &check)
        })
        .await
        .map_err(|e| match e {
            DbError::Corrupt(detail) => format!("configuration error: {detail}"),
            other => format!("cannot check the secret key: {other}"),
        })?;
    if sealed > 0 {
        tracing::info!(marketplaces = sealed, "sealed marketplace secrets stored before sealing");
    }
    Ok(Context {
        db,
        config: Arc::new(config),
        clock,
        http: reqwest::Client::new(),
        keyring,
        job_runs: Default::default(),
    })
}

/// The setting that records which key seals this database's secrets.
const KEY_CHECK: &str = "secret_key_check";
