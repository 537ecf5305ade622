//! Sending a held delivery again, on the seller's word (the dashboard's review queue and
//! `POST /admin/deliver-again`): a payment in `delivery_failed` or `needs_review` whose content
//! was stored gets that same content sent once more, and becomes `delivered` with an event in
//! the history. Nothing is generated anew (guarantee 2: one content per charge). Asking again
//! for a delivered payment changes nothing, so the call is idempotent.

use std::fmt;

use teloxide_core::types::ChatId;

use super::render;
use crate::domain::ChargeId;
use crate::ledger::{LedgerError, PaymentStatus};
use crate::shop::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgainOutcome {
    Sent,
    AlreadyDelivered,
}

impl fmt::Display for AgainOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgainOutcome::Sent => "Sent again: the buyer has the stored delivery.",
            AgainOutcome::AlreadyDelivered => "Already delivered; nothing more to do.",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgainError {
    #[error("no payment with charge id {0} in this bot's ledger")]
    UnknownCharge(String),
    #[error("payment {0} was refunded; it is not delivered any more")]
    Refunded(String),
    #[error("payment {0} is still on its way to the buyer; the outbox keeps trying")]
    InProgress(String),
    #[error(
        "payment {0} has no stored delivery (its plugin never produced one); refund it instead"
    )]
    NoContent(String),
    #[error("Telegram did not accept the message: {0}")]
    Telegram(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Sends the stored delivery of `charge_id` again; `by` says who asked (for the log).
pub async fn deliver_again(
    store: &Store,
    charge: &ChargeId,
    by: &str,
) -> Result<AgainOutcome, AgainError> {
    let bot = store.id.as_str();
    let charge_id = charge.as_str();
    let ledger = &store.ledger();
    let payment = ledger
        .payment(&store.id, charge)
        .await?
        .ok_or_else(|| AgainError::UnknownCharge(charge_id.to_owned()))?;
    match payment.status {
        PaymentStatus::Delivered => return Ok(AgainOutcome::AlreadyDelivered),
        PaymentStatus::Refunded => return Err(AgainError::Refunded(charge_id.to_owned())),
        PaymentStatus::Paid => return Err(AgainError::InProgress(charge_id.to_owned())),
        PaymentStatus::DeliveryFailed | PaymentStatus::NeedsReview => {}
    }
    let content = ledger
        .delivery_content(&store.id, charge)
        .await?
        .ok_or_else(|| AgainError::NoContent(charge_id.to_owned()))?;
    // The buyer's language is not stored with the delivery: the bot's default texts.
    let header = store
        .current()
        .config
        .texts(None)
        .msg(crate::i18n::Msg::DeliveryHeader);
    // Every part again: the operator asked for the whole delivery.
    for part in render(&header, &content) {
        if let Err(e) = super::part::send(store.api(), ChatId(payment.chat_id), &part).await {
            let why = crate::telegram::describe(&e);
            tracing::warn!(bot, charge_id, by, error = %why, "Sending a held delivery again failed.");
            return Err(AgainError::Telegram(why));
        }
    }
    ledger.mark_delivered(&store.id, charge).await?;
    tracing::info!(bot, charge_id, by, "Sent a held delivery again.");
    Ok(AgainOutcome::Sent)
}
