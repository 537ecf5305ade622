//! The one registry of the bots a started gateway runs. Everything that must find a running bot
//! by its id reads it here: the webhook listener (the bot's secret and its inbox hand-off), the
//! admin API and dashboard, and the seller-event sender (its store). Only the app writes it:
//! starting a bot inserts its entry, retiring one removes it, and a reload that changes a bot
//! swaps the store's contents in place (`Store::replace`), so an entry never goes stale.
//!
//! Readers take a snapshot (cheap clones of `Arc`s) and never hold the lock while they work.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::handoff::Handoff;
use crate::ledger::StoredUpdate;
use crate::shop::Store;

/// How a bot in webhook mode is reached through the gateway's listener.
#[derive(Clone)]
pub struct WebhookIntake {
    /// The bot's `secret_token` (derived from the master secret; compared in constant time).
    pub secret: String,
    /// Hands stored updates to this gateway's inbox loop for the bot.
    pub inbox: Arc<Handoff<StoredUpdate>>,
}

/// One running bot: its store, how updates reach it, and the handles that stop it.
pub struct RunningBot {
    store: Arc<Store>,
    webhook: Option<WebhookIntake>,
    /// Cancelled to retire the bot: intake stops, stored work and deliveries are finished.
    retire: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl RunningBot {
    pub fn new(
        store: Arc<Store>,
        webhook: Option<WebhookIntake>,
        retire: CancellationToken,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            store,
            webhook,
            retire,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Stops intake (see [`RunningBot::new`]'s `retire`) and returns the bot's task, to be
    /// awaited while it finishes what it stored. `None` if it was already taken.
    pub fn retire(&self) -> Option<JoinHandle<()>> {
        self.retire.cancel();
        self.task.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

#[derive(Clone, Default)]
pub struct Registry(Arc<RwLock<BTreeMap<String, Arc<RunningBot>>>>);

impl Registry {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<RunningBot>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The running store of `bot`, if any.
    pub fn get(&self, bot: &str) -> Option<Arc<Store>> {
        self.read().get(bot).map(|b| b.store.clone())
    }

    /// Every running store, in bot id order, as of now.
    pub fn snapshot(&self) -> Vec<Arc<Store>> {
        self.read().values().map(|b| b.store.clone()).collect()
    }

    /// The ids of every running bot.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A bot the webhook listener serves: its store and how it is reached.
    pub fn webhook(&self, bot: &str) -> Option<(Arc<Store>, WebhookIntake)> {
        let bots = self.read();
        let running = bots.get(bot)?;
        Some((running.store.clone(), running.webhook.clone()?))
    }

    /// Registers a started bot (replacing nothing: a bot id runs once).
    pub fn insert(&self, bot: RunningBot) {
        let id = bot.store.id.to_string();
        let mut bots = self.0.write().unwrap_or_else(|p| p.into_inner());
        bots.insert(id, Arc::new(bot));
    }

    /// Takes a bot out: from now on nothing finds it (its webhook answers 404).
    pub fn remove(&self, bot: &str) -> Option<Arc<RunningBot>> {
        let mut bots = self.0.write().unwrap_or_else(|p| p.into_inner());
        bots.remove(bot)
    }

    /// Takes every bot out (shutdown).
    pub fn drain(&self) -> Vec<Arc<RunningBot>> {
        let mut bots = self.0.write().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *bots).into_values().collect()
    }
}
