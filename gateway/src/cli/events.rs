//! `starsgate events list` and `starsgate events replay`: the seller events in the ledger. Like
//! `ledger export` they need only `gateway.toml`; a replay is picked up by the running gateway's
//! sender within a second.

use std::path::Path;

use super::Failure;
use crate::config::load_gateway;
use crate::domain::BotId;
use crate::ledger::{Ledger, SellerEventFilter, SellerEventStatus, report::rfc3339};

async fn open(dir: &Path) -> Result<Ledger, Failure> {
    let gateway =
        load_gateway(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    Ok(Ledger::connect(&gateway.ledger_url).await?)
}

/// `--since`: a UTC date (`2026-01-31`, from its midnight) or an RFC 3339 time.
pub(super) fn since(raw: &str) -> Result<i64, Failure> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| {
            Failure(format!(
                "--since: {} is not a date like 2026-01-31 or a time like 2026-01-31T12:00:00Z",
                crate::brief::value(raw)
            ))
        })
}

pub async fn list(
    dir: &Path,
    bot: Option<String>,
    status: Option<&str>,
    since_raw: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let status = match status {
        None => None,
        Some(s) => Some(SellerEventStatus::parse(s).ok_or_else(|| {
            Failure(format!(
                "--status: {} is not one of pending, sent, failed",
                crate::brief::value(s)
            ))
        })?),
    };
    let since_ms = since_raw.map(since).transpose()?;
    let ledger = open(dir).await?;
    let events = ledger
        .seller_events(&SellerEventFilter {
            bot,
            status,
            since_ms,
        })
        .await?;
    ledger.close().await;
    if json {
        for e in &events {
            let line = serde_json::json!({
                "id": e.id,
                "type": e.event_type.as_str(),
                "bot": e.bot,
                "created_at": rfc3339(e.created_at),
                "status": e.status.as_str(),
                "attempts": e.attempts,
                "next_attempt_at": (e.status == SellerEventStatus::Pending).then(|| rfc3339(e.next_attempt_at)),
                "sent_at": e.sent_at.map(rfc3339),
                "last_error": e.last_error,
                "url": e.url,
            });
            println!("{line}");
        }
        return Ok(());
    }
    println!(
        "{:<28} {:<20} {:<16} {:<22} {:<8} {:>8}  last error",
        "id", "created_at", "bot", "type", "status", "attempts"
    );
    for e in &events {
        println!(
            "{:<28} {:<20} {:<16} {:<22} {:<8} {:>8}  {}",
            e.id,
            rfc3339(e.created_at),
            e.bot,
            e.event_type.as_str(),
            e.status.as_str(),
            e.attempts,
            crate::brief::line(e.last_error.as_deref().unwrap_or("-")),
        );
    }
    Ok(())
}

pub async fn replay(dir: &Path, bot: &BotId, since_raw: &str) -> Result<(), Failure> {
    let since_ms = since(since_raw)?;
    let ledger = open(dir).await?;
    let n = ledger.replay_seller_events(bot, since_ms).await?;
    ledger.close().await;
    println!(
        "{n} event(s) of bot {bot} since {} queued to be sent again (same ids); the running gateway sends them.",
        rfc3339(since_ms)
    );
    Ok(())
}
