//! `starsgate ledger export` and `starsgate stats`: read-only views of the ledger. They need only
//! `gateway.toml` (not the bots' tokens), so an accountant can run them.

use std::io::Write;
use std::path::Path;

use super::Failure;
use crate::config::load_gateway;
use crate::domain::{BotId, ChargeId};
use crate::ledger::{ExportFilter, Ledger};

async fn open(dir: &Path) -> Result<Ledger, Failure> {
    let gateway =
        load_gateway(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    Ok(Ledger::connect(&gateway.ledger_url).await?)
}

pub async fn export(
    dir: &Path,
    json: bool,
    bot: Option<BotId>,
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

pub async fn stats(dir: &Path, bot: Option<&BotId>) -> Result<(), Failure> {
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
    let promos = ledger.promo_stats(bot).await?;
    if !promos.is_empty() {
        println!();
        println!("Promo codes (refunded payments excluded), Stars:");
        println!(
            "{:<16} {:<16} {:>6} {:>10} {:>10}",
            "bot", "code", "uses", "discounted", "revenue"
        );
        for p in &promos {
            println!(
                "{:<16} {:<16} {:>6} {:>10} {:>10}",
                p.bot, p.code, p.uses, p.discounted, p.revenue
            );
        }
    }
    let money = crate::ledger::money_by_bot(&ledger.star_totals(bot).await?);
    if !money.is_empty() {
        println!();
        println!("Telegram's transactions (read by reconciliation), Stars:");
        println!(
            "{:<16} {:>10} {:>11} {:>9} {:>11} {:>8} {:>11} {:>9} {:>9} {:>10}  balance",
            "bot",
            "gross",
            "commissions",
            "refunds",
            "chargebacks",
            "fees",
            "withdrawals",
            "other in",
            "other out",
            "net"
        );
        for m in &money {
            let known = match BotId::parse(&m.bot) {
                Ok(id) => ledger.star_balance(&id).await?,
                Err(_) => None,
            };
            let balance = match known {
                Some(b) => format!(
                    "{} (at {})",
                    b.amount,
                    crate::ledger::report::rfc3339(b.checked_at)
                ),
                None => "-".into(),
            };
            println!(
                "{:<16} {:>10} {:>11} {:>9} {:>11} {:>8} {:>11} {:>9} {:>9} {:>10}  {balance}",
                m.bot,
                m.gross_sales.to_string(),
                m.commissions.to_string(),
                m.refunds.to_string(),
                m.chargebacks.to_string(),
                m.fees.to_string(),
                m.withdrawals.to_string(),
                m.other_in.to_string(),
                m.other_out.to_string(),
                m.net.to_string(),
            );
        }
        for (bot, tx, reason) in ledger.flagged_star_transactions(bot).await? {
            println!("needs review: {bot} {tx}: {reason}");
        }
    }
    ledger.close().await;
    Ok(())
}

/// `starsgate ledger events --bot BOT [--charge ID] [--order ID] [--json]`: a bot's event
/// history, oldest first, with what each plugin hook did (its outcome and log lines are the
/// event's detail).
pub async fn events(
    dir: &Path,
    bot: &BotId,
    charge: Option<&ChargeId>,
    order: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let ledger = open(dir).await?;
    let events = ledger.events(bot, charge).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut shown = 0;
    for e in events
        .iter()
        .filter(|e| order.is_none() || e.order_id.as_deref() == order)
    {
        shown += 1;
        let at = chrono::DateTime::from_timestamp_millis(e.at)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| e.at.to_string());
        if json {
            let line = serde_json::json!({
                "at": at,
                "bot": e.bot,
                "kind": e.kind.as_str(),
                "order_id": e.order_id,
                "charge_id": e.charge_id,
                "detail": e.detail,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{at} {:<24} order={} charge={} {}",
                e.kind.as_str(),
                e.order_id.as_deref().unwrap_or("-"),
                e.charge_id.as_deref().unwrap_or("-"),
                e.detail.as_deref().unwrap_or("")
            )?;
        }
    }
    ledger.close().await;
    if shown == 0 && !json {
        eprintln!("no events for bot {bot:?} with these filters");
    }
    Ok(())
}
