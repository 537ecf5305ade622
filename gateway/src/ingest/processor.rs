//! Processing stored updates for one bot. Ordinary updates are handled one at a time in
//! update_id order; pre-checkout queries each get their own task so the 10-second answer never
//! waits behind a slow reply or a plugin generating a delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::Backoff;
use crate::ledger::StoredUpdate;
use crate::shop::{PreCheckoutReply, ShopError, Store, prepare_delivery};

/// Resumes unfinished work after a restart: updates stored but not processed, then payments
/// recorded but without prepared content. Call before polling starts, so nothing is handled twice.
pub async fn recover(store: &Arc<Store>) {
    let bot = store.id.to_string();
    let mut resumed = 0usize;
    loop {
        let batch = match store.ledger.pending_updates(&bot, 100).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(bot, error = %e, "Cannot read pending updates; retrying.");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            break;
        }
        for update in batch {
            handle_one(store, &update).await;
            resumed += 1;
        }
    }
    let awaiting = store
        .ledger
        .payments_awaiting_content(&bot)
        .await
        .unwrap_or_default();
    let current = store.current();
    for payment in &awaiting {
        if let Err(e) = prepare_delivery(store, &current, payment).await {
            tracing::error!(bot, charge_id = %payment.charge_id, error = %e, "Cannot prepare a recovered delivery.");
        }
    }
    if resumed > 0 || !awaiting.is_empty() {
        tracing::info!(
            bot,
            updates = resumed,
            deliveries = awaiting.len(),
            "Resumed unfinished work after a restart."
        );
    }
}

/// Handles updates from the poller (or webhook) until the sender side closes, then waits for
/// in-flight pre-checkout answers.
pub async fn process(store: Arc<Store>, mut from_ingest: mpsc::Receiver<StoredUpdate>) {
    let mut fast = JoinSet::new();
    while let Some(update) = from_ingest.recv().await {
        if update.kind == "pre_checkout_query" {
            let store = store.clone();
            fast.spawn(async move { handle_one(&store, &update).await });
        } else {
            handle_one(&store, &update).await;
        }
        while fast.try_join_next().is_some() {}
    }
    while fast.join_next().await.is_some() {}
}

/// Handles one update and marks it processed. A ledger failure leaves it unprocessed and retries
/// (nothing else can make progress without the ledger); a Telegram failure to reply is recorded
/// as the update's outcome, because retrying a chat reply forever would block the chat.
async fn handle_one(store: &Store, update: &StoredUpdate) {
    let span = tracing::info_span!("update", bot = %store.id, update_id = update.update_id, kind = %update.kind);
    handle_in_span(store, update).instrument(span).await
}

async fn handle_in_span(store: &Store, update: &StoredUpdate) {
    let bot = store.id.as_str();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        let outcome = match store.handle(update).await {
            Ok(outcome) => outcome,
            Err(ShopError::Ledger(e)) => {
                tracing::error!(bot, update_id = update.update_id, error = %e, "The ledger failed while handling an update; retrying.");
                tokio::time::sleep(backoff.step()).await;
                continue;
            }
            Err(e @ ShopError::Telegram { .. }) => {
                tracing::warn!(bot, update_id = update.update_id, error = %e, "Could not answer an update.");
                format!("failed: {e}")
            }
        };
        return mark_processed(store, update, &outcome, backoff).await;
    }
}

/// Marks an update processed with its outcome, retrying while the ledger fails.
async fn mark_processed(store: &Store, update: &StoredUpdate, outcome: &str, mut backoff: Backoff) {
    let bot = store.id.as_str();
    tracing::debug!(
        bot,
        update_id = update.update_id,
        outcome,
        "Processed an update."
    );
    while let Err(e) = store
        .ledger
        .mark_processed(bot, update.update_id, outcome)
        .await
    {
        tracing::error!(bot, update_id = update.update_id, error = %e, "Cannot mark an update processed; retrying.");
        tokio::time::sleep(backoff.step()).await;
    }
}

fn update_span(store: &Store, update: &StoredUpdate) -> tracing::Span {
    tracing::info_span!("update", bot = %store.id, update_id = update.update_id, kind = %update.kind)
}

/// Webhook mode's pre-checkout path, step one: the decision, made while the query is being
/// stored (it has no effect until the reply goes out, which waits for both). `None` when the
/// query cannot be answered this way (unreadable, or past the deadline).
pub async fn decide_reply(store: &Arc<Store>, update: &StoredUpdate) -> Option<PreCheckoutReply> {
    store
        .pre_checkout_reply(update)
        .instrument(update_span(store, update))
        .await
}

/// Step two, once the query is stored: returns the answer for the 2xx reply to the webhook call
/// that brought it, recording the decision and marking the update processed on a task of its
/// own. A query Telegram delivers again (`fresh` false) is answered again, since Telegram
/// repeats it only when our reply did not reach it, but recorded once. Without a decision a
/// fresh query is handled as any other update.
pub fn answer_in_reply(
    store: &Arc<Store>,
    update: StoredUpdate,
    fresh: bool,
    reply: Option<PreCheckoutReply>,
) -> Option<serde_json::Value> {
    let span = update_span(store, &update);
    let store = store.clone();
    let Some(PreCheckoutReply { method, record }) = reply else {
        if fresh {
            tokio::spawn(async move { handle_one(&store, &update).await });
        }
        return None;
    };
    if !fresh {
        span.in_scope(|| tracing::info!("Answered a pre-checkout query Telegram delivered again."));
        return Some(method);
    }
    let finish = async move {
        let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        let outcome = match record.await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "Answered a pre-checkout query but could not record the decision.");
                format!("answered in the webhook reply; not recorded: {e}")
            }
        };
        mark_processed(&store, &update, &outcome, backoff).await
    };
    tokio::spawn(finish.instrument(span));
    Some(method)
}

/// Handles one stored update and marks it processed (for webhook mode's inbox loop).
pub(super) async fn handle_update(store: &Store, update: &StoredUpdate) {
    handle_one(store, update).await
}
