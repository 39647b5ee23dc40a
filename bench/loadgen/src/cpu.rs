//! Where the machine's CPU went during a scenario, from /proc: the server,
//! the load generator itself, and the rest (the database's processes and
//! the kernel's own threads). With the load generator on the same machine,
//! this split bounds what a scenario can reach here: even a server that
//! cost nothing could not go faster than the cores divided by the load
//! generator's and the rest's share of an op.
//!
//! On SQLite every write transaction runs on the server's one writer
//! thread, so the write scenarios are bound by that one thread long before
//! the machine is busy; its busy share says how near a scenario is to it.

/// CPU time so far, in milliseconds.
#[derive(Clone, Copy)]
pub struct Sample {
    at: std::time::Instant,
    server: f64,
    /// The SQLite writer thread's (none on PostgreSQL).
    writer: Option<f64>,
    loadgen: f64,
    /// Every process of the machine, idle excluded.
    busy: f64,
    /// Busy and idle: what the cores could have given.
    total: f64,
}

/// The CPU one op took, in milliseconds, by who spent it.
pub struct PerOp {
    pub server: f64,
    pub loadgen: f64,
    pub rest: f64,
    /// Share of the machine's cores that was busy, in percent.
    pub busy_percent: f64,
    /// Share of the wall-clock time the SQLite writer thread was on a core, in percent.
    pub writer_busy_percent: Option<f64>,
}

impl PerOp {
    /// Ops per second the machine could give if the server cost nothing.
    pub fn bound_without_server(&self, cores: usize) -> f64 {
        cores as f64 * 1000.0 / (self.loadgen + self.rest).max(f64::EPSILON)
    }
}

pub fn sample(server_pid: u32) -> Sample {
    let (busy, total) = machine();
    Sample {
        at: std::time::Instant::now(),
        server: process(server_pid),
        writer: writer(server_pid),
        loadgen: process(std::process::id()),
        busy,
        total,
    }
}

/// The CPU per op between two samples, `ops` ops apart.
pub fn per_op(before: Sample, after: Sample, ops: u64) -> PerOp {
    let ops = ops.max(1) as f64;
    let server = after.server - before.server;
    let loadgen = after.loadgen - before.loadgen;
    let busy = after.busy - before.busy;
    PerOp {
        server: server / ops,
        loadgen: loadgen / ops,
        rest: (busy - server - loadgen).max(0.0) / ops,
        busy_percent: busy / (after.total - before.total).max(f64::EPSILON) * 100.0,
        writer_busy_percent: before.writer.zip(after.writer).map(|(b, a)| {
            let wall_ms = after.at.duration_since(before.at).as_secs_f64() * 1000.0;
            (a - b) / wall_ms.max(f64::EPSILON) * 100.0
        }),
    }
}

/// Linux reports CPU time in USER_HZ, 100 per second on every mainstream kernel.
const MS_PER_TICK: f64 = 10.0;

/// A process's CPU time so far (user + system).
fn process(pid: u32) -> f64 {
    cpu_time(&format!("/proc/{pid}/stat"))
}

/// The CPU time so far of the server's SQLite writer thread, found by its name.
fn writer(pid: u32) -> Option<f64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    tasks.flatten().map(|t| t.path()).find_map(|task| {
        let name = std::fs::read_to_string(task.join("comm")).ok()?;
        (name.trim_end() == omnistock::db::WRITER_THREAD).then(|| cpu_time(&task.join("stat").to_string_lossy()))
    })
}

/// User + system time from a /proc `stat` file, in milliseconds.
fn cpu_time(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
    ticks * MS_PER_TICK
}

/// The whole machine's CPU time so far: (busy, busy + idle), summed over cores.
fn machine() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice";
    // guest time is already counted in user.
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .map(|l| l.split_whitespace().skip(1).take(8).filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    let total: f64 = ticks.iter().sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    ((total - idle) * MS_PER_TICK, total * MS_PER_TICK)
}
