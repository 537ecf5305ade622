//! `starsgate refund --bot BOT --charge CHARGE_ID`.

use std::path::Path;

use super::Failure;
use crate::App;
use crate::config::Config;

pub async fn refund(dir: &Path, bot: &str, charge: &str) -> Result<(), Failure> {
    let config =
        Config::load(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    if config.bots.iter().all(|b| b.id.as_str() != bot) {
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
    app.ledger().close().await;
    Ok(())
}
