//! One connection type for both backends, and the pool manager that picks the
//! variant from an explicit URL scheme.

use std::fmt;

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

/// Every statement, at trace level under `omnistock::sql`: how many statements
/// a request costs is the first question when profiling one.
fn trace_statements(event: InstrumentationEvent<'_>) {
    match event {
        InstrumentationEvent::StartQuery { query, .. } => tracing::trace!(target: "omnistock::sql", "{query}"),
        InstrumentationEvent::CacheQuery { sql, .. } => {
            tracing::trace!(target: "omnistock::sql", "prepared and cached: {sql}")
        }
        _ => {}
    }
}

/// r2d2 manager that opens the variant named by the URL and applies the
/// per-connection SQLite settings diesel leaves at SQLite's defaults.
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
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
                conn.set_instrumentation(trace_statements);
                Ok(AnyConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                conn.set_instrumentation(trace_statements);
                // foreign_keys is off by default in SQLite; WAL lets readers run
                // beside the one writer; busy_timeout makes writers queue, not fail.
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                )?;
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

    /// Runs `f` in a write transaction. On SQLite it begins IMMEDIATE: a deferred
    /// transaction that upgrades its read lock gets SQLITE_BUSY at once, ignoring
    /// busy_timeout. Inside an open transaction it nests as a savepoint.
    pub fn write<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let Self::Sqlite(sqlite) = self else {
            return self.transaction(f);
        };
        let depth = AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?;
        if depth.is_some() {
            return self.transaction(f);
        }
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
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
