//! Configuration: `gateway.toml` for the process, `bots/<bot-id>.toml` for each store, and
//! `STARSGATE_<SECTION>__<KEY>` environment overrides, layered with figment and parsed into domain
//! types here so the rest of the gateway only sees valid values.

mod bot_file;
mod events;
mod gateway_file;
mod lookup;
mod plugin_limits;
mod problem;
mod product;
mod promo;
mod raw;
mod report;
mod texts;
mod validate;

pub use texts::{BotTexts, ProductTexts, Texts};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use events::{EventsConfig, MIN_SECRET_CHARS as MIN_EVENTS_SECRET_CHARS};
pub use problem::{Problem, Problems};
pub use report::ReloadReport;

use crate::domain::{BotId, Description, ProductId, Stars, Title};

/// Looks up a secret (a bot token) by the environment variable name the config gives.
pub type Secrets<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Whether every secret the configuration names must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretCheck {
    /// A missing secret is a problem: what `run` needs.
    Required,
    /// Secrets that are set are checked; a missing one is listed as not checked (`check
    /// --without-secrets`, and commands that only read the ledger).
    IfSet,
}

/// Reads only `gateway.toml` (plus overrides): enough for ledger tools, which need no secrets.
pub fn load_gateway(dir: &Path) -> Result<GatewayConfig, Problems> {
    validate::gateway_only(dir, &|name| std::env::var(name).ok(), SecretCheck::IfSet)
}

/// Like [`load_gateway`], reading secrets through `secrets`, all of them required.
pub fn load_gateway_with(dir: &Path, secrets: &Secrets<'_>) -> Result<GatewayConfig, Problems> {
    validate::gateway_only(dir, secrets, SecretCheck::Required)
}

pub use validate::load_bot;

/// The whole deployment: process settings and every store.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub gateway: GatewayConfig,
    pub bots: Vec<BotConfig>,
    /// Products whose plugin file is missing, unreadable or not the pinned one (only under
    /// `run`; `check` and a reload treat them as problems). Each such product refuses every
    /// checkout while the rest of its store sells.
    pub unusable_plugins: Vec<Problem>,
}

impl Config {
    /// Reads and validates `dir/gateway.toml` and every `dir/bots/*.toml`, reporting every problem
    /// found rather than stopping at the first.
    pub fn load(dir: &Path) -> Result<Self, Problems> {
        validate::load(dir, &|name| std::env::var(name).ok())
    }

    /// Like [`Config::load`], but bot tokens are looked up with `secrets` instead of the process
    /// environment: for the demo and tests, which run many gateways in one process.
    pub fn load_with_secrets(dir: &Path, secrets: &Secrets<'_>) -> Result<Self, Problems> {
        validate::load(dir, secrets)
    }

    /// For `starsgate check`: loads everything with secrets from the environment under `policy`,
    /// and returns what could not be checked because a secret was missing. A configuration
    /// loaded with [`SecretCheck::IfSet`] may hold placeholder tokens: never run it.
    pub fn load_for_check(
        dir: &Path,
        policy: SecretCheck,
    ) -> Result<(Self, Vec<String>), Problems> {
        validate::load_checking(
            dir,
            &|name| std::env::var(name).ok(),
            policy,
            validate::Plugins::Strict,
        )
    }

    pub fn bot(&self, id: &BotId) -> Option<&BotConfig> {
        self.bots.iter().find(|b| &b.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub ledger_url: LedgerUrl,
    /// SQLite `synchronous = FULL` (true, the default) or `NORMAL`.
    pub ledger_sync_full: bool,
    pub ledger_lease: Duration,
    pub reconcile_every: Option<Duration>,
    pub telegram: TelegramConfig,
    pub webhook: WebhookConfig,
    pub plugins: PluginsConfig,
    pub admin: AdminConfig,
    /// `[log] format`; `STARSGATE_LOG_FORMAT` overrides it when the process starts logging.
    pub log_format: crate::telemetry::LogFormat,
}

/// The ledger's URL. It may carry a database password, so its `Debug` hides everything after
/// the scheme.
#[derive(Clone)]
pub struct LedgerUrl(SecretString);

impl LedgerUrl {
    pub fn new(url: &str) -> Self {
        Self(SecretString::from(url.to_owned()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn is_postgres(&self) -> bool {
        self.expose().starts_with("postgres:") || self.expose().starts_with("postgresql:")
    }
}

impl fmt::Debug for LedgerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.expose().split(':').next().unwrap_or("?");
        write!(f, "LedgerUrl({scheme}://[redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Polling,
    Webhook,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub api_url: url::Url,
    pub mode: Mode,
    pub poll_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub listen: SocketAddr,
    pub public_url: Option<url::Url>,
    pub secret_env: String,
    /// The master secret (from `secret_env`); each bot's secret_token is derived from it.
    pub secret: Option<Secret>,
    pub max_connections: u8,
}

/// A secret read from the environment; never printed.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(SecretString::from(value.to_owned()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone)]
pub struct PluginsConfig {
    pub cache_dir: PathBuf,
    pub limits: PluginLimitsConfig,
}

#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub listen: Option<SocketAddr>,
    pub token_env: String,
    /// The bearer token for the admin API (from `token_env`); without it the API answers 401.
    pub token: Option<Secret>,
    /// Per-bot metric labels only up to this many bots; above it metrics aggregate as bot="all".
    pub per_bot_metrics_max: usize,
    /// The dashboard's session cookie carries `Secure` (set it when a TLS proxy fronts the
    /// admin listener; browsers then send the cookie over https only).
    pub cookie_secure: bool,
    /// How long a dashboard login lasts.
    pub session: std::time::Duration,
}

/// Which Telegram a bot lives in. Test-environment bots are made with the test @BotFather and
/// their requests go to `/bot<token>/test/<method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    Test,
}

/// A bot token. Never printed: `Debug` shows only the bot's numeric id, which is public.
#[derive(Clone)]
pub struct BotToken(SecretString);

impl BotToken {
    /// Telegram tokens look like `123456:AAH...`; checking the shape catches a variable that holds
    /// something else (a path, a quoted string) before the first request fails.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (id, rest) = raw
            .split_once(':')
            .ok_or("does not look like a bot token (expected <digits>:<secret>)")?;
        let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        let rest_ok = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok || !rest_ok {
            return Err("does not look like a bot token (expected <digits>:<secret>)".into());
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Two tokens are the same bot credentials when they are the same text (never printed).
impl PartialEq for BotToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.expose().split(':').next().unwrap_or("?");
        write!(f, "BotToken({id}:[redacted])")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BotConfig {
    pub id: BotId,
    pub file: PathBuf,
    pub token: BotToken,
    pub environment: Environment,
    pub admins: Vec<i64>,
    pub support: String,
    pub terms: String,
    pub greeting: Option<String>,
    /// The answer to anything that is not a command; `None`: the catalogue's.
    pub help: Option<String>,
    /// `[texts.<lang>]`, keyed by language (see [`BotConfig::texts`]).
    pub texts: std::collections::BTreeMap<String, BotTexts>,
    pub products: Vec<Product>,
    /// `[[promo]]`, validated against `products`.
    pub promos: Vec<crate::pricing::Promo>,
    pub delivery_attempts: u32,
    pub on_delivery_failure: OnDeliveryFailure,
    /// How long a membership keeps access after its period ends unrenewed (`subscription_grace_hours`).
    pub subscription_grace: std::time::Duration,
    /// `[events]`: where seller events go, if anywhere.
    pub events: Option<EventsConfig>,
}

/// What happens to a paid order whose delivery cannot be completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeliveryFailure {
    /// Hold it as `needs_review` for the seller.
    Review,
    /// Refund the buyer automatically.
    Refund,
}

impl BotConfig {
    pub fn product(&self, id: &ProductId) -> Option<&Product> {
        self.products.iter().find(|p| &p.id == id)
    }
    /// The promo with this code (codes are stored upper case).
    pub fn promo(&self, code: &crate::pricing::PromoCode) -> Option<&crate::pricing::Promo> {
        self.promos.iter().find(|p| &p.code == code)
    }
    pub fn is_admin(&self, user_id: i64) -> bool {
        self.admins.contains(&user_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: ProductId,
    pub title: Title,
    pub description: Description,
    pub price: Stars,
    pub subscription: bool,
    pub on_sale: bool,
    pub plugin: Option<PluginRef>,
    /// `[product.config]`, handed to the plugin as JSON.
    pub config: serde_json::Value,
    /// `[product.i18n.<lang>]`, keyed by language.
    pub i18n: std::collections::BTreeMap<String, ProductTexts>,
}

/// A product's WebAssembly plugin and the sha256 of its bytes (checked against
/// `plugin_sha256` when the seller pinned it, and again when it is loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    pub source: PluginSource,
    pub sha256: String,
    /// Why the plugin cannot be used (missing file, wrong pin), if it cannot: its product
    /// refuses checkouts. Only `run` loads such a configuration.
    pub unusable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A `.wasm` file, relative to the config directory in the bot file.
    File(PathBuf),
    /// `bundled:<name>`: one of the plugins built into this binary.
    Bundled(String),
}

/// Limits of plugin calls, from `[plugins]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimitsConfig {
    pub limits: crate::plugins::wasm::Limits,
    pub runner: crate::plugins::RunnerLimits,
}
