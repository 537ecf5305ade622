//! `starsgate ledger export` and `starsgate stats`: read-only views of the ledger. They need only
//! `gateway.toml` (not the bots' tokens), so an accountant can run them.

use std::io::Write;
use std::path::Path;

use super::Failure;
use crate::config::load_gateway;
use crate::ledger::{ExportFilter, Ledger};

async fn open(dir: &Path) -> Result<Ledger, Failure> {
    let gateway =
        load_gateway(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    Ok(Ledger::connect(&gateway.ledger_url).await?)
}

pub async fn export(
    dir: &Path,
    json: bool,
    bot: Option<String>,
    since: Option<&str>,
) -> Result<(), Failure> {
    let since_ms = match since {
        None => None,
        Some(s) => {
            let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| Failure(format!("--since: {s:?} is not a date like 2026-01-31")))?;
            date.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis())
        }
    };
    let ledger = open(dir).await?;
    let records = ledger.export(&ExportFilter { bot, since_ms }).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        for r in &records {
            serde_json::to_writer(&mut out, r)?;
            writeln!(out)?;
        }
    } else {
        crate::ledger::report::write_csv(&records, out)?;
    }
    ledger.close().await;
    Ok(())
}

pub async fn stats(dir: &Path, bot: Option<&str>) -> Result<(), Failure> {
    let ledger = open(dir).await?;
    let stats = ledger.stats(bot).await?;
    println!(
        "{:<16} {:<20} {:>8} {:>8} {:>9} {:>8} {:>7} {:>10}",
        "bot", "product", "payments", "renewals", "delivered", "refunded", "review", "net stars"
    );
    for s in &stats {
        println!(
            "{:<16} {:<20} {:>8} {:>8} {:>9} {:>8} {:>7} {:>10}",
            s.bot,
            s.product,
            s.payments,
            s.renewals,
            s.delivered,
            s.refunded,
            s.needs_review,
            s.net_revenue
        );
    }
    if stats.is_empty() {
        println!("(no payments yet)");
    }
    ledger.close().await;
    Ok(())
}
