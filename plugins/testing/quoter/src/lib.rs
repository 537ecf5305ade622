//! `quoter`: a contract 0.2.0 plugin whose `quote` does what its config says, for the gateway's
//! tests of the price hook. Never ship it.
//!
//! Config: `{ "quote": "<mode>" }`, where the mode is `keep`, `price:<n>` (quote n Stars,
//! labelled "Test price"), `refuse` (refuse with "Not for you today."), `trap` (panic), `loop`
//! (spin until the budget stops it) or `zero` (quote 0 Stars, an invalid price). Pre-checkout
//! approves; delivery is one text naming the amount paid.

use serde::Deserialize;
use starsgate_plugin::v0_2::prelude::*;

#[derive(Deserialize)]
struct Config {
    quote: String,
}

struct Quoter;

impl Plugin for Quoter {
    fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        Ok(Decision::Approve)
    }

    fn deliver(_ctx: &Context, order: &Order, payment: &Payment) -> Result<Delivery, Error> {
        Ok(Delivery::text(format!(
            "Sold at {} Stars, paid {}.",
            order.amount, payment.amount
        )))
    }

    fn quote(ctx: &Context, _order: &Order, _req: &QuoteRequest) -> Result<QuoteAnswer, Error> {
        let config: Config = ctx.config()?;
        match config.quote.as_str() {
            "keep" => Ok(QuoteAnswer::Keep),
            "refuse" => Ok(QuoteAnswer::refuse("Not for you today.")),
            "trap" => panic!("quote trapped on purpose"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "zero" => Ok(QuoteAnswer::price(0, "Free?")),
            other => match other.strip_prefix("price:").map(str::parse::<u32>) {
                Some(Ok(n)) => Ok(QuoteAnswer::price(n, "Test price")),
                _ => Err(Error::fatal(format!("unknown quote mode {other:?}"))),
            },
        }
    }
}

export_plugin_v0_2!(Quoter);
