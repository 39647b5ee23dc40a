//! `scripts/bench`: omnistock's own load test. For each backend it seeds a
//! fresh database, starts the service, runs each scenario for a fixed time
//! with a fixed number of clients, checks the ledger and oversell after the
//! scenarios that move stock, measures the database's ceiling in the same
//! run, stops what it started, and prints (and writes) one markdown table.

mod ceiling;
mod cpu;
mod scenarios;
mod seed;

/// Why the benchmark stopped: any error, as text.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{Connection, PgConnection};
use omnistock::db::schema::stock_levels;

#[derive(Parser)]
#[command(about = "omnistock's load test, measured against the database's ceiling in the same run")]
struct Args {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    #[arg(long, value_delimiter = ',', default_value = "availability,cart,checkout,hot-sku,pos-hold,webhook,mixed")]
    scenarios: Vec<String>,
    #[arg(long, default_value_t = 20)]
    locations: usize,
    #[arg(long, default_value_t = 10_000)]
    skus: usize,
    #[arg(long, default_value_t = 1_000)]
    customers: usize,
    /// The service binary (built in release mode by scripts/bench).
    #[arg(long, default_value = "target/release/omnistock")]
    omnistock: PathBuf,
    /// A PostgreSQL server where scratch databases can be created.
    #[arg(long, env = "TEST_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Database connections of the service (default: the service's own, 2 per core).
    #[arg(long)]
    pool_size: Option<u32>,
    #[arg(long, default_value = "bench/results.md")]
    out: PathBuf,
    /// Skip the database ceilings.
    #[arg(long)]
    no_ceilings: bool,
    /// Seconds of unmeasured checkout load that give the database a history
    /// before the first scenario (0: start from empty order tables).
    #[arg(long, default_value_t = 10)]
    warm_up: u64,
}

/// The smaller client count hot-sku also runs at.
const HOT_SKU_FEW: usize = 8;

/// One row of the table.
struct Row {
    scenario: String,
    backend: &'static str,
    clients: usize,
    ops_per_sec: f64,
    requests_per_sec: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    errors: u64,
    oversold: Option<i64>,
    peak_rss_mb: f64,
    /// SQL statements the server ran per request (its own counter, BEGIN and COMMIT included).
    statements_per_request: f64,
    /// Server CPU time (user + system, from /proc) per request, in milliseconds.
    cpu_ms_per_request: f64,
    /// The machine's CPU per op, by who spent it.
    cpu: cpu::PerOp,
    note: Option<String>,
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(18080)
}

async fn start(binary: &PathBuf, url: &str, pool: Option<u32>) -> Result<Server, Failure> {
    let port = free_port();
    let log =
        std::fs::File::create(std::env::temp_dir().join("omnistock-bench-server.log")).map_err(|e| e.to_string())?;
    let mut command = Command::new(binary);
    if let Some(pool) = pool {
        command.env("OMNISTOCK_DB__POOL_SIZE", pool.to_string());
    }
    let child = command
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("OMNISTOCK_SECRET_KEY", seed::SECRET_KEY)
        .env("OMNISTOCK_ADDR", format!("127.0.0.1:{port}"))
        .env("OMNISTOCK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| {
            Failure(format!("cannot start {}: {e} (build it with cargo build --release)", binary.display()))
        })?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(Failure("the service did not become ready".into()))
}

/// Samples the server's resident memory until told to stop; returns the peak in MB.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let rss = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                peak_kb = peak_kb.max(rss);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        peak_kb as f64 / 1024.0
    })
}

/// The server's statement counter, read from its /metrics.
async fn statements(base: &str) -> f64 {
    let text = match reqwest::get(format!("{base}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .find_map(|l| l.strip_prefix("omnistock_db_statements_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Levels that promise more than they hold, and ledger mismatches.
/// The service's own storage on `url`, for checks beside the running server.
async fn open(url: &str) -> Result<omnistock::context::Context, Failure> {
    Ok(omnistock::open(seed::config(url), Arc::new(omnistock::clock::SystemClock)).await?)
}

/// Settles the database before a scenario, as pgbench does before its runs:
/// without it a scenario pays for the dead rows and the checkpoint that the
/// one before it left behind (hot-sku on PostgreSQL measured ~700 requests/s
/// after checkout and ~1,070 alone).
async fn settle(url: &str) -> Result<(), Failure> {
    let ctx = open(url).await?;
    ctx.db
        .read(|conn| {
            // One statement each: VACUUM refuses to run in the implicit
            // transaction of a multi-statement query.
            let settling: &[&str] = if conn.is_postgres() {
                &["VACUUM ANALYZE", "CHECKPOINT"]
            } else {
                &["PRAGMA wal_checkpoint(TRUNCATE)"]
            };
            settling.iter().try_for_each(|sql| conn.batch_execute(sql)).map_err(|e| Failure(e.to_string()))
        })
        .await
}

async fn oversold(url: &str) -> Result<i64, Failure> {
    let ctx = open(url).await?;
    ctx.db
        .read(|conn| {
            let (_, mismatches) = omnistock::inventory::check_ledger(conn)?;
            let over: i64 = stock_levels::table
                .filter(stock_levels::reserved.gt(stock_levels::on_hand))
                .count()
                .get_result(conn)?;
            if !mismatches.is_empty() {
                eprintln!("ledger mismatches: {mismatches:?}");
            }
            Ok::<_, Failure>(over + mismatches.len() as i64)
        })
        .await
}

fn fresh_postgres(url: &str, name: &str) -> Result<String, Failure> {
    let mut admin = PgConnection::establish(url).map_err(|e| Failure(format!("PostgreSQL at {url}: {e}")))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin)?;
    diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin)?;
    Ok(match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => format!("{url}/{name}"),
    })
}

fn drop_postgres(url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::establish(url) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin);
    }
}

async fn bench_backend(args: &Args, backend: &'static str, rows: &mut Vec<Row>) -> Result<(), Failure> {
    let dir = std::env::temp_dir().join(format!("omnistock-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let url = match backend {
        "sqlite" => format!("sqlite://{}", dir.join("bench.db").display()),
        _ => fresh_postgres(&args.postgres, "omnistock_bench")?,
    };
    eprintln!("[{backend}] seeding {} locations × {} SKUs, {} customers", args.locations, args.skus, args.customers);
    let seeded = seed::seed(&url, args.locations, args.skus, args.customers).await?;
    let server = start(&args.omnistock, &url, args.pool_size).await?;
    // A retailer's database has history: a short checkout load writes carts,
    // orders, reservations and fulfilments before anything is measured, and
    // `settle` then analyses them, as autovacuum long has in a deployment
    // that runs. From empty tables instead, PostgreSQL keeps the plans it
    // made while they were tiny (sequential scans, also in the foreign-key
    // checks) until the next ANALYZE: checkout went from 718 to 1,076
    // commits/s when one ran in the middle of a run.
    if args.warm_up > 0 {
        eprintln!("[{backend}] warm-up: checkout, {} clients for {} s", args.clients, args.warm_up);
        let shared = Arc::new(scenarios::Shared { seeded: seeded.clone(), counter: AtomicU64::new(0) });
        scenarios::run("checkout", &server.base, args.clients, Duration::from_secs(args.warm_up), shared).await;
    }
    // hot-sku also runs at 8 clients: the combining of concurrent holds
    // matters most under contention, and the ceiling is measured at both.
    let runs = args.scenarios.iter().flat_map(|scenario| {
        let extra = (scenario == "hot-sku" && args.clients != HOT_SKU_FEW).then_some((scenario, HOT_SKU_FEW));
        extra.into_iter().chain([(scenario, args.clients)])
    });
    for (scenario, clients) in runs {
        settle(&url).await?;
        let shared = Arc::new(scenarios::Shared { seeded: seeded.clone(), counter: AtomicU64::new(0) });
        eprintln!("[{backend}] {scenario}: {clients} clients for {} s", args.duration);
        let stop = Arc::new(AtomicBool::new(false));
        let pid = server.child.id();
        let rss = watch_rss(pid, stop.clone());
        let (statements_before, cpu_before) = (statements(&server.base).await, cpu::sample(pid));
        let measured =
            scenarios::run(scenario, &server.base, clients, Duration::from_secs(args.duration), shared).await;
        let (statements_after, cpu_after) = (statements(&server.base).await, cpu::sample(pid));
        stop.store(true, Ordering::Relaxed);
        let peak = rss.join().unwrap_or(0.0);
        // The two scrapes of /metrics are requests too, and not the load's.
        let requests = measured.requests.max(1) as f64;
        let cpu = cpu::per_op(cpu_before, cpu_after, measured.ops);
        let moves_stock = matches!(scenario.as_str(), "hot-sku" | "checkout" | "mixed" | "webhook" | "pos-hold");
        let oversold = if moves_stock { Some(oversold(&url).await?) } else { None };
        let seconds = measured.elapsed.as_secs_f64();
        let q = |p: f64| measured.latency.value_at_quantile(p) as f64 / 1000.0;
        rows.push(Row {
            scenario: scenario.clone(),
            backend,
            clients,
            ops_per_sec: measured.ops as f64 / seconds,
            requests_per_sec: measured.requests as f64 / seconds,
            p50: q(0.50),
            p99: q(0.99),
            p999: q(0.999),
            errors: measured.errors,
            oversold,
            peak_rss_mb: peak,
            statements_per_request: (statements_after - statements_before) / requests,
            cpu_ms_per_request: cpu.server * measured.ops as f64 / requests,
            cpu,
            note: measured.first_error,
        });
    }
    drop(server);
    if backend == "postgres" {
        drop_postgres(&args.postgres, "omnistock_bench");
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores, {memory} memory")
}

fn commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args = Args::parse();
    let backends: Vec<&'static str> = match args.backend.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        "both" => vec!["sqlite", "postgres"],
        other => return Err(Failure(format!("--backend {other}: use sqlite, postgres or both"))),
    };
    if let Some(unknown) = args.scenarios.iter().find(|s| !scenarios::ALL.contains(&s.as_str())) {
        return Err(Failure(format!("unknown scenario {unknown}; the scenarios are {}", scenarios::ALL.join(", "))));
    }
    if args.customers < 2 * args.clients {
        return Err(Failure(format!("--customers must be at least twice --clients ({})", 2 * args.clients)));
    }
    let mut rows = Vec::new();
    let mut ceilings = Vec::new();
    for backend in &backends {
        bench_backend(&args, backend, &mut rows).await?;
        if args.no_ceilings {
            continue;
        }
        eprintln!("[{backend}] measuring the database ceiling");
        match *backend {
            "postgres" => {
                let url = args.postgres.clone();
                let (clients, seconds) = (args.clients, args.duration);
                let hot_clients = if clients == HOT_SKU_FEW { vec![clients] } else { vec![HOT_SKU_FEW, clients] };
                let hot_for_ceiling = hot_clients.clone();
                let measured = tokio::task::spawn_blocking(move || {
                    fresh_postgres(&url, "omnistock_ceiling")?;
                    let result = ceiling::postgres(&url, "omnistock_ceiling", clients, &hot_for_ceiling, seconds);
                    drop_postgres(&url, "omnistock_ceiling");
                    result
                })
                .await??;
                ceilings.push(("postgres", "pgbench select-only", measured.0, "availability", clients));
                ceilings.push(("postgres", "pgbench TPC-B", measured.1, "checkout", clients));
                for (n, tps) in hot_clients.into_iter().zip(measured.2) {
                    ceilings.push(("postgres", "pgbench hot-row reserve + ledger", tps, "hot-sku", n));
                }
            }
            _ => {
                let seconds = args.duration.min(10);
                let tps =
                    tokio::task::spawn_blocking(move || ceiling::sqlite(&std::env::temp_dir(), seconds)).await??;
                ceilings.push(("sqlite", "hot-row reserve + ledger, one writer", tps, "hot-sku", args.clients));
            }
        }
    }
    let report = report(&args, &rows, &ceilings);
    print!("{report}");
    if let Some(dir) = args.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&args.out, &report).map_err(|e| Failure(format!("cannot write {}: {e}", args.out.display())))?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// A table with a line per row: scenario, backend and clients, then
/// `columns` (numbers, right-aligned) as `cells` writes them.
fn per_row(out: &mut String, rows: &[Row], columns: &[&str], cells: impl Fn(&Row) -> String) {
    let _ = writeln!(out, "| scenario | backend | clients | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|---|---:|{}", "---:|".repeat(columns.len()));
    for r in rows {
        let _ = writeln!(out, "| {} | {} | {} | {} |", r.scenario, r.backend, r.clients, cells(r));
    }
}

/// A ceiling: backend, what was measured, its TPS, the scenario it bounds and at how many clients.
type Ceiling = (&'static str, &'static str, f64, &'static str, usize);

fn report(args: &Args, rows: &[Row], ceilings: &[Ceiling]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# omnistock benchmark\n");
    let _ = writeln!(
        out,
        "{} · commit {} · {} · {} clients, {} s per scenario after {} s of unmeasured checkout (a history, then VACUUM ANALYZE before each scenario) · {} locations × {} SKUs, {} customers · load generator on the same machine\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        commit(),
        machine(),
        args.clients,
        args.duration,
        args.warm_up,
        args.locations,
        args.skus,
        args.customers
    );
    let measured = ["ops/s", "requests/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "oversold"];
    let server = ["server peak RSS MB", "statements/request", "server CPU ms/request"];
    per_row(&mut out, rows, &[&measured[..], &server[..]].concat(), |r| {
        format!(
            "{:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.1} | {:.1} | {:.2}",
            r.ops_per_sec,
            r.requests_per_sec,
            r.p50,
            r.p99,
            r.p999,
            r.errors,
            r.oversold.map(|o| o.to_string()).unwrap_or_else(|| "–".into()),
            r.peak_rss_mb,
            r.statements_per_request,
            r.cpu_ms_per_request
        )
    });
    let _ = writeln!(
        out,
        "\nAn op is one scenario step: availability 1 request; cart 2 (add, then change or remove); checkout 5 (3 lines, fulfilment, checkout); hot-sku and pos-hold 2 (hold, release); webhook 1. Latencies are per request, successful ones; errors are counted apart."
    );
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let _ = writeln!(
        out,
        "\nWhere the machine's CPU went, in ms per op (from /proc). The rest is the database's processes on PostgreSQL and the kernel's own threads; SQLite runs inside the server, and all its writes run on one writer thread of it: near 100 %, that thread is the limit. With the load generator on the same {cores} cores, no server could go faster than the last column: the cores divided by what an op costs outside the server.\n"
    );
    let split = [
        "server",
        "load generator",
        "rest",
        "machine busy",
        "SQLite writer busy",
        "ops/s with a server that cost nothing",
    ];
    per_row(&mut out, rows, &split, |r| {
        format!(
            "{:.2} | {:.2} | {:.2} | {:.0} % | {} | {:.0}",
            r.cpu.server,
            r.cpu.loadgen,
            r.cpu.rest,
            r.cpu.busy_percent,
            r.cpu.writer_busy_percent.map(|w| format!("{w:.0} %")).unwrap_or_else(|| "–".into()),
            r.cpu.bound_without_server(cores)
        )
    });
    if !ceilings.is_empty() {
        let _ = writeln!(out, "\n| backend | ceiling | clients | TPS | compared with | ours | ratio |");
        let _ = writeln!(out, "|---|---|---:|---:|---|---:|---:|");
        for (backend, name, tps, scenario, clients) in ceilings {
            let ours = rows
                .iter()
                .find(|r| r.backend == *backend && r.scenario == *scenario && r.clients == *clients)
                .map(|r| match *scenario {
                    "hot-sku" => r.requests_per_sec,
                    _ => r.ops_per_sec,
                });
            let (ours_text, ratio) = match ours {
                Some(o) => (format!("{o:.0}"), format!("{:.0} %", o / tps * 100.0)),
                None => ("–".into(), "–".into()),
            };
            let _ = writeln!(out, "| {backend} | {name} | {clients} | {tps:.0} | {scenario} | {ours_text} | {ratio} |");
        }
        let _ = writeln!(
            out,
            "\nhot-sku is compared per request (each reserve or release is one transaction like the ceiling's); availability and checkout per op."
        );
    }
    let errors: Vec<&Row> = rows.iter().filter(|r| r.errors > 0).collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nFirst error seen per scenario with errors:\n");
        for r in errors {
            let _ = writeln!(out, "- {} / {}: {}", r.scenario, r.backend, r.note.clone().unwrap_or_default());
        }
    }
    out
}
