//! `starsgate webhook status`: getWebhookInfo for every bot.

use std::path::Path;

use teloxide_core::prelude::*;

use super::Failure;
use crate::config::Config;
use crate::telegram::{BotClients, HttpClients, describe};

pub async fn status(dir: &Path) -> Result<(), Failure> {
    let config =
        Config::load(dir).map_err(|p| Failure(format!("the configuration has problems:\n{p}")))?;
    let api_url = &config.gateway.telegram.api_url;
    let mut failed = 0;
    let http = HttpClients::new(config.gateway.telegram.poll_timeout);
    for bot in &config.bots {
        let clients = BotClients::new(&bot.token, api_url, &http);
        match clients.api.get_webhook_info().await {
            Ok(info) => {
                let url = info
                    .url
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "(none: polling)".into());
                println!("{}: {url}", bot.id);
                println!("    pending updates: {}", info.pending_update_count);
                if let Some(when) = info.last_error_date {
                    println!(
                        "    last error at {when}: {}",
                        info.last_error_message.unwrap_or_default()
                    );
                }
                if let Some(n) = info.max_connections {
                    println!("    max connections: {n}");
                }
            }
            Err(e) => {
                eprintln!("{}: getWebhookInfo failed: {}", bot.id, describe(&e));
                failed += 1;
            }
        }
    }
    if failed > 0 {
        return Err(Failure(format!("{failed} bot(s) did not answer")));
    }
    Ok(())
}
