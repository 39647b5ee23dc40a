//! The database's own ceilings, measured in the same run: pgbench on
//! PostgreSQL, and on SQLite the same raw transaction from a tight loop.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::Failure;

/// The hot-row reservation in SQL: the guarded update and its ledger row.
const HOT_ROW_SCRIPT: &str = "\\set q 1
BEGIN;
UPDATE hot SET reserved = reserved + :q WHERE id = 1 AND on_hand - reserved - safety_stock >= :q;
INSERT INTO ledger (sku, quantity, created_at) VALUES ('HOT', :q, now());
END;
";

const HOT_ROW_SETUP: &str = "DROP TABLE IF EXISTS hot; DROP TABLE IF EXISTS ledger;
CREATE TABLE hot (id INTEGER PRIMARY KEY, on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, safety_stock INTEGER NOT NULL);
INSERT INTO hot VALUES (1, 2000000000, 0, 0);
CREATE TABLE ledger (id BIGSERIAL PRIMARY KEY, sku TEXT NOT NULL, quantity INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL);";

fn tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn run(command: &mut Command) -> Result<String, Failure> {
    let output = command.output().map_err(|e| Failure(format!("cannot run {command:?}: {e}")))?;
    if !output.status.success() {
        return Err(Failure(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr))));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// pgbench ceilings on a scratch database: select-only and TPC-B TPS at
/// `clients`, and the hot row's TPS at each of `hot_clients`.
pub fn postgres(
    url: &str,
    database: &str,
    clients: usize,
    hot_clients: &[usize],
    seconds: u64,
) -> Result<(f64, f64, Vec<f64>), Failure> {
    let target = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => format!("{url}/{database}"),
    };
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).to_string();
    let (c, t) = (clients.to_string(), seconds.to_string());
    run(Command::new("pgbench").args(["-i", "-q", "-s", "10", &target]))?;
    let select =
        tps(&run(Command::new("pgbench").args(["-S", "-M", "prepared", "-c", &c, "-j", &jobs, "-T", &t, &target]))?);
    let tpcb = tps(&run(Command::new("pgbench").args(["-M", "prepared", "-c", &c, "-j", &jobs, "-T", &t, &target]))?);
    run(Command::new("psql").args(["-q", &target, "-c", HOT_ROW_SETUP]))?;
    let script = std::env::temp_dir().join("omnistock-hot-row.sql");
    std::fs::write(&script, HOT_ROW_SCRIPT)?;
    let file = script.to_string_lossy().into_owned();
    let mut hot = Vec::new();
    for n in hot_clients {
        let n = n.to_string();
        let args = ["-n", "-M", "prepared", "-f", &file, "-c", &n, "-j", &jobs, "-T", &t, &target];
        hot.push(
            tps(&run(Command::new("pgbench").args(args))?).ok_or_else(|| Failure("pgbench printed no tps".into()))?,
        );
    }
    match (select, tpcb) {
        (Some(s), Some(b)) => Ok((s, b, hot)),
        _ => Err(Failure("pgbench printed no tps".into())),
    }
}

/// The hot-row transaction from one writer in a loop, in WAL with
/// synchronous=FULL (the service's default): transactions per second.
pub fn sqlite(dir: &Path, seconds: u64) -> Result<f64, Failure> {
    let path = dir.join("omnistock-ceiling.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
         CREATE TABLE hot (id INTEGER PRIMARY KEY, on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, safety_stock INTEGER NOT NULL);
         INSERT INTO hot VALUES (1, 2000000000, 0, 0);
         CREATE TABLE ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL, quantity INTEGER NOT NULL, created_at TEXT NOT NULL);",
    )
    ?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut done = 0u64;
    while Instant::now() < deadline {
        conn.batch_execute(
            "BEGIN IMMEDIATE;
             UPDATE hot SET reserved = reserved + 1 WHERE id = 1 AND on_hand - reserved - safety_stock >= 1;
             INSERT INTO ledger (sku, quantity, created_at) VALUES ('HOT', 1, datetime('now'));
             COMMIT;",
        )?;
        done += 1;
    }
    let _ = std::fs::remove_file(&path);
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
