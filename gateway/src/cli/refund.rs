//! `starsgate refund --bot BOT --charge CHARGE_ID`: refunds, then prints what the product's
//! refund hook did (it runs in this process).

use std::path::Path;

use super::Failure;
use crate::App;
use crate::config::Config;
use crate::domain::{BotId, ChargeId};

pub async fn refund(dir: &Path, bot: &BotId, charge: &ChargeId) -> Result<(), Failure> {
    let config =
        Config::load(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    if config.bots.iter().all(|b| &b.id != bot) {
        return Err(Failure(format!(
            "--bot: there is no bot {bot:?} in {}",
            dir.display()
        )));
    }
    let app = App::build(config).await?;
    let store = app
        .store(bot)
        .ok_or_else(|| Failure(format!("--bot: no bot {bot:?}")))?;
    let outcome = crate::shop::refund(&store, charge, "starsgate refund").await?;
    println!("{outcome}");
    // The product's refund hook ran in this process; what it did is in the payment's history.
    let hook = app
        .ledger()
        .events(bot, Some(charge))
        .await?
        .into_iter()
        .rev()
        .find(|e| e.kind == crate::ledger::EventKind::RefundHook);
    match hook.and_then(|e| e.detail) {
        Some(detail) => println!("Refund hook: {}", crate::brief::line(&detail)),
        None => println!(
            "Refund hook: none ran (the product has no plugin, or it was already refunded)."
        ),
    }
    app.ledger().close().await;
    Ok(())
}
