//! Aggregate reports in hand-written SQL: a `GROUP BY` over a year of rows
//! is one statement that the database answers from its indexes, and the
//! query builder cannot say `CAST(SUM(…) AS BIGINT)` on both backends.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::{AnyConnection, DbError};

/// What every report is bound to: `$1` from (inclusive), `$2` to
/// (exclusive), `$3` a location id or NULL for all.
#[derive(Debug, Clone)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub location: Option<String>,
}

/// Seconds between two timestamp expressions, as each backend writes it.
const POSTGRES_SECONDS: &str = "CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS BIGINT)";
const SQLITE_SECONDS: &str = "CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400) AS INTEGER)";

/// Runs `sql` with the window's three parameters. The SQL numbers them
/// `$1`…`$3` (SQLite reads them as `?1`…`?3`) and may write
/// `{seconds:LATER:EARLIER}` once for the seconds between two columns.
pub fn load<R>(conn: &mut AnyConnection, sql: &str, window: &Window) -> Result<Vec<R>, DbError>
where
    R: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
{
    let (from, to, location) = (window.from.naive_utc(), window.to.naive_utc(), window.location.clone());
    Ok(match conn {
        AnyConnection::Postgres(c) => diesel::sql_query(with_seconds(sql, POSTGRES_SECONDS))
            .bind::<Timestamp, _>(from)
            .bind::<Timestamp, _>(to)
            .bind::<Nullable<Text>, _>(location)
            .load(c)?,
        AnyConnection::Sqlite(c) => diesel::sql_query(with_seconds(sql, SQLITE_SECONDS).replace('$', "?"))
            .bind::<Timestamp, _>(from)
            .bind::<Timestamp, _>(to)
            .bind::<Nullable<Text>, _>(location)
            .load(c)?,
    })
}

fn with_seconds(sql: &str, template: &str) -> String {
    let Some(start) = sql.find("{seconds:") else { return sql.to_owned() };
    let Some(len) = sql[start..].find('}') else { return sql.to_owned() };
    let mut columns = sql[start + "{seconds:".len()..start + len].split(':');
    let (later, earlier) = (columns.next().unwrap_or_default(), columns.next().unwrap_or_default());
    let seconds = template.replace("{later}", later).replace("{earlier}", earlier);
    format!("{}{seconds}{}", &sql[..start], &sql[start + len + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_for_the_backend() {
        let sql = "SELECT {seconds:a.at:o.at} AS s FROM t";
        assert_eq!(
            with_seconds(sql, POSTGRES_SECONDS),
            "SELECT CAST(EXTRACT(EPOCH FROM (a.at - o.at)) AS BIGINT) AS s FROM t"
        );
        assert_eq!(with_seconds("SELECT 1", SQLITE_SECONDS), "SELECT 1");
    }
}
