//! The one refund path (guarantee 6), used by `starsgate refund`, the admin chat command and the
//! `refunded_payment` message. Telegram's `CHARGE_ALREADY_REFUNDED` means the money is back with
//! the buyer, which is what we wanted: success. A refund is recorded once, and the plugin's refund
//! hook runs for the call that recorded it.

use std::fmt;

use teloxide_core::prelude::*;
use teloxide_core::requests::Request;
use teloxide_core::types::{RefundedPayment, TelegramTransactionId, UserId};

use super::{Current, ShopError, Store};
use crate::domain::ChargeId;
use crate::ledger::{EventKind, LedgerError, Payment, PaymentStatus, Subject};
use crate::telegram::is_already_refunded;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded,
    AlreadyRefunded,
}

impl fmt::Display for RefundOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefundOutcome::Refunded => "Refunded: the Stars are back with the buyer.",
            RefundOutcome::AlreadyRefunded => "Already refunded; nothing more to do.",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no payment with charge id {0} in this bot's ledger")]
    UnknownCharge(String),
    #[error(
        "Telegram did not confirm the refund ({0}); run `starsgate reconcile` to learn its outcome"
    )]
    Telegram(String),
    #[error(
        "the bot's Star balance ({balance}) cannot cover a refund of {amount} Stars; nothing was refunded"
    )]
    BalanceTooLow { balance: String, amount: i64 },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

pub async fn refund(
    store: &Store,
    charge: &ChargeId,
    source: &str,
) -> Result<RefundOutcome, RefundError> {
    let bot = store.id.as_str();
    let charge_id = charge.as_str();
    let payment = store
        .ledger
        .payment(&store.id, charge)
        .await?
        .ok_or_else(|| RefundError::UnknownCharge(charge_id.to_owned()))?;
    if payment.status == PaymentStatus::Refunded {
        return Ok(RefundOutcome::AlreadyRefunded);
    }
    // Refused up front rather than by Telegram's error. A balance that cannot be read does not
    // stop the refund: Telegram decides then.
    match crate::telegram::star_balance(&store.clients.api).await {
        Ok(balance) if balance.stars < payment.amount => {
            return Err(RefundError::BalanceTooLow {
                balance: balance.to_string(),
                amount: payment.amount,
            });
        }
        Ok(balance) => {
            let _ = store.ledger.set_star_balance(&store.id, balance).await;
        }
        Err(e) => {
            tracing::warn!(bot, charge_id, error = %e, "Could not read the Star balance before a refund; asking Telegram anyway.");
        }
    }
    // Written before asking, so the outgoing transaction is explained even after a crash.
    store
        .ledger
        .refund_requested(&store.id, charge, source)
        .await?;
    let call = store
        .clients
        .api
        .refund_star_payment(
            UserId(payment.user_id as u64),
            TelegramTransactionId(charge_id.to_owned()),
        )
        .await;
    let outcome = match call {
        Ok(_) => RefundOutcome::Refunded,
        Err(e) if is_already_refunded(&e) => RefundOutcome::AlreadyRefunded,
        Err(e) => return Err(RefundError::Telegram(crate::telegram::describe(&e))),
    };
    if store
        .ledger
        .record_refund(&store.id, charge, source)
        .await?
    {
        refund_recorded(store, &store.current(), &payment).await?;
    }
    metrics::counter!("starsgate_refunds_total", "bot" => store.metrics_label.clone()).increment(1);
    tracing::info!(bot, charge_id, source, "Refunded a payment.");
    Ok(outcome)
}

pub(super) async fn on_refunded_payment(
    store: &Store,
    current: &Current,
    r: &RefundedPayment,
) -> Result<String, ShopError> {
    let charge = ChargeId::parse(&r.telegram_payment_charge_id.0).map_err(|why| {
        ShopError::Ledger(LedgerError::Unreadable {
            column: "charge_id",
            why,
        })
    })?;
    Ok(record_refund(store, current, &charge, "refunded_payment from Telegram").await?)
}

/// Records a refund Telegram reports (a `refunded_payment` message, or reconciliation) and runs
/// the plugin's refund hook if this is the first time the ledger hears of it.
pub async fn record_refund(
    store: &Store,
    current: &Current,
    charge: &ChargeId,
    source: &str,
) -> Result<String, LedgerError> {
    let bot = store.id.as_str();
    let charge_id = charge.as_str();
    if !store
        .ledger
        .record_refund(&store.id, charge, source)
        .await?
    {
        return Ok("refund repeat: already recorded".into());
    }
    match store.ledger.payment(&store.id, charge).await? {
        Some(payment) => refund_recorded(store, current, &payment).await?,
        None => tracing::warn!(
            bot,
            charge_id,
            "Telegram refunded a payment this ledger never recorded."
        ),
    }
    Ok("refund recorded".into())
}

/// What follows a refund the first time the ledger records it: the plugin's revoke hook runs,
/// and a membership whose latest charge this was ends now (its renewal is stopped at Telegram
/// too, so the buyer is not charged again for access they no longer have).
async fn refund_recorded(
    store: &Store,
    current: &Current,
    payment: &Payment,
) -> Result<(), LedgerError> {
    run_revoke_hook(store, current, payment, EventKind::RefundHook).await;
    let bot = store.id.as_str();
    if let Some(sub) = store
        .ledger
        .subscription_refunded(&store.id, &payment.charge_id)
        .await?
        && sub.state != crate::ledger::SubscriptionState::Cancelled
    {
        let request = store.clients.api.edit_user_star_subscription(
            UserId(payment.user_id as u64),
            TelegramTransactionId(payment.charge_id.to_string()),
            true,
        );
        if let Err(e) = crate::telegram::with_retry(|| request.send_ref()).await {
            tracing::warn!(bot, charge_id = %payment.charge_id, error = %crate::telegram::describe(&e), "Could not stop the renewal of a refunded membership.");
        }
    }
    Ok(())
}

/// Runs the plugin's revoke hook (`refunded` in the 0.1 contract) for a payment whose access
/// ends, once, and records how it went (with the plugin's log lines) in the payment's history.
/// `kind` says why: a refund, or a membership that lapsed.
pub(super) async fn run_revoke_hook(
    store: &Store,
    current: &Current,
    payment: &Payment,
    kind: EventKind,
) {
    let product = payment
        .product
        .as_ref()
        .and_then(|id| current.config.product(id).cloned());
    let Some(product) = product else { return };
    let Some(entry) = current
        .plugins
        .pinned(&product.id, payment.plugin_sha256.as_deref())
    else {
        return;
    };
    let (ctx, order, view) = match super::plugin_input::for_payment(store, &product, payment).await
    {
        Ok(input) => input,
        Err(e) => {
            tracing::warn!(bot = %store.id, charge_id = %payment.charge_id, error = %e, "Cannot prepare the revoke hook.");
            return;
        }
    };
    let call = store.runner.refunded(entry.plugin, ctx, order, view).await;
    super::plugin_input::trace_call(store, product.id.as_str(), "refunded", &call);
    let detail = match &call.result {
        Ok(()) => format!("ok; plugin log: {}", call.logs.join(" | ")),
        Err(e) => format!("failed: {e}"),
    };
    let subject = Subject {
        charge_id: Some(&payment.charge_id),
        user_id: Some(payment.user_id),
        ..Default::default()
    };
    if let Err(e) = store
        .ledger
        .record_event(&store.id, kind, subject, &detail)
        .await
    {
        tracing::warn!(bot = %store.id, charge_id = %payment.charge_id, error = %e, "Cannot record the revoke hook.");
    }
}
