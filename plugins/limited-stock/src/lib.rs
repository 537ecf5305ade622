//! `limited-stock`: sells a fixed number of units (a limited edition, seats at an event).
//!
//! Config:
//! ```json
//! { "stock": 3, "text": "Your seat is reserved.", "url": "https://example.com/event" }
//! ```
//! `stock` and `text` are required, `url` (https) is optional. Once `stock` units are sold
//! (paid, not refunded), checkouts are declined before the buyer pays. The count comes from
//! the ledger facts, so the plugin keeps no state of its own.

use serde::Deserialize;
use starsgate_plugin::config_error;
use starsgate_plugin::limits::{TEXT_MAX_CHARS, check_url};
use starsgate_plugin::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    stock: u32,
    text: String,
    #[serde(default)]
    url: Option<String>,
}

impl Config {
    fn load(ctx: &Context) -> Result<Self, Error> {
        let config: Config = ctx.config()?;
        if config.text.is_empty() || config.text.chars().count() > TEXT_MAX_CHARS {
            return Err(config_error(format!(
                "text must be 1-{TEXT_MAX_CHARS} characters"
            )));
        }
        if let Some(url) = &config.url {
            check_url(url).map_err(|e| config_error(format!("url: {}", e.message)))?;
        }
        Ok(config)
    }
}

struct LimitedStock;

impl Plugin for LimitedStock {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        let config = Config::load(ctx)?;
        if ctx.facts.units_sold >= config.stock {
            return Ok(Decision::reject(format!(
                "Sold out: all {} units are gone. You have not been charged.",
                config.stock
            )));
        }
        Ok(Decision::Approve)
    }

    fn deliver(ctx: &Context, order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        let config = Config::load(ctx)?;
        // Facts count the payments before this one. Two buyers can pass pre-checkout for the
        // last unit at once; the money is taken by then, so deliver and leave a trace.
        let unit = u64::from(ctx.facts.units_sold) + 1;
        if unit > u64::from(config.stock) {
            log::warn!(
                "oversold: unit {unit} of {} for order {}",
                config.stock,
                order.order_id
            );
        }
        let delivery =
            Delivery::text(config.text).and_text(format!("Unit {unit} of {}", config.stock));
        Ok(match config.url {
            Some(url) => delivery.link(url, ""),
            None => delivery,
        })
    }
}

export_plugin!(LimitedStock);

#[cfg(test)]
mod tests {
    use super::*;
    use starsgate_plugin::testing::{context, order, payment};

    const CONFIG: &str = r#"{"stock":3,"text":"Seat reserved","url":"https://example.com/e"}"#;

    #[test]
    fn sells_until_stock_is_gone() {
        let mut ctx = context(CONFIG);
        ctx.facts.units_sold = 2;
        assert_eq!(
            LimitedStock::pre_checkout(&ctx, &order()),
            Ok(Decision::Approve)
        );
        ctx.facts.units_sold = 3;
        let decision = LimitedStock::pre_checkout(&ctx, &order()).unwrap();
        assert_eq!(
            decision,
            Decision::Reject("Sold out: all 3 units are gone. You have not been charged.".into())
        );
    }

    #[test]
    fn delivers_unit_number_and_link() {
        let mut ctx = context(CONFIG);
        ctx.facts.units_sold = 1;
        let delivery = LimitedStock::deliver(&ctx, &order(), &payment()).unwrap();
        assert_eq!(delivery.items.len(), 3);
        assert_eq!(delivery.items[1], Item::Text("Unit 2 of 3".into()));
        assert_eq!(delivery.validate(), Ok(()));
    }
}
