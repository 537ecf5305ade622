//! How memberships end, or nearly do. Telegram reports a buyer's cancel or re-enable and a failed
//! renewal in the Bot API 10.2 `subscription` update (read by ingest, see
//! `telegram::incoming`); the expiry sweep ends every membership whose paid period plus the
//! bot's grace period has passed without a renewal, and runs the plugin's revoke hook once.

use std::sync::Arc;
use std::time::Duration;

use teloxide_core::types::ChatId;
use tokio_util::sync::CancellationToken;

use super::{Current, ShopError, Store, memberships::title, refund, reply::say};
use crate::ledger::report::rfc3339;
use crate::ledger::{EventKind, LedgerError, SubscriptionState};
use crate::telegram::incoming::SubscriptionChanged;

/// How often the lease holder looks for lapsed memberships (and at once when the clock moves).
pub const EXPIRY_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Applies a stored `subscription` update. Unknown states and memberships this bot never sold
/// are recorded as ignored: a future Bot API must not be able to stop a chat.
pub(super) async fn on_subscription_update(
    store: &Store,
    current: &Current,
    changed: &SubscriptionChanged,
) -> Result<String, ShopError> {
    let bot = store.id.as_str();
    let user = changed.user.id;
    let Some(sub) = store
        .ledger
        .subscription_by_payload(&store.id, user, &changed.invoice_payload)
        .await?
    else {
        return Ok("ignored: not a membership sold by this bot".into());
    };
    let (state, why) = match changed.state.as_str() {
        "canceled" => (
            SubscriptionState::Cancelled,
            "the buyer stopped the renewal in Telegram",
        ),
        "active" => (
            SubscriptionState::Active,
            "the buyer turned the renewal back on in Telegram",
        ),
        "failed" => (SubscriptionState::Failed, "a renewal payment failed"),
        other => {
            let other = crate::brief::value(other);
            return Ok(format!("ignored: unknown subscription state {other}"));
        }
    };
    let moved = store
        .ledger
        .set_subscription_state(&store.id, user, &sub.product, state, why)
        .await?;
    if !moved {
        return Ok(format!("subscription already {}", sub.state));
    }
    tracing::info!(bot, user, product = %sub.product, state = %state, "A membership changed at Telegram.");
    if state == SubscriptionState::Failed {
        let grace = current.config.subscription_grace.as_millis() as i64;
        let until = readable(sub.expires_at.saturating_add(grace));
        let texts = current.config.texts(changed.user.language_code.as_deref());
        let name = title(current, &texts, &sub.product);
        let text = texts.fill(
            crate::i18n::Msg::RenewalFailed,
            &[
                ("title", name.as_str()),
                ("until", until.as_str()),
                ("product", sub.product.as_str()),
            ],
        );
        say(store, ChatId(user), &text).await?;
    }
    Ok(format!("subscription {state}"))
}

/// Expires the memberships of this bot that lapsed (paid period + grace passed without a
/// renewal), runs the plugin's revoke hook for each once, and tells the buyer.
pub async fn expire_lapsed(store: &Store) -> Result<usize, LedgerError> {
    let bot = store.id.as_str();
    let current = store.current();
    let grace = current.config.subscription_grace.as_millis() as i64;
    let expired = store
        .ledger
        .expire_due(&store.id, store.clock.now_ms(), grace)
        .await?;
    for sub in &expired {
        tracing::info!(bot, user = sub.user_id, product = %sub.product, charge_id = %sub.last_charge_id, "A membership lapsed; revoking its access.");
        metrics::counter!("starsgate_subscriptions_expired_total", "bot" => store.metrics_label.clone())
            .increment(1);
        match store.ledger.payment(&store.id, &sub.last_charge_id).await? {
            Some(payment) => {
                refund::run_revoke_hook(store, &current, &payment, EventKind::ExpiryHook).await
            }
            None => {
                tracing::warn!(bot, charge_id = %sub.last_charge_id, "A lapsed membership's latest charge is not in the ledger.")
            }
        }
        // The buyer's language is not known here: the bot's default texts.
        let texts = current.config.texts(None);
        let name = title(&current, &texts, &sub.product);
        let text = texts.fill(
            crate::i18n::Msg::MembershipLapsed,
            &[("title", name.as_str()), ("product", sub.product.as_str())],
        );
        if let Err(e) = say(store, ChatId(sub.user_id), &text).await {
            tracing::warn!(bot, user = sub.user_id, error = %e, "Could not tell a buyer their membership ended.");
        }
    }
    Ok(expired.len())
}

/// Runs [`expire_lapsed`] at start, whenever the gateway's watch finds this bot has memberships
/// past their paid period (it looks every [`EXPIRY_SWEEP_EVERY`] for all bots at once), and
/// whenever the membership clock is moved, until `stop`. A bot without lapsing memberships has
/// no timer of its own.
pub async fn sweep(store: Arc<Store>, stop: CancellationToken) {
    let mut moved = store.clock.watch();
    loop {
        if let Err(e) = expire_lapsed(&store).await {
            tracing::warn!(bot = %store.id, error = %e, "Cannot sweep lapsed memberships; trying again later.");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = moved.changed() => {}
            _ = store.lapse_due.notified() => {}
        }
    }
}

/// `2026-12-26 08:03:00 UTC`: a time as a buyer reads it.
pub(super) fn readable(ms: i64) -> String {
    rfc3339(ms).replace('T', " ").replace('Z', " UTC")
}
