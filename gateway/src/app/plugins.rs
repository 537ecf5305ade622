//! Loading a bot's plugins as its configuration names them. This lives with the application,
//! which reads configuration and assembles stores, so that `plugins` (which runs plugins) never
//! reads configuration and `config` (which validates against what plugins support) never runs
//! them: neither imports the other's consumer.

use std::sync::Arc;

use crate::config::{BotConfig, PluginSource, Product};
use crate::plugins::wasm::PluginHost;
use crate::plugins::{
    CallContext, Catalogue, Decision, Facts, OrderView, Plugin, PluginError, QuoteRequest,
    StaticText, bundled, validate_quote, validate_reject_message,
};

/// A product whose plugin could not be loaded, or failed the check call: `file: key: reason`,
/// like every configuration problem, with the product's key (`product[2].plugin`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {key}: {}", crate::brief::line(file), crate::brief::fold(reason))]
pub struct LoadError {
    pub file: String,
    pub key: String,
    pub reason: String,
}

/// Loads every product's plugin (compiling or reading the compile cache) and calls each one's
/// pre-checkout once with the product's real config (see [`probe`]); every failure is returned.
/// This is what `starsgate check` and a reload use.
pub fn load(bot: &BotConfig, host: &Arc<PluginHost>) -> Result<Catalogue, Vec<LoadError>> {
    let (catalogue, mut errors) = load_lenient(bot, host);
    if errors.is_empty() {
        errors = probe(bot, &catalogue);
    }
    match errors.is_empty() {
        true => Ok(catalogue),
        false => Err(errors),
    }
}

/// One pre-checkout per product, as a buyer's would be: the product's real `[product.config]`,
/// its price, now, no purchases yet, a buyer without a language; and for a plugin that prices
/// orders (contract 0.2), one `quote` likewise, without a promo code. A plugin that cannot parse
/// its config, traps, loops or answers with an invalid message would refuse every buyer, so that
/// is a problem of the product's key; a rejection is a valid answer (the product may be sold
/// out).
pub fn probe(bot: &BotConfig, catalogue: &Catalogue) -> Vec<LoadError> {
    let mut errors = Vec::new();
    for (i, product) in bot.products.iter().enumerate() {
        let Some(entry) = catalogue.get(&product.id) else {
            continue;
        };
        let ctx = CallContext {
            config: product.config.to_string(),
            now_unix: chrono::Utc::now().timestamp(),
            seed: 1,
            facts: Facts::default(),
        };
        let order = OrderView {
            order_id: "checkorder0000000000".into(),
            bot_id: bot.id.to_string(),
            product_id: product.id.to_string(),
            amount: product.price.get(),
            currency: "XTR".into(),
            user_id: 1,
            language_code: None,
        };
        let call = entry.plugin.pre_checkout(&ctx, &order);
        let failure = match call.result {
            Ok(Decision::Approve) => None,
            Ok(Decision::Reject(msg)) => validate_reject_message(&msg)
                .err()
                .map(|e| ("plugin", PluginError::InvalidOutput(e))),
            Err(e) => Some(failure_key(e)),
        };
        let mut report = |hook: &str, (key, e): (&str, PluginError), logs: &[String]| {
            let mut reason = format!("{hook} with this product's config: {e}");
            if let Some(last) = logs.last() {
                reason.push_str(&format!(" (last log line: {last})"));
            }
            errors.push(LoadError {
                file: bot.file.display().to_string(),
                key: format!("product[{i}].{key}"),
                reason,
            });
        };
        if let Some(failure) = failure {
            report("pre-checkout", failure, &call.logs);
            continue;
        }
        if entry.plugin.quotes() {
            let request = QuoteRequest {
                list_price: product.price.get(),
                subscription: product.subscription,
                promo: None,
            };
            let call = entry.plugin.quote(&ctx, &order, &request);
            let failure = match call.result {
                Ok(q) => validate_quote(&q, product.subscription)
                    .err()
                    .map(|e| ("plugin", PluginError::InvalidOutput(e))),
                Err(e) => Some(failure_key(e)),
            };
            if let Some(failure) = failure {
                report("quote", failure, &call.logs);
            }
        }
    }
    errors
}

/// A plugin's own error is usually its config's fault; anything else is the plugin's.
fn failure_key(e: PluginError) -> (&'static str, PluginError) {
    match e {
        e @ PluginError::Failed { .. } => ("config", e),
        e => ("plugin", e),
    }
}

/// Loads every product's plugin; a product whose plugin cannot be loaded refuses every checkout
/// (see [`Catalogue::build`]) and its error is returned for the caller to report.
pub fn load_lenient(bot: &BotConfig, host: &Arc<PluginHost>) -> (Catalogue, Vec<LoadError>) {
    let mut errors = Vec::new();
    let products: Vec<_> = bot
        .products
        .iter()
        .enumerate()
        .map(|(i, product)| {
            let loaded = load_product(product, host);
            if let Err(reason) = &loaded {
                errors.push(LoadError {
                    file: bot.file.display().to_string(),
                    key: format!("product[{i}].plugin"),
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
    if let Some(reason) = &plugin.unusable {
        return Err(reason.clone());
    }
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
