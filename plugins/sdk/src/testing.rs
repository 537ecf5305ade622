//! Call inputs for unit tests on the host (`cargo test`), with the same defaults as fixtures:
//! empty facts, seed 1. Fixtures run through `starsgate plugin test` remain the real check,
//! because they run the built component in the gateway's sandbox.

use crate::{Buyer, Context, Facts, Order, Payment};

/// A context with `config` (JSON), zero facts and seed 1.
pub fn context(config: &str) -> Context {
    Context {
        config: config.to_owned(),
        now_unix: 1_780_000_000,
        seed: 1,
        api_version: "0.1.0".to_owned(),
        facts: Facts {
            buyer_purchases: 0,
            units_sold: 0,
        },
    }
}

/// An order of 50 Stars by user 5001.
pub fn order() -> Order {
    Order {
        order_id: "ord-1".to_owned(),
        bot_id: "bot".to_owned(),
        product_id: "product".to_owned(),
        amount: 50,
        currency: "XTR".to_owned(),
        buyer: Buyer {
            user_id: 5001,
            language_code: None,
        },
    }
}

/// A first (non-renewal) payment of 50 Stars made at the context's default time.
pub fn payment() -> Payment {
    Payment {
        charge_id: "stx-1".to_owned(),
        paid_at_unix: 1_780_000_000,
        amount: 50,
        is_renewal: false,
        expires_at_unix: None,
    }
}
