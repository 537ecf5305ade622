//! A gift-card plugin: a starting point for your own.
//!
//! Config (the product's `[product.config]` in the bot file):
//! ```toml
//! [product.config]
//! brand = "Coffee Club"   # shown on the card
//! max_per_buyer = 2       # optional, default 2
//! ```
//! Pre-checkout turns a buyer away once they hold `max_per_buyer` cards, before they pay.
//! Delivery is a card code derived from the payment's secret seed, so a retried delivery gives
//! the same code and a fixture with a fixed seed gives a fixed code.

use serde::Deserialize;
use starsgate_plugin::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    brand: String,
    #[serde(default = "two")]
    max_per_buyer: u32,
}

fn two() -> u32 {
    2
}

impl Config {
    /// Parses and checks the config. A bad config is a non-retryable error: the gateway
    /// declines the checkout instead of selling something it cannot deliver.
    fn load(ctx: &Context) -> Result<Self, Error> {
        let config: Config = ctx.config()?;
        if config.brand.trim().is_empty() || config.brand.chars().count() > 100 {
            return Err(starsgate_plugin::config_error(
                "brand must be 1-100 characters",
            ));
        }
        Ok(config)
    }
}

/// `GIFT-XXXX-XXXX-XXXX`: twelve characters from the seed, without look-alikes such as 0/O.
fn card_code(seed: u64) -> String {
    format!("GIFT-{}", Seed::new(seed).grouped_code(3, 4))
}

struct GiftCard;

impl Plugin for GiftCard {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        let config = Config::load(ctx)?;
        // Facts come from the gateway's ledger: paid, not refunded purchases of this product.
        if ctx.facts.buyer_purchases >= config.max_per_buyer {
            return Ok(Decision::reject(format!(
                "You can hold at most {} {} gift cards.",
                config.max_per_buyer, config.brand
            )));
        }
        Ok(Decision::Approve)
    }

    fn deliver(ctx: &Context, order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        let config = Config::load(ctx)?;
        log::info!("gift card for order {}", order.order_id); // never log the code itself
        Ok(Delivery::text(format!(
            "Your {} gift card ({} Stars)",
            config.brand, order.amount
        ))
        .and_text(card_code(ctx.seed)))
    }
}

export_plugin!(GiftCard);

#[cfg(test)]
mod tests {
    use super::*;
    use starsgate_plugin::testing::{context, order, payment};

    #[test]
    fn same_seed_same_code() {
        assert_eq!(card_code(9), card_code(9));
        assert_ne!(card_code(9), card_code(10));
        assert_eq!(card_code(9).len(), "GIFT-".len() + 14);
    }

    #[test]
    fn third_card_is_rejected() {
        let mut ctx = context(r#"{"brand":"Coffee Club"}"#);
        ctx.facts.buyer_purchases = 2;
        let decision = GiftCard::pre_checkout(&ctx, &order()).unwrap();
        assert!(matches!(decision, Decision::Reject(m) if m.contains("at most 2")));
    }

    #[test]
    fn delivery_is_valid() {
        let ctx = context(r#"{"brand":"Coffee Club"}"#);
        let delivery = GiftCard::deliver(&ctx, &order(), &payment()).unwrap();
        assert_eq!(delivery.validate(), Ok(()));
    }
}
