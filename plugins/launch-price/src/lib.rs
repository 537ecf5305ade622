//! `launch-price`: the first units of a product sell at a launch price, each to a buyer's first
//! purchase of it (plugin contract 0.2.0, the `quote` hook).
//!
//! Config:
//! ```json
//! { "launch_price": 10, "launch_units": 100, "text": "Thanks for buying early!",
//!   "document": "https://example.com/guide.pdf" }
//! ```
//! `launch_price` (1-25000 Stars), `launch_units` and `text` are required; `url` (an https link)
//! and `document` (a file sent as a document: an https URL or a Telegram file id) are optional. While fewer than `launch_units` units are sold (paid, not refunded), a buyer who has
//! not bought the product before is quoted `launch_price`, labelled "Launch price"; everyone
//! else pays the list price. A promo code that already gives a lower price is kept. The counts
//! come from the ledger facts, so the plugin keeps no state of its own.

use serde::Deserialize;
use starsgate_plugin::limits::{TEXT_MAX_CHARS, check_url};
use starsgate_plugin::v0_2::config_error;
use starsgate_plugin::v0_2::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    launch_price: u32,
    launch_units: u32,
    text: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    document: Option<String>,
}

impl Config {
    fn load(ctx: &Context) -> Result<Self, Error> {
        let config: Config = ctx.config()?;
        if !(1..=25_000).contains(&config.launch_price) {
            return Err(config_error("launch_price must be 1-25000 Stars"));
        }
        if config.text.is_empty() || config.text.chars().count() > TEXT_MAX_CHARS {
            return Err(config_error(format!(
                "text must be 1-{TEXT_MAX_CHARS} characters"
            )));
        }
        if let Some(url) = &config.url {
            check_url(url).map_err(|e| config_error(format!("url: {}", e.message)))?;
        }
        if let Some(file) = &config.document
            && file.contains("://")
        {
            check_url(file).map_err(|e| config_error(format!("document: {}", e.message)))?;
        }
        Ok(config)
    }
}

struct LaunchPrice;

impl Plugin for LaunchPrice {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        Config::load(ctx)?;
        Ok(Decision::Approve)
    }

    fn deliver(ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        let config = Config::load(ctx)?;
        let mut delivery = Delivery::text(config.text);
        if let Some(url) = config.url {
            delivery = delivery.link(url, "");
        }
        if let Some(file) = config.document {
            delivery = delivery.document(file, "");
        }
        Ok(delivery)
    }

    fn quote(ctx: &Context, order: &Order, _req: &QuoteRequest) -> Result<QuoteAnswer, Error> {
        let config = Config::load(ctx)?;
        let launching = ctx.facts.units_sold < config.launch_units;
        let first = ctx.facts.buyer_purchases == 0;
        if launching && first && config.launch_price < order.amount {
            log::info(&format!(
                "launch price for unit {} of {}",
                ctx.facts.units_sold + 1,
                config.launch_units
            ));
            return Ok(QuoteAnswer::price(config.launch_price, "Launch price"));
        }
        Ok(QuoteAnswer::Keep)
    }
}

export_plugin_v0_2!(LaunchPrice);

#[cfg(test)]
mod tests {
    use super::*;
    use starsgate_plugin::v0_2::testing::{context, order, quote_request};

    const CONFIG: &str = r#"{"launch_price":10,"launch_units":2,"text":"Early bird"}"#;

    #[test]
    fn the_first_units_sell_at_the_launch_price_to_first_time_buyers() {
        let mut ctx = context(CONFIG);
        let quote = |ctx: &Context| LaunchPrice::quote(ctx, &order(), &quote_request()).unwrap();
        assert_eq!(quote(&ctx), QuoteAnswer::price(10, "Launch price"));
        ctx.facts.buyer_purchases = 1;
        assert_eq!(quote(&ctx), QuoteAnswer::Keep, "not a first purchase");
        ctx.facts.buyer_purchases = 0;
        ctx.facts.units_sold = 2;
        assert_eq!(quote(&ctx), QuoteAnswer::Keep, "the launch is over");
    }

    #[test]
    fn a_lower_promo_price_is_kept() {
        let ctx = context(CONFIG);
        let mut cheap = order();
        cheap.amount = 8;
        assert_eq!(
            LaunchPrice::quote(&ctx, &cheap, &quote_request()).unwrap(),
            QuoteAnswer::Keep
        );
    }
}
