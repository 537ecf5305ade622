//! `access-role`: sells a membership (one-off or a Stars subscription) as a role with an
//! access token.
//!
//! Config:
//! ```json
//! { "role": "pro", "days": 30, "text": "Welcome to Pro!" }
//! ```
//! `role` (1-32 of `a-z 0-9 _ -`) and `days` (at least 1) are required; `text` is optional.
//! Delivery: the access token `<role>-<16 base-32 characters>` derived from the payment's seed
//! and the expiry: the subscription period's end (`payment.expires-at-unix`) when Telegram
//! gave one, else `paid-at + days`. On refund the plugin logs one `revoked role ...` line, which
//! the gateway records; the service that honours the token reads it from there.

use serde::Deserialize;
use starsgate_plugin::config_error;
use starsgate_plugin::prelude::*;

mod date;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    role: String,
    days: u32,
    #[serde(default)]
    text: Option<String>,
}

impl Config {
    fn load(ctx: &Context) -> Result<Self, Error> {
        let config: Config = ctx.config()?;
        let role_ok = (1..=32).contains(&config.role.len())
            && config
                .role
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !role_ok {
            return Err(config_error(
                "role must be 1-32 characters of a-z, 0-9, _ and -",
            ));
        }
        if config.days == 0 {
            return Err(config_error("days must be at least 1"));
        }
        if config.text.as_deref() == Some("") {
            return Err(config_error("text must not be empty"));
        }
        Ok(config)
    }
}

/// When access ends: the period Telegram reported for a subscription payment, otherwise
/// `days` after the payment.
fn expires_at(payment: &Payment, days: u32) -> i64 {
    payment.expires_at_unix.unwrap_or_else(|| {
        payment
            .paid_at_unix
            .saturating_add(i64::from(days) * 86_400)
    })
}

fn access_token(role: &str, seed: u64) -> String {
    format!("{role}-{}", Seed::new(seed).code(16))
}

struct AccessRole;

impl Plugin for AccessRole {
    fn pre_checkout(ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        Config::load(ctx)?;
        Ok(Decision::Approve)
    }

    fn deliver(ctx: &Context, _order: &Order, payment: &Payment) -> Result<Delivery, Error> {
        let config = Config::load(ctx)?;
        let until = date::format_utc(expires_at(payment, config.days));
        let access = format!(
            "Role: {}\nAccess token: {}\nValid until: {until}",
            config.role,
            access_token(&config.role, ctx.seed)
        );
        Ok(match config.text {
            Some(text) => Delivery::text(text).and_text(access),
            None => Delivery::text(access),
        })
    }

    fn refunded(ctx: &Context, order: &Order, payment: &Payment) -> Result<(), Error> {
        let config = Config::load(ctx)?;
        // Exactly one line, starting with "revoked ": the gateway's records (and its tests)
        // rely on it to see that access was withdrawn.
        log::info!(
            "revoked role {} for user {} (charge {})",
            config.role,
            order.buyer.user_id,
            payment.charge_id
        );
        Ok(())
    }
}

export_plugin!(AccessRole);

#[cfg(test)]
mod tests {
    use super::*;
    use starsgate_plugin::testing::{context, order, payment};

    const CONFIG: &str = r#"{"role":"pro","days":30}"#;

    #[test]
    fn expiry_prefers_the_subscription_period() {
        let mut p = payment();
        assert_eq!(expires_at(&p, 30), p.paid_at_unix + 30 * 86_400);
        p.expires_at_unix = Some(1_790_000_000);
        assert_eq!(expires_at(&p, 30), 1_790_000_000);
    }

    #[test]
    fn delivers_token_and_expiry() {
        let delivery = AccessRole::deliver(&context(CONFIG), &order(), &payment()).unwrap();
        let Item::Text(text) = &delivery.items[0] else {
            panic!("expected text")
        };
        assert!(text.contains(&access_token("pro", 1)), "{text}");
        // 1_780_000_000 + 30 days = 1_782_592_000 = 2026-06-27 20:26:40 UTC
        assert!(text.contains("Valid until: 2026-06-27 20:26 UTC"), "{text}");
        assert_eq!(access_token("pro", 1).len(), "pro-".len() + 16);
    }

    #[test]
    fn refund_succeeds() {
        assert_eq!(
            AccessRole::refunded(&context(CONFIG), &order(), &payment()),
            Ok(())
        );
    }
}
