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
use crate::shop::{ShopError, Store, prepare_delivery};

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
        tracing::debug!(
            bot,
            update_id = update.update_id,
            outcome,
            "Processed an update."
        );
        match store
            .ledger
            .mark_processed(bot, update.update_id, &outcome)
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(bot, update_id = update.update_id, error = %e, "Cannot mark an update processed; retrying.");
                tokio::time::sleep(backoff.step()).await;
            }
        }
    }
}

/// Handles one stored update (public for the webhook listener's pre-checkout fast path).
pub async fn handle_update(store: &Store, update: &StoredUpdate) {
    handle_one(store, update).await
}

/// Most updates read from the inbox at a time.
const INBOX_BATCH: i64 = 100;

/// In webhook mode the inbox is the queue: any gateway may have stored an update, and the one
/// that runs the bot processes them in order. Pre-checkout queries are answered by the gateway
/// that received them; one still unanswered here after Telegram's deadline is marked expired.
pub async fn inbox_loop(
    store: Arc<Store>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio_util::sync::CancellationToken,
) {
    let bot = store.id.to_string();
    loop {
        let batch = match store.ledger.pending_updates(&bot, INBOX_BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(bot, error = %e, "Cannot read the inbox; retrying.");
                Vec::new()
            }
        };
        let mut progressed = false;
        for update in &batch {
            if update.kind == "pre_checkout_query" {
                let age = crate::ledger::now_ms() - update.received_at;
                if age > crate::shop::PRE_CHECKOUT_DEADLINE.as_millis() as i64 {
                    let _ = store
                        .ledger
                        .mark_processed(&bot, update.update_id, "expired: not answered in time")
                        .await;
                    progressed = true;
                }
                continue;
            }
            handle_one(&store, update).await;
            progressed = true;
        }
        // A full batch may have more behind it: read again at once. Otherwise wait: an update
        // stored meanwhile by this gateway has already left a wake-up (`Notify` keeps one), so
        // reading again straight away would only find the inbox empty, a read per update.
        if progressed && batch.len() as i64 >= INBOX_BATCH {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
