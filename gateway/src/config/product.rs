//! `[[product]]` in a bot file → [`Product`]s, with their plugin files. Problems of a product's
//! fields go to `problem` (the bot is then dropped); a plugin file that is missing or not the
//! pinned one goes to `plugin_problem` instead, because `run` keeps such a product (refusing its
//! checkouts) rather than take the whole store down.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::raw::RawProduct;
use super::{PluginRef, PluginSource, Product, ProductTexts};
use crate::brief;
use crate::domain::{Description, ProductId, Stars, Title};

/// The reason given for a `<lang>` key that is not a language code.
pub(super) const LANGUAGE_KEY: &str = "must be a language: the two or three lower-case letters Telegram's language_code starts with (e.g. ru, pt)";

/// Every product of one bot, in file order; product ids are unique within a bot.
pub(super) fn products(
    config_dir: &Path,
    raw: &[RawProduct],
    problem: &mut impl FnMut(&str, String),
    plugin_problem: &mut impl FnMut(&str, String),
) -> Vec<Product> {
    let mut seen = HashSet::new();
    let mut products = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        if let Some(product) = product(config_dir, i, p, problem, plugin_problem) {
            if !seen.insert(product.id.clone()) {
                problem(
                    &format!("product[{i}].id"),
                    format!("duplicate product id {:?} in this bot", product.id.as_str()),
                );
            }
            products.push(product);
        }
    }
    if raw.is_empty() {
        problem("product", "a store needs at least one [[product]]".into());
    }
    products
}

/// The `i`th product; `None` when one of its required fields is wrong.
fn product(
    config_dir: &Path,
    i: usize,
    p: &RawProduct,
    problem: &mut impl FnMut(&str, String),
    plugin_problem: &mut impl FnMut(&str, String),
) -> Option<Product> {
    let key = |k: &str| format!("product[{i}].{k}");
    let id = ProductId::parse(&p.id)
        .map_err(|e| problem(&key("id"), e.0))
        .ok();
    let title = Title::parse(&p.title)
        .map_err(|e| problem(&key("title"), e.0))
        .ok();
    let description = Description::parse(&p.description)
        .map_err(|e| problem(&key("description"), e.0))
        .ok();
    let price = Stars::parse(p.price, p.subscription)
        .map_err(|e| problem(&key("price"), e.0))
        .ok();
    let config = plugin_config(p, &key, problem);
    let plugin = plugin(config_dir, p, &config, &key, problem, plugin_problem);
    let i18n = i18n(p, &key, problem);
    Some(Product {
        i18n,
        id: id?,
        title: title?,
        description: description?,
        price: price?,
        subscription: p.subscription,
        on_sale: p.on_sale,
        plugin,
        config,
    })
}

/// `[product.config]` (an empty object when absent), small enough to hand to every plugin call.
fn plugin_config(
    p: &RawProduct,
    key: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(&str, String),
) -> serde_json::Value {
    let config = p
        .config
        .clone()
        .unwrap_or(serde_json::Value::Object(Default::default()));
    if serde_json::to_vec(&config).map_or(0, |v| v.len()) > 16 * 1024 {
        problem(
            &key("config"),
            "is larger than 16 KiB; plugins get it on every call".into(),
        );
    }
    config
}

/// The product's plugin, or `None` for the built-in delivery, whose items are read here as the
/// running gateway will read them.
fn plugin(
    config_dir: &Path,
    p: &RawProduct,
    config: &serde_json::Value,
    key: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(&str, String),
    plugin_problem: &mut impl FnMut(&str, String),
) -> Option<PluginRef> {
    match &p.plugin {
        None => {
            if p.plugin_sha256.is_some() {
                problem(&key("plugin_sha256"), "is set but plugin is not".into());
            }
            if let Err(reason) = crate::plugins::StaticText::from_config(config) {
                problem(&key("config"), reason);
            }
            None
        }
        Some(rel) => Some(check_plugin_file(
            config_dir,
            rel,
            p.plugin_sha256.as_deref(),
            key,
            plugin_problem,
        )),
    }
}

/// `[product.i18n.<lang>]`: the title and description in other languages, checked as the
/// defaults are.
fn i18n(
    p: &RawProduct,
    key: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(&str, String),
) -> BTreeMap<String, ProductTexts> {
    let mut i18n = BTreeMap::new();
    for (lang, t) in &p.i18n {
        let at = |k: &str| key(&format!("i18n.{lang}.{k}"));
        if !crate::i18n::is_language(lang) {
            problem(&key(&format!("i18n.{lang}")), LANGUAGE_KEY.into());
            continue;
        }
        let title = t
            .title
            .as_deref()
            .and_then(|v| Title::parse(v).map_err(|e| problem(&at("title"), e.0)).ok());
        let description = t.description.as_deref().and_then(|v| {
            Description::parse(v)
                .map_err(|e| problem(&at("description"), e.0))
                .ok()
        });
        i18n.insert(lang.clone(), ProductTexts { title, description });
    }
    i18n
}

/// Reads a product's plugin (a file relative to the configuration directory, or a bundled one)
/// and checks it against its pin. A plugin that cannot be used is reported and kept with the
/// reason: `run` then serves the product with a plugin that refuses every checkout.
fn check_plugin_file(
    config_dir: &Path,
    rel: &str,
    pinned: Option<&str>,
    key: &dyn Fn(&str) -> String,
    problem: &mut impl FnMut(&str, String),
) -> PluginRef {
    let mut unusable = |source: PluginSource, k: &str, reason: String| {
        problem(&key(k), reason.clone());
        PluginRef {
            source,
            sha256: pinned.unwrap_or_default().to_owned(),
            unusable: Some(reason),
        }
    };
    let (source, bytes) = if let Some(name) = rel.strip_prefix("bundled:") {
        let source = PluginSource::Bundled(name.to_owned());
        match crate::plugins::bundled::get(name) {
            Some(b) => (source, b.to_vec()),
            None => {
                let names = crate::plugins::bundled::names().join(", ");
                let reason = format!(
                    "there is no bundled plugin {} (bundled: {names})",
                    brief::value(name)
                );
                return unusable(source, "plugin", reason);
            }
        }
    } else {
        let path = config_dir.join(rel);
        let limit = crate::plugins::wasm::limits::COMPONENT_BYTES as u64;
        match crate::files::read(&path, limit) {
            Ok(b) => (PluginSource::File(path), b),
            Err(e) => {
                let reason = format!("{}: {e}", brief::value(rel));
                return unusable(PluginSource::File(path), "plugin", reason);
            }
        }
    };
    let path = brief::value(rel);
    let actual = hex::encode(Sha256::digest(&bytes));
    if let Some(pinned) = pinned
        && !pinned.eq_ignore_ascii_case(&actual)
    {
        let reason = format!(
            "{path} has sha256 {actual}, not the pinned {}",
            brief::value(pinned)
        );
        return unusable(source, "plugin_sha256", reason);
    }
    PluginRef {
        source,
        sha256: actual,
        unusable: None,
    }
}
