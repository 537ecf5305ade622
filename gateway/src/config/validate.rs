//! Raw files → domain config. Every check adds a `Problem` and carries on, so `starsgate check`
//! prints everything wrong in one run.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use sha2::{Digest, Sha256};

use super::raw::{RawBot, RawGateway, RawProduct};
use super::*;
use crate::brief;

/// A grace period longer than the 30-day subscription period would overlap the next one.
const MAX_GRACE_HOURS: u32 = 720;

/// Environment overrides look like `STARSGATE_LEDGER__URL`. Only names with a `__` are overrides,
/// so `STARSGATE_WEBHOOK_SECRET` (a secret named by the config) is never mistaken for one.
fn env_overrides() -> Env {
    Env::prefixed("STARSGATE_")
        .filter(|k| k.as_str().contains("__"))
        .split("__")
}

/// How secrets are looked up, and whether a missing one is a problem or only noted as unchecked.
struct Lookup<'s, 'a> {
    secrets: &'s Secrets<'a>,
    policy: SecretCheck,
    unchecked: Vec<String>,
}

impl Lookup<'_, '_> {
    /// The secret in `var`; when it is missing and not required, notes `what` as unchecked.
    fn get(&mut self, var: &str, what: &str) -> Option<String> {
        let value = (self.secrets)(var);
        if value.is_none() && self.policy == SecretCheck::IfSet {
            self.unchecked.push(format!("${var} is not set: {what}"));
        }
        value
    }
    fn required(&self) -> bool {
        self.policy == SecretCheck::Required
    }
}

/// What `run` loads: a product whose plugin file is missing or does not match its pin is not a
/// reason to keep the whole gateway down; it is kept in [`Config::unusable_plugins`] and that
/// product refuses checkouts while the rest of the store sells.
pub(super) fn load(dir: &Path, secrets: &Secrets<'_>) -> Result<Config, Problems> {
    load_checking(dir, secrets, SecretCheck::Required, Plugins::Lenient).map(|(config, _)| config)
}

/// Whether a product's unusable plugin file is a problem of the whole configuration
/// (`check`, reload) or of that product alone (`run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plugins {
    Strict,
    Lenient,
}

/// Loads everything; with [`SecretCheck::IfSet`] a missing secret is listed as unchecked
/// instead of being a problem (a missing bot token is then replaced by a placeholder).
pub(super) fn load_checking(
    dir: &Path,
    secrets: &Secrets<'_>,
    policy: SecretCheck,
    plugins: Plugins,
) -> Result<(Config, Vec<String>), Problems> {
    let mut problems = Problems::default();
    let mut lookup = Lookup {
        secrets,
        policy,
        unchecked: Vec::new(),
    };
    let gateway_file = dir.join("gateway.toml");
    let gateway = load_gateway(&gateway_file, &mut lookup, &mut problems);
    let mut unusable = Problems::default();
    let bots = load_bots(dir, &mut lookup, &mut problems, &mut unusable);
    if plugins == Plugins::Strict {
        problems.0.append(&mut unusable.0);
    }
    match gateway {
        Some(gateway) if problems.is_empty() => Ok((
            Config {
                dir: dir.to_owned(),
                gateway,
                bots,
                unusable_plugins: unusable.0,
            },
            lookup.unchecked,
        )),
        _ => Err(problems),
    }
}

pub(super) fn gateway_only(
    dir: &Path,
    secrets: &Secrets<'_>,
    policy: SecretCheck,
) -> Result<GatewayConfig, Problems> {
    let mut problems = Problems::default();
    let mut lookup = Lookup {
        secrets,
        policy,
        unchecked: Vec::new(),
    };
    match load_gateway(&dir.join("gateway.toml"), &mut lookup, &mut problems) {
        Some(g) if problems.is_empty() => Ok(g),
        _ => Err(problems),
    }
}

fn load_gateway(
    file: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
) -> Option<GatewayConfig> {
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
    let raw: RawGateway = match figment.merge(env_overrides()).extract() {
        Ok(raw) => raw,
        Err(e) => {
            problems.push_figment(file, e);
            return None;
        }
    };
    let before = problems.0.len();
    let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, key, reason));

    let ledger_ok = raw.ledger.url.starts_with("sqlite:")
        || raw.ledger.url.starts_with("postgres://")
        || raw.ledger.url.starts_with("postgresql://");
    if !ledger_ok {
        problem(
            "ledger.url",
            "must start with sqlite: or postgres:// (e.g. sqlite://data/ledger.db)".into(),
        );
    }
    let api_url = match url::Url::parse(&raw.telegram.api_url) {
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
                format!("{} is not a URL: {e}", brief::value(&raw.telegram.api_url)),
            );
            None
        }
    };
    let mode = match raw.telegram.mode.as_str() {
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
    };
    if !(1..=50).contains(&raw.telegram.poll_timeout_secs) {
        problem(
            "telegram.poll_timeout_secs",
            "must be 1-50 seconds (Telegram caps long polls at 50)".into(),
        );
    }
    let listen = parse_addr(&raw.webhook.listen, "webhook.listen", &mut problem);
    let public_url = match raw.webhook.public_url.as_deref().map(url::Url::parse) {
        None => None,
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => Some(u),
        Some(_) => {
            problem("webhook.public_url", "must be an https:// URL".into());
            None
        }
    };
    let webhook_secret = if mode == Some(Mode::Webhook) {
        secrets.get(
            &raw.webhook.secret_env,
            "the webhook master secret was not checked",
        )
    } else {
        (secrets.secrets)(&raw.webhook.secret_env)
    }
    .map(|s| Secret::new(s.trim()));
    if mode == Some(Mode::Webhook) {
        match &webhook_secret {
            None if !secrets.required() => {}
            None => problem(
                "webhook.secret_env",
                format!(
                    "environment variable {} is not set (webhook mode needs a master secret)",
                    brief::key(&raw.webhook.secret_env)
                ),
            ),
            Some(s) if s.expose().len() < 16 => problem(
                "webhook.secret_env",
                format!(
                    "${} must be at least 16 characters",
                    brief::key(&raw.webhook.secret_env)
                ),
            ),
            Some(_) => {}
        }
    }
    let admin_token = (secrets.secrets)(&raw.admin.token_env)
        .map(|s| Secret::new(s.trim()))
        .filter(|s| !s.expose().is_empty());
    if mode == Some(Mode::Webhook) && public_url.is_none() {
        problem(
            "webhook.public_url",
            "is required when telegram.mode = \"webhook\"".into(),
        );
    }
    if !(1..=100).contains(&raw.webhook.max_connections) {
        problem("webhook.max_connections", "must be 1-100".into());
    }
    let admin_listen = raw
        .admin
        .listen
        .as_deref()
        .and_then(|a| parse_addr(a, "admin.listen", &mut problem));
    if !(1..=30 * 86400).contains(&raw.admin.session_secs) {
        problem(
            "admin.session_secs",
            "must be 1-2592000 (up to 30 days)".into(),
        );
    }

    if !matches!(raw.ledger.sqlite_synchronous.as_str(), "full" | "normal") {
        problem(
            "ledger.sqlite_synchronous",
            format!(
                "must be \"full\" or \"normal\", not {}",
                brief::value(&raw.ledger.sqlite_synchronous)
            ),
        );
    }
    if !(2..=300).contains(&raw.ledger.lease_secs) {
        problem("ledger.lease_secs", "must be 2-300 seconds".into());
    }
    if raw.ledger.reconcile_every_secs != 0 && raw.ledger.reconcile_every_secs < 10 {
        problem(
            "ledger.reconcile_every_secs",
            "must be 0 (off) or at least 10 seconds".into(),
        );
    }
    let log_format = crate::telemetry::LogFormat::parse(&raw.log.format);
    if log_format.is_none() {
        problem(
            "log.format",
            format!("must be \"text\" or \"json\", not {:?}", raw.log.format),
        );
    }
    let plugin_limits = plugin_limits(&raw.plugins, &mut problem);
    if problems.0.len() > before {
        return None;
    }
    Some(GatewayConfig {
        ledger_url: LedgerUrl::new(&raw.ledger.url),
        ledger_sync_full: raw.ledger.sqlite_synchronous == "full",
        ledger_lease: Duration::from_secs(raw.ledger.lease_secs),
        reconcile_every: (raw.ledger.reconcile_every_secs > 0)
            .then(|| Duration::from_secs(raw.ledger.reconcile_every_secs)),
        telegram: TelegramConfig {
            api_url: api_url?,
            mode: mode?,
            poll_timeout: Duration::from_secs(raw.telegram.poll_timeout_secs),
        },
        webhook: WebhookConfig {
            listen: listen?,
            public_url,
            secret_env: raw.webhook.secret_env,
            secret: webhook_secret,
            max_connections: raw.webhook.max_connections,
        },
        plugins: PluginsConfig {
            cache_dir: PathBuf::from(raw.plugins.cache_dir),
            limits: plugin_limits,
        },
        admin: AdminConfig {
            listen: admin_listen,
            token_env: raw.admin.token_env,
            token: admin_token,
            per_bot_metrics_max: raw.admin.per_bot_metrics_max,
            cookie_secure: raw.admin.cookie_secure,
            session: std::time::Duration::from_secs(raw.admin.session_secs),
        },
        log_format: log_format?,
    })
}

/// `[plugins]` limits, each within a range that keeps the 10-second pre-checkout deadline safe.
fn plugin_limits(
    raw: &super::raw::RawPlugins,
    problem: &mut impl FnMut(&str, String),
) -> PluginLimitsConfig {
    use crate::plugins::wasm::limits as l;
    let mut check = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
        if !range.contains(&value) {
            problem(
                &format!("plugins.{key}"),
                format!("must be {}-{}, got {value}", range.start(), range.end()),
            );
        }
    };
    check(
        "pre_checkout_fuel",
        raw.pre_checkout_fuel,
        100_000..=1_000_000_000,
    );
    check("deliver_fuel", raw.deliver_fuel, 100_000..=5_000_000_000);
    check("memory_mib", raw.memory_mib, 1..=64);
    check(
        "pre_checkout_timeout_ms",
        raw.pre_checkout_timeout_ms,
        50..=5000,
    );
    check("deliver_timeout_ms", raw.deliver_timeout_ms, 50..=60_000);
    check(
        "concurrency",
        raw.concurrency,
        1..=(l::POOL_INSTANCES as u64 / 2),
    );
    let ticks = |ms: u64| (ms / l::EPOCH_TICK.as_millis() as u64).max(1);
    PluginLimitsConfig {
        limits: crate::plugins::wasm::Limits {
            pre_checkout_fuel: raw.pre_checkout_fuel,
            deliver_fuel: raw.deliver_fuel,
            memory_bytes: (raw.memory_mib.min(64) as usize) << 20,
            // The wall-clock guard inside the plugin is a fifth of the caller's deadline, so
            // the plugin is interrupted long before the caller gives up on it.
            pre_checkout_ticks: ticks(raw.pre_checkout_timeout_ms / 5),
            deliver_ticks: ticks(raw.deliver_timeout_ms / 5),
        },
        runner: crate::plugins::RunnerLimits {
            concurrency: raw.concurrency.max(1) as usize,
            pre_checkout_deadline: Duration::from_millis(raw.pre_checkout_timeout_ms),
            deliver_deadline: Duration::from_millis(raw.deliver_timeout_ms),
        },
    }
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

fn load_bots(
    dir: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
    unusable: &mut Problems,
) -> Vec<BotConfig> {
    let bots_dir = dir.join("bots");
    let entries = match std::fs::read_dir(&bots_dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::new(
                &bots_dir,
                "",
                format!("cannot read the bots directory: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        problems.push(Problem::new(
            &bots_dir,
            "",
            "no bot files (*.toml); a gateway needs at least one store",
        ));
    }
    let mut bots: Vec<BotConfig> = Vec::new();
    let mut tokens = HashSet::new();
    for file in files {
        if let Some(bot) = load_one_bot(dir, &file, secrets, problems, unusable) {
            if bot.token.expose() != UNCHECKED_TOKEN
                && !tokens.insert(bot.token.expose().to_owned())
            {
                problems.push(Problem::new(
                    &file,
                    "token_env",
                    "this token is already used by another bot file; each bot needs its own token",
                ));
            }
            bots.push(bot);
        }
    }
    bots
}

/// Stands in for a bot token that was not set when secrets are not required; never used to run.
const UNCHECKED_TOKEN: &str = "0:unchecked";

/// Loads one bot file (a reload). Returns `None` (with problems recorded) if anything in it is
/// wrong, its plugin files included.
pub fn load_bot(
    config_dir: &Path,
    file: &Path,
    secrets: &Secrets<'_>,
    problems: &mut Problems,
) -> Option<BotConfig> {
    let mut lookup = Lookup {
        secrets,
        policy: SecretCheck::Required,
        unchecked: Vec::new(),
    };
    let mut unusable = Problems::default();
    let bot = load_one_bot(config_dir, file, &mut lookup, problems, &mut unusable);
    if unusable.is_empty() {
        bot
    } else {
        problems.0.append(&mut unusable.0);
        None
    }
}

/// Loads one bot file; a product's unusable plugin file goes to `unusable` (the product is kept,
/// marked), every other problem to `problems` (the bot is dropped).
fn load_one_bot(
    config_dir: &Path,
    file: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
    unusable: &mut Problems,
) -> Option<BotConfig> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let id = match BotId::parse(stem) {
        Ok(id) => Some(id),
        Err(e) => {
            problems.push(Problem::new(file, "", format!("file name: {e}")));
            None
        }
    };
    let text = match crate::files::read_text(file, crate::files::TEXT_BYTES) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem::new(file, "", e.to_string()));
            return None;
        }
    };
    let raw: RawBot = match Figment::new().merge(Toml::string(&text)).extract() {
        Ok(raw) => raw,
        Err(e) => {
            problems.push_figment(file, e);
            return None;
        }
    };
    let before = problems.0.len();
    let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, key, reason));

    let what = format!(
        "the token of bot {stem} was not checked (its shape, and that no other bot uses it)"
    );
    let token = match secrets.get(&raw.token_env, &what) {
        Some(v) => BotToken::parse(&v)
            .map_err(|e| problem("token_env", format!("${}: {e}", brief::key(&raw.token_env))))
            .ok(),
        None if !secrets.required() => BotToken::parse(UNCHECKED_TOKEN).ok(),
        None => {
            problem(
                "token_env",
                format!(
                    "environment variable {} is not set (it must hold the bot token)",
                    brief::key(&raw.token_env)
                ),
            );
            None
        }
    };
    let environment = match raw.environment.as_str() {
        "production" => Some(Environment::Production),
        "test" => Some(Environment::Test),
        other => {
            problem(
                "environment",
                format!(
                    "must be \"production\" or \"test\", not {}",
                    brief::value(other)
                ),
            );
            None
        }
    };
    for (key, text) in [("support", &raw.support), ("terms", &raw.terms)] {
        if text.trim().is_empty() || text.chars().count() > 4096 {
            problem(
                key,
                "must be 1-4096 characters (one Telegram message)".into(),
            );
        }
    }
    let on_delivery_failure = match raw.on_delivery_failure.as_str() {
        "review" => Some(OnDeliveryFailure::Review),
        "refund" => Some(OnDeliveryFailure::Refund),
        other => {
            problem(
                "on_delivery_failure",
                format!(
                    "must be \"review\" or \"refund\", not {}",
                    brief::value(other)
                ),
            );
            None
        }
    };
    if !(1..=50).contains(&raw.delivery_attempts) {
        problem("delivery_attempts", "must be 1-50".into());
    }
    if raw.subscription_grace_hours > MAX_GRACE_HOURS {
        problem(
            "subscription_grace_hours",
            format!("must be 0-{MAX_GRACE_HOURS} (at most one 30-day period)"),
        );
    }
    if let Some(help) = &raw.help
        && (help.trim().is_empty() || help.chars().count() > 4096)
    {
        problem(
            "help",
            "must be 1-4096 characters (one Telegram message)".into(),
        );
    }
    let texts = bot_texts(&raw.texts, &mut problem);
    let events = raw.events.as_ref().map(|events| {
        let what = format!("the events signing secret of bot {stem} was not checked");
        let secret = secrets.get(&events.secret_env, &what);
        super::events::validate(events, secret.as_deref(), secrets.required(), &mut problem)
    });
    let mut seen = HashSet::new();
    let mut products = Vec::new();
    for (i, p) in raw.products.iter().enumerate() {
        let mut plugin_problem = |key: &str, reason: String| {
            unusable.push(Problem::new(file, key, reason));
        };
        if let Some(product) = validate_product(config_dir, i, p, &mut problem, &mut plugin_problem)
        {
            if !seen.insert(product.id.clone()) {
                problem(
                    &format!("product[{i}].id"),
                    format!("duplicate product id {:?} in this bot", product.id.as_str()),
                );
            }
            products.push(product);
        }
    }
    if raw.products.is_empty() {
        problem("product", "a store needs at least one [[product]]".into());
    }
    let promos = super::promo::validate(&raw.promos, &products, &mut problem);
    if problems.0.len() > before {
        return None;
    }
    Some(BotConfig {
        id: id?,
        file: file.to_owned(),
        token: token?,
        environment: environment?,
        admins: raw.admins,
        support: raw.support,
        terms: raw.terms,
        greeting: raw.greeting,
        help: raw.help,
        texts,
        products,
        promos,
        delivery_attempts: raw.delivery_attempts,
        on_delivery_failure: on_delivery_failure?,
        subscription_grace: Duration::from_secs(u64::from(raw.subscription_grace_hours) * 3600),
        events: events.flatten(),
    })
}

fn validate_product(
    config_dir: &Path,
    i: usize,
    p: &RawProduct,
    problem: &mut impl FnMut(&str, String),
    plugin_problem: &mut impl FnMut(&str, String),
) -> Option<Product> {
    let key = |k: &str| format!("product[{i}].{k}");
    let id = ProductId::parse(&p.id)
        .map_err(|e| problem(&key("id"), e.0))
        .ok();
    let title = Title::parse(&p.title)
        .map_err(|e| problem(&key("title"), e.0))
        .ok();
    let description = Description::parse(&p.description)
        .map_err(|e| problem(&key("description"), e.0))
        .ok();
    let price = Stars::parse(p.price, p.subscription)
        .map_err(|e| problem(&key("price"), e.0))
        .ok();
    let config = p
        .config
        .clone()
        .unwrap_or(serde_json::Value::Object(Default::default()));
    if serde_json::to_vec(&config).map_or(0, |v| v.len()) > 16 * 1024 {
        problem(
            &key("config"),
            "is larger than 16 KiB; plugins get it on every call".into(),
        );
    }
    let plugin = match &p.plugin {
        None => {
            if p.plugin_sha256.is_some() {
                problem(&key("plugin_sha256"), "is set but plugin is not".into());
            }
            // The built-in delivery reads its items as the running gateway will.
            if let Err(reason) = crate::plugins::StaticText::from_config(&config) {
                problem(&key("config"), reason);
            }
            None
        }
        Some(rel) => Some(check_plugin_file(
            config_dir,
            rel,
            p.plugin_sha256.as_deref(),
            &key,
            plugin_problem,
        )),
    };
    let mut i18n = std::collections::BTreeMap::new();
    for (lang, t) in &p.i18n {
        let at = |k: &str| key(&format!("i18n.{lang}.{k}"));
        if !crate::i18n::is_language(lang) {
            problem(&key(&format!("i18n.{lang}")), LANGUAGE_KEY.into());
            continue;
        }
        let title = t
            .title
            .as_deref()
            .and_then(|v| Title::parse(v).map_err(|e| problem(&at("title"), e.0)).ok());
        let description = t.description.as_deref().and_then(|v| {
            Description::parse(v)
                .map_err(|e| problem(&at("description"), e.0))
                .ok()
        });
        i18n.insert(lang.clone(), ProductTexts { title, description });
    }
    Some(Product {
        i18n,
        id: id?,
        title: title?,
        description: description?,
        price: price?,
        subscription: p.subscription,
        on_sale: p.on_sale,
        plugin,
        config,
    })
}

/// Reads a product's plugin (a file relative to the configuration directory, or a bundled one)
/// and checks it against its pin. A plugin that cannot be used is reported and kept with the
/// reason: `run` then serves the product with a plugin that refuses every checkout.
fn check_plugin_file(
    config_dir: &Path,
    rel: &str,
    pinned: Option<&str>,
    key: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(&str, String),
) -> PluginRef {
    let mut unusable = |source: PluginSource, k: &str, reason: String| {
        problem(&key(k), reason.clone());
        PluginRef {
            source,
            sha256: pinned.unwrap_or_default().to_owned(),
            unusable: Some(reason),
        }
    };
    let (source, bytes) = if let Some(name) = rel.strip_prefix("bundled:") {
        let source = PluginSource::Bundled(name.to_owned());
        match crate::plugins::bundled::get(name) {
            Some(b) => (source, b.to_vec()),
            None => {
                let names = crate::plugins::bundled::names().join(", ");
                let reason = format!(
                    "there is no bundled plugin {} (bundled: {names})",
                    brief::value(name)
                );
                return unusable(source, "plugin", reason);
            }
        }
    } else {
        let path = config_dir.join(rel);
        let limit = crate::plugins::wasm::limits::COMPONENT_BYTES as u64;
        match crate::files::read(&path, limit) {
            Ok(b) => (PluginSource::File(path), b),
            Err(e) => {
                let reason = format!("{}: {e}", brief::value(rel));
                return unusable(PluginSource::File(path), "plugin", reason);
            }
        }
    };
    let path = brief::value(rel);
    let actual = hex::encode(Sha256::digest(&bytes));
    if let Some(pinned) = pinned
        && !pinned.eq_ignore_ascii_case(&actual)
    {
        let reason = format!(
            "{path} has sha256 {actual}, not the pinned {}",
            brief::value(pinned)
        );
        return unusable(source, "plugin_sha256", reason);
    }
    PluginRef {
        source,
        sha256: actual,
        unusable: None,
    }
}

const LANGUAGE_KEY: &str = "must be a language: the two or three lower-case letters Telegram's language_code starts with (e.g. ru, pt)";

/// `[texts.<lang>]`: every language's texts checked as the defaults are, and every override of
/// a gateway message checked against that message's length and placeholders.
fn bot_texts(
    raw: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    problem: &mut impl FnMut(&str, String),
) -> std::collections::BTreeMap<String, BotTexts> {
    use crate::i18n::Msg;
    let mut all = std::collections::BTreeMap::new();
    for (lang, table) in raw {
        if !crate::i18n::is_language(lang) {
            problem(&format!("texts.{lang}"), LANGUAGE_KEY.into());
            continue;
        }
        let mut texts = BotTexts::default();
        for (key, value) in table {
            let at = format!("texts.{lang}.{key}");
            let store_text = match key.as_str() {
                "greeting" => Some(&mut texts.greeting),
                "support" => Some(&mut texts.support),
                "terms" => Some(&mut texts.terms),
                "help" => Some(&mut texts.help),
                _ => None,
            };
            if let Some(slot) = store_text {
                if value.trim().is_empty() || value.chars().count() > 4096 {
                    problem(
                        &at,
                        "must be 1-4096 characters (one Telegram message)".into(),
                    );
                }
                *slot = Some(value.clone());
                continue;
            }
            let Some(msg) = Msg::parse(key) else {
                let known: Vec<&str> = Msg::ALL.iter().map(|m| m.key()).collect();
                problem(
                    &at,
                    format!(
                        "unknown key (texts are greeting, support, terms, help, or one of the gateway's messages: {})",
                        known.join(", ")
                    ),
                );
                continue;
            };
            let max = msg.limit().chars();
            if value.trim().is_empty() || value.chars().count() > max {
                problem(&at, format!("must be 1-{max} characters"));
            }
            let allowed = placeholders(msg.text_or_default("en"));
            let unknown: Vec<String> = placeholders(value)
                .into_iter()
                .filter(|p| !allowed.contains(p))
                .collect();
            if !unknown.is_empty() {
                let allowed: Vec<String> = allowed.iter().map(|p| format!("{{{p}}}")).collect();
                let allowed = if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                };
                problem(
                    &at,
                    format!(
                        "{{{}}} is not a placeholder of this message (it has: {allowed})",
                        unknown.join("}, {")
                    ),
                );
            }
            texts.messages.insert(msg, value.clone());
        }
        all.insert(lang.clone(), texts);
    }
    all
}

/// The `{name}` placeholders in a message.
fn placeholders(text: &str) -> Vec<String> {
    text.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
        .filter(|name| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .collect()
}
