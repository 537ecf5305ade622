//! The `quote` hook of plugin contract 0.2.0: a plugin may price an order when the buyer asks for
//! an invoice. Its answer is checked here before anything is sold at it: a price outside
//! Telegram's limits, an empty label or an unprintable refusal is the plugin's fault and refuses
//! the invoice (never an invoice at a price nobody decided).

use serde::{Deserialize, Serialize};

use super::validate_reject_message;
use crate::domain::Stars;

/// Longest price label accepted (Telegram shows it on the invoice).
pub const MAX_LABEL_CHARS: usize = 64;

/// A promo code the gateway accepted for the order, and the price it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoView {
    pub code: String,
    pub price: u32,
}

/// What a plugin is asked to price (besides the context and the order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuoteRequest {
    pub list_price: u32,
    pub subscription: bool,
    pub promo: Option<PromoView>,
}

impl Default for QuoteRequest {
    fn default() -> Self {
        Self {
            list_price: 50,
            subscription: false,
            promo: None,
        }
    }
}

/// A plugin's price for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quote {
    /// No opinion: the list price (or the promo code's price) applies.
    Keep,
    Price {
        amount: u32,
        label: String,
    },
    /// Not for sale to this buyer now; the text is shown to them.
    Refuse(String),
}

/// Checks a quote against Telegram's limits for this kind of product.
pub fn validate_quote(q: &Quote, subscription: bool) -> Result<(), String> {
    match q {
        Quote::Keep => Ok(()),
        Quote::Price { amount, label } => {
            Stars::parse(i64::from(*amount), subscription).map_err(|e| e.0)?;
            let n = label.chars().count();
            if label.trim().is_empty() || n > MAX_LABEL_CHARS {
                return Err(format!(
                    "a price label must be 1-{MAX_LABEL_CHARS} characters, got {n}"
                ));
            }
            if label.chars().any(char::is_control) {
                return Err("a price label contains control characters".into());
            }
            Ok(())
        }
        Quote::Refuse(msg) => validate_reject_message(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_outside_telegrams_limits_is_refused() {
        let price = |amount, label: &str| Quote::Price {
            amount,
            label: label.into(),
        };
        assert!(validate_quote(&price(1, "Launch"), false).is_ok());
        assert!(validate_quote(&price(25_000, "Launch"), false).is_ok());
        assert!(validate_quote(&price(0, "Launch"), false).is_err());
        assert!(validate_quote(&price(25_001, "Launch"), false).is_err());
        assert!(validate_quote(&price(10_001, "Launch"), true).is_err());
        assert!(validate_quote(&price(5, " "), false).is_err());
        assert!(validate_quote(&Quote::Refuse(String::new()), false).is_err());
        assert!(validate_quote(&Quote::Keep, true).is_ok());
    }
}
