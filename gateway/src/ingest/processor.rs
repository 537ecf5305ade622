//! Processing stored updates for one bot. Ordinary updates are handled one at a time in
//! update_id order; pre-checkout queries each get their own task at once, so the 10-second answer
//! never waits behind a slow reply, a queue of messages or a plugin generating a delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::Backoff;
use crate::ledger::StoredUpdate;
use crate::shop::{ShopError, Store, prepare_delivery};
use crate::telegram::incoming::{Incoming, is_pre_checkout};

/// Ordinary updates dispatched and waiting for their turn. When full, the dispatcher waits, so
/// the poller waits too and Telegram keeps the rest: backpressure, not memory growth.
const ORDINARY_BUFFER: usize = 256;

/// Resumes unfinished work after a restart: updates stored but not processed, then payments
/// recorded but without prepared content. Call before polling starts, so nothing is handled twice.
pub async fn recover(store: &Arc<Store>) {
    let bot = store.id.to_string();
    let mut resumed = 0usize;
    loop {
        let batch = match store.ledger().pending_updates(&store.id, 100).await {
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
        .ledger()
        .payments_awaiting_content(&store.id)
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

/// Handles updates from the poller until the sender side closes, then finishes the ordinary
/// updates queued and waits for in-flight pre-checkout answers.
///
/// This loop only dispatches: ordinary updates go, in order, to a task that handles them one at a
/// time, and each pre-checkout query gets a task of its own at once. Were the ordinary updates
/// handled here, a query would wait in the channel behind every message queued before it (each
/// an invoice sent, a payment recorded), so its answer would come late whenever the bot is busy:
/// under load that wait was most of a polling bot's pre-checkout latency.
pub async fn process(store: Arc<Store>, mut from_ingest: mpsc::Receiver<StoredUpdate>) {
    let (to_ordinary, mut ordinary) = mpsc::channel::<StoredUpdate>(ORDINARY_BUFFER);
    let in_order = {
        let store = store.clone();
        tokio::spawn(async move {
            while let Some(update) = ordinary.recv().await {
                handle_one(&store, &update).await;
            }
        })
    };
    let mut fast = JoinSet::new();
    while let Some(update) = from_ingest.recv().await {
        if is_pre_checkout(&update.kind) {
            let store = store.clone();
            fast.spawn(async move { handle_one(&store, &update).await });
        } else if to_ordinary.send(update).await.is_err() {
            // The ordinary task ended before this side closed: a handler panicked. Stop taking
            // updates; this one and those behind it stay unprocessed in the inbox, where the
            // next run of the bot finds them.
            tracing::error!(bot = %store.id, "The bot's update handler stopped; its updates wait in the inbox.");
            break;
        }
        while fast.try_join_next().is_some() {}
    }
    drop(to_ordinary);
    let _ = in_order.await;
    while fast.join_next().await.is_some() {}
}

/// Handles one update and marks it processed (the processor's loop, webhook mode's inbox loop,
/// and a webhook pre-checkout query that could not be decided in the reply). A ledger failure leaves it unprocessed and retries
/// (nothing else can make progress without the ledger); a Telegram failure to reply is recorded
/// as the update's outcome, because retrying a chat reply forever would block the chat.
pub(super) async fn handle_one(store: &Store, update: &StoredUpdate) {
    handle_in_span(store, update)
        .instrument(super::update_span(store, update))
        .await
}

async fn handle_in_span(store: &Store, update: &StoredUpdate) {
    let bot = store.id.as_str();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        let outcome = match act(store, update).await {
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

/// Reads one stored update and has it acted on: a pre-checkout query answered here, anything
/// else by the shop. An update that cannot be read is recorded as such, never retried.
async fn act(store: &Store, update: &StoredUpdate) -> Result<String, ShopError> {
    match Incoming::parse(&update.kind, &update.body) {
        Ok(Incoming::PreCheckout(q)) => {
            super::pre_checkout::answer_by_request(store, &q, update.received_at).await
        }
        Ok(incoming) => {
            store
                .handle(&incoming, update.update_id, update.received_at)
                .await
        }
        Err(why) => {
            store
                .ledger()
                .mark_unreadable(&store.id, update.update_id, &why.to_string())
                .await?;
            Ok(why.outcome())
        }
    }
}

/// Marks an update processed with its outcome, retrying while the ledger fails.
pub(super) async fn mark_processed(
    store: &Store,
    update: &StoredUpdate,
    outcome: &str,
    mut backoff: Backoff,
) {
    let bot = store.id.as_str();
    tracing::debug!(
        bot,
        update_id = update.update_id,
        outcome,
        "Processed an update."
    );
    while let Err(e) = store
        .ledger()
        .mark_processed(&store.id, update.update_id, outcome)
        .await
    {
        tracing::error!(bot, update_id = update.update_id, error = %e, "Cannot mark an update processed; retrying.");
        tokio::time::sleep(backoff.step()).await;
    }
}
