//! Storage: the connection pool, transactions, migrations and the shared schema.
//! This layer knows tables, not domains.

pub mod conn;
pub mod idempotency;
mod in_list;
pub mod migrate;
pub mod schema;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::{Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub use conn::{AnyConnection, DatabaseUrl};
pub use in_list::one_of;

/// Errors of the storage layer. Domains wrap it; `http::problem` maps it once.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("record not found")]
    NotFound,
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("database error")]
    Query(#[source] DieselError),
    #[error("no database connection available")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database task stopped before finishing")]
    TaskFailed,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Unique(info.constraint_name().unwrap_or(info.message()).to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// Implements the two conversions every domain error needs from the storage layer.
#[macro_export]
macro_rules! db_error_conversions {
    ($error:ty) => {
        impl From<diesel::result::Error> for $error {
            fn from(error: diesel::result::Error) -> Self {
                Self::Db($crate::db::DbError::from(error))
            }
        }
    };
}

/// The shared pool. Diesel is synchronous, so every use runs off the executor
/// (the blocking pool, or SQLite's writer thread) and never holds a connection
/// across an outbound HTTP call.
#[derive(Clone)]
pub struct Db {
    pool: Pool<conn::ConnectionManager>,
    backend: &'static str,
    /// SQLite only: the one connection that writes.
    writer: Option<Arc<writer::Writer>>,
}

impl Db {
    /// Opens the pool; fails at once with the database's own message if it is unreachable.
    pub fn connect(url: &DatabaseUrl, size: u32) -> Result<Self, String> {
        // No idle minimum: r2d2 tops idle connections up from a background
        // thread, and a TLS handshake still running there when the process
        // exits races OpenSSL's exit handlers (a segfault seen in the CLI).
        // Connections are made on demand instead, and kept.
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            .idle_timeout(None)
            // No `SELECT 1` before every use: a dead connection is found when a
            // query on it fails (see `read`) and then leaves the pool.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(conn::ConnectionManager::new(url.clone()))
            .map_err(|e| format!("cannot open database {url:?}: {e}"))?;
        // Fail at start, with the database's own message, when it is unreachable.
        pool.get().map_err(|e| format!("cannot open database {url:?}: {e}"))?;
        let writer = match url {
            DatabaseUrl::Sqlite(_) => Some(Arc::new(writer::Writer::start(conn::ConnectionManager::new(url.clone()))?)),
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Self { pool, backend: url.backend_name(), writer })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// A connection for synchronous callers (CLI commands, jobs already off the executor).
    pub fn get(&self) -> Result<PooledConnection<conn::ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection, outside any explicit transaction. Work that
    /// writes goes through `write`, so that on SQLite it runs on the writer.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            let result = f(&mut conn);
            if result.is_err() && conn.batch_execute("SELECT 1").is_err() {
                // The connection itself is gone (the database restarted, the
                // network dropped): marking it broken makes the pool discard it.
                <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(&mut conn)
                    .set_in_error();
            }
            result
        })
        .await
        .map_err(|_| DbError::TaskFailed)?
    }

    /// Runs `f` in one write transaction: on SQLite's writer thread after the
    /// writes queued before it, on PostgreSQL on a pooled connection.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<DieselError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.run(f).await,
            None => self.read(move |conn| conn.write(f)).await,
        }
    }
}

/// `now` as stored: UTC without an offset, the one timestamp type both backends share.
pub fn timestamp(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    now.naive_utc()
}

/// Runs the same diesel expression on whichever backend `conn` is, for the few
/// statements MultiBackend cannot express (upserts). `$c` is the concrete connection.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgres($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
