//! The application: one ledger, one plugin host and runner, and per bot an independent runtime
//! ([`runtime`]: lease, recovery, intake, processing, outbox, reconciliation). A bot that fails
//! (revoked token, 429s, a slow plugin) only ever holds up its own tasks. Bots can be added,
//! changed and removed while the others keep selling ([`reload`]).
//!
//! Shutdown stops intake, lets each bot finish what it stored and the send in flight, releases
//! the leases (so a peer takes over at once) and closes the ledger. Nothing stored is lost either
//! way; a restart resumes from the ledger.

mod plugins;
mod reload;
mod runtime;
mod watch;

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::config::ReloadReport;
pub use plugins::{LoadError, load as load_plugins};

use crate::clock::Clock;
use crate::config::{BotConfig, Config, Environment, Mode, Problems};
use crate::domain::BotId;
use crate::holder::Holder;
use crate::ingest::webhook;
use crate::ledger::{EventRoute, Ledger, LedgerError};
use crate::plugins::wasm::PluginHost;
use crate::plugins::{Runner, SeedKey};
use crate::registry::{Registry, RunningBot, WebhookIntake};
use crate::shop::Store;
use crate::telegram::{BotClients, HttpClients, TestEnvProxy};
use runtime::{BotRuntime, Intake, Lease};

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
    /// A listener's address is taken or not ours to bind (`admin.listen`, `webhook.listen`).
    #[error("{setting} {addr}: cannot listen there: {source}")]
    Listen {
        setting: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Where secrets (bot tokens) are looked up: the process environment, or a test's map.
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct App {
    config: Config,
    holder: Holder,
    ledger: Ledger,
    host: Arc<PluginHost>,
    runner: Runner,
    seeds: SeedKey,
    stores: Vec<Arc<Store>>,
    test_proxy: Option<TestEnvProxy>,
    secrets: SecretSource,
    clock: Clock,
    /// HTTP connections every bot shares (see [`HttpClients`]).
    http: HttpClients,
}

impl App {
    /// Connects the ledger (running migrations) and prepares every store. Nothing talks to
    /// Telegram yet. Secrets are read from the environment on reload.
    pub async fn build(config: Config) -> Result<Self, AppError> {
        Self::build_with_secrets(config, Arc::new(|name: &str| std::env::var(name).ok())).await
    }

    /// Like [`App::build`], with the secrets a reload will read bot files with.
    pub async fn build_with_secrets(
        config: Config,
        secrets: SecretSource,
    ) -> Result<Self, AppError> {
        // One clock for the whole gateway: the shop's membership expiry and every row the
        // ledger records read it, so a test or the demo that moves it moves both.
        let clock = Clock::default();
        let ledger =
            Ledger::connect_with(&config.gateway.ledger_url, config.gateway.ledger_sync_full)
                .await?
                .with_clock(clock.clone());
        let plugins = &config.gateway.plugins;
        let runner = Runner::new(plugins.limits.runner);
        let host = PluginHost::new(&plugins.cache_dir, plugins.limits.limits)
            .map_err(AppError::PluginHost)?;
        let seeds = SeedKey::new(ledger.secret("plugin_seed").await?.as_bytes());
        let started = std::time::Instant::now();
        let needs_proxy = config
            .bots
            .iter()
            .any(|b| b.environment == Environment::Test);
        let test_proxy = if needs_proxy {
            Some(
                TestEnvProxy::start(&config.gateway.telegram.api_url)
                    .await
                    .map_err(AppError::Proxy)?,
            )
        } else {
            None
        };
        let holder = Holder::of_this_process(&config.dir);
        let mut app = Self {
            holder,
            ledger,
            host,
            runner,
            seeds,
            stores: Vec::new(),
            test_proxy,
            secrets,
            http: HttpClients::new(config.gateway.telegram.poll_timeout),
            config,
            clock,
        };
        let bots = app.config.bots.clone();
        for bot in &bots {
            let (store, _) = app.make_store(bot, bots.len()).await?;
            app.stores.push(store);
        }
        app.publish_event_routes(&app.config.bots, &[]).await?;
        let products: usize = bots.iter().map(|b| b.products.len()).sum();
        tracing::info!(
            bots = bots.len(),
            products,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Loaded every store and its plugins."
        );
        Ok(app)
    }

    /// A store for a bot, with its plugins (a product whose plugin cannot load refuses checkouts;
    /// the load errors are returned too).
    async fn make_store(
        &mut self,
        bot: &BotConfig,
        total: usize,
    ) -> Result<(Arc<Store>, Vec<String>), AppError> {
        if bot.environment == Environment::Test && self.test_proxy.is_none() {
            let proxy = TestEnvProxy::start(&self.config.gateway.telegram.api_url)
                .await
                .map_err(AppError::Proxy)?;
            self.test_proxy = Some(proxy);
        }
        let url = match (&self.test_proxy, bot.environment) {
            (Some(proxy), Environment::Test) => &proxy.url,
            _ => &self.config.gateway.telegram.api_url,
        };
        let poll_timeout = self.config.gateway.telegram.poll_timeout;
        if self.http.poll_timeout() != poll_timeout {
            self.http = HttpClients::new(poll_timeout);
        }
        let clients = BotClients::new(&bot.token, url, &self.http);
        let (plugins, errors) = plugins::load_lenient(bot, &self.host);
        let errors: Vec<String> = errors.into_iter().map(|e| e.to_string()).collect();
        for e in &errors {
            tracing::error!(bot = %bot.id, error = %e, "A plugin cannot be loaded; its product refuses every checkout until it is fixed.");
        }
        let label = crate::admin::metrics::bot_label(
            bot.id.as_str(),
            total,
            self.config.gateway.admin.per_bot_metrics_max,
        );
        let store = Store::new(
            bot.clone(),
            plugins,
            self.ledger.clone(),
            clients,
            self.runner.clone(),
            self.seeds.clone(),
            self.holder.clone(),
        )
        .with_metrics_label(label)
        .with_clock(self.clock.clone());
        Ok((Arc::new(store), errors))
    }

    /// Writes where each of `bots`' seller events go (and that `removed` bots' go nowhere), so
    /// every change the ledger records from now on is routed by the current files.
    async fn publish_event_routes(
        &self,
        bots: &[BotConfig],
        removed: &[String],
    ) -> Result<(), LedgerError> {
        for bot in bots {
            let route = bot.events.as_ref().map(|e| EventRoute {
                url: e.url.to_string(),
                secret_env: e.secret_env.clone(),
                types: e.types.clone(),
            });
            self.ledger.set_event_route(&bot.id, route).await?;
        }
        // The registry's ids were parsed from file names, so each reads back as an id.
        for bot in removed.iter().filter_map(|b| BotId::parse(b).ok()) {
            self.ledger.set_event_route(&bot, None).await?;
        }
        Ok(())
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The clock memberships expire by (see [`Clock`]); shared by every store.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The stores built for the configured bots, before [`App::start`] (which hands them to the
    /// running gateway's registry); for commands that use a store without running it.
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

    /// Starts every bot in the background; the handle reloads and stops them. Binds the admin
    /// and (in webhook mode) webhook listeners first: an error if an address is taken.
    pub async fn start(self) -> Result<Running, AppError> {
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let gateway = self.config.gateway.clone();
        let registry = Registry::default();
        let last_reload = Arc::new(std::sync::Mutex::new(None));
        crate::admin::metrics::install();
        let mut admin_addr = None;
        if let Some(listen) = gateway.admin.listen {
            let listener = bind("admin.listen", listen).await?;
            admin_addr = listener.local_addr().ok();
            let state = crate::admin::AdminState {
                ledger: self.ledger.clone(),
                stores: registry.clone(),
                token: gateway.admin.token.clone(),
                last_reload: last_reload.clone(),
                sessions: Arc::new(crate::admin::dashboard::session::Sessions::new(
                    gateway.admin.session,
                    gateway.admin.cookie_secure,
                )),
                mode: gateway.telegram.mode,
            };
            serve(
                &mut tasks,
                listener,
                crate::admin::router(state),
                &shutdown,
                "admin",
            );
        }
        let mut webhook_addr = None;
        if gateway.telegram.mode == Mode::Webhook {
            if gateway.webhook.secret.is_none() {
                return Err(AppError::Webhook(
                    "webhook mode needs the master secret (webhook.secret_env)".into(),
                ));
            }
            let listener = bind("webhook.listen", gateway.webhook.listen).await?;
            webhook_addr = listener.local_addr().ok();
            serve(
                &mut tasks,
                listener,
                webhook::router(registry.clone()),
                &shutdown,
                "webhook",
            );
        }
        let watch = Arc::new(watch::Watch::default());
        tasks.spawn(watch.clone().run(
            self.ledger.clone(),
            self.holder.clone(),
            gateway.ledger_lease,
            shutdown.clone(),
        ));
        let sender = crate::seller_events::Sender::new(
            self.ledger.clone(),
            self.clock.clone(),
            self.holder.clone(),
            self.secrets.clone(),
            registry.clone(),
        );
        tasks.spawn(Arc::new(sender).run(shutdown.clone()));
        // From here on the registry is the one list of running bots: the stores built so far
        // move into it, and so do the bot files (a reload reads each bot from its store).
        let mut app = self;
        let stores = std::mem::take(&mut app.stores);
        app.config.bots.clear();
        let holder = app.holder.clone();
        let running = Running {
            watch,
            ledger: app.ledger.clone(),
            clock: app.clock.clone(),
            app: tokio::sync::Mutex::new(app),
            shutdown,
            tasks: tokio::sync::Mutex::new(tasks),
            registry,
            last_reload,
            webhook_addr,
            admin_addr,
        };
        {
            let app = running.app.lock().await;
            for store in stores {
                running.launch(&app, store);
            }
        }
        tracing::info!(bots = running.registry.len(), holder = %holder, "The gateway is running.");
        Ok(running)
    }
}

async fn bind(
    setting: &'static str,
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, AppError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Listen {
            setting,
            addr,
            source,
        })
}

fn serve(
    tasks: &mut JoinSet<()>,
    listener: tokio::net::TcpListener,
    app: axum::Router,
    stop: &CancellationToken,
    what: &'static str,
) {
    let stop = stop.clone();
    tasks.spawn(async move {
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        // The peer's address reaches handlers (the dashboard slows down wrong logins per address).
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(listener = what, error = %e, "A listener failed.");
        }
    });
}

/// A started gateway.
pub struct Running {
    ledger: Ledger,
    watch: Arc<watch::Watch>,
    app: tokio::sync::Mutex<App>,
    shutdown: CancellationToken,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
    /// The bots running here: the one list (see `crate::registry`).
    registry: Registry,
    last_reload: Arc<std::sync::Mutex<Option<ReloadReport>>>,
    webhook_addr: Option<std::net::SocketAddr>,
    admin_addr: Option<std::net::SocketAddr>,
    clock: Clock,
}

impl Running {
    /// Starts a bot's runtime and registers it (its webhook is served from now on). The caller
    /// holds the app (start, reload), so two launches never race.
    fn launch(&self, app: &App, store: Arc<Store>) {
        let gateway = &app.config.gateway;
        let mut webhook_intake = None;
        let intake = match (&gateway.webhook.public_url, &gateway.webhook.secret) {
            (Some(public), Some(master)) if gateway.telegram.mode == Mode::Webhook => {
                let inbox = Arc::new(crate::handoff::Handoff::default());
                let secret = webhook::secret_token(master, store.id.as_str());
                webhook_intake = Some(WebhookIntake {
                    secret: secret.clone(),
                    inbox: inbox.clone(),
                });
                Intake::Webhook {
                    url: webhook::url_for(public, store.id.as_str()),
                    secret,
                    max_connections: gateway.webhook.max_connections,
                    inbox,
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
            lease: Lease {
                holder: app.holder.clone(),
                duration: gateway.ledger_lease,
            },
            watch: self.watch.clone(),
        };
        let retire = self.shutdown.child_token();
        let task = tokio::spawn(runtime.run(self.shutdown.clone(), retire.clone()));
        self.registry
            .insert(RunningBot::new(store, webhook_intake, retire, task));
    }

    /// The bots running now (the admin API's and the seller-event sender's view as well).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The running store of a bot.
    pub fn store(&self, bot: &str) -> Option<Arc<Store>> {
        self.registry.get(bot)
    }

    /// The clock memberships expire by; tests and the demo move it to cross a 30-day period.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Where the admin listener is bound (when `admin.listen` is set).
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin_addr
    }

    /// Where the webhook listener is bound (webhook mode).
    pub fn webhook_addr(&self) -> Option<std::net::SocketAddr> {
        self.webhook_addr
    }

    /// Retires a bot: intake stops, stored work and pending deliveries are finished in the
    /// background, then it stops. In webhook mode its webhook is deleted (pending updates kept).
    async fn retire(&self, bot: &str) {
        let Some(entry) = self.registry.remove(bot) else {
            return;
        };
        let task = entry.retire();
        let store = entry.store().clone();
        let webhook = self.webhook_addr.is_some();
        self.tasks.lock().await.spawn(async move {
            if let Some(task) = task {
                let _ = task.await;
            }
            if webhook {
                use teloxide_core::prelude::*;
                if let Err(e) = store.api().delete_webhook().await {
                    tracing::warn!(bot = %store.id, error = %crate::telegram::describe(&e), "Could not delete a retired bot's webhook.");
                }
            }
            tracing::info!(bot = %store.id, "A removed bot finished its work and stopped.");
        });
    }

    /// Re-reads the configuration and applies it bot by bot (see [`reload`]).
    pub async fn reload(&self) -> ReloadReport {
        let report = reload::reload(self).await;
        *self.last_reload.lock().unwrap_or_else(|p| p.into_inner()) = Some(report.clone());
        report
    }

    /// Stops intake, lets each bot finish what it stored and the send in flight, gives up the
    /// leases (so a peer can take over at once) and closes the ledger.
    pub async fn stop(self) {
        tracing::info!("Shutting down: no new updates are taken.");
        self.shutdown.cancel();
        for entry in self.registry.drain() {
            if let Some(task) = entry.retire() {
                let _ = task.await;
            }
        }
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
        self.ledger.close().await;
        tracing::info!("The gateway has stopped.");
    }
}
