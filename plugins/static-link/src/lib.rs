//! `static-link`: sells access to a fixed URL (a file, a course page, an invite link).
//!
//! Config:
//! ```json
//! { "url": "https://example.com/guide.pdf", "text": "Thanks for buying!", "label": "Download" }
//! ```
//! `url` is required and must be `https://`; `text` and `label` are optional. Every checkout is
//! approved while the config is valid; a missing or invalid URL is a non-retryable error at
//! both hooks, so a product that cannot be delivered is never sold.

use serde::Deserialize;
use starsgate_plugin::config_error;
use starsgate_plugin::limits::{TEXT_MAX_CHARS, check_url};
use starsgate_plugin::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

impl Config {
    fn load(ctx: &Context) -> Result<Self, Error> {
        let config: Config = ctx.config()?;
        check_url(&config.url).map_err(|e| config_error(format!("url: {}", e.message)))?;
        if let Some(text) = &config.text
            && (text.is_empty() || text.chars().count() > TEXT_MAX_CHARS)
        {
            return Err(config_error(format!(
                "text must be 1-{TEXT_MAX_CHARS} characters"
            )));
        }
        Ok(config)
    }
}

struct StaticLink;

impl Plugin for StaticLink {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        Config::load(ctx)?;
        Ok(Decision::Approve)
    }

    fn deliver(ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        let config = Config::load(ctx)?;
        let delivery = match config.text {
            Some(text) => Delivery::text(text),
            None => Delivery::new(),
        };
        Ok(delivery.link(config.url, config.label.unwrap_or_default()))
    }
}

export_plugin!(StaticLink);

#[cfg(test)]
mod tests {
    use super::*;
    use starsgate_plugin::testing::{context, order, payment};

    #[test]
    fn delivers_text_then_link() {
        let ctx = context(r#"{"url":"https://example.com/a","text":"Hi","label":"Open"}"#);
        let d = StaticLink::deliver(&ctx, &order(), &payment()).unwrap();
        assert_eq!(d.items.len(), 2);
        assert_eq!(d.validate(), Ok(()));
    }

    #[test]
    fn rejects_plain_http() {
        let ctx = context(r#"{"url":"http://example.com/a"}"#);
        let err = StaticLink::pre_checkout(&ctx, &order()).unwrap_err();
        assert!(!err.retryable);
        assert!(err.message.contains("https://"), "{}", err.message);
    }
}
