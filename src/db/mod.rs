//! Storage: the connection pool, transactions, migrations and the shared schema.
//! This layer knows tables, not domains.

pub mod conn;
pub mod idempotency;
mod in_list;
pub mod kept;
pub mod migrate;
pub mod reference;
pub mod report;
pub mod schema;
pub mod settings;
pub mod together;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::{Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub use conn::{AnyConnection, DatabaseUrl, Durability, StatementCounter};
pub use in_list::one_of;
pub use writer::THREAD_NAME as WRITER_THREAD;

/// Errors of the storage layer. Domains wrap it; `http::errors` maps it once.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("record not found")]
    NotFound,
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// A CHECK constraint refused the write: the rule (constraint name or
    /// expression) it guards.
    #[error("the database refused the change: rule {0}")]
    Check(String),
    /// A row names another that does not exist (or is still named by others).
    #[error("the database refused the change: reference {0}")]
    ForeignKey(String),
    #[error("database error")]
    Query(#[source] DieselError),
    /// The database cannot be reached, or the connection broke mid-request:
    /// nothing was committed, and the request may be retried.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SQLite's writer has more work queued than it accepts.
    #[error("too many writes are queued")]
    Busy,
    #[error("database task stopped before finishing")]
    TaskFailed,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The rule a constraint error names: PostgreSQL gives the constraint's name,
/// SQLite the constraint's text after its fixed prefix.
fn rule_of(info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync)) -> String {
    match info.constraint_name() {
        Some(name) => name.to_owned(),
        None => {
            let message = info.message();
            message.split_once(": ").map(|(_, rule)| rule).unwrap_or(message).to_owned()
        }
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Self::Unique(rule_of(&*info)),
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, info) => Self::Check(rule_of(&*info)),
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::ForeignKey(rule_of(&*info))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_owned().into())
            }
            other => Self::Query(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(Box::new(error))
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

/// How the pool and the SQLite writer are sized and how long they wait.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub size: u32,
    /// Longest wait for a connection: while the database is unreachable a
    /// request fails this fast with 503, instead of hanging.
    pub acquire_timeout: Duration,
    /// SQLite: most write transactions waiting for the writer; beyond it, 503.
    pub write_queue: usize,
    pub durability: Durability,
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
    statements: StatementCounter,
    /// Reference data of this database, shared by its requests.
    reference: Arc<reference::Cache>,
}

impl Db {
    /// Opens the pool; fails at once with the database's own message if it is unreachable.
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self, String> {
        let statements = StatementCounter::default();
        let manager = || conn::ConnectionManager::new(url.clone(), settings.durability, statements.clone());
        // No idle minimum: r2d2 tops idle connections up from a background
        // thread, and a TLS handshake still running there when the process
        // exits races the TLS library's exit handlers (a segfault seen in the
        // CLI). Connections are made on demand instead, and kept.
        let pool = Pool::builder()
            .max_size(settings.size)
            .min_idle(Some(0))
            .idle_timeout(None)
            // No `SELECT 1` before every use: a dead connection is found when a
            // query on it fails (see `read`) and then leaves the pool.
            .test_on_check_out(false)
            .connection_timeout(settings.acquire_timeout)
            .build(manager())
            .map_err(|e| format!("cannot open database {url:?}: {e}"))?;
        // Fail at start, with the database's own message, when it is unreachable.
        pool.get().map_err(|e| format!("cannot open database {url:?}: {e}"))?;
        let reference = Arc::new(reference::Cache::default());
        let writer = match url {
            DatabaseUrl::Sqlite(_) => {
                Some(Arc::new(writer::Writer::start(manager(), settings.write_queue, reference.clone())?))
            }
            DatabaseUrl::Postgres(_) => None,
        };
        Ok(Self { pool, backend: url.backend_name(), writer, statements, reference })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Statements run so far on this database's connections (BEGIN and COMMIT included).
    pub fn statements(&self) -> u64 {
        self.statements.get()
    }

    /// Keeps a fact that never changes once it exists (see
    /// [`reference::lasting`]), found by a transaction that has committed:
    /// one that could still roll back must not leave it behind.
    pub fn keep<T: Send + Sync + 'static>(&self, key: &str, value: T) {
        self.reference.keep(key, value);
    }

    /// Transactions committed so far on this database's connections (a
    /// group commit counts once).
    pub fn commits(&self) -> u64 {
        self.statements.commits()
    }

    /// A connection for synchronous callers (CLI commands, jobs already off the executor).
    pub fn get(&self) -> Result<PooledConnection<conn::ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection, outside any explicit transaction: reads.
    /// Work that writes goes through [`Db::write`] (on SQLite, the writer).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.on_reader(move |conn, cache| reference::scope(cache, || f(conn))).await
    }

    /// A read that trusts the reference cache until one of its statements
    /// says otherwise ([`reference::optimistic`]): for reads whose statements
    /// check the token, one statement fewer; `f` runs again when the cache
    /// was stale, so it must not have effects.
    pub async fn read_optimistic<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: Fn(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.on_reader(move |conn, cache| reference::optimistic(cache, conn, f)).await
    }

    async fn on_reader<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection, &Arc<reference::Cache>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (pool, cache) = (self.pool.clone(), self.reference.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            let result = f(&mut conn, &cache);
            if result.is_err() && conn.batch_execute("SELECT 1").is_err() {
                // The connection itself is gone (the database restarted, the
                // network dropped): marking it broken makes the pool discard it,
                // and the caller learns that a retry may succeed.
                <AnyConnection as Connection>::TransactionManager::transaction_manager_status_mut(&mut conn)
                    .set_in_error();
                return Err(DbError::Unavailable("the connection was lost during the request".into()).into());
            }
            result
        })
        .await
        .map_err(|_| DbError::TaskFailed)?
    }

    /// Runs `f` in one write transaction: on SQLite's writer thread (committed
    /// together with the writes queued beside it), on PostgreSQL on a pooled
    /// connection. Answers only once the commit is durable.
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

/// Inserts the rows of `$rows` (a slice of `Copy` insertable values) into
/// `$table` in one statement, on the backend's own connection: the
/// multi-backend one cannot insert several rows at once, and never keeps an
/// INSERT prepared. There a row alone is kept prepared; before, the hold,
/// fulfilment, order line, audit entry and cart line of every write were
/// parsed anew on each call (with the rest of the multi-backend path, 12 %
/// of the server's CPU per request in the SQLite checkout bench). Several
/// rows make a statement whose text varies with their number, which diesel
/// never keeps.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows: &[_] = $rows;
        match rows {
            [] => Ok(0),
            [one] => {
                $crate::per_backend!($conn, |c| diesel::RunQueryDsl::execute(
                    diesel::insert_into($table).values(*one),
                    c
                ))
            }
            many => $crate::per_backend!($conn, |c| {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(many.to_vec()), c)
            }),
        }
    }};
}

/// Runs the same diesel expression on whichever backend `conn` is, for the few
/// statements MultiBackend cannot express (upserts, inserts of several rows).
/// `$c` is the concrete connection.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgres($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
