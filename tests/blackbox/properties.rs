//! Property tests (proptest), so the next hostile input is found here first:
//! - config loading: arbitrary TOML values and shapes in every key, and arbitrary bytes as a
//!   whole file: never a panic, every problem one line under a fixed length;
//! - the webhook handler: arbitrary JSON and bytes with a valid secret: always 2xx, 4xx or 503,
//!   the gateway stays ready, the metrics' label sets stay fixed;
//! - admin requests: arbitrary query strings and bodies with a valid token: always JSON, a
//!   success or `{"ok": false, "error": <one short line>}`.
//!
//! Each runs a few dozen cases, fast enough for CI; `PROPTEST_CASES=5000` runs more (see the
//! README). A failure prints the smallest input found.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestCaseError, TestRunner};
use serde_json::Value;
use starsgate::config::{Config, Secret};
use starsgate::ingest::webhook::secret_token;

use crate::helpers::*;
use crate::hostile::KINDS;
use crate::on_both_ledgers;

/// Longest problem or error line accepted (file path, key and reason, each cut).
const LINE_MAX: usize = 600;

/// A runner with `cases` cases unless `PROPTEST_CASES` says otherwise; no regression files.
fn runner(cases: u32) -> TestRunner {
    let mut config = Cases::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    TestRunner::new(config)
}

fn one_short_line(text: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        text.chars().count() <= LINE_MAX,
        "{} characters: {}",
        text.chars().count(),
        text.chars().take(200).collect::<String>()
    );
    prop_assert!(!text.chars().any(char::is_control), "{text:?}");
    Ok(())
}

/// Strings a hostile or careless file holds: short and plausible, any characters (control ones
/// too), or one character repeated up to 200,000 times.
fn text() -> impl Strategy<Value = String> {
    text_up_to(200_000)
}

/// Like [`text`], repeating a character at most `max` times. Requests keep under the body limit,
/// as a server that answers 413 before reading the rest of a body may reset the connection.
fn text_up_to(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{0,40}",
        any::<String>(),
        (any::<char>(), 0..max).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        text().prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![Just(0i64), Just(1), Just(-1), 0i64..30_000].prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

const GATEWAY_KEYS: &[&str] = &[
    "ledger",
    "ledger.url",
    "ledger.lease_secs",
    "ledger.reconcile_every_secs",
    "ledger.sqlite_synchronous",
    "telegram",
    "telegram.api_url",
    "telegram.mode",
    "telegram.poll_timeout_secs",
    "webhook",
    "webhook.listen",
    "webhook.public_url",
    "webhook.secret_env",
    "webhook.max_connections",
    "plugins",
    "plugins.pre_checkout_fuel",
    "plugins.deliver_fuel",
    "plugins.memory_mib",
    "plugins.pre_checkout_timeout_ms",
    "plugins.deliver_timeout_ms",
    "plugins.concurrency",
    "admin",
    "admin.listen",
    "admin.token_env",
    "admin.per_bot_metrics_max",
];

const BOT_KEYS: &[&str] = &[
    "token_env",
    "environment",
    "admins",
    "support",
    "terms",
    "greeting",
    "delivery_attempts",
    "on_delivery_failure",
    "subscription_grace_hours",
    "product",
    "product.0",
    "product.0.id",
    "product.0.title",
    "product.0.description",
    "product.0.price",
    "product.0.subscription",
    "product.0.on_sale",
    "product.0.plugin",
    "product.0.plugin_sha256",
    "product.0.config",
    "product.0.config.url",
    "product.1.id",
    "promo",
    "promo.0.code",
    "promo.0.percent_off",
    "promo.0.stars_off",
    "promo.0.products",
    "promo.0.starts",
    "promo.0.ends",
    "promo.0.max_uses",
];

/// Which file, which key (a known one, or any name), and its new value (`None`: removed).
#[derive(Debug, Clone)]
struct Mutation {
    gateway: bool,
    key: String,
    value: Option<toml::Value>,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let key = |keys: &'static [&'static str]| {
        prop_oneof![
            4 => prop::sample::select(keys).prop_map(str::to_owned),
            1 => text(),
        ]
    };
    (
        any::<bool>(),
        any::<bool>().prop_flat_map(move |g| key(if g { GATEWAY_KEYS } else { BOT_KEYS })),
        prop::option::weighted(0.9, toml_value()),
    )
        .prop_map(|(gateway, key, value)| Mutation {
            gateway,
            key,
            value,
        })
}

/// Sets (or removes) `key`, a dotted path where a number indexes an array, in `doc`.
fn apply(doc: &mut toml::Table, key: &str, value: Option<toml::Value>) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut root = toml::Value::Table(std::mem::take(doc));
    set_in(&mut root, &parts, value);
    if let toml::Value::Table(t) = root {
        *doc = t;
    }
}

fn set_in(here: &mut toml::Value, parts: &[&str], value: Option<toml::Value>) {
    match (parts, here) {
        ([last], toml::Value::Table(t)) => match value {
            Some(v) => {
                t.insert((*last).to_owned(), v);
            }
            None => {
                t.remove(*last);
            }
        },
        ([last], toml::Value::Array(a)) => match (last.parse::<usize>(), value) {
            (Ok(i), Some(v)) if i < a.len() => a[i] = v,
            (Ok(i), None) if i < a.len() => {
                a.remove(i);
            }
            _ => {}
        },
        ([first, rest @ ..], here) => {
            let next = match here {
                toml::Value::Table(t) => t.get_mut(*first),
                toml::Value::Array(a) => first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            };
            if let Some(next) = next {
                set_in(next, rest, value);
            }
        }
        _ => {}
    }
}

fn secrets(name: &str) -> Option<String> {
    match name {
        "GUIDES_BOT_TOKEN" => Some("700001:tok-guides".into()),
        "GAMES_BOT_TOKEN" => Some("700002:tok-games".into()),
        _ => None,
    }
}

fn load_problems(dir: &Path) -> Result<(), TestCaseError> {
    if let Err(problems) = Config::load_with_secrets(dir, &secrets) {
        prop_assert!(!problems.is_empty(), "an error without a problem");
        for p in problems.iter() {
            one_short_line(&p.to_string())?;
        }
    }
    Ok(())
}

fn example(dir: &Path) {
    let api = url::Url::parse("http://127.0.0.1:9/").unwrap();
    starsgate::demo::write_example_config(dir, &api, "sqlite://ledger.db").unwrap();
}

#[test]
fn config_loading_never_panics_and_every_problem_is_one_short_line() {
    let strategy = prop::collection::vec(mutation(), 1..4);
    runner(64)
        .run(&strategy, |mutations| {
            let dir = tempfile::tempdir().unwrap();
            example(dir.path());
            for m in mutations {
                let file = if m.gateway {
                    dir.path().join("gateway.toml")
                } else {
                    dir.path().join("bots/guides.toml")
                };
                let mut doc: toml::Table = std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                apply(&mut doc, &m.key, m.value);
                // toml's writer (not used by the gateway) overflows a counter on a string of
                // more than 255 quotes in a row; such a case is written as it was.
                let written = std::panic::catch_unwind(|| toml::to_string(&doc));
                if let Ok(Ok(text)) = written {
                    std::fs::write(&file, text).unwrap();
                }
            }
            load_problems(dir.path())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn any_bytes_as_a_config_file_give_short_problems() {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        "\\PC{0,512}".prop_map(String::into_bytes),
        any::<String>().prop_map(|s| format!("support = \"{s}\"\n").into_bytes()),
    ];
    runner(64)
        .run(&(any::<bool>(), bytes), |(gateway, bytes)| {
            let dir = tempfile::tempdir().unwrap();
            example(dir.path());
            let file = if gateway {
                "gateway.toml"
            } else {
                "bots/guides.toml"
            };
            std::fs::write(dir.path().join(file), bytes).unwrap();
            load_problems(dir.path())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Any JSON, up to 24 nodes, strings repeating a character at most `max` times.
fn json_value(max: usize) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text_up_to(max).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A webhook body: any bytes, any JSON, or an object shaped like an update with any kind key;
/// under the 1 MiB limit (24 strings of at most 6,000 characters, each escaped to at most 6 bytes).
fn webhook_body() -> impl Strategy<Value = Vec<u8>> {
    let json_value = || json_value(6_000);
    let kind = prop_oneof![
        prop::sample::select(vec![
            "message",
            "callback_query",
            "pre_checkout_query",
            "subscription",
            "update_id",
            "",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ];
    let update_id = prop_oneof![(1i64..1_000_000).prop_map(Value::from), json_value(),];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (update_id, kind, json_value()).prop_map(|(id, kind, payload)| {
            let mut update = serde_json::Map::new();
            update.insert("update_id".into(), id);
            update.insert(kind, payload);
            Value::Object(update).to_string().into_bytes()
        }),
    ]
}

/// Every sample of every starsgate metric has a `bot` label that is a bot id (of some test in
/// this process: the recorder is global) or `all`, and `starsgate_updates_total` a `kind` from
/// the fixed set.
fn assert_fixed_labels(metrics: &str) {
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &line[start..];
        Some(rest[..rest.find('"').unwrap_or(rest.len())].to_owned())
    };
    for line in metrics.lines().filter(|l| l.starts_with("starsgate_")) {
        if let Some(bot) = label(line, "bot") {
            let bot_id = !bot.is_empty()
                && bot.len() <= 32
                && bot
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            assert!(bot_id || bot == "all", "label bot={bot:?}: {line}");
        }
        if line.starts_with("starsgate_updates_total")
            && let Some(kind) = label(line, "kind")
        {
            assert!(
                KINDS.contains(&kind.as_str()),
                "label kind={kind:?}: {line}"
            );
        }
    }
}

async fn ready(base: &str) {
    eventually("the gateway is ready", || async {
        reqwest::get(format!("{base}/readyz"))
            .await
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    })
    .await;
}

async fn any_webhook_body_gets_2xx_4xx_or_503_and_the_gateway_stays_ready(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let base = h.use_webhooks();
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    let gw = h.start().await;
    let admin = format!("http://{}", gw.admin_addr().expect("admin listener"));
    ready(&admin).await;
    let secret = secret_token(&Secret::new("test-master-secret-0123456789"), GUIDES);
    let url = format!("{base}/telegram/{GUIDES}");
    let client = reqwest::Client::new();
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        runner(48).run(&webhook_body(), |body| {
            let status = rt.block_on(async {
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Telegram-Bot-Api-Secret-Token", &secret)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            });
            let status = status.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
            prop_assert!(
                (200..300).contains(&status) || (400..500).contains(&status) || status == 503,
                "status {status}"
            );
            Ok(())
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    ready(&admin).await;
    let metrics = reqwest::get(format!("{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_fixed_labels(&metrics);
    // Still selling.
    h.buy(GUIDES, 9201, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, 9201, 1).await;
    gw.stop().await;
    h.finish().await;
}

const TOKEN: &str = "admin-token-for-tests-0123";

#[derive(Debug, Clone)]
enum AdminCall {
    Get { path: &'static str, query: String },
    Post { path: &'static str, body: Vec<u8> },
}

/// A query string: pairs of well-known or any keys and any values, `&`, `=`, `%` and `+`
/// included, so some escapes are malformed and some keys repeat.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec!["bot", "user_id", "since", "guides"]).prop_map(str::to_owned),
        "[ -~]{0,8}",
    ];
    let value = prop_oneof![
        Just("guides".to_owned()),
        "-?[0-9]{0,25}(\\.[0-9])?",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[ -~]{0,30}",
        "(%[0-9a-fA-F]{2}|%.?|[a-z])*",
    ];
    prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// An admin body under its 64 KiB limit (24 strings of at most 300 characters, each at most 6 bytes).
fn admin_body() -> impl Strategy<Value = Vec<u8>> {
    let json_value = || json_value(300);
    let field = prop_oneof![
        json_value(),
        Just(Value::from(GUIDES)),
        Just(Value::from("premium-guide")),
        any::<i64>().prop_map(Value::from),
    ];
    let names = prop::sample::select(vec!["bot", "charge_id", "product", "user_id", "x"]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..1024),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::btree_map(names, field, 0..5).prop_map(|m| {
            let object: serde_json::Map<String, Value> =
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Value::Object(object).to_string().into_bytes()
        }),
    ]
}

fn admin_call() -> impl Strategy<Value = AdminCall> {
    let get = (
        prop::sample::select(vec![
            "/admin/payments",
            "/admin/stats",
            "/admin/subscriptions",
            "/admin/reload",
        ]),
        query(),
    )
        .prop_map(|(path, query)| AdminCall::Get { path, query });
    let post = (
        prop::sample::select(vec![
            "/admin/refund",
            "/admin/invoice-link",
            "/admin/subscriptions/cancel",
        ]),
        admin_body(),
    )
        .prop_map(|(path, body)| AdminCall::Post { path, body });
    prop_oneof![get, post]
}

async fn any_admin_request_gets_json_back(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.set_gateway("admin", "listen", "\"127.0.0.1:0\"");
    h.set_secret("STARSGATE_ADMIN_TOKEN", TOKEN);
    let gw = h.start().await;
    let base = format!("http://{}", gw.admin_addr().expect("admin listener"));
    ready(&base).await;
    let client = reqwest::Client::new();
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        runner(64).run(&admin_call(), |call| {
            let request = match &call {
                AdminCall::Get { path, query } => client.get(format!("{base}{path}?{query}")),
                AdminCall::Post { path, body } => client
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/json")
                    .body(body.clone()),
            };
            let answer = rt.block_on(async {
                let resp = request.bearer_auth(TOKEN).send().await?;
                let status = resp.status().as_u16();
                Ok::<_, reqwest::Error>((status, resp.bytes().await?))
            });
            let (status, bytes) =
                answer.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
            let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
                TestCaseError::fail(format!(
                    "status {status}, not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                ))
            })?;
            match body["ok"].as_bool() {
                Some(true) => prop_assert!((200..300).contains(&status), "{status} {body}"),
                Some(false) => {
                    prop_assert!(status >= 400, "{status} {body}");
                    let error = body["error"].as_str().unwrap_or_default();
                    prop_assert!(!error.is_empty(), "{body}");
                    one_short_line(error)?;
                }
                None => prop_assert!(false, "no \"ok\" in {body}"),
            }
            Ok(())
        })
    })
    .unwrap_or_else(|e| panic!("{e}"));
    ready(&base).await;
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    any_webhook_body_gets_2xx_4xx_or_503_and_the_gateway_stays_ready,
    any_admin_request_gets_json_back,
);
