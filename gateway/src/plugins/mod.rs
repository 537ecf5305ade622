//! Per-product decision and delivery. Every product is served by a [`Plugin`]: it approves or
//! rejects the pre-checkout and produces what the buyer receives once paid. Products name a
//! WebAssembly component ([`wasm`]) or use the built-in delivery ([`StaticText`]).
//!
//! Plugins are synchronous (a WebAssembly call is), so [`Runner`] gives a call a short, cut try
//! on the calling thread ([`Plugin::quick`]) and runs one that needs more off the async runtime,
//! on a bounded pool with a deadline; a [`Breaker`] pauses a product whose plugin keeps failing,
//! and every failure becomes a [`PluginError`] the shop can act on.

mod breaker;
mod builtin;
pub mod bundled;
mod catalogue;
pub mod delivery;
pub mod fixture;
mod quote;
mod runner;
mod seed;
pub mod wasm;

use serde::{Deserialize, Serialize};

pub use breaker::Breaker;
pub use builtin::StaticText;
pub use catalogue::Catalogue;
pub use delivery::{
    Delivery, Item, MAX_REJECT_CHARS, Media, MediaKind, validate_delivery, validate_reject_message,
};
pub use quote::{MAX_LABEL_CHARS, PromoView, Quote, QuoteRequest, validate_quote};
pub use runner::{Runner, RunnerLimits};
pub use seed::SeedKey;

/// The version of the plugin contract (`plugins/sdk/wit/plugin.wit`) a 0.1 plugin is told.
pub const API_VERSION: &str = "0.1.0";
/// The version a 0.2 plugin (`plugins/sdk/wit-0.2/plugin.wit`) is told.
pub const API_VERSION_0_2: &str = "0.2.0";

/// Ledger facts handed to a plugin so it can stay stateless. Each field defaults to 0 when
/// read (a fixture may give only `units_sold`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Facts {
    pub buyer_purchases: u32,
    pub units_sold: u32,
}

/// Everything non-deterministic a plugin may depend on, supplied by the host.
#[derive(Debug, Clone, Serialize)]
pub struct CallContext {
    /// `[product.config]` as JSON.
    pub config: String,
    pub now_unix: i64,
    pub seed: u64,
    pub facts: Facts,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub order_id: String,
    pub bot_id: String,
    pub product_id: String,
    pub amount: u32,
    pub currency: String,
    pub user_id: i64,
    pub language_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    pub charge_id: String,
    pub paid_at_unix: i64,
    pub amount: u32,
    pub is_renewal: bool,
    pub expires_at_unix: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Approve,
    /// The text is shown to the buyer by Telegram.
    Reject(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The plugin itself reported an error.
    #[error("the plugin reported an error: {message}")]
    Failed { message: String, retryable: bool },
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin did not answer within {0} ms")]
    Timeout(u64),
    #[error("the plugin's output is invalid: {0}")]
    InvalidOutput(String),
    #[error("the plugin is unavailable: {0}")]
    Unavailable(String),
}

impl PluginError {
    /// Whether trying again with the same input could succeed. A deterministic failure (a trap,
    /// invalid output) recurs with the same input, so retrying it only delays the buyer.
    pub fn is_transient(&self) -> bool {
        match self {
            PluginError::Failed { retryable, .. } => *retryable,
            PluginError::Timeout(_) | PluginError::Unavailable(_) => true,
            PluginError::Trap(_) | PluginError::InvalidOutput(_) => false,
        }
    }
}

/// One plugin call: its result and what it cost.
#[derive(Debug, Clone)]
pub struct Call<T> {
    pub result: Result<T, PluginError>,
    /// Lines the plugin logged (capped by the host).
    pub logs: Vec<String>,
    pub fuel_used: u64,
    pub peak_memory: usize,
    /// The call was a [`Plugin::quick`] form's and stopped at its cut budget: its result says
    /// nothing about the plugin, and the call must be made again with the whole budget.
    pub unfinished: bool,
}

impl<T> Call<T> {
    /// A call that cost nothing measurable (built-in plugins).
    pub fn free(result: Result<T, PluginError>) -> Self {
        Self {
            result,
            logs: Vec::new(),
            fuel_used: 0,
            peak_memory: 0,
            unfinished: false,
        }
    }
}

/// The contract every product's plugin fulfils. Implementations are called from several threads
/// at once and must not block on I/O.
pub trait Plugin: Send + Sync + 'static {
    /// Content hash of the plugin code, recorded on every order it serves (`None`: built in).
    fn sha256(&self) -> Option<&str>;
    fn pre_checkout(&self, ctx: &CallContext, order: &OrderView) -> Call<Decision>;
    fn deliver(
        &self,
        ctx: &CallContext,
        order: &OrderView,
        payment: &PaymentView,
    ) -> Call<Delivery>;
    /// Called once when a payment is refunded, to revoke what was delivered.
    fn refunded(&self, ctx: &CallContext, order: &OrderView, payment: &PaymentView) -> Call<()>;
    /// The same plugin with every hook's budget cut to a slice small enough to run on an async
    /// runtime thread (see `runner`); a call that needs more comes back
    /// [`unfinished`](Call::unfinished). `None`: no such form (the runner uses the pool).
    fn quick(&self) -> Option<&dyn Plugin> {
        None
    }
    /// Whether the plugin prices orders (exports contract 0.2's `quote`).
    fn quotes(&self) -> bool {
        false
    }
    /// The plugin's price for an order about to be invoiced (only called when [`Plugin::quotes`]).
    fn quote(&self, _ctx: &CallContext, _order: &OrderView, _req: &QuoteRequest) -> Call<Quote> {
        Call::free(Ok(Quote::Keep))
    }
}
