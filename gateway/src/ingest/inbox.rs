//! Webhook mode's inbox loop. The inbox is the queue: any gateway may have stored a bot's
//! update, and the one that runs the bot processes them in `update_id` order.
//!
//! Reading the inbox back after every update was a read per update (about two per order on the
//! load bench). So the webhook handler also hands each update it has stored to this loop in
//! memory ([`Handoff`]), and the loop handles handed updates without a read when they are
//! exactly the next ones: Telegram numbers a bot's updates sequentially, so if the handed ids
//! continue the last one this loop accounted for (pre-checkout queries included, which the
//! handler answers itself), no update can be waiting in the ledger before them. Anything else
//! sends the loop to the ledger, as it always did: a gap (an update stored by another gateway,
//! or one Telegram is still retrying), an id already passed, a full hand-over queue, the first
//! update after a start, at least every [`INBOX_RECHECK`] while updates keep being handed over,
//! and whenever the gateway's watch (`app::watch`) finds updates of this bot waiting in the
//! ledger.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::processor::handle_one;
use crate::handoff::{Handoff, Next};
use crate::ledger::StoredUpdate;
use crate::shop::Store;
use crate::telegram::incoming::is_pre_checkout;

/// Most updates read from the inbox at a time.
const INBOX_BATCH: i64 = 100;

/// The loop reads the ledger at least this often, even while updates keep arriving in memory:
/// an update another gateway stored just before this one's last (no gap left to notice), and
/// pre-checkout queries nobody answered in time, are found there.
pub const INBOX_RECHECK: Duration = Duration::from_millis(500);

/// The highest update id this loop has accounted for (handled, or seen as a pre-checkout query
/// answered elsewhere); `None` until the first ledger read after a start.
#[derive(Debug, Default)]
struct Sequence {
    last: Option<i64>,
}

impl Sequence {
    /// True when `ids` (sorted) are exactly the ones after the last accounted for.
    fn continued_by(&self, ids: impl IntoIterator<Item = i64>) -> bool {
        let Some(mut last) = self.last else {
            return false;
        };
        for id in ids {
            if Some(id) != last.checked_add(1) {
                return false;
            }
            last = id;
        }
        true
    }

    fn saw(&mut self, id: i64) {
        self.last = Some(self.last.map_or(id, |last| last.max(id)));
    }
}

/// Processes the bot's stored updates until `stop`. Pre-checkout queries are answered by the
/// gateway that received them; one still unanswered here after Telegram's deadline is marked
/// expired.
pub async fn inbox_loop(
    store: Arc<Store>,
    inbox: Arc<Handoff<StoredUpdate>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut seen = Sequence::default();
    let mut read_by = Instant::now();
    loop {
        let handed = match inbox.take() {
            Next::Handed(mut updates) if Instant::now() < read_by => {
                updates.sort_by_key(|u| u.update_id);
                seen.continued_by(updates.iter().map(|u| u.update_id))
                    .then_some(updates)
            }
            _ => None,
        };
        let more = match handed {
            Some(updates) => {
                for update in &updates {
                    seen.saw(update.update_id);
                    if !is_pre_checkout(&update.kind) {
                        handle_one(&store, update).await;
                    }
                }
                false
            }
            None => {
                read_by = Instant::now() + INBOX_RECHECK;
                read_ledger(&store, &inbox, &mut seen).await
            }
        };
        if more {
            continue;
        }
        // Idle, nothing here wakes on a timer: the gateway's watch wakes this loop when the
        // ledger holds updates for the bot that were not handed over.
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = inbox.notified() => {}
        }
    }
}

/// Handles one batch of pending updates from the ledger; true if the batch was full (more may
/// be waiting behind it).
async fn read_ledger(store: &Store, inbox: &Handoff<StoredUpdate>, seen: &mut Sequence) -> bool {
    let bot = store.id.as_str();
    inbox.reading_ledger();
    let batch = match store.ledger().pending_updates(&store.id, INBOX_BATCH).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(bot, error = %e, "Cannot read the inbox; retrying.");
            return false;
        }
    };
    let mut progressed = false;
    for update in &batch {
        seen.saw(update.update_id);
        if is_pre_checkout(&update.kind) {
            let age = crate::ledger::now_ms() - update.received_at;
            if age > crate::shop::PRE_CHECKOUT_DEADLINE.as_millis() as i64 {
                let _ = store
                    .ledger()
                    .mark_processed(&store.id, update.update_id, "expired: not answered in time")
                    .await;
                progressed = true;
            }
            continue;
        }
        handle_one(store, update).await;
        progressed = true;
    }
    progressed && batch.len() as i64 >= INBOX_BATCH
}

#[cfg(test)]
mod tests {
    use super::Sequence;

    #[test]
    fn nothing_is_known_to_follow_before_the_first_read() {
        assert!(!Sequence::default().continued_by([1]));
    }

    #[test]
    fn only_the_very_next_ids_continue_the_sequence() {
        let mut seen = Sequence::default();
        seen.saw(7);
        assert!(seen.continued_by([8]));
        assert!(seen.continued_by([8, 9, 10]));
        assert!(!seen.continued_by([9]), "a gap: 8 may be stored elsewhere");
        assert!(!seen.continued_by([8, 10]));
        assert!(!seen.continued_by([7]), "already passed");
        assert!(!seen.continued_by([6]), "an older update arriving late");
    }

    #[test]
    fn the_last_id_only_moves_forward() {
        let mut seen = Sequence::default();
        seen.saw(9);
        seen.saw(8);
        assert!(seen.continued_by([10]));
        assert!(seen.continued_by(std::iter::empty()));
    }
}
