//! Command menus: the commands a buyer sees in Telegram's menu (`setMyCommands`), set when the
//! bot starts and again after a reload changes its texts or products, once without a language
//! (the default) and once per language the bot speaks. A failure is logged and retried with a
//! growing pause; it never stops the bot. Menus already set as wanted are not sent again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use teloxide_core::prelude::*;
use teloxide_core::types::BotCommand;
use tokio_util::sync::CancellationToken;

use super::Store;
use crate::config::BotConfig;
use crate::i18n::Msg;

/// The first pause after a failure, and the longest.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// One menu: `None` is the default for every language without its own.
type Menus = BTreeMap<Option<String>, Vec<(String, String)>>;

/// The menus a bot should have: `/start`, `/paysupport`, `/terms`, and `/subscriptions` when it
/// sells one.
pub fn wanted(bot: &BotConfig) -> Menus {
    let sells_memberships = bot.products.iter().any(|p| p.subscription);
    let mut languages: Vec<Option<String>> = vec![None];
    languages.extend(bot.languages().into_iter().map(Some));
    languages
        .into_iter()
        .map(|lang| {
            let texts = bot.texts(lang.as_deref());
            let mut commands = vec![
                ("start", Msg::CommandStart),
                ("paysupport", Msg::CommandPaysupport),
                ("terms", Msg::CommandTerms),
            ];
            if sells_memberships {
                commands.push(("subscriptions", Msg::CommandSubscriptions));
            }
            let commands = commands
                .into_iter()
                .map(|(c, m)| (c.to_owned(), texts.msg(m)))
                .collect();
            (lang, commands)
        })
        .collect()
}

/// Keeps the bot's menus as its config wants them until `stop`: once Telegram has accepted the
/// bot's token (a refused token is not sent anything else), then whenever the store is reloaded.
pub async fn keep_set(store: Arc<Store>, stop: CancellationToken) {
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = store.until_ready() => {}
    }
    let mut set = Menus::new();
    let mut pause = RETRY_FIRST;
    loop {
        let wanted = wanted(&store.current().config);
        let wait = match apply(&store, &wanted, &mut set).await {
            Ok(()) => {
                pause = RETRY_FIRST;
                None
            }
            Err(()) => {
                let now = pause;
                pause = (pause * 2).min(RETRY_MAX);
                Some(now)
            }
        };
        let retry = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = store.menus_changed.notified() => {}
            _ = retry => {}
        }
    }
}

/// Sends every menu that differs from what was last set, and removes the menus of languages the
/// bot no longer speaks. `Err` if any call failed (it is logged; the rest are still tried).
async fn apply(store: &Store, wanted: &Menus, set: &mut Menus) -> Result<(), ()> {
    let bot = store.id.as_str();
    let mut failed = false;
    for (lang, commands) in wanted {
        if set.get(lang) == Some(commands) {
            continue;
        }
        let list: Vec<BotCommand> = commands
            .iter()
            .map(|(c, d)| BotCommand::new(c.clone(), d.clone()))
            .collect();
        let mut request = store.clients.api.set_my_commands(list);
        if let Some(lang) = lang {
            request = request.language_code(lang.clone());
        }
        match request.await {
            Ok(_) => {
                set.insert(lang.clone(), commands.clone());
            }
            Err(e) => {
                failed = true;
                tracing::warn!(bot, language = lang.as_deref().unwrap_or("default"), error = %crate::telegram::describe(&e), "Could not set the bot's command menu; will retry.");
            }
        }
    }
    let stale: Vec<Option<String>> = set
        .keys()
        .filter(|l| !wanted.contains_key(*l))
        .cloned()
        .collect();
    for lang in stale {
        let mut request = store.clients.api.delete_my_commands();
        if let Some(l) = &lang {
            request = request.language_code(l.clone());
        }
        match request.await {
            Ok(_) => {
                set.remove(&lang);
            }
            Err(e) => {
                failed = true;
                tracing::warn!(bot, language = lang.as_deref().unwrap_or("default"), error = %crate::telegram::describe(&e), "Could not remove a command menu; will retry.");
            }
        }
    }
    if failed {
        Err(())
    } else {
        tracing::debug!(bot, "The command menus are set.");
        Ok(())
    }
}
