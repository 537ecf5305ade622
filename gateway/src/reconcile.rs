//! Reconciliation: the ledger against Telegram's own record (getStarTransactions).
//!
//! Telegram's list is the truth about money. Reading it from a stored watermark (it has no
//! cursor, only an offset, and no total), reconciliation repairs what the ledger missed:
//! - an incoming payment the ledger lacks (its `successful_payment` never arrived) is recorded
//!   exactly as a live one would be, checked against its order and delivered;
//! - a refund the ledger lacks (made elsewhere, or whose answer was lost) is recorded and the
//!   plugin's refund hook runs;
//! - an amount that disagrees is flagged for review.
//!
//! It runs at start (resolving refunds left in an unknown state by a crash), every
//! `ledger.reconcile_every_secs`, and on demand with `starsgate reconcile`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use teloxide_core::requests::{JsonRequest, Payload, Request};
use tokio_util::sync::CancellationToken;

use crate::domain::ChargeId;
use crate::ledger::{EventKind, LedgerError, PaymentStatus, Subject};
use crate::shop::{PaidFacts, ShopError, Store, record_refund, settle};

/// Transactions per getStarTransactions page (Telegram's maximum).
const PAGE: u8 = 100;

#[derive(Debug, Clone, Serialize)]
struct GetStarTransactionsRaw {
    offset: u32,
    limit: u8,
}

/// Raw JSON: teloxide's typed StarTransaction fails on transaction kinds newer than it knows.
impl Payload for GetStarTransactionsRaw {
    type Output = Value;
    const NAME: &'static str = "GetStarTransactions";
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub scanned: u64,
    /// Payments Telegram has that the ledger lacked, now recorded.
    pub recorded: Vec<String>,
    /// Refunds Telegram has that the ledger lacked, now recorded.
    pub refunds: Vec<String>,
    /// Payments whose amount disagrees with Telegram's, flagged for review.
    pub mismatches: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("getStarTransactions failed: {0}")]
    Telegram(String),
    #[error("getStarTransactions answered something unexpected: {0}")]
    Shape(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Shop(#[from] ShopError),
}

/// Reads every transaction after the watermark and repairs the ledger. `progress` is told the
/// number of transactions read so far.
pub async fn reconcile(
    store: &Store,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report, ReconcileError> {
    let bot = store.id.as_str();
    let mut offset = store.ledger.reconcile_offset(bot).await?;
    let mut report = Report::default();
    loop {
        let request = GetStarTransactionsRaw {
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            limit: PAGE,
        };
        let page = JsonRequest::new(store.clients.api.clone(), request)
            .send()
            .await
            .map_err(|e| ReconcileError::Telegram(crate::telegram::describe(&e)))?;
        let txs = page
            .get("transactions")
            .and_then(Value::as_array)
            .ok_or_else(|| ReconcileError::Shape("no transactions array".into()))?;
        for tx in txs {
            check(store, tx, &mut report).await?;
        }
        offset += txs.len() as i64;
        report.scanned += txs.len() as u64;
        store.ledger.set_reconcile_offset(bot, offset).await?;
        progress(report.scanned);
        if txs.len() < usize::from(PAGE) {
            break;
        }
    }
    if !report.recorded.is_empty() || !report.refunds.is_empty() || !report.mismatches.is_empty() {
        tracing::warn!(
            bot,
            recorded = report.recorded.len(),
            refunds = report.refunds.len(),
            mismatches = report.mismatches.len(),
            "Reconciliation repaired the ledger."
        );
    }
    Ok(report)
}

/// One transaction against the ledger.
async fn check(store: &Store, tx: &Value, report: &mut Report) -> Result<(), ReconcileError> {
    let bot = store.id.as_str();
    let (Some(id), Some(amount)) = (
        tx.get("id").and_then(Value::as_str),
        tx.get("amount").and_then(Value::as_i64),
    ) else {
        return Ok(()); // not a shape we can act on; nothing to repair
    };
    let Ok(charge) = ChargeId::parse(id) else {
        return Ok(());
    };
    let partner = |key: &str| {
        tx.get(key)
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("user"))
    };
    if let Some(source) = partner("source") {
        if source.get("transaction_type").and_then(Value::as_str) != Some("invoice_payment") {
            return Ok(()); // paid media, gifts…: not sold through this gateway's invoices
        }
        match store.ledger.payment(bot, id).await? {
            None => {
                let user_id = source
                    .pointer("/user/id")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let payload = source
                    .get("invoice_payload")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let facts = PaidFacts {
                    charge: &charge,
                    payload,
                    amount,
                    currency: crate::domain::XTR,
                    user_id,
                    chat_id: user_id,
                    provider_charge_id: None,
                    update_id: None,
                    // getStarTransactions does not say; a renewal found here extends nothing
                    // until its own successful_payment arrives.
                    is_renewal: false,
                    expires_at: None,
                };
                settle(store, &store.current(), &facts).await?;
                report.recorded.push(id.to_owned());
            }
            Some(p) if p.amount != amount => {
                let detail = format!("Telegram says {amount} XTR, the ledger {} XTR", p.amount);
                let subject = Subject {
                    charge_id: Some(id),
                    user_id: Some(p.user_id),
                    ..Default::default()
                };
                store
                    .ledger
                    .record_event(bot, EventKind::PaymentFlagged, subject, &detail)
                    .await?;
                match store
                    .ledger
                    .set_status(bot, id, PaymentStatus::NeedsReview, &detail)
                    .await
                {
                    Ok(_) => {
                        let alert = crate::shop::Alert::HeldForReview;
                        crate::shop::tell_admins(store, id, alert, &detail).await;
                    }
                    Err(LedgerError::Transition { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                report.mismatches.push(id.to_owned());
            }
            Some(_) => {}
        }
    } else if partner("receiver").is_some() {
        // A refund carries the id of the payment it returns.
        if let Some(p) = store.ledger.payment(bot, id).await?
            && p.status != PaymentStatus::Refunded
        {
            record_refund(store, &store.current(), id, "reconciliation").await?;
            report.refunds.push(id.to_owned());
        }
    }
    Ok(())
}

/// Reconciles once the bot is connected, then every `every`, until `stop`.
pub async fn every(store: Arc<Store>, every: Duration, stop: CancellationToken) {
    let bot = store.id.to_string();
    // A token Telegram refuses would only be refused again.
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = store.until_ready() => {}
    }
    loop {
        if let Err(e) = reconcile(&store, &|_| {}).await {
            tracing::warn!(bot, error = %e, "Reconciliation failed; will try again.");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
