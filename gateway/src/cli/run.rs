//! `starsgate run`: every bot until SIGINT or SIGTERM, then a graceful shutdown.

use std::path::Path;

use super::Failure;
use crate::App;
use crate::config::Config;

pub async fn run(dir: &Path) -> Result<(), Failure> {
    crate::telemetry::init("info");
    let config = Config::load(dir).map_err(|p| {
        Failure(format!(
            "the configuration has problems (run `starsgate check`):\n{p}"
        ))
    })?;
    let app = App::build(config).await?;
    app.run(shutdown_signal()).await?;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
