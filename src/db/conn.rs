//! One connection type for both backends, and the pool manager that picks the
//! variant from an explicit URL scheme.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{AnsiTransactionManager, InstrumentationEvent, SimpleConnection, TransactionManager};
use diesel::{Connection, PgConnection, SqliteConnection};

/// A connection to whichever database `DATABASE_URL` names. Queries are written
/// once against this type; only upserts and a few locks branch on the variant.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database the service talks to, parsed from `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// Only explicit schemes are accepted: a bare string would silently become a
    /// new, empty SQLite file (the typo trap vaultwarden #7061 describes).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .ok_or_else(|| format!("'{raw}' must start with sqlite:// (e.g. sqlite://omnistock.db) or postgres://"))?;
        if path.is_empty() {
            return Err("the sqlite:// URL names no file".to_owned());
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Never print credentials that may sit in a PostgreSQL URL.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                write!(f, "postgres://…@{}", host.trim_start_matches("postgres://").trim_start_matches("postgresql://"))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// How SQLite makes a commit durable. PostgreSQL keeps its own setting
/// (`synchronous_commit = on` by default): a commit it acknowledged is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: an acknowledged commit survives power loss.
    Full,
    /// `synchronous = NORMAL`: survives a crash of the process, not of the machine.
    Normal,
}

impl Durability {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err("must be full or normal".into()),
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Statements run on the connections of one pool, and the commits among
/// them, counted by the instrumentation hook: what a request costs in round
/// trips, and how many transactions a group commit saved.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter {
    statements: Arc<AtomicU64>,
    commits: Arc<AtomicU64>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

/// Counts every statement and logs it at trace level under `omnistock::sql`.
/// Only the SQL is logged, never the values bound to it: those include
/// secrets (API-key hashes, marketplace credentials) and personal data.
fn instrument(counter: StatementCounter) -> impl FnMut(InstrumentationEvent<'_>) + Send + 'static {
    move |event| match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            counter.statements.fetch_add(1, Ordering::Relaxed);
            // Formatted only when traced: it shows the statement whole.
            tracing::trace!(target: "omnistock::sql", "{}", without_binds(&query.to_string()));
        }
        // The outermost transaction's; depth 2 and more are savepoints.
        InstrumentationEvent::CommitTransaction { depth, .. } if depth.get() == 1 => {
            counter.commits.fetch_add(1, Ordering::Relaxed);
        }
        InstrumentationEvent::CacheQuery { sql, .. } => {
            tracing::trace!(target: "omnistock::sql", "prepared and cached: {sql}")
        }
        _ => {}
    }
}

/// The SQL of a statement as diesel displays it, cut before its bind values.
fn without_binds(shown: &str) -> &str {
    shown.split_once(" -- binds: ").map_or(shown, |(sql, _)| sql)
}

/// r2d2 manager that opens the variant named by the URL and applies the
/// per-connection SQLite settings diesel leaves at SQLite's defaults.
pub struct ConnectionManager {
    url: DatabaseUrl,
    durability: Durability,
    counter: StatementCounter,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, durability: Durability, counter: StatementCounter) -> Self {
        Self { url, durability, counter }
    }
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<AnyConnection, ConnectError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                // Every cached statement here is a key lookup whose best plan
                // does not depend on the values bound; without this, PostgreSQL
                // kept planning `= ANY($1)` lookups afresh on every execution
                // (a third of its CPU in the availability profile).
                conn.batch_execute("SET plan_cache_mode = force_generic_plan")?;
                conn.set_instrumentation(instrument(self.counter.clone()));
                Ok(AnyConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // foreign_keys is off by default in SQLite; WAL lets readers run
                // beside the one writer; busy_timeout makes writers queue, not
                // fail; synchronous decides whether a commit survives power loss.
                // temp_store keeps the savepoint journal in memory: group commit
                // runs each write in a savepoint, and SQLite spilled the pages it
                // saved for them to a temporary file beyond 64 KiB, a pwrite each
                // (10 % of the writer's time in the checkout bench). It is never
                // needed after a crash: the WAL alone recovers the database.
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA temp_store = MEMORY;",
                    self.durability.pragma()
                ))?;
                conn.set_instrumentation(instrument(self.counter.clone()));
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectError> {
        conn.batch_execute("SELECT 1").map_err(Into::into)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

impl AnyConnection {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Begins a top-level write transaction. On SQLite it begins IMMEDIATE: a
    /// deferred transaction that upgrades its read lock gets SQLITE_BUSY at
    /// once, ignoring busy_timeout.
    pub fn begin_write(&mut self) -> diesel::QueryResult<()> {
        match self {
            Self::Sqlite(sqlite) => AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE"),
            Self::Postgres(_) => <Self as Connection>::TransactionManager::begin_transaction(self),
        }
    }

    /// Runs `f` in a write transaction ([`Self::begin_write`]); inside an open
    /// transaction it nests as a savepoint.
    pub fn write<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let depth =
            <Self as Connection>::TransactionManager::transaction_manager_status_mut(self).transaction_depth()?;
        if depth.is_some() {
            return self.transaction(f);
        }
        self.begin_write()?;
        match f(self) {
            Ok(value) => match <Self as Connection>::TransactionManager::commit_transaction(self) {
                Ok(()) => Ok(value),
                Err(commit_error) => {
                    <Self as Connection>::TransactionManager::rollback_transaction(self)?;
                    Err(commit_error.into())
                }
            },
            Err(error) => {
                <Self as Connection>::TransactionManager::rollback_transaction(self)?;
                Err(error)
            }
        }
    }
}

/// A SQLite file of a unit test's own, removed with its WAL and
/// shared-memory files when dropped (after the connections on it).
#[cfg(test)]
pub struct ScratchSqlite(std::path::PathBuf);

#[cfg(test)]
impl ScratchSqlite {
    pub fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("omnistock-{name}-{}.db", uuid::Uuid::now_v7())))
    }

    pub fn url(&self) -> DatabaseUrl {
        DatabaseUrl::Sqlite(self.0.display().to_string())
    }
}

#[cfg(test)]
impl Drop for ScratchSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", self.0.display())).ok();
        }
    }
}
