//! The delivery outbox of one bot: sends stored deliveries until Telegram accepts them. A 429
//! pauses this bot alone for exactly `retry_after`; other failures back off; a buyer who blocked
//! the bot ends in `delivery_failed` with the content kept. A delivery is one text message plus
//! one message per file; the ledger counts the parts Telegram accepted, so a retry (or the
//! gateway after a crash) sends only the parts still missing, never a part twice over.

mod again;
mod message;
mod part;

use std::sync::Arc;
use std::time::Duration;

use teloxide_core::types::ChatId;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use again::{AgainError, AgainOutcome, deliver_again};
pub use message::{Part, render};

use crate::handoff::Next;
use crate::ledger::{DueDelivery, LedgerError, now_ms};
use crate::shop::Store;
use crate::telegram::{Failure, classify};

/// Backoff after transient failures; the last entry repeats.
const BACKOFF: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];
/// How long a claim on a delivery lasts at least: longer than one send can take (the API
/// client's timeout is 15 s), so a gateway that stalls and wakes up mid-send cannot race another.
/// A gateway that died holding claims has them released when its successor takes over, or they
/// expire after this long.
const CLAIM: Duration = Duration::from_secs(20);
/// After sending, how soon to look again for retries that were already scheduled.
const RECHECK: Duration = Duration::from_secs(1);
/// Most deliveries read from the ledger at a time.
const DUE_BATCH: i64 = 32;

/// Sends this bot's due deliveries until `shutdown`; finishes the send in flight before leaving.
pub async fn run(store: Arc<Store>, shutdown: CancellationToken) {
    let bot = store.id.to_string();
    // Deliveries the shop handed over in memory, to send without reading the ledger.
    let mut handed: Option<Vec<DueDelivery>> = None;
    // When the ledger must be read again whatever is handed over: retries coming due, and
    // deliveries only the ledger knows about (stored by another gateway, or before a restart).
    // `None`: nothing is known to come due, so no timer (the gateway's watch wakes the outbox
    // when the ledger has a delivery due that nobody handed over).
    let mut look_at_ledger: Option<Instant> = None;
    loop {
        let from_ledger = handed.is_none();
        let due = match handed.take() {
            Some(d) => d,
            None => {
                store.outbox_queue().reading_ledger();
                let due = match store.ledger().due_deliveries(&store.id, DUE_BATCH).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(bot, error = %e, "The outbox cannot read the ledger; retrying shortly.");
                        Vec::new()
                    }
                };
                metrics::gauge!("starsgate_outbox_due", "bot" => store.metrics_label().to_owned())
                    .set(due.len() as f64);
                due
            }
        };
        let mut pause = None;
        let mut retry_in = None;
        for d in &due {
            if shutdown.is_cancelled() {
                return;
            }
            match send(&store, d).await {
                Sent::Done => {}
                Sent::RetryIn(after) => retry_in = Some(retry_in.map_or(after, |r| after.min(r))),
                Sent::Pause(p) => {
                    pause = Some(p);
                    break;
                }
            }
        }
        if let Some(p) = pause {
            // Telegram asked this bot to wait: nothing is sent until then. What was handed over
            // meanwhile is in the ledger, which is read next.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(p) => {}
            }
            continue;
        }
        // A full batch may have more behind it. After a partial one, what becomes due soon is
        // what the shop stores meanwhile, which it hands over (or at least wakes us for), and
        // the retries just scheduled: look at the ledger within RECHECK for older retries coming
        // due. Only an idle outbox asks the ledger when the next retry is due.
        if from_ledger && due.len() as i64 >= DUE_BATCH {
            continue;
        }
        let soon = Instant::now() + retry_in.unwrap_or(RECHECK).min(RECHECK);
        look_at_ledger = match (from_ledger, due.is_empty()) {
            (true, true) => None,
            (true, false) => Some(soon),
            (false, _) => Some(look_at_ledger.map_or(soon, |at| at.min(soon))),
        };
        let timer = async {
            match look_at_ledger {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = store.outbox_queue().notified() => {
                if let Next::Handed(d) = store.outbox_queue().take() {
                    handed = Some(d);
                }
            }
            _ = timer => {}
        }
    }
}

/// How one attempt at a delivery ended, for when the outbox should look again.
enum Sent {
    /// Sent, or given up for good: nothing more to do for it.
    Done,
    /// It stays due: look again after this long.
    RetryIn(Duration),
    /// Telegram asked this bot to slow down: pause the whole outbox this long.
    Pause(Duration),
}

/// How long to wait before looking again at a delivery whose attempt could not be recorded.
const LEDGER_RETRY: Duration = Duration::from_secs(1);

/// Sends one delivery, in a span naming the bot and the charge.
async fn send(store: &Store, d: &DueDelivery) -> Sent {
    let span = tracing::info_span!("delivery", bot = %store.id, charge_id = %d.charge_id);
    tracing::Instrument::instrument(send_in_span(store, d), span).await
}

async fn send_in_span(store: &Store, d: &DueDelivery) -> Sent {
    let already = match claim(store, d).await {
        Ok(Some(parts)) => parts,
        // Another gateway is sending it; if that one dies, its claim runs out.
        Ok(None) => return Sent::RetryIn(CLAIM),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot claim a delivery; will retry.");
            return Sent::RetryIn(LEDGER_RETRY);
        }
    };
    let parts = render(&store.delivery_header(), &d.content);
    let result = match send_parts(store, d, &parts, already).await {
        Ok(result) => result,
        Err(e) => {
            tracing::warn!(error = %e, "Could not record a part of a delivery; will retry.");
            return Sent::RetryIn(LEDGER_RETRY);
        }
    };
    let label = if result.is_ok() {
        "sent"
    } else {
        "failed_attempt"
    };
    metrics::counter!("starsgate_deliveries_total", "bot" => store.metrics_label().to_owned(), "result" => label).increment(1);
    let recorded = match result {
        Ok(()) => delivered(store, d).await,
        Err(e) => return failed(store, d, &e).await,
    };
    after_recording(recorded)
}

/// Claims a delivery for this gateway; the parts already sent, or `None` if another gateway
/// holds it.
async fn claim(store: &Store, d: &DueDelivery) -> Result<Option<u32>, LedgerError> {
    let claim_ms = CLAIM.as_millis() as i64;
    store
        .ledger()
        .claim_delivery(&store.id, &d.charge_id, store.holder(), claim_ms)
        .await
}

/// Records a delivery Telegram accepted whole.
async fn delivered(store: &Store, d: &DueDelivery) -> Result<Sent, LedgerError> {
    tracing::info!("Delivered a paid order.");
    store
        .ledger()
        .mark_delivered(&store.id, &d.charge_id)
        .await?;
    crate::crashpoint::hit("delivery_sent");
    Ok(Sent::Done)
}

/// Decides and records what follows a part Telegram did not accept.
async fn failed(store: &Store, d: &DueDelivery, e: &teloxide_core::RequestError) -> Sent {
    let charge = &d.charge_id;
    let recorded = match classify(e) {
        Failure::RetryAfter(wait) => {
            tracing::warn!(
                wait_s = wait.as_secs(),
                "Telegram asked this bot to slow down."
            );
            let next = now_ms() + wait.as_millis() as i64;
            let why = crate::telegram::describe(e);
            let r = store
                .ledger()
                .delivery_attempt_failed(&store.id, charge, &why, next)
                .await;
            // The pause holds whether or not the attempt was recorded: Telegram asked for it.
            let _ = after_recording(r.map(|()| Sent::Done));
            return Sent::Pause(wait);
        }
        Failure::Unreachable(why) => {
            tracing::warn!(reason = %why, "The buyer cannot be reached; the content is kept.");
            store
                .delivery_unreachable(charge, &why)
                .await
                .map(|()| Sent::Done)
        }
        Failure::Rejected(why) => {
            let reason = format!("Telegram refused the delivery message: {why}");
            store
                .delivery_given_up(charge, d.chat_id, &reason)
                .await
                .map(|()| Sent::Done)
        }
        Failure::Transient(why) => retry_later(store, d, &why).await,
        Failure::Unauthorized => retry_later(store, d, "the bot token was refused").await,
    };
    after_recording(recorded)
}

/// What follows once the attempt's outcome is recorded; if it could not be, the delivery is
/// looked at again shortly (it is still due in the ledger).
fn after_recording(recorded: Result<Sent, LedgerError>) -> Sent {
    match recorded {
        Ok(next) => next,
        Err(e) => {
            tracing::error!(error = %e, "Could not record a delivery attempt in the ledger.");
            Sent::RetryIn(LEDGER_RETRY)
        }
    }
}

/// Sends the parts of a delivery Telegram has not accepted yet, in order, recording each but the
/// last in the ledger as it is accepted (the last is recorded by `mark_delivered`). Stops at the
/// first part Telegram refuses and returns its error; the ledger's error if a part's record failed.
async fn send_parts(
    store: &Store,
    d: &DueDelivery,
    parts: &[Part],
    already: u32,
) -> Result<Result<(), teloxide_core::RequestError>, LedgerError> {
    let chat = ChatId(d.chat_id);
    let skip = usize::try_from(already).unwrap_or(usize::MAX);
    for (i, part) in parts.iter().enumerate().skip(skip) {
        if let Err(e) = part::send(store.api(), chat, part).await {
            return Ok(Err(e));
        }
        if i + 1 < parts.len() {
            let sent = u32::try_from(i + 1).unwrap_or(u32::MAX);
            store
                .ledger()
                .mark_parts_sent(&store.id, &d.charge_id, sent)
                .await?;
            crate::crashpoint::hit("delivery_part_sent");
        }
    }
    Ok(Ok(()))
}

/// Schedules the next attempt, or gives up after the bot's configured number of attempts.
async fn retry_later(store: &Store, d: &DueDelivery, why: &str) -> Result<Sent, LedgerError> {
    let limit = i64::from(store.delivery_attempts());
    if d.attempts + 1 >= limit {
        let reason = format!("sending failed {limit} times; the last error: {why}");
        store
            .delivery_given_up(&d.charge_id, d.chat_id, &reason)
            .await?;
        return Ok(Sent::Done);
    }
    let step = BACKOFF[(d.attempts as usize).min(BACKOFF.len() - 1)];
    tracing::warn!(
        reason = why,
        retry_in_s = step.as_secs(),
        "A delivery failed; will retry."
    );
    let next = now_ms() + step.as_millis() as i64;
    store
        .ledger()
        .delivery_attempt_failed(&store.id, &d.charge_id, why, next)
        .await?;
    Ok(Sent::RetryIn(step))
}
