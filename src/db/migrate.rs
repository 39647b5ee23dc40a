//! Embedded migrations, one folder per backend, picked by the connection variant.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{AnyConnection, DbError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Id of the advisory lock that keeps several instances from migrating at once.
const MIGRATION_LOCK: i64 = 0x6f6d_6e69_0001;

fn failed(error: impl std::fmt::Display) -> DbError {
    DbError::Migration(error.to_string())
}

/// Applies every pending migration; returns how many ran.
pub fn run_pending(conn: &mut AnyConnection) -> Result<usize, DbError> {
    match conn {
        AnyConnection::Sqlite(c) => Ok(c.run_pending_migrations(SQLITE).map_err(failed)?.len()),
        AnyConnection::Postgres(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(c)?;
            let ran = c.run_pending_migrations(POSTGRES).map(|v| v.len());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(c)?;
            ran.map_err(failed)
        }
    }
}

/// Reverts every migration (the up/down/up check of the test suite).
pub fn revert_all(conn: &mut AnyConnection) -> Result<usize, DbError> {
    match conn {
        AnyConnection::Sqlite(c) => Ok(c.revert_all_migrations(SQLITE).map_err(failed)?.len()),
        AnyConnection::Postgres(c) => Ok(c.revert_all_migrations(POSTGRES).map_err(failed)?.len()),
    }
}
