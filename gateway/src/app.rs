//! The application: one ledger, one plugin runner, and per bot an independent runtime (recovery,
//! poller → processor, outbox). A bot that fails (revoked token, 429s, a slow plugin) only ever
//! holds up its own tasks.
//!
//! Shutdown is in two steps: stop taking updates and let processors finish what was stored, then
//! stop the outboxes after their send in flight. Nothing stored is lost either way; a restart
//! resumes from the ledger.

use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Environment, Mode, Problems};
use crate::ingest;
use crate::ingest::webhook;
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
    #[error("{0}")]
    Webhook(String),
}

pub struct App {
    config: Config,
    holder: String,
    ledger: Ledger,
    stores: Vec<Arc<Store>>,
    _test_proxy: Option<TestEnvProxy>,
}

impl App {
    /// Connects the ledger (running migrations) and prepares every store. Nothing talks to
    /// Telegram yet.
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let ledger =
            Ledger::connect_with(&config.gateway.ledger_url, config.gateway.ledger_sync_full)
                .await?;
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
        let holder = holder_id(&config.dir);
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
            stores.push(Arc::new(
                Store::new(
                    bot.clone(),
                    plugins,
                    ledger.clone(),
                    clients,
                    runner.clone(),
                    seeds.clone(),
                    holder.clone(),
                )
                .with_metrics_label(crate::admin::metrics::bot_label(
                    bot.id.as_str(),
                    config.bots.len(),
                    config.gateway.admin.per_bot_metrics_max,
                )),
            ));
        }
        let products: usize = config.bots.iter().map(|b| b.products.len()).sum();
        tracing::info!(
            bots = config.bots.len(),
            products,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Loaded every store and its plugins."
        );
        Ok(Self {
            holder,
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
    pub async fn run(self, signal: impl Future<Output = ()>) -> Result<(), AppError> {
        let running = self.start().await?;
        signal.await;
        running.stop().await;
        Ok(())
    }

    /// Starts every bot in the background; the handle stops them. In webhook mode this binds the
    /// webhook listener first (an error if the address is taken).
    pub async fn start(self) -> Result<Running, AppError> {
        let shutdown = CancellationToken::new();
        let mut bots = JoinSet::new();
        let mut wakes = HashMap::new();
        let mut webhook_addr = None;
        let mut admin_addr = None;
        let gateway = &self.config.gateway;
        crate::admin::metrics::install();
        if let Some(listen) = gateway.admin.listen {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| AppError::Webhook(format!("admin.listen {listen}: {e}")))?;
            admin_addr = listener.local_addr().ok();
            let state = crate::admin::AdminState {
                ledger: self.ledger.clone(),
                stores: Arc::new(self.stores.clone()),
                token: gateway.admin.token.clone(),
            };
            let app = crate::admin::router(state);
            let stop = shutdown.clone();
            bots.spawn(async move {
                let serve = axum::serve(
                    listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    }),
                    app,
                )
                .with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "The admin listener failed.");
                }
            });
        }
        if gateway.telegram.mode == Mode::Webhook {
            let master = gateway.webhook.secret.clone().ok_or_else(|| {
                AppError::Webhook(
                    "webhook mode needs the master secret (webhook.secret_env)".into(),
                )
            })?;
            let mut endpoints = HashMap::new();
            for store in &self.stores {
                let wake = Arc::new(tokio::sync::Notify::new());
                wakes.insert(store.id.to_string(), wake.clone());
                let secret = webhook::secret_token(&master, store.id.as_str());
                endpoints.insert(
                    store.id.to_string(),
                    webhook::Endpoint {
                        store: store.clone(),
                        secret,
                        wake,
                    },
                );
            }
            let listener = tokio::net::TcpListener::bind(gateway.webhook.listen)
                .await
                .map_err(|e| {
                    AppError::Webhook(format!("webhook.listen {}: {e}", gateway.webhook.listen))
                })?;
            webhook_addr = listener.local_addr().ok();
            let app = webhook::router(endpoints);
            let stop = shutdown.clone();
            bots.spawn(async move {
                let serve = axum::serve(
                    listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    }),
                    app,
                )
                .with_graceful_shutdown(async move { stop.cancelled().await });
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "The webhook listener failed.");
                }
            });
        }
        let lease = Lease {
            holder: self.holder.clone(),
            duration: self.config.gateway.ledger_lease,
        };
        for store in &self.stores {
            let intake = match (&gateway.webhook.public_url, wakes.remove(store.id.as_str())) {
                (Some(public), Some(wake)) if gateway.telegram.mode == Mode::Webhook => {
                    Intake::Webhook {
                        url: webhook::url_for(public, store.id.as_str()),
                        secret: gateway
                            .webhook
                            .secret
                            .as_ref()
                            .map(|m| webhook::secret_token(m, store.id.as_str()))
                            .unwrap_or_default(),
                        max_connections: gateway.webhook.max_connections,
                        wake,
                    }
                }
                _ => Intake::Polling {
                    timeout: gateway.telegram.poll_timeout,
                },
            };
            let runtime = BotRuntime {
                store: store.clone(),
                intake,
                reconcile_every: gateway.reconcile_every,
                lease: lease.clone(),
            };
            bots.spawn(runtime.run(shutdown.clone()));
        }
        tracing::info!(bots = self.stores.len(), holder = %self.holder, "The gateway is running.");
        Ok(Running {
            app: self,
            shutdown,
            bots,
            webhook_addr,
            admin_addr,
        })
    }
}

#[derive(Clone)]
struct Lease {
    holder: String,
    duration: Duration,
}

/// How updates reach a bot.
enum Intake {
    Polling {
        timeout: Duration,
    },
    Webhook {
        url: url::Url,
        secret: String,
        max_connections: u8,
        wake: Arc<tokio::sync::Notify>,
    },
}

/// One bot's work in this process: while this gateway holds the bot's lease it resumes
/// unfinished work, polls, processes, delivers and reconciles; if the lease is lost (another
/// gateway took over after this one stalled) it stops and waits to lead again.
struct BotRuntime {
    store: Arc<Store>,
    intake: Intake,
    reconcile_every: Option<Duration>,
    lease: Lease,
}

impl BotRuntime {
    async fn run(self, shutdown: CancellationToken) {
        let bot = self.store.id.to_string();
        let lease_ms = self.lease.duration.as_millis() as i64;
        let retry = self.lease.duration / 3;
        self.take_over_from_a_dead_self(&bot, lease_ms).await;
        while !shutdown.is_cancelled() {
            match self
                .store
                .ledger
                .lease_bot(&bot, &self.lease.holder, lease_ms)
                .await
            {
                Ok(true) => self.lead(&shutdown).await,
                Ok(false) => {}
                Err(e) => tracing::warn!(bot, error = %e, "Cannot take the bot's lease; retrying."),
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(retry) => {}
            }
        }
        if let Err(e) = self
            .store
            .ledger
            .release_bot(&bot, &self.lease.holder)
            .await
        {
            tracing::warn!(bot, error = %e, "Cannot release the bot's lease; it will expire.");
        }
    }

    /// A gateway killed a moment ago left its lease behind. If that holder was this gateway
    /// (same host and config directory) and its process is gone, take the bot over now instead of
    /// waiting for the lease to expire, so a restart after a crash resumes at once.
    async fn take_over_from_a_dead_self(&self, bot: &str, lease_ms: i64) {
        let Ok(Some(previous)) = self.store.ledger.bot_holder(bot).await else {
            return;
        };
        if previous == self.lease.holder || !holder_is_dead_self(&previous, &self.lease.holder) {
            return;
        }
        if let Ok(true) = self
            .store
            .ledger
            .take_over_bot(bot, &previous, &self.lease.holder, lease_ms)
            .await
        {
            tracing::info!(
                bot,
                previous,
                "Took the bot over from a crashed earlier run of this gateway."
            );
        }
    }

    /// Runs the bot until shutdown or until the lease is lost.
    async fn lead(&self, shutdown: &CancellationToken) {
        let bot = self.store.id.to_string();
        tracing::info!(bot, "This gateway now runs the bot.");
        let stop = shutdown.child_token();
        let renew = tokio::spawn(renew_lease(
            self.store.clone(),
            self.lease.clone(),
            stop.clone(),
        ));
        ingest::recover(&self.store).await;
        let outbox = tokio::spawn(outbox::run(self.store.clone(), stop.clone()));
        let reconcile = self.reconcile_every.map(|every| {
            tokio::spawn(crate::reconcile::every(
                self.store.clone(),
                every,
                stop.clone(),
            ))
        });
        match &self.intake {
            Intake::Polling { timeout } => {
                let (tx, rx) = mpsc::channel(INGEST_BUFFER);
                let processor = tokio::spawn(ingest::process(self.store.clone(), rx));
                ingest::poll(self.store.clone(), *timeout, tx, stop.clone()).await;
                let _ = processor.await;
            }
            Intake::Webhook {
                url,
                secret,
                max_connections,
                wake,
            } => {
                if webhook::register(&self.store, url.clone(), secret, *max_connections, &stop)
                    .await
                {
                    self.store.mark_ready();
                    ingest::inbox_loop(self.store.clone(), wake.clone(), stop.clone()).await;
                }
            }
        }
        stop.cancel();
        let _ = outbox.await;
        if let Some(r) = reconcile {
            let _ = r.await;
        }
        let _ = renew.await;
        if !shutdown.is_cancelled() {
            tracing::warn!(
                bot,
                "This gateway lost the bot's lease; another gateway runs it now."
            );
        }
    }
}

/// Renews the lease at a third of its duration; cancels `stop` if it cannot.
async fn renew_lease(store: Arc<Store>, lease: Lease, stop: CancellationToken) {
    let bot = store.id.to_string();
    let lease_ms = lease.duration.as_millis() as i64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(lease.duration / 3) => {}
        }
        match store.ledger.lease_bot(&bot, &lease.holder, lease_ms).await {
            Ok(true) => {}
            Ok(false) => {
                stop.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(bot, error = %e, "Cannot renew the bot's lease; will try again.")
            }
        }
    }
}

/// A started gateway.
pub struct Running {
    app: App,
    shutdown: CancellationToken,
    bots: JoinSet<()>,
    webhook_addr: Option<std::net::SocketAddr>,
    admin_addr: Option<std::net::SocketAddr>,
}

impl Running {
    pub fn ledger(&self) -> &Ledger {
        &self.app.ledger
    }

    pub fn store(&self, bot: &str) -> Option<Arc<Store>> {
        self.app.store(bot)
    }

    /// Where the admin listener is bound (when `admin.listen` is set).
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin_addr
    }

    /// Where the webhook listener is bound (webhook mode).
    pub fn webhook_addr(&self) -> Option<std::net::SocketAddr> {
        self.webhook_addr
    }

    /// Stops polling, lets each bot finish what it stored and the send in flight, gives up the
    /// leases (so a peer can take over at once) and closes the ledger.
    pub async fn stop(mut self) {
        tracing::info!("Shutting down: no new updates are taken.");
        self.shutdown.cancel();
        while self.bots.join_next().await.is_some() {}
        self.app.ledger.close().await;
        tracing::info!("The gateway has stopped.");
    }
}

/// Identifies this process among gateways sharing a ledger: `host|config dir|pid|random`.
fn holder_id(config_dir: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let dir = std::fs::canonicalize(config_dir).unwrap_or_else(|_| config_dir.to_owned());
    format!(
        "{host}|{}|{}|{:08x}",
        dir.display(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// True if `previous` was a gateway on this host with this config whose process no longer runs.
/// A reused pid only makes us wait for the lease to expire: the safe direction.
fn holder_is_dead_self(previous: &str, me: &str) -> bool {
    let prefix = |h: &str| h.rsplitn(3, '|').nth(2).map(str::to_owned);
    let pid = previous
        .rsplitn(3, '|')
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok());
    match (prefix(previous), prefix(me), pid) {
        (Some(a), Some(b), Some(pid)) if a == b => {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::holder_is_dead_self;

    #[test]
    fn only_a_dead_holder_with_our_host_and_config_is_taken_over() {
        let me = "h|/etc/sg|100|aa";
        assert!(
            holder_is_dead_self("h|/etc/sg|999999999|bb", me),
            "same host and config, no such pid"
        );
        assert!(
            !holder_is_dead_self(&format!("h|/etc/sg|{}|bb", std::process::id()), me),
            "alive"
        );
        assert!(
            !holder_is_dead_self("other|/etc/sg|999999999|bb", me),
            "another host"
        );
        assert!(
            !holder_is_dead_self("h|/srv/sg|999999999|bb", me),
            "another config"
        );
        assert!(!holder_is_dead_self("garbage", me));
    }
}
