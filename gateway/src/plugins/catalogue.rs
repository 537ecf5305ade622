//! The plugins of one bot, by product, each with its circuit breaker. An order records the hash
//! of the plugin version it was sold with; [`Catalogue::pinned`] finds that version again for its
//! pre-checkout and delivery even after the product's plugin was changed by a reload.

use std::collections::HashMap;
use std::sync::Arc;

use super::wasm::PluginHost;
use super::{
    Breaker, Call, CallContext, Decision, Delivery, OrderView, PaymentView, Plugin, PluginError,
    StaticText,
};
use crate::config::{BotConfig, PluginSource, Product};
use crate::domain::ProductId;

#[derive(Clone)]
pub struct Entry {
    pub plugin: Arc<dyn Plugin>,
    pub breaker: Arc<Breaker>,
}

#[derive(Clone, Default)]
pub struct Catalogue {
    by_product: HashMap<ProductId, Entry>,
    host: Option<Arc<PluginHost>>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{}: product {product}: plugin: {}",
    crate::brief::line(file),
    crate::brief::fold(reason)
)]
pub struct LoadError {
    pub file: String,
    pub product: String,
    pub reason: String,
}

impl Catalogue {
    /// Loads every product's plugin (compiling or reading the compile cache); any failure is an
    /// error. This is what `starsgate check` uses.
    pub fn load(bot: &BotConfig, host: &Arc<PluginHost>) -> Result<Self, LoadError> {
        let (catalogue, mut errors) = Self::load_lenient(bot, host);
        match errors.is_empty() {
            true => Ok(catalogue),
            false => Err(errors.remove(0)),
        }
    }

    /// Loads every product's plugin; a product whose plugin cannot be loaded gets one that
    /// refuses every checkout (fail closed), so the rest of the store keeps selling. The errors
    /// are returned for the caller to report.
    pub fn load_lenient(bot: &BotConfig, host: &Arc<PluginHost>) -> (Self, Vec<LoadError>) {
        let mut by_product = HashMap::new();
        let mut errors = Vec::new();
        for product in &bot.products {
            let plugin = match load_product(product, host) {
                Ok(p) => p,
                Err(reason) => {
                    let unavailable: Arc<dyn Plugin> = Arc::new(Unavailable(reason.clone()));
                    errors.push(LoadError {
                        file: bot.file.display().to_string(),
                        product: product.id.to_string(),
                        reason,
                    });
                    unavailable
                }
            };
            let breaker = Arc::new(Breaker::default());
            by_product.insert(product.id.clone(), Entry { plugin, breaker });
        }
        let catalogue = Self {
            by_product,
            host: Some(host.clone()),
        };
        (catalogue, errors)
    }

    /// The product's current plugin.
    pub fn get(&self, product: &ProductId) -> Option<Entry> {
        self.by_product.get(product).cloned()
    }

    /// The plugin version an order was sold with (`sha256`), if this gateway still has or can
    /// load it; otherwise the product's current plugin.
    pub fn pinned(&self, product: &ProductId, sha256: Option<&str>) -> Option<Entry> {
        let current = self.get(product);
        let Some(sha) = sha256 else { return current };
        if current.as_ref().and_then(|e| e.plugin.sha256()) == Some(sha) {
            return current;
        }
        let old = self.host.as_ref().and_then(|h| h.version(sha));
        match (old, current) {
            (Some(plugin), Some(entry)) => Some(Entry {
                plugin,
                breaker: entry.breaker,
            }),
            (Some(plugin), None) => Some(Entry {
                plugin,
                breaker: Arc::new(Breaker::default()),
            }),
            (None, current) => {
                tracing::warn!(product = %product, sha256 = sha, "The plugin version an order was sold with is gone; using the current one.");
                current
            }
        }
    }
}

fn load_product(product: &Product, host: &PluginHost) -> Result<Arc<dyn Plugin>, String> {
    let Some(plugin) = &product.plugin else {
        return Ok(Arc::new(StaticText::from_config(&product.config)?));
    };
    let loaded = match &plugin.source {
        PluginSource::File(path) => host.load_file(path)?,
        PluginSource::Bundled(name) => {
            let bytes = super::bundled::get(name)
                .ok_or_else(|| format!("there is no bundled plugin {name:?}"))?;
            host.load(bytes)
                .map_err(|e| format!("bundled:{name} {e}"))?
        }
    };
    match loaded.sha256() {
        Some(sha) if sha == plugin.sha256 => Ok(loaded),
        other => Err(format!(
            "the file changed since the configuration was read (sha256 {} instead of {})",
            other.unwrap_or("?"),
            plugin.sha256
        )),
    }
}

/// Stands in for a plugin that could not be loaded: every call fails, so checkouts are refused
/// with the generic message and nothing is sold that could not be delivered.
struct Unavailable(String);

impl Plugin for Unavailable {
    fn sha256(&self) -> Option<&str> {
        None
    }
    fn pre_checkout(&self, _: &CallContext, _: &OrderView) -> Call<Decision> {
        Call::free(Err(PluginError::Unavailable(self.0.clone())))
    }
    fn deliver(&self, _: &CallContext, _: &OrderView, _: &PaymentView) -> Call<Delivery> {
        Call::free(Err(PluginError::Unavailable(self.0.clone())))
    }
    fn refunded(&self, _: &CallContext, _: &OrderView, _: &PaymentView) -> Call<()> {
        Call::free(Err(PluginError::Unavailable(self.0.clone())))
    }
}
