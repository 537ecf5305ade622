//! Per-product decision and delivery. Every product is served by a [`Plugin`]: it approves or
//! rejects the pre-checkout and produces what the buyer receives once paid. Plugins are
//! synchronous (a WebAssembly call is), so [`Runner`] runs them off the async runtime on a bounded
//! pool with a deadline, and turns every failure into a [`PluginError`] the shop can act on.

mod builtin;
mod delivery;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use builtin::StaticText;
pub use delivery::{Delivery, Item, validate_delivery, validate_reject_message};
pub use runner::{Runner, RunnerLimits};

use crate::config::{BotConfig, Product};
use crate::domain::ProductId;

/// What a plugin knows when asked to approve a purchase. Everything it may depend on comes in
/// here (config, time, ledger facts), so a plugin needs no I/O and its answer can be replayed.
#[derive(Debug, Clone, Serialize)]
pub struct CheckoutInput {
    pub bot: String,
    pub product: String,
    pub order_id: String,
    pub user_id: i64,
    pub amount: i64,
    pub currency: String,
    pub config: serde_json::Value,
    pub now_unix: i64,
}

/// What a plugin knows when producing a delivery.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryInput {
    pub checkout: CheckoutInput,
    pub charge_id: String,
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
    /// invalid output) recurs, so retrying it only wastes the buyer's time.
    pub fn is_transient(&self) -> bool {
        match self {
            PluginError::Failed { retryable, .. } => *retryable,
            PluginError::Timeout(_) | PluginError::Unavailable(_) => true,
            PluginError::Trap(_) | PluginError::InvalidOutput(_) => false,
        }
    }
}

/// The contract every product's plugin fulfils. Implementations must be cheap to call
/// concurrently: the runner calls them from several threads at once.
pub trait Plugin: Send + Sync + 'static {
    /// Content hash of the plugin code, recorded on every order it approves.
    fn sha256(&self) -> Option<&str>;
    fn pre_checkout(&self, input: &CheckoutInput) -> Result<Decision, PluginError>;
    fn deliver(&self, input: &DeliveryInput) -> Result<Delivery, PluginError>;
    /// Called once when a payment is refunded, to revoke what was delivered.
    fn refunded(&self, input: &DeliveryInput) -> Result<(), PluginError>;
}

/// The plugins of one bot, by product id.
#[derive(Clone, Default)]
pub struct Catalogue {
    by_product: HashMap<ProductId, Arc<dyn Plugin>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: product {product}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub product: String,
    pub reason: String,
}

impl Catalogue {
    /// Builds the plugins of a bot's products.
    pub fn load(bot: &BotConfig) -> Result<Self, LoadError> {
        let mut by_product = HashMap::new();
        for product in &bot.products {
            let plugin = load_product(product).map_err(|reason| LoadError {
                file: bot.file.display().to_string(),
                product: product.id.to_string(),
                reason,
            })?;
            by_product.insert(product.id.clone(), plugin);
        }
        Ok(Self { by_product })
    }

    pub fn get(&self, product: &ProductId) -> Option<Arc<dyn Plugin>> {
        self.by_product.get(product).cloned()
    }
}

fn load_product(product: &Product) -> Result<Arc<dyn Plugin>, String> {
    match &product.plugin {
        None => Ok(Arc::new(StaticText::from_config(&product.config)?)),
        Some(plugin) => Err(format!(
            "{} is a WebAssembly plugin, and this build has no WebAssembly runtime yet",
            plugin.path.display()
        )),
    }
}
