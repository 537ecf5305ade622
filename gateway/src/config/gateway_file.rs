//! `gateway.toml` (plus `STARSGATE_<SECTION>__<KEY>` overrides) → [`GatewayConfig`]. One step per
//! setting or section; each reports its problems as `gateway.toml: <section>.<key>: <reason>` and
//! returns its value (`None` where a problem leaves none). The steps run in a fixed order, which
//! is the order `check` prints problems in.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::lookup::Lookup;
use super::raw::{RawAdmin, RawGateway, RawLedger, RawTelegram, RawWebhook};
use super::{
    AdminConfig, GatewayConfig, LedgerUrl, Mode, Problem, Problems, Secret, TelegramConfig,
    WebhookConfig,
};
use crate::brief;
use crate::telemetry::LogFormat;

/// Environment overrides look like `STARSGATE_LEDGER__URL`. Only names with a `__` are overrides,
/// so `STARSGATE_WEBHOOK_SECRET` (a secret named by the config) is never mistaken for one.
fn env_overrides() -> Env {
    Env::prefixed("STARSGATE_")
        .filter(|k| k.as_str().contains("__"))
        .split("__")
}

/// Validates `file` (which may be missing: every setting then has its default or override).
/// `None` when anything is wrong, with every problem found in `problems`.
pub(super) fn load(
    file: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
) -> Option<GatewayConfig> {
    let raw = read(file, problems)?;
    let before = problems.0.len();
    let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, key, reason));

    let ledger_url = ledger_url(&raw.ledger, &mut problem);
    let api_url = api_url(&raw.telegram, &mut problem);
    let mode = mode(&raw.telegram, &mut problem);
    let poll_timeout = poll_timeout(&raw.telegram, &mut problem);
    let webhook = webhook(raw.webhook, mode, secrets, &mut problem);
    let admin = admin(raw.admin, secrets, &mut problem);
    let ledger = ledger_tuning(&raw.ledger, &mut problem);
    let log_format = log_format(&raw.log.format, &mut problem);
    let plugins = super::plugin_limits::plugins(raw.plugins, &mut problem);
    if problems.0.len() > before {
        return None;
    }
    Some(GatewayConfig {
        ledger_url: ledger_url?,
        ledger_sync_full: ledger.sync_full,
        ledger_lease: ledger.lease,
        reconcile_every: ledger.reconcile_every,
        telegram: TelegramConfig {
            api_url: api_url?,
            mode: mode?,
            poll_timeout,
        },
        webhook: webhook?,
        plugins,
        admin,
        log_format: log_format?,
    })
}

/// The file with the environment overrides on top; `None` when it cannot be read or parsed.
fn read(file: &Path, problems: &mut Problems) -> Option<RawGateway> {
    let mut figment = Figment::new();
    match crate::files::read_text(file, crate::files::TEXT_BYTES) {
        Ok(text) => figment = figment.merge(Toml::string(&text)),
        // Without a gateway.toml every setting has its default (or its override).
        Err(e) if e.is_missing() => {}
        Err(e) => {
            problems.push(Problem::new(file, "", e.to_string()));
            return None;
        }
    }
    match figment.merge(env_overrides()).extract() {
        Ok(raw) => Some(raw),
        Err(e) => {
            problems.push_figment(file, e);
            None
        }
    }
}

/// `ledger.url`: SQLite or PostgreSQL, the two ledgers there are.
fn ledger_url(raw: &RawLedger, problem: &mut impl FnMut(&str, String)) -> Option<LedgerUrl> {
    let ok = raw.url.starts_with("sqlite:")
        || raw.url.starts_with("postgres://")
        || raw.url.starts_with("postgresql://");
    if !ok {
        problem(
            "ledger.url",
            "must start with sqlite: or postgres:// (e.g. sqlite://data/ledger.db)".into(),
        );
    }
    ok.then(|| LedgerUrl::new(&raw.url))
}

/// `telegram.api_url`: an http(s) base URL the Bot API paths are joined to.
fn api_url(raw: &RawTelegram, problem: &mut impl FnMut(&str, String)) -> Option<url::Url> {
    match url::Url::parse(&raw.api_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base() => Some(u),
        Ok(_) => {
            problem(
                "telegram.api_url",
                "must be an http:// or https:// URL".into(),
            );
            None
        }
        Err(e) => {
            problem(
                "telegram.api_url",
                format!("{} is not a URL: {e}", brief::value(&raw.api_url)),
            );
            None
        }
    }
}

fn mode(raw: &RawTelegram, problem: &mut impl FnMut(&str, String)) -> Option<Mode> {
    match raw.mode.as_str() {
        "polling" => Some(Mode::Polling),
        "webhook" => Some(Mode::Webhook),
        other => {
            problem(
                "telegram.mode",
                format!(
                    "must be \"polling\" or \"webhook\", not {}",
                    brief::value(other)
                ),
            );
            None
        }
    }
}

fn poll_timeout(raw: &RawTelegram, problem: &mut impl FnMut(&str, String)) -> Duration {
    if !(1..=50).contains(&raw.poll_timeout_secs) {
        problem(
            "telegram.poll_timeout_secs",
            "must be 1-50 seconds (Telegram caps long polls at 50)".into(),
        );
    }
    Duration::from_secs(raw.poll_timeout_secs)
}

/// `[webhook]`. In webhook mode a public URL and a master secret of at least 16 characters are
/// required; in polling mode the secret is read if set (the admin API may use it) but not checked.
fn webhook(
    raw: RawWebhook,
    mode: Option<Mode>,
    secrets: &mut Lookup<'_, '_>,
    problem: &mut impl FnMut(&str, String),
) -> Option<WebhookConfig> {
    let webhook_mode = mode == Some(Mode::Webhook);
    let listen = parse_addr(&raw.listen, "webhook.listen", problem);
    let public_url = match raw.public_url.as_deref().map(url::Url::parse) {
        None => None,
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => Some(u),
        Some(_) => {
            problem("webhook.public_url", "must be an https:// URL".into());
            None
        }
    };
    let secret = webhook_secret(&raw.secret_env, webhook_mode, secrets, problem);
    if webhook_mode && public_url.is_none() {
        problem(
            "webhook.public_url",
            "is required when telegram.mode = \"webhook\"".into(),
        );
    }
    if !(1..=100).contains(&raw.max_connections) {
        problem("webhook.max_connections", "must be 1-100".into());
    }
    Some(WebhookConfig {
        listen: listen?,
        public_url,
        secret_env: raw.secret_env,
        secret,
        max_connections: raw.max_connections,
    })
}

/// The webhook master secret in `$secret_env`, trimmed; checked only in webhook mode.
fn webhook_secret(
    secret_env: &str,
    webhook_mode: bool,
    secrets: &mut Lookup<'_, '_>,
    problem: &mut impl FnMut(&str, String),
) -> Option<Secret> {
    let secret = if webhook_mode {
        secrets.get(secret_env, "the webhook master secret was not checked")
    } else {
        secrets.optional(secret_env)
    }
    .map(|s| Secret::new(s.trim()));
    if webhook_mode {
        match &secret {
            None if !secrets.required() => {}
            None => problem(
                "webhook.secret_env",
                format!(
                    "environment variable {} is not set (webhook mode needs a master secret)",
                    brief::key(secret_env)
                ),
            ),
            Some(s) if s.expose().len() < 16 => problem(
                "webhook.secret_env",
                format!("${} must be at least 16 characters", brief::key(secret_env)),
            ),
            Some(_) => {}
        }
    }
    secret
}

/// `[admin]`. The token is optional: without it the admin API answers 401 to everything.
fn admin(
    raw: RawAdmin,
    secrets: &Lookup<'_, '_>,
    problem: &mut impl FnMut(&str, String),
) -> AdminConfig {
    let token = secrets
        .optional(&raw.token_env)
        .map(|s| Secret::new(s.trim()))
        .filter(|s| !s.expose().is_empty());
    let listen = raw
        .listen
        .as_deref()
        .and_then(|a| parse_addr(a, "admin.listen", problem));
    if !(1..=30 * 86400).contains(&raw.session_secs) {
        problem(
            "admin.session_secs",
            "must be 1-2592000 (up to 30 days)".into(),
        );
    }
    AdminConfig {
        listen,
        token_env: raw.token_env,
        token,
        per_bot_metrics_max: raw.per_bot_metrics_max,
        cookie_secure: raw.cookie_secure,
        session: Duration::from_secs(raw.session_secs),
    }
}

/// The ledger settings besides its URL: durability, lease and reconciliation.
struct LedgerTuning {
    sync_full: bool,
    lease: Duration,
    reconcile_every: Option<Duration>,
}

fn ledger_tuning(raw: &RawLedger, problem: &mut impl FnMut(&str, String)) -> LedgerTuning {
    if !matches!(raw.sqlite_synchronous.as_str(), "full" | "normal") {
        problem(
            "ledger.sqlite_synchronous",
            format!(
                "must be \"full\" or \"normal\", not {}",
                brief::value(&raw.sqlite_synchronous)
            ),
        );
    }
    if !(2..=300).contains(&raw.lease_secs) {
        problem("ledger.lease_secs", "must be 2-300 seconds".into());
    }
    if raw.reconcile_every_secs != 0 && raw.reconcile_every_secs < 10 {
        problem(
            "ledger.reconcile_every_secs",
            "must be 0 (off) or at least 10 seconds".into(),
        );
    }
    LedgerTuning {
        sync_full: raw.sqlite_synchronous == "full",
        lease: Duration::from_secs(raw.lease_secs),
        reconcile_every: (raw.reconcile_every_secs > 0)
            .then(|| Duration::from_secs(raw.reconcile_every_secs)),
    }
}

fn log_format(raw: &str, problem: &mut impl FnMut(&str, String)) -> Option<LogFormat> {
    let format = LogFormat::parse(raw);
    if format.is_none() {
        problem(
            "log.format",
            format!("must be \"text\" or \"json\", not {raw:?}"),
        );
    }
    format
}

fn parse_addr(raw: &str, key: &str, problem: &mut impl FnMut(&str, String)) -> Option<SocketAddr> {
    match raw.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            problem(
                key,
                format!(
                    "{} is not an address like 127.0.0.1:9090",
                    brief::value(raw)
                ),
            );
            None
        }
    }
}
