//! The shapes of the files exactly as a seller writes them. Unknown keys are errors
//! (`deny_unknown_fields`): a misspelt key silently ignored is how a store ends up selling at the
//! wrong price. `validate.rs` and the steps it runs turn these into domain types.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGateway {
    pub ledger: RawLedger,
    pub telegram: RawTelegram,
    pub webhook: RawWebhook,
    pub plugins: RawPlugins,
    pub admin: RawAdmin,
    pub log: RawLog,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// "text" (default) or "json"; `STARSGATE_LOG_FORMAT` wins over it.
    pub format: String,
}
impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "text".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLedger {
    pub url: String,
    /// How long a gateway's claim on a bot lasts without renewal (several gateways, one ledger).
    pub lease_secs: u64,
    /// How often each bot is reconciled with getStarTransactions; 0 turns it off.
    pub reconcile_every_secs: u64,
    /// SQLite only: "full" (a commit survives power loss) or "normal" (survives a crash of the
    /// process, not of the machine; several times faster).
    pub sqlite_synchronous: String,
}
impl Default for RawLedger {
    fn default() -> Self {
        Self {
            url: "sqlite://data/ledger.db".into(),
            lease_secs: 15,
            reconcile_every_secs: 600,
            sqlite_synchronous: "full".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTelegram {
    pub api_url: String,
    pub mode: String,
    /// Long-poll timeout for getUpdates, seconds (Telegram caps it at 50).
    pub poll_timeout_secs: u64,
}
impl Default for RawTelegram {
    fn default() -> Self {
        Self {
            api_url: "https://api.telegram.org".into(),
            mode: "polling".into(),
            poll_timeout_secs: 25,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWebhook {
    pub listen: String,
    pub public_url: Option<String>,
    pub secret_env: String,
    pub max_connections: u8,
}
impl Default for RawWebhook {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8443".into(),
            public_url: None,
            secret_env: "STARSGATE_WEBHOOK_SECRET".into(),
            max_connections: 40,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPlugins {
    pub cache_dir: String,
    pub pre_checkout_fuel: u64,
    pub deliver_fuel: u64,
    pub memory_mib: u64,
    pub pre_checkout_timeout_ms: u64,
    pub deliver_timeout_ms: u64,
    pub concurrency: u64,
}
impl Default for RawPlugins {
    fn default() -> Self {
        use crate::plugins::wasm::limits as l;
        Self {
            cache_dir: "data/plugin-cache".into(),
            pre_checkout_fuel: l::PRE_CHECKOUT_FUEL,
            deliver_fuel: l::DELIVER_FUEL,
            memory_mib: (l::MEMORY_BYTES >> 20) as u64,
            pre_checkout_timeout_ms: 1500,
            deliver_timeout_ms: 5000,
            concurrency: 64,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    pub listen: Option<String>,
    pub token_env: String,
    pub per_bot_metrics_max: usize,
    pub cookie_secure: bool,
    pub session_secs: u64,
}
impl Default for RawAdmin {
    fn default() -> Self {
        Self {
            listen: None,
            token_env: "STARSGATE_ADMIN_TOKEN".into(),
            per_bot_metrics_max: 50,
            cookie_secure: false,
            session_secs: 12 * 3600,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBot {
    pub token_env: String,
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(default)]
    pub admins: Vec<i64>,
    pub support: String,
    pub terms: String,
    /// First line of the `/start` answer; the catalogue follows it.
    #[serde(default)]
    pub greeting: Option<String>,
    /// The answer to anything that is not a command (default: the catalogue's help).
    #[serde(default)]
    pub help: Option<String>,
    /// `[texts.<lang>]`: greeting, support, terms, help, and overrides of the gateway's messages.
    #[serde(default)]
    pub texts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Failed attempts at sending a delivery before giving up on it.
    #[serde(default = "default_attempts")]
    pub delivery_attempts: u32,
    /// What happens to a paid order that cannot be delivered: "review" or "refund".
    #[serde(default = "default_on_failure")]
    pub on_delivery_failure: String,
    /// Hours a membership keeps its access after its paid period ends without a renewal, before
    /// it expires and the plugin's revoke hook runs.
    #[serde(default = "default_grace_hours")]
    pub subscription_grace_hours: u32,
    #[serde(default, rename = "product")]
    pub products: Vec<RawProduct>,
    /// `[[promo]]`: promo codes buyers may apply with `/buy <product> <CODE>`.
    #[serde(default, rename = "promo")]
    pub promos: Vec<super::promo::RawPromo>,
    /// `[events]`: seller events sent to the seller's own endpoint.
    #[serde(default)]
    pub events: Option<super::events::RawEvents>,
}

fn default_attempts() -> u32 {
    8
}

fn default_grace_hours() -> u32 {
    24
}

fn default_on_failure() -> String {
    "review".into()
}

fn default_environment() -> String {
    "production".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProduct {
    pub id: String,
    pub title: String,
    pub description: String,
    pub price: i64,
    #[serde(default)]
    pub subscription: bool,
    #[serde(default = "yes")]
    pub on_sale: bool,
    #[serde(default)]
    pub plugin: Option<String>,
    #[serde(default)]
    pub plugin_sha256: Option<String>,
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// `[product.i18n.<lang>]`: the title and description in another language.
    #[serde(default)]
    pub i18n: std::collections::BTreeMap<String, RawProductI18n>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProductI18n {
    pub title: Option<String>,
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}
