//! `starsgate init [DIR]`: a working configuration to start from, written without overwriting
//! anything, and the next three steps.

use std::path::{Path, PathBuf};

use super::Failure;

const GATEWAY_TOML: &str = r#"# starsgate: process-wide settings. Every key can be overridden from the environment as
# STARSGATE_<SECTION>__<KEY>, e.g. STARSGATE_LEDGER__URL. Relative paths are relative to the
# directory starsgate runs in. Commented-out keys show their defaults.

[ledger]
url = "sqlite://data/ledger.db"        # or postgres://user@host/db, shared by several gateways
# lease_secs = 15                      # how long a gateway's claim on a bot lasts unrenewed
# reconcile_every_secs = 600           # getStarTransactions reconciliation; 0 turns it off
# sqlite_synchronous = "full"          # or "normal": survives a crash of the process only

[telegram]
# api_url = "https://api.telegram.org" # a local Bot API server, or `starsgate sim`
# mode = "polling"                     # or "webhook" (needs [webhook] public_url and the secret)
# poll_timeout_secs = 25

[webhook]                              # used when mode = "webhook"
# listen = "0.0.0.0:8443"
# public_url = "https://pay.example.com"  # setWebhook url = public_url + "/telegram/<bot-id>"
# secret_env = "STARSGATE_WEBHOOK_SECRET" # variable holding the master secret (16+ characters)
# max_connections = 40

[plugins]
# cache_dir = "data/plugin-cache"
# pre_checkout_fuel = 20000000
# deliver_fuel = 50000000
# memory_mib = 32
# pre_checkout_timeout_ms = 1500
# deliver_timeout_ms = 5000
# concurrency = 64

[admin]
# listen = "127.0.0.1:9090"            # /healthz, /readyz, /metrics, /admin/*; keep it private
# token_env = "STARSGATE_ADMIN_TOKEN"
# per_bot_metrics_max = 50

[log]
# format = "text"                      # or "json": one object per line (STARSGATE_LOG_FORMAT wins)
"#;

const BOT_TOML: &str = r#"# One store. The file name (shop.toml) is the bot id: [a-z0-9-]{1,32}.
# Commented-out keys are optional; their defaults are shown.

token_env = "SHOP_BOT_TOKEN"           # the variable holding the token from @BotFather
support = "Write to @your_support_account about any payment. Refunds within 14 days."  # /paysupport
terms = "Digital goods, delivered in this chat right after payment."                  # /terms
# greeting = "Welcome! Here is what you can buy:"   # first line of /start
# environment = "production"           # or "test": Telegram's test environment
# admins = [111111111]                 # user ids allowed to use /refund and /stats in chat
# delivery_attempts = 8                # failed sends before giving up on a delivery (1-50)
# on_delivery_failure = "review"       # or "refund"
# subscription_grace_hours = 24        # access kept after an unrenewed membership ends (0-720)

# Texts for buyers whose Telegram speaks another language (by language_code), falling back to
# the ones above; the gateway's own messages can be overridden here too (see the README).
# [texts.ru]
# greeting = "Добро пожаловать! Вот что можно купить:"
# support = "Пишите @your_support_account по любому платежу."
# terms = "Цифровые товары, доставка в этом чате сразу после оплаты."
# help = "/start — каталог, /paysupport — помощь с оплатой, /terms — условия."

# Seller events: signed webhooks to your own backend when a payment, delivery, refund or
# membership changes (see the README's "Seller events").
# [events]
# url = "https://shop.example.com/starsgate"   # https; plain http only to a loopback address
# secret_env = "SHOP_EVENTS_SECRET"            # the signing secret, at least 16 characters
# types = ["payment.succeeded", "refund.succeeded"]   # default: every type

[[product]]
id = "first-guide"                     # [a-z0-9-]{1,32}, unique in this bot; /start first-guide links to it
title = "My first guide"               # 1-32 characters
description = "A PDF guide, delivered as a link right after payment."   # 1-255 characters
price = 10                             # whole Stars, 1-25000
# subscription = false                 # true: a 30-day Stars subscription (at most 10000 Stars)
# on_sale = true
# plugin = "bundled:static-link"       # a .wasm path relative to this config directory, or bundled:<name>
# plugin_sha256 = "…"                  # refuse to load anything else
[product.config]                       # without a plugin: the built-in delivery sends text and url
text = "Thank you! Here is your guide:"
url = "https://example.com/guide.pdf"
# [product.i18n.ru]
# title = "Мой первый гайд"
# description = "PDF-гайд, ссылка придёт сразу после оплаты."
"#;

const GITIGNORE_LINE: &str = "data/";

pub fn init(dir: &Path) -> Result<(), Failure> {
    let config = dir.join("config");
    let files: [(PathBuf, &str); 2] = [
        (config.join("gateway.toml"), GATEWAY_TOML),
        (config.join("bots").join("shop.toml"), BOT_TOML),
    ];
    if config.exists() {
        return Err(Failure(format!(
            "{}: already exists; init writes a new configuration and never overwrites one",
            config.display()
        )));
    }
    std::fs::create_dir_all(config.join("bots"))
        .map_err(|e| Failure(format!("{}: cannot create: {e}", config.display())))?;
    for (path, text) in &files {
        write_new(path, text)?;
        println!("wrote {}", path.display());
    }
    let gitignore = dir.join(".gitignore");
    match std::fs::read_to_string(&gitignore) {
        Ok(existing) if existing.lines().any(|l| ignores_data(l.trim())) => {}
        Ok(existing) => {
            let sep = if existing.is_empty() || existing.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            std::fs::write(&gitignore, format!("{existing}{sep}{GITIGNORE_LINE}\n"))
                .map_err(|e| Failure(format!("{}: cannot write: {e}", gitignore.display())))?;
            println!("added {GITIGNORE_LINE} to {}", gitignore.display());
        }
        Err(_) => {
            write_new(
                &gitignore,
                &format!("# the ledger and the plugin cache\n{GITIGNORE_LINE}\n"),
            )?;
            println!("wrote {}", gitignore.display());
        }
    }
    let place = if dir == Path::new(".") {
        String::new()
    } else {
        format!(" (in {})", dir.display())
    };
    println!();
    println!("Next steps{place}:");
    println!(
        "  1. export SHOP_BOT_TOKEN=...  # from @BotFather; config/bots/shop.toml names this variable"
    );
    println!("  2. starsgate check            # validates everything, prints each problem");
    println!("  3. starsgate run              # sells until Ctrl-C; send /start to your bot");
    Ok(())
}

fn ignores_data(line: &str) -> bool {
    matches!(line, "data" | "data/" | "/data" | "/data/")
}

/// Creates `path`, failing if anything is already there.
fn write_new(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Failure(format!("{}: cannot create: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Failure(format!("{}: cannot write: {e}", path.display())))
}
