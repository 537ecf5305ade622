//! The application: one ledger, one plugin runner, and per bot an independent runtime (recovery,
//! poller → processor, outbox). A bot that fails (revoked token, 429s, a slow plugin) only ever
//! holds up its own tasks.
//!
//! Shutdown is in two steps: stop taking updates and let processors finish what was stored, then
//! stop the outboxes after their send in flight. Nothing stored is lost either way; a restart
//! resumes from the ledger.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Environment, Problems};
use crate::ingest;
use crate::ledger::{Ledger, LedgerError};
use crate::outbox;
use crate::plugins::wasm::PluginHost;
use crate::plugins::{Catalogue, Runner, SeedKey};
use crate::shop::Store;
use crate::telegram::{BotClients, TestEnvProxy};

/// Updates buffered between a bot's poller and its processor; a full buffer pauses polling.
const INGEST_BUFFER: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the configuration has problems:\n{0}")]
    Config(Problems),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot start the test-environment proxy: {0}")]
    Proxy(std::io::Error),
    #[error("{0}")]
    PluginHost(String),
}

pub struct App {
    config: Config,
    ledger: Ledger,
    stores: Vec<Arc<Store>>,
    _test_proxy: Option<TestEnvProxy>,
}

impl App {
    /// Connects the ledger (running migrations) and prepares every store. Nothing talks to
    /// Telegram yet.
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let ledger = Ledger::connect(&config.gateway.ledger_url).await?;
        let plugins = &config.gateway.plugins;
        let runner = Runner::new(plugins.limits.runner);
        let host = PluginHost::new(&plugins.cache_dir, plugins.limits.limits)
            .map_err(AppError::PluginHost)?;
        let secret = ledger.secret("plugin_seed").await?;
        let seeds = SeedKey::new(secret.as_bytes());
        let started = std::time::Instant::now();
        let api_url = &config.gateway.telegram.api_url;
        let needs_proxy = config
            .bots
            .iter()
            .any(|b| b.environment == Environment::Test);
        let test_proxy = if needs_proxy {
            Some(
                TestEnvProxy::start(api_url)
                    .await
                    .map_err(AppError::Proxy)?,
            )
        } else {
            None
        };
        let mut stores = Vec::new();
        for bot in &config.bots {
            let url = match (&test_proxy, bot.environment) {
                (Some(proxy), Environment::Test) => &proxy.url,
                _ => api_url,
            };
            let clients = BotClients::new(&bot.token, url, config.gateway.telegram.poll_timeout);
            let (plugins, errors) = Catalogue::load_lenient(bot, &host);
            for e in errors {
                tracing::error!(bot = %bot.id, error = %e, "A plugin cannot be loaded; its product refuses every checkout until it is fixed.");
            }
            stores.push(Arc::new(Store::new(
                bot.clone(),
                plugins,
                ledger.clone(),
                clients,
                runner.clone(),
                seeds.clone(),
            )));
        }
        let products: usize = config.bots.iter().map(|b| b.products.len()).sum();
        tracing::info!(
            bots = config.bots.len(),
            products,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Loaded every store and its plugins."
        );
        Ok(Self {
            config,
            ledger,
            stores,
            _test_proxy: test_proxy,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn stores(&self) -> &[Arc<Store>] {
        &self.stores
    }

    pub fn store(&self, bot: &str) -> Option<Arc<Store>> {
        self.stores.iter().find(|s| s.id.as_str() == bot).cloned()
    }

    /// Runs every bot until `signal` completes, then shuts down gracefully.
    pub async fn run(self, signal: impl Future<Output = ()>) {
        let running = self.start();
        signal.await;
        running.stop().await;
    }

    /// Starts every bot in the background; the handle stops them.
    pub fn start(self) -> Running {
        let intake = CancellationToken::new();
        let delivery = CancellationToken::new();
        let mut bots = JoinSet::new();
        let mut outboxes = JoinSet::new();
        let timeout = self.config.gateway.telegram.poll_timeout;
        for store in &self.stores {
            outboxes.spawn(outbox::run(store.clone(), delivery.clone()));
            let (store, stop) = (store.clone(), intake.clone());
            bots.spawn(async move {
                ingest::recover(&store).await;
                let (tx, rx) = mpsc::channel(INGEST_BUFFER);
                let processor = tokio::spawn(ingest::process(store.clone(), rx));
                ingest::poll(store, timeout, tx, stop).await;
                let _ = processor.await;
            });
        }
        tracing::info!(bots = self.stores.len(), "The gateway is running.");
        Running {
            app: self,
            intake,
            delivery,
            bots,
            outboxes,
        }
    }
}

/// A started gateway.
pub struct Running {
    app: App,
    intake: CancellationToken,
    delivery: CancellationToken,
    bots: JoinSet<()>,
    outboxes: JoinSet<()>,
}

impl Running {
    pub fn ledger(&self) -> &Ledger {
        &self.app.ledger
    }

    pub fn store(&self, bot: &str) -> Option<Arc<Store>> {
        self.app.store(bot)
    }

    /// Stops polling, lets processors finish what was stored, stops the outboxes after their
    /// current send, and closes the ledger.
    pub async fn stop(mut self) {
        tracing::info!("Shutting down: no new updates are taken.");
        self.intake.cancel();
        while self.bots.join_next().await.is_some() {}
        self.delivery.cancel();
        while self.outboxes.join_next().await.is_some() {}
        self.app.ledger.close().await;
        tracing::info!("The gateway has stopped.");
    }
}
