//! `starsgate reconcile [--bot BOT]`: the ledger against getStarTransactions, with a progress bar
//! for long histories.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::Failure;
use crate::App;
use crate::config::Config;

pub async fn reconcile(dir: &Path, bot: Option<&str>) -> Result<(), Failure> {
    let config =
        Config::load(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    if let Some(b) = bot
        && config.bots.iter().all(|c| c.id.as_str() != b)
    {
        return Err(Failure(format!(
            "--bot: there is no bot {b:?} in {}",
            dir.display()
        )));
    }
    let app = App::build(config).await?;
    let mut failed = 0;
    for store in app
        .stores()
        .iter()
        .filter(|s| bot.is_none_or(|b| s.id.as_str() == b))
    {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {pos} transactions read ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(store.id.to_string());
        let result = crate::reconcile::reconcile(store, &|n| bar.set_position(n)).await;
        bar.finish_and_clear();
        match result {
            Ok(r) => {
                println!(
                    "{}: {} transactions read; recorded {} missing payment(s), {} refund(s); linked {} paid media purchase(s); {} amount mismatch(es) and {} unexplained outgoing transaction(s) flagged",
                    store.id,
                    r.scanned,
                    r.recorded.len(),
                    r.refunds.len(),
                    r.paid_media.len(),
                    r.mismatches.len(),
                    r.unexplained.len()
                );
                // The summary per class of the transactions read for the first time.
                for (class, summary) in &r.classes {
                    println!(
                        "  {class:<26} {:>6} transaction(s) {:>14} Stars",
                        summary.count, summary.stars
                    );
                }
                if r.unreadable > 0 {
                    println!(
                        "  {:<26} {:>6} transaction(s) without an id, skipped",
                        "unreadable", r.unreadable
                    );
                }
                for id in &r.unexplained {
                    println!("  needs review: {id}");
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", store.id);
                failed += 1;
            }
        }
    }
    app.ledger().close().await;
    if failed > 0 {
        return Err(Failure(format!("{failed} bot(s) could not be reconciled")));
    }
    Ok(())
}
