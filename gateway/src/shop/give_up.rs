//! What happens to a paid order that cannot be delivered, per the bot's `on_delivery_failure`:
//! held for the seller (`needs_review`) or refunded automatically. Used by the outbox when
//! retries run out and by delivery preparation when the plugin keeps failing. The bot's admins
//! are told either way (see `seller`).

use teloxide_core::types::ChatId;

use super::{Alert, Store, refund, reply::say, tell_admins};
use crate::config::OnDeliveryFailure;
use crate::domain::ChargeId;
use crate::i18n::Msg;
use crate::ledger::{LedgerError, PaymentStatus};

pub async fn give_up(
    store: &Store,
    charge: &ChargeId,
    chat_id: i64,
    reason: &str,
) -> Result<(), LedgerError> {
    let bot = store.id.as_str();
    let charge_id = charge.as_str();
    let policy = store.current().config.on_delivery_failure;
    store
        .ledger
        .delivery_given_up(&store.id, charge, reason, PaymentStatus::NeedsReview)
        .await?;
    let (notice, alert) = match policy {
        OnDeliveryFailure::Review => {
            tracing::error!(
                bot,
                charge_id,
                reason,
                "A paid order cannot be delivered; it is held for review."
            );
            (Msg::DeliveryHeld, Alert::HeldForReview)
        }
        OnDeliveryFailure::Refund => {
            match refund(store, charge, &format!("automatic: {reason}")).await {
                Ok(_) => {
                    tracing::warn!(
                        bot,
                        charge_id,
                        reason,
                        "A paid order could not be delivered and was refunded."
                    );
                    (Msg::DeliveryRefunded, Alert::Refunded)
                }
                Err(e) => {
                    tracing::error!(bot, charge_id, error = %e, "An automatic refund failed; the order is held for review.");
                    (Msg::DeliveryHeld, Alert::HeldForReview)
                }
            }
        }
    };
    tell_admins(store, charge_id, alert, reason).await;
    // The buyer's language is not known here: the bot's default texts.
    let notice = store.current().config.texts(None).msg(notice);
    if let Err(e) = say(store, ChatId(chat_id), &notice).await {
        tracing::warn!(bot, charge_id, error = %e, "Could not tell the buyer about a failed delivery.");
    }
    Ok(())
}
