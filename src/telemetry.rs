//! Logging: `tracing` with a filter from `OMNISTOCK_LOG`, as text or JSON lines.
//! Every line of a request carries its span, and so its request id.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber. Fails with a clear line on a bad filter.
pub fn init(filter: &str, json: bool) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(filter).map_err(|e| format!("configuration error: OMNISTOCK_LOG={filter:?}: {e}"))?;
    // A line when each request span closes doubles as the access log, with its timing.
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::CLOSE).with_writer(std::io::stderr);
    let installed = if json { builder.json().try_init() } else { builder.try_init() };
    installed.map_err(|e| format!("cannot install the logger: {e}"))
}
