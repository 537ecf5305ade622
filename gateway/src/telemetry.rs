//! Logging: tracing to stderr, `RUST_LOG`-style filtering via `STARSGATE_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init(default: &str) {
    let filter =
        EnvFilter::try_from_env("STARSGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
