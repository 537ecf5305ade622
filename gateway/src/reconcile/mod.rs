//! Reconciliation: the ledger against Telegram's own record (getStarTransactions).
//!
//! Telegram's list is the truth about money. Reading it from a stored watermark (it has no
//! cursor, only an offset, and no total), reconciliation repairs what the ledger missed:
//! - an incoming payment the ledger lacks (its `successful_payment` never arrived) is recorded
//!   exactly as a live one would be, checked against its order and delivered;
//! - a refund the ledger lacks (made elsewhere, or whose answer was lost) is recorded and the
//!   plugin's refund hook runs;
//! - an amount that disagrees is flagged for review;
//! - a paid media purchase gets its charge id and amount from its `paid_media_payment`
//!   transaction (its update carries neither), and one whose update never came is recorded;
//! - Stars returned to a buyer that none of our refunds explains (a chargeback, or a refund made
//!   elsewhere) are recorded and flagged for review.
//!
//! Every transaction is kept in the ledger once, classified by its partner ([`classify`]) with
//! its exact amount, for `stats` (gross sales, refunds, commissions, fees, net); a kind nobody
//! knows yet is kept raw and counted, never an error.
//!
//! It runs at start (resolving refunds left in an unknown state by a crash), every
//! `ledger.reconcile_every_secs`, and on demand with `starsgate reconcile`.

mod classify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use teloxide_core::requests::{JsonRequest, Payload, Request};
use tokio_util::sync::CancellationToken;

pub use classify::{Classified, classify};

use crate::domain::{ChargeId, StarAmount};
use crate::ledger::{
    ChargeLinked, EventKind, LedgerError, PaidMediaCharge, PaymentStatus, StarTransaction, Subject,
    TxClass, TxDirection,
};
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
    /// Outgoing transactions to buyers that none of our refunds explains, flagged for review.
    pub unexplained: Vec<String>,
    /// Paid media charges now linked to their purchase (or recorded, when its update never came).
    pub paid_media: Vec<String>,
    /// Transactions read for the first time, per class: how many and how many Stars.
    pub classes: BTreeMap<String, ClassSummary>,
    /// Transactions without an id (nothing could key them): counted, skipped.
    pub unreadable: u64,
}

/// Transactions of one class in a run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ClassSummary {
    pub count: u64,
    /// Exactly, as text (`12.5`): nanostars are never rounded through a float.
    pub stars: String,
    #[serde(skip)]
    nanos: i128,
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
    let mut offset = store.ledger().reconcile_offset(&store.id).await?;
    let mut report = Report::default();
    loop {
        let request = GetStarTransactionsRaw {
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            limit: PAGE,
        };
        let page = JsonRequest::new(store.api().clone(), request)
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
        store
            .ledger()
            .set_reconcile_offset(&store.id, offset)
            .await?;
        progress(report.scanned);
        if txs.len() < usize::from(PAGE) {
            break;
        }
    }
    if !report.recorded.is_empty()
        || !report.refunds.is_empty()
        || !report.mismatches.is_empty()
        || !report.unexplained.is_empty()
    {
        tracing::warn!(
            bot,
            recorded = report.recorded.len(),
            refunds = report.refunds.len(),
            mismatches = report.mismatches.len(),
            unexplained = report.unexplained.len(),
            "Reconciliation repaired the ledger."
        );
    }
    refresh_balance(store).await;
    Ok(report)
}

/// Reads the bot's Star balance into the ledger and the `starsgate_star_balance` gauge. A failure
/// is logged: the last known balance stays.
pub async fn refresh_balance(store: &Store) -> Option<StarAmount> {
    let bot = store.id.as_str();
    match crate::telegram::star_balance(store.api()).await {
        Ok(balance) => {
            metrics::gauge!("starsgate_star_balance", "bot" => store.metrics_label().to_owned())
                .set(balance.total_nanos() as f64 / StarAmount::NANO as f64);
            if let Err(e) = store.ledger().set_star_balance(&store.id, balance).await {
                tracing::warn!(bot, error = %e, "Could not store the bot's Star balance.");
            }
            Some(balance)
        }
        Err(e) => {
            tracing::warn!(bot, error = %e, "Could not read the bot's Star balance.");
            None
        }
    }
}

/// One transaction against the ledger: repaired where the ledger missed it, then kept.
async fn check(store: &Store, tx: &Value, report: &mut Report) -> Result<(), ReconcileError> {
    let bot = store.id.as_str();
    let Some(mut c) = classify(tx) else {
        report.unreadable += 1;
        return Ok(());
    };
    let mut flagged = None;
    match (c.direction, c.class) {
        (TxDirection::In, TxClass::InvoicePayment) => repair_payment(store, &c, report).await?,
        (TxDirection::In, TxClass::PaidMediaPayment) => link_paid_media(store, &c, report).await?,
        (TxDirection::Out, TxClass::Refund) => {
            // A refund carries the id of the payment it returns.
            // One that is not a charge id cannot name a payment of ours, nor a refund we asked for.
            let charge = ChargeId::parse(&c.id).ok();
            let payment = match &charge {
                Some(charge) => store.ledger().payment(&store.id, charge).await?,
                None => None,
            };
            if let (Some(p), Some(charge)) = (&payment, &charge)
                && p.status != PaymentStatus::Refunded
            {
                record_refund(store, &store.current(), charge, "reconciliation").await?;
                report.refunds.push(c.id.clone());
            }
            let requested = match &charge {
                Some(charge) => {
                    store
                        .ledger()
                        .was_refund_requested(&store.id, charge)
                        .await?
                }
                None => false,
            };
            if !requested {
                c.class = TxClass::UnexplainedOutgoing;
                flagged = Some(format!(
                    "{} Stars went back to buyer {} and no refund of ours explains it (a chargeback, or a refund made elsewhere)",
                    c.amount,
                    c.user_id.unwrap_or(0)
                ));
            }
        }
        _ => {}
    }
    let kept = StarTransaction {
        bot: bot.to_owned(),
        tx_id: c.id.clone(),
        direction: c.direction,
        class: c.class,
        amount: c.amount,
        commission: c.commission,
        user_id: c.user_id,
        flagged: flagged.clone(),
        date: c.date,
        raw: tx.to_string(),
    };
    if !store.ledger().record_star_transaction(kept).await? {
        return Ok(()); // read before (a watermark lost to a crash): counted then
    }
    let summary = report
        .classes
        .entry(c.class.as_str().to_owned())
        .or_default();
    summary.count += 1;
    summary.nanos += c.amount.total_nanos();
    summary.stars = StarAmount::from_nanos(summary.nanos).to_string();
    if let Some(reason) = flagged {
        let subject = Subject {
            charge_id: Some(&c.id),
            user_id: c.user_id,
            ..Default::default()
        };
        store
            .ledger()
            .record_event(&store.id, EventKind::PaymentFlagged, subject, &reason)
            .await?;
        tracing::warn!(bot, charge_id = %c.id, reason = %reason, "A transaction needs review.");
        report.unexplained.push(c.id.clone());
    }
    Ok(())
}

/// An incoming invoice payment: recorded if the ledger lacks it, flagged if its amount differs.
async fn repair_payment(
    store: &Store,
    c: &Classified,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let (id, amount) = (c.id.as_str(), c.amount.stars);
    let Ok(charge) = ChargeId::parse(id) else {
        return Ok(());
    };
    match store.ledger().payment(&store.id, &charge).await? {
        None => {
            let user_id = c.user_id.unwrap_or(0);
            let facts = PaidFacts {
                charge: &charge,
                payload: c.invoice_payload.as_deref().unwrap_or(""),
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
                .ledger()
                .record_event(&store.id, EventKind::PaymentFlagged, subject, &detail)
                .await?;
            match store
                .ledger()
                .set_status(&store.id, &charge, PaymentStatus::NeedsReview, &detail)
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
    Ok(())
}

/// A `paid_media_payment`: its charge id and amount linked to the buyer's purchase of that post.
async fn link_paid_media(
    store: &Store,
    c: &Classified,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let (Some(payload), Some(user_id), Ok(charge)) = (
        c.paid_media_payload.as_deref().filter(|p| !p.is_empty()),
        c.user_id,
        ChargeId::parse(&c.id),
    ) else {
        return Ok(()); // no payload (or no buyer): nothing of ours to link it to
    };
    let linked = store
        .ledger()
        .link_paid_media_charge(PaidMediaCharge {
            bot: store.id.to_string(),
            payload: payload.to_owned(),
            user_id,
            charge,
            amount: c.amount,
            date_ms: c.date.saturating_mul(1000),
        })
        .await?;
    if matches!(linked, ChargeLinked::Linked { .. } | ChargeLinked::Recorded) {
        report.paid_media.push(c.id.clone());
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
