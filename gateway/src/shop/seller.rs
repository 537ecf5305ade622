//! Telling the seller: when a paid order is held for review or its delivery fails, the bot's
//! `admins` get a Telegram message with the charge id and the reason, so "the seller has been
//! told" is true. One message per payment (a retried failure, a repeated update or a second path
//! to the same hold does not repeat it) and at most [`PER_MINUTE`] a minute per bot, so a plugin
//! that fails every delivery cannot flood the seller's chat or the bot's Telegram quota; what is
//! held back is still in the ledger and the logs.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use teloxide_core::types::ChatId;

use super::Store;
use super::reply::say;

/// Alerts a bot may send its admins per minute.
pub const PER_MINUTE: usize = 10;
/// Payments remembered as alerted; the set is cleared when it is full.
const REMEMBERED: usize = 10_000;

/// What happened to the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Recorded but held: `needs_review`.
    HeldForReview,
    /// Could not be delivered and was refunded automatically.
    Refunded,
    /// The content is kept but the buyer cannot be reached: `delivery_failed`.
    DeliveryFailed,
}

impl Alert {
    fn headline(self) -> &'static str {
        match self {
            Alert::HeldForReview => "A paid order is held for your review",
            Alert::Refunded => "A paid order could not be delivered and was refunded",
            Alert::DeliveryFailed => "A paid order could not be delivered",
        }
    }
}

/// Which payments were alerted and when the last alerts went out.
#[derive(Default)]
pub struct SellerAlerts {
    inner: Mutex<State>,
}

#[derive(Default)]
struct State {
    alerted: HashSet<String>,
    recent: VecDeque<Instant>,
}

impl SellerAlerts {
    /// Whether an alert for `charge_id` may go out now; records it if so.
    fn admit(&self, charge_id: &str, now: Instant) -> Admit {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if s.alerted.contains(charge_id) {
            return Admit::Duplicate;
        }
        while s
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            s.recent.pop_front();
        }
        if s.recent.len() >= PER_MINUTE {
            return Admit::RateLimited;
        }
        if s.alerted.len() >= REMEMBERED {
            s.alerted.clear();
        }
        s.alerted.insert(charge_id.to_owned());
        s.recent.push_back(now);
        Admit::Send
    }
}

enum Admit {
    Send,
    Duplicate,
    RateLimited,
}

/// Tells every admin of the bot about `charge_id`, once. Failures to send are logged, never
/// returned: the payment's state is already in the ledger.
pub async fn tell_admins(store: &Store, charge_id: &str, alert: Alert, reason: &str) {
    let bot = store.id.as_str();
    let admins = store.current().config.admins.clone();
    if admins.is_empty() {
        return;
    }
    match store.alerts.admit(charge_id, Instant::now()) {
        Admit::Send => {}
        Admit::Duplicate => return,
        Admit::RateLimited => {
            tracing::warn!(
                bot,
                charge_id,
                ?alert,
                "Too many seller alerts this minute; this one is only logged."
            );
            return;
        }
    }
    let text = format!(
        "{}.\nCharge: {charge_id}\nReason: {}\nRefund it with /refund {charge_id}",
        alert.headline(),
        crate::brief::line(reason)
    );
    for admin in admins {
        if let Err(e) = say(store, ChatId(admin), &text).await {
            tracing::warn!(bot, charge_id, admin, error = %e, "Could not tell an admin about a held order.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_payment_and_at_most_ten_a_minute() {
        let alerts = SellerAlerts::default();
        let t0 = Instant::now();
        assert!(matches!(alerts.admit("a", t0), Admit::Send));
        assert!(matches!(alerts.admit("a", t0), Admit::Duplicate));
        for i in 1..PER_MINUTE {
            assert!(matches!(alerts.admit(&format!("c{i}"), t0), Admit::Send));
        }
        assert!(matches!(alerts.admit("late", t0), Admit::RateLimited));
        let later = t0 + Duration::from_secs(61);
        assert!(matches!(alerts.admit("late", later), Admit::Send));
    }
}
