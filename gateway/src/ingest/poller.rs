//! Long-polling one bot. The offset that confirms a batch to Telegram is only advanced after the
//! batch is committed to the inbox: if storing fails, or the process dies, Telegram still holds
//! the updates and sends them again. A repeat is harmless: the inbox ignores an update it has.

use std::sync::Arc;
use std::time::Duration;

use teloxide_core::prelude::*;
use teloxide_core::requests::JsonRequest;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Backoff;
use crate::ledger::{StoredUpdate, now_ms};
use crate::shop::Store;
use crate::telegram::{ALLOWED_UPDATES, Failure, GetUpdatesRaw, classify, update_kind};

const START_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Polls until `shutdown`, sending each newly stored update to the processor. Returns when
/// cancelled; a bot whose token is refused keeps retrying (slowly) without affecting others.
pub async fn poll(
    store: Arc<Store>,
    timeout: Duration,
    to_processor: mpsc::Sender<StoredUpdate>,
    shutdown: CancellationToken,
) {
    let bot = store.id.to_string();
    if !introduce(&store, &shutdown).await {
        return;
    }
    let mut offset: i64 = 0;
    let mut backoff = Backoff::new(START_BACKOFF, MAX_BACKOFF);
    loop {
        let request = JsonRequest::new(
            store.poll_api().clone(),
            GetUpdatesRaw {
                offset,
                limit: 100,
                timeout: timeout.as_secs() as u32,
                allowed_updates: ALLOWED_UPDATES.to_vec(),
            },
        );
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = request.send() => r,
        };
        let raw = match result {
            Ok(raw) => {
                backoff.reset(START_BACKOFF);
                raw
            }
            Err(e) => {
                let pause = match classify(&e) {
                    Failure::RetryAfter(d) => d,
                    Failure::Unauthorized => {
                        tracing::error!(
                            bot,
                            "Telegram refused this bot's token; polling will retry."
                        );
                        backoff.step().max(Duration::from_secs(30))
                    }
                    other => {
                        tracing::warn!(bot, error = ?other, "getUpdates failed; retrying.");
                        backoff.step()
                    }
                };
                if sleep_or_stop(pause, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        let received_at = now_ms();
        let mut batch = Vec::with_capacity(raw.len());
        let mut highest = offset - 1;
        for value in raw {
            let Some(update_id) = value.get("update_id").and_then(|v| v.as_i64()) else {
                tracing::error!(
                    bot,
                    "Telegram sent an update without an update_id; it cannot be stored."
                );
                continue;
            };
            highest = highest.max(update_id);
            batch.push(StoredUpdate {
                update_id,
                kind: update_kind(&value),
                body: value.to_string(),
                received_at,
            });
        }
        let fresh = loop {
            match store.ledger().store_updates(&store.id, &batch).await {
                Ok(fresh) => break fresh,
                Err(e) => {
                    tracing::error!(bot, error = %e, "Cannot store updates; they stay unconfirmed at Telegram.");
                    if sleep_or_stop(backoff.step(), &shutdown).await {
                        return;
                    }
                }
            }
        };
        for u in &fresh {
            metrics::counter!("starsgate_updates_total", "bot" => store.metrics_label().to_owned(), "kind" => crate::telegram::KindLabel::of(&u.kind).as_str())
                .increment(1);
        }
        if fresh
            .iter()
            .any(|u| u.body.contains("\"successful_payment\""))
        {
            crate::crashpoint::hit("payment_received");
        }
        // Stored: now, and only now, the next getUpdates may confirm them.
        offset = highest + 1;
        for update in fresh {
            if to_processor.send(update).await.is_err() {
                return;
            }
        }
    }
}

/// getMe (proves the token) and deleteWebhook (getUpdates refuses to run while a webhook is set;
/// pending updates are kept). Retries until it works or we are told to stop.
async fn introduce(store: &Store, shutdown: &CancellationToken) -> bool {
    let bot = store.id.to_string();
    let mut backoff = Backoff::new(START_BACKOFF, Duration::from_secs(300));
    loop {
        let attempt = async {
            let me = store.api().get_me().await?;
            store.api().delete_webhook().await?;
            Ok::<_, teloxide_core::RequestError>(me)
        };
        let result = tokio::select! {
            _ = shutdown.cancelled() => return false,
            r = attempt => r,
        };
        match result {
            Ok(me) => {
                store.mark_ready();
                tracing::info!(bot, username = %me.username(), "The bot is online and polling.");
                return true;
            }
            Err(e) => {
                let pause = match classify(&e) {
                    Failure::RetryAfter(d) => d,
                    _ => backoff.step(),
                };
                tracing::error!(bot, error = %crate::telegram::describe(&e), retry_in_s = pause.as_secs(), "The bot cannot start; retrying.");
                if sleep_or_stop(pause, shutdown).await {
                    return false;
                }
            }
        }
    }
}

/// Sleeps; returns true if shutdown came first.
async fn sleep_or_stop(pause: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(pause) => false,
    }
}
