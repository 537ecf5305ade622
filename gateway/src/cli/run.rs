//! `starsgate run`: every bot until SIGINT or SIGTERM, then a graceful shutdown. SIGHUP reloads
//! the configuration (see `app::reload`). The process id is written to `<config>/.starsgate.pid`
//! so `starsgate reload` can find it.

use std::path::{Path, PathBuf};

use super::Failure;
use crate::App;
use crate::config::Config;

pub fn pid_file(dir: &Path) -> PathBuf {
    dir.join(".starsgate.pid")
}

pub async fn run(dir: &Path) -> Result<(), Failure> {
    let config = Config::load(dir).map_err(|p| {
        Failure(format!(
            "the configuration has problems (run `starsgate check`):\n{p}"
        ))
    })?;
    let format = crate::telemetry::LogFormat::from_env_or(config.gateway.log_format)?;
    crate::telemetry::init_with("info", format);
    let app = App::build(config).await?;
    let running = app.start().await?;
    let pid = pid_file(dir);
    if let Err(e) = std::fs::write(&pid, std::process::id().to_string()) {
        tracing::warn!(path = %pid.display(), error = %e, "Cannot write the pid file; `starsgate reload` will not find this gateway (SIGHUP still works).");
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup() => {
                let report = running.reload().await;
                tracing::info!(%report, "SIGHUP: reloaded.");
            }
        }
    }
    running.stop().await;
    let _ = std::fs::remove_file(&pid);
    Ok(())
}

/// Resolves on the next SIGHUP (never on platforms without it).
async fn hangup() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
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

/// `starsgate reload`: validates the configuration as `check --without-secrets` does and prints every
/// problem (a bot whose file is broken keeps running unchanged), then tells the running gateway
/// (SIGHUP) to apply it.
pub fn reload(dir: &Path) -> Result<(), Failure> {
    // The running gateway reads the secrets from its own environment; this shell may not have
    // them, so the ones it has are checked and the rest are left to the gateway.
    let checked = super::check::check(dir, crate::config::SecretCheck::IfSet);
    if let Err(Failure(msg)) = &checked {
        eprintln!("{msg}; bots with problems keep their current configuration.");
    }
    let pid_path = pid_file(dir);
    let pid: i32 = crate::files::read_text(&pid_path, 64)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            Failure(format!(
                "{}: no running gateway found (is `starsgate run --config {}` running?)",
                pid_path.display(),
                dir.display()
            ))
        })?;
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with a pid read from our own pid file and a valid signal number.
        let sent = unsafe { libc::kill(pid, libc::SIGHUP) } == 0;
        if !sent {
            return Err(Failure(format!(
                "{}: process {pid} is not running",
                pid_path.display()
            )));
        }
        println!("Sent SIGHUP to the gateway (pid {pid}); its log reports what was applied.");
    }
    checked
}
