//! One `bots/<bot-id>.toml` → [`BotConfig`]. One step per setting or section; each reports its
//! problems as `<file>: <key>: <reason>` and returns its value (`None` where a problem leaves
//! none). The steps run in a fixed order, which is the order `check` prints problems in. A bot
//! with any problem is dropped whole: a store never runs half-configured.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};

use super::events::RawEvents;
use super::lookup::Lookup;
use super::product::LANGUAGE_KEY;
use super::raw::RawBot;
use super::{
    BotConfig, BotTexts, BotToken, Environment, EventsConfig, OnDeliveryFailure, Problem, Problems,
};
use crate::brief;
use crate::domain::BotId;
use crate::i18n::Msg;

/// A grace period longer than the 30-day subscription period would overlap the next one.
const MAX_GRACE_HOURS: u32 = 720;

/// Stands in for a bot token that was not set when secrets are not required; never used to run.
pub(super) const UNCHECKED_TOKEN: &str = "0:unchecked";

/// Loads one bot file; a product's unusable plugin file goes to `unusable` (the product is kept,
/// marked), every other problem to `problems` (the bot is dropped).
pub(super) fn load(
    config_dir: &Path,
    file: &Path,
    secrets: &mut Lookup<'_, '_>,
    problems: &mut Problems,
    unusable: &mut Problems,
) -> Option<BotConfig> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let id = bot_id(file, stem, problems);
    let raw = read(file, problems)?;
    let before = problems.0.len();
    let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, key, reason));
    let mut plugin_problem =
        |key: &str, reason: String| unusable.push(Problem::new(file, key, reason));

    let token = token(&raw.token_env, stem, secrets, &mut problem);
    let environment = environment(&raw.environment, &mut problem);
    let support = message("support", raw.support, &mut problem);
    let terms = message("terms", raw.terms, &mut problem);
    let on_delivery_failure = on_delivery_failure(&raw.on_delivery_failure, &mut problem);
    let delivery_attempts = delivery_attempts(raw.delivery_attempts, &mut problem);
    let subscription_grace = subscription_grace(raw.subscription_grace_hours, &mut problem);
    let help = raw.help.map(|help| message("help", help, &mut problem));
    let texts = texts(&raw.texts, &mut problem);
    let events = events(raw.events.as_ref(), stem, secrets, &mut problem);
    let products =
        super::product::products(config_dir, &raw.products, &mut problem, &mut plugin_problem);
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
        support,
        terms,
        greeting: raw.greeting,
        help,
        texts,
        products,
        promos,
        delivery_attempts,
        on_delivery_failure: on_delivery_failure?,
        subscription_grace,
        events,
    })
}

/// The bot id is the file name (`bots/<bot-id>.toml`).
fn bot_id(file: &Path, stem: &str, problems: &mut Problems) -> Option<BotId> {
    match BotId::parse(stem) {
        Ok(id) => Some(id),
        Err(e) => {
            problems.push(Problem::new(file, "", format!("file name: {e}")));
            None
        }
    }
}

/// The file parsed; `None` when it cannot be read or parsed.
fn read(file: &Path, problems: &mut Problems) -> Option<RawBot> {
    let text = match crate::files::read_text(file, crate::files::TEXT_BYTES) {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem::new(file, "", e.to_string()));
            return None;
        }
    };
    match Figment::new().merge(Toml::string(&text)).extract() {
        Ok(raw) => Some(raw),
        Err(e) => {
            problems.push_figment(file, e);
            None
        }
    }
}

/// The bot token in `$token_env`. When secrets are not required and it is not set, a placeholder
/// stands in (see [`UNCHECKED_TOKEN`]) and the token is listed as unchecked.
fn token(
    token_env: &str,
    stem: &str,
    secrets: &mut Lookup<'_, '_>,
    problem: &mut impl FnMut(&str, String),
) -> Option<BotToken> {
    let what = format!(
        "the token of bot {stem} was not checked (its shape, and that no other bot uses it)"
    );
    match secrets.get(token_env, &what) {
        Some(v) => BotToken::parse(&v)
            .map_err(|e| problem("token_env", format!("${}: {e}", brief::key(token_env))))
            .ok(),
        None if !secrets.required() => BotToken::parse(UNCHECKED_TOKEN).ok(),
        None => {
            problem(
                "token_env",
                format!(
                    "environment variable {} is not set (it must hold the bot token)",
                    brief::key(token_env)
                ),
            );
            None
        }
    }
}

fn environment(raw: &str, problem: &mut impl FnMut(&str, String)) -> Option<Environment> {
    match raw {
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
    }
}

/// A text the bot sends as it is (`support`, `terms`, `help`): it must fit one Telegram message.
fn message(key: &str, text: String, problem: &mut impl FnMut(&str, String)) -> String {
    if text.trim().is_empty() || text.chars().count() > 4096 {
        problem(
            key,
            "must be 1-4096 characters (one Telegram message)".into(),
        );
    }
    text
}

fn on_delivery_failure(
    raw: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<OnDeliveryFailure> {
    match raw {
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
    }
}

fn delivery_attempts(attempts: u32, problem: &mut impl FnMut(&str, String)) -> u32 {
    if !(1..=50).contains(&attempts) {
        problem("delivery_attempts", "must be 1-50".into());
    }
    attempts
}

fn subscription_grace(hours: u32, problem: &mut impl FnMut(&str, String)) -> Duration {
    if hours > MAX_GRACE_HOURS {
        problem(
            "subscription_grace_hours",
            format!("must be 0-{MAX_GRACE_HOURS} (at most one 30-day period)"),
        );
    }
    Duration::from_secs(u64::from(hours) * 3600)
}

/// `[events]`, with its signing secret looked up (and listed as unchecked when it may be missing).
fn events(
    raw: Option<&RawEvents>,
    stem: &str,
    secrets: &mut Lookup<'_, '_>,
    problem: &mut impl FnMut(&str, String),
) -> Option<EventsConfig> {
    let raw = raw?;
    let what = format!("the events signing secret of bot {stem} was not checked");
    let secret = secrets.get(&raw.secret_env, &what);
    super::events::validate(raw, secret.as_deref(), secrets.required(), problem)
}

/// `[texts.<lang>]`: every language's texts checked as the defaults are, and every override of
/// a gateway message checked against that message's length and placeholders.
fn texts(
    raw: &BTreeMap<String, BTreeMap<String, String>>,
    problem: &mut impl FnMut(&str, String),
) -> BTreeMap<String, BotTexts> {
    let mut all = BTreeMap::new();
    for (lang, table) in raw {
        if !crate::i18n::is_language(lang) {
            problem(&format!("texts.{lang}"), LANGUAGE_KEY.into());
            continue;
        }
        all.insert(lang.clone(), language_texts(lang, table, problem));
    }
    all
}

/// One `[texts.<lang>]` table. A key that is neither a store text nor a gateway message is
/// reported and left out.
fn language_texts(
    lang: &str,
    table: &BTreeMap<String, String>,
    problem: &mut impl FnMut(&str, String),
) -> BotTexts {
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
            *slot = Some(message(&at, value.clone(), problem));
        } else if let Some(msg) = gateway_message(&at, key, value, problem) {
            texts.messages.insert(msg, value.clone());
        }
    }
    texts
}

/// The gateway message an override at `at` replaces, checked against that message's length and
/// placeholders; `None` when `key` names no message.
fn gateway_message(
    at: &str,
    key: &str,
    value: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<Msg> {
    let Some(msg) = Msg::parse(key) else {
        let known: Vec<&str> = Msg::ALL.iter().map(|m| m.key()).collect();
        problem(
            at,
            format!(
                "unknown key (texts are greeting, support, terms, help, or one of the gateway's messages: {})",
                known.join(", ")
            ),
        );
        return None;
    };
    let max = msg.limit().chars();
    if value.trim().is_empty() || value.chars().count() > max {
        problem(at, format!("must be 1-{max} characters"));
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
            at,
            format!(
                "{{{}}} is not a placeholder of this message (it has: {allowed})",
                unknown.join("}, {")
            ),
        );
    }
    Some(msg)
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
