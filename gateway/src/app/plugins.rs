//! Loading a bot's plugins as its configuration names them. This lives with the application,
//! which reads configuration and assembles stores, so that `plugins` (which runs plugins) never
//! reads configuration and `config` (which validates against what plugins support) never runs
//! them: neither imports the other's consumer.

use std::sync::Arc;

use crate::config::{BotConfig, PluginSource, Product};
use crate::plugins::wasm::PluginHost;
use crate::plugins::{Catalogue, Plugin, StaticText, bundled};

/// A product whose plugin could not be loaded.
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

/// Loads every product's plugin (compiling or reading the compile cache); any failure is an
/// error. This is what `starsgate check` and a reload use.
pub fn load(bot: &BotConfig, host: &Arc<PluginHost>) -> Result<Catalogue, LoadError> {
    let (catalogue, mut errors) = load_lenient(bot, host);
    match errors.is_empty() {
        true => Ok(catalogue),
        false => Err(errors.remove(0)),
    }
}

/// Loads every product's plugin; a product whose plugin cannot be loaded refuses every checkout
/// (see [`Catalogue::build`]) and its error is returned for the caller to report.
pub fn load_lenient(bot: &BotConfig, host: &Arc<PluginHost>) -> (Catalogue, Vec<LoadError>) {
    let mut errors = Vec::new();
    let products: Vec<_> = bot
        .products
        .iter()
        .map(|product| {
            let loaded = load_product(product, host);
            if let Err(reason) = &loaded {
                errors.push(LoadError {
                    file: bot.file.display().to_string(),
                    product: product.id.to_string(),
                    reason: reason.clone(),
                });
            }
            (product.id.clone(), loaded)
        })
        .collect();
    (Catalogue::build(Some(host.clone()), products), errors)
}

fn load_product(product: &Product, host: &PluginHost) -> Result<Arc<dyn Plugin>, String> {
    let Some(plugin) = &product.plugin else {
        return Ok(Arc::new(StaticText::from_config(&product.config)?));
    };
    let loaded = match &plugin.source {
        PluginSource::File(path) => host.load_file(path)?,
        PluginSource::Bundled(name) => {
            let bytes =
                bundled::get(name).ok_or_else(|| format!("there is no bundled plugin {name:?}"))?;
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
