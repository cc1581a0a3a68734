//! Logging setup. `RUST_LOG` filters (default `info`); `log_format = "json"` for production
//! log shippers. Log lines carry ids and routes, never a child's personal data.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // `TRIVSEL_LOG_SPANS=1` logs every span as it closes with its busy and idle time: a
    // quick profile of where a request spends its time (queries are spans).
    let spans = if std::env::var_os("TRIVSEL_LOG_SPANS").is_some() {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
