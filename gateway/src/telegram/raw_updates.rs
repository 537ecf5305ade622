//! getUpdates returning each update as raw JSON. teloxide's typed `Update` drops what it cannot
//! parse into an opaque value and re-serialises the rest; the ledger stores what Telegram sent,
//! byte for byte in meaning, so an update this version does not understand is kept, not lost.

use std::time::Duration;

use serde::Serialize;
use teloxide_core::requests::Payload;

/// The update kinds a store needs. Telegram discards updates of kinds not listed when they are
/// created, so `pre_checkout_query` missing here would make every checkout time out.
/// `subscription` (Bot API 10.2: a buyer cancelled, re-enabled, or a renewal failed) has no
/// teloxide type, which is why both getUpdates and setWebhook are sent as raw payloads here.
/// `purchased_paid_media` reports a buyer unlocking one of the bot's paid media posts.
pub const ALLOWED_UPDATES: &[&str] = &[
    "message",
    "callback_query",
    "pre_checkout_query",
    "subscription",
    "purchased_paid_media",
];

#[derive(Debug, Clone, Serialize)]
pub struct GetUpdatesRaw {
    pub offset: i64,
    pub limit: u8,
    pub timeout: u32,
    pub allowed_updates: Vec<&'static str>,
}

impl Payload for GetUpdatesRaw {
    type Output = Vec<serde_json::Value>;
    const NAME: &'static str = "GetUpdates";

    fn timeout_hint(&self) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(self.timeout)))
    }
}

/// The `kind` label of `starsgate_updates_total`: one of the kinds the gateway asks Telegram for
/// ([`ALLOWED_UPDATES`]) or `Other`. Never a key an update body chose, so one client holding the
/// webhook secret cannot add series to the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindLabel {
    Message,
    CallbackQuery,
    PreCheckoutQuery,
    Subscription,
    PurchasedPaidMedia,
    Other,
}

impl KindLabel {
    pub fn of(kind: &str) -> Self {
        match kind {
            "message" => Self::Message,
            "callback_query" => Self::CallbackQuery,
            "pre_checkout_query" => Self::PreCheckoutQuery,
            "subscription" => Self::Subscription,
            "purchased_paid_media" => Self::PurchasedPaidMedia,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::CallbackQuery => "callback_query",
            Self::PreCheckoutQuery => "pre_checkout_query",
            Self::Subscription => "subscription",
            Self::PurchasedPaidMedia => "purchased_paid_media",
            Self::Other => "other",
        }
    }
}

/// The kind of an update: its one field besides `update_id` (`message`, `pre_checkout_query`…).
pub fn update_kind(update: &serde_json::Value) -> String {
    update
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id").cloned())
        .unwrap_or_else(|| "unknown".into())
}

/// setWebhook with `allowed_updates` as plain strings: teloxide's `AllowedUpdate` cannot name
/// `subscription`. Sent as JSON (no certificate upload), never with `drop_pending_updates`.
#[derive(Debug, Clone, Serialize)]
pub struct SetWebhookRaw {
    pub url: String,
    pub secret_token: String,
    pub max_connections: u8,
    pub allowed_updates: Vec<&'static str>,
}

impl Payload for SetWebhookRaw {
    type Output = bool;
    const NAME: &'static str = "SetWebhook";
}

#[cfg(test)]
mod tests {
    use super::{ALLOWED_UPDATES, KindLabel};

    #[test]
    fn every_kind_asked_for_has_its_own_label_and_anything_else_is_other() {
        for kind in ALLOWED_UPDATES {
            assert_eq!(KindLabel::of(kind).as_str(), *kind);
        }
        for kind in ["", "UPDATE_ID", "k000000", "unknown", "edited_message"] {
            assert_eq!(KindLabel::of(kind), KindLabel::Other);
        }
    }
}
