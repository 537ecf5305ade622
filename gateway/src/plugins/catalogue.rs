//! The plugins of one bot, by product, each with its circuit breaker. An order records the hash
//! of the plugin version it was sold with; [`Catalogue::pinned`] finds that version again for its
//! pre-checkout and delivery even after the product's plugin was changed by a reload.

use std::collections::HashMap;
use std::sync::Arc;

use super::wasm::PluginHost;
use super::{
    Breaker, Call, CallContext, Decision, Delivery, OrderView, PaymentView, Plugin, PluginError,
};
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

impl Catalogue {
    /// The catalogue of a bot's products, each with its loaded plugin or why it could not be
    /// loaded. A product whose plugin is missing gets one that refuses every checkout (fail
    /// closed), so the rest of the store keeps selling.
    pub fn build(
        host: Option<Arc<PluginHost>>,
        products: impl IntoIterator<Item = (ProductId, Result<Arc<dyn Plugin>, String>)>,
    ) -> Self {
        let by_product = products
            .into_iter()
            .map(|(product, loaded)| {
                let plugin = loaded.unwrap_or_else(|reason| Arc::new(Unavailable(reason)));
                let breaker = Arc::new(Breaker::default());
                (product, Entry { plugin, breaker })
            })
            .collect();
        Self { by_product, host }
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
