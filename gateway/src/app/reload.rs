//! Live configuration: re-read `config/` and apply it bot by bot while every other bot keeps
//! selling (SIGHUP, or `starsgate reload`).
//!
//! - A new bot file starts that bot.
//! - A changed bot file swaps the bot's products, texts, admins and plugins at once; open
//!   invoices keep the price, plugin version and config they were sent with (the order has them).
//! - A removed bot file retires the bot: intake stops, stored updates and pending deliveries are
//!   finished, then it stops (in webhook mode its webhook is deleted; pending updates stay at
//!   Telegram for when it comes back).
//! - A file that fails validation (exactly as `starsgate check` validates it, plugins included)
//!   changes nothing for that bot; the problems are logged and returned.
//! - Gateway-wide settings are not applied live; a change is reported as needing a restart.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Running;
use crate::config::{GatewayConfig, Problems, ReloadReport, load_bot, load_gateway_with};

/// The settings a running gateway cannot change, by name, that differ between `old` and `new`
/// (compared as parsed values; secrets are compared, never printed).
fn fixed_settings_changed(old: &GatewayConfig, new: &GatewayConfig) -> Vec<&'static str> {
    let same = [
        (
            "ledger.url",
            old.ledger_url.expose() == new.ledger_url.expose(),
        ),
        ("ledger.lease_secs", old.ledger_lease == new.ledger_lease),
        (
            "ledger.sqlite_synchronous",
            old.ledger_sync_full == new.ledger_sync_full,
        ),
        (
            "telegram.api_url",
            old.telegram.api_url == new.telegram.api_url,
        ),
        ("telegram.mode", old.telegram.mode == new.telegram.mode),
        ("webhook.listen", old.webhook.listen == new.webhook.listen),
        (
            "webhook.public_url",
            old.webhook.public_url == new.webhook.public_url,
        ),
        ("admin.listen", old.admin.listen == new.admin.listen),
        (
            "plugins.cache_dir",
            old.plugins.cache_dir == new.plugins.cache_dir,
        ),
        ("plugins limits", old.plugins.limits == new.plugins.limits),
        ("log.format", old.log_format == new.log_format),
    ];
    same.into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

pub(super) async fn reload(running: &Running) -> ReloadReport {
    let mut report = ReloadReport::default();
    let mut app = running.app.lock().await;
    let dir = app.config.dir.clone();
    let secrets = app.secrets.clone();
    let lookup = |name: &str| secrets(name);
    match load_gateway_with(&dir, &lookup) {
        Ok(new) => report.needs_restart.extend(
            fixed_settings_changed(&app.config.gateway, &new)
                .into_iter()
                .map(str::to_owned),
        ),
        Err(problems) => report
            .rejected
            .extend(problems.iter().map(ToString::to_string)),
    }
    let bots_dir = dir.join("bots");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&bots_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            report.rejected.push(format!(
                "{}: -: cannot read the bots directory: {e}",
                bots_dir.display()
            ));
            return report; // nothing can be judged; change nothing
        }
    };
    files.sort();
    // Bots whose file still exists (valid or not) are kept; only a vanished file retires a bot.
    let mut present = BTreeSet::new();
    for file in &files {
        if let Some(stem) = file.file_stem().and_then(|s| s.to_str()) {
            present.insert(stem.to_owned());
        }
        let mut problems = Problems::default();
        let Some(bot) = load_bot(&dir, file, &lookup, &mut problems) else {
            report
                .rejected
                .extend(problems.iter().map(ToString::to_string));
            continue;
        };
        let id = bot.id.to_string();
        let existing = running.registry.get(&id);
        // A new bot is judged as `check` judges it (every product's pre-checkout called once).
        if existing.is_none()
            && let Err(errors) = super::plugins::load(&bot, &app.host)
        {
            report
                .rejected
                .extend(errors.iter().map(ToString::to_string));
            continue;
        }
        match existing {
            None => match app.make_store(&bot, files.len()).await {
                Ok((store, errors)) if errors.is_empty() => {
                    running.launch(&app, store);
                    report.added.push(id);
                }
                Ok((_, errors)) => report.rejected.extend(errors),
                Err(e) => report.rejected.push(format!("{}: -: {e}", file.display())),
            },
            Some(store) => {
                let current = store.current();
                if current.config == bot {
                    report.unchanged.push(id);
                    continue;
                }
                if current.config.token != bot.token
                    || current.config.environment != bot.environment
                {
                    report.rejected.push(format!(
                        "{}: token_env: a bot's token or environment changes only with a restart of that bot; remove the file, reload, and add it back",
                        file.display()
                    ));
                    continue;
                }
                match super::plugins::load(&bot, &app.host) {
                    Ok(catalogue) => {
                        store.replace(bot, catalogue);
                        report.changed.push(id);
                    }
                    Err(errors) => report
                        .rejected
                        .extend(errors.iter().map(ToString::to_string)),
                }
            }
        }
    }
    for id in running.registry.ids() {
        if !present.contains(&id) {
            running.retire(&id).await;
            report.removed.push(id);
        }
    }
    let configs: Vec<_> = running
        .registry
        .snapshot()
        .iter()
        .map(|store| store.current().config.clone())
        .collect();
    if let Err(e) = app.publish_event_routes(&configs, &report.removed).await {
        report.rejected.push(format!(
            "{}: events: the new event destinations could not be stored ({e}); events still go where they went",
            dir.display()
        ));
    }
    for problem in &report.rejected {
        tracing::error!(problem = %problem, "A configuration change was rejected; that bot is unchanged.");
    }
    tracing::info!(report = %report, "Reloaded the configuration.");
    report
}
