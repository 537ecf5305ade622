//! The gateway's one watch over the bots it runs. Idle, a bot costs nothing here: instead of
//! each bot renewing its lease and reading its inbox and outbox on timers of its own (a cost that
//! would grow with every store), this task renews every lease with one statement and asks the
//! ledger once which bots have work only the ledger knows of (updates another gateway stored,
//! retries coming due, anything left by a crash), then wakes just those bots. Once a minute it
//! also asks which bots have memberships past their paid period and wakes only their expiry
//! sweeps.
//!
//! Work that arrives through this gateway wakes its bot directly (the webhook handler and the
//! shop hand it over), so the watch is the safety net, not the fast path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::handoff::Handoff;
use crate::holder::Holder;
use crate::ledger::{Ledger, StoredUpdate};
use crate::shop::{EXPIRY_SWEEP_EVERY, Store};

/// How often the ledger is asked for work waiting: the longest an update stored by another
/// gateway (or left by a crash) waits before a bot of this one picks it up.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);

/// The bots this gateway leads, and what to wake for each.
#[derive(Default)]
pub(super) struct Watch {
    led: Mutex<HashMap<String, Led>>,
}

struct Led {
    store: Arc<Store>,
    /// The inbox loop's hand-over (webhook mode); polling bots read their inbox as they poll.
    inbox: Option<Arc<Handoff<StoredUpdate>>>,
    /// Cancelled when the lease is lost: the bot stops leading.
    lost: CancellationToken,
}

/// Leading a bot: registered with the watch until dropped.
pub(super) struct Leading<'w> {
    watch: &'w Watch,
    bot: String,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if let Ok(mut led) = self.watch.led.lock() {
            led.remove(&self.bot);
        }
    }
}

impl Watch {
    /// Watches `store` while the returned guard lives; `lost` is cancelled if its lease is lost.
    pub fn lead(
        &self,
        store: Arc<Store>,
        inbox: Option<Arc<Handoff<StoredUpdate>>>,
        lost: CancellationToken,
    ) -> Leading<'_> {
        let bot = store.id.to_string();
        if let Ok(mut led) = self.led.lock() {
            led.insert(bot.clone(), Led { store, inbox, lost });
        }
        Leading { watch: self, bot }
    }

    /// Renews the leases every `lease / 3` and wakes bots with work waiting every
    /// [`WATCH_EVERY`], until `stop`.
    pub async fn run(
        self: Arc<Self>,
        ledger: Ledger,
        holder: Holder,
        lease: Duration,
        stop: CancellationToken,
    ) {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let mut renew_at = tokio::time::Instant::now() + lease / 3;
        let mut sweep_at = tokio::time::Instant::now() + EXPIRY_SWEEP_EVERY;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(WATCH_EVERY) => {}
            }
            if self.is_idle() {
                continue;
            }
            if tokio::time::Instant::now() >= renew_at {
                renew_at = tokio::time::Instant::now() + lease / 3;
                self.renew(&ledger, &holder, lease_ms).await;
            }
            self.wake_bots_with_work(&ledger).await;
            if tokio::time::Instant::now() >= sweep_at {
                sweep_at = tokio::time::Instant::now() + EXPIRY_SWEEP_EVERY;
                self.wake_bots_with_lapsing_memberships(&ledger).await;
            }
        }
    }

    /// Wakes the expiry sweep of every bot led here with a membership past its paid period.
    async fn wake_bots_with_lapsing_memberships(&self, ledger: &Ledger) {
        let Some(now) = self.now_ms() else { return };
        match ledger.bots_with_lapsing_memberships(now).await {
            Ok(bots) => {
                let Ok(led) = self.led.lock() else { return };
                for bot in bots {
                    if let Some(entry) = led.get(&bot) {
                        entry.store.wake_expiry_sweep();
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot look for lapsing memberships; will try again.")
            }
        }
    }

    /// The membership clock's now (every store shares the gateway's clock), if any bot is led.
    fn now_ms(&self) -> Option<i64> {
        let led = self.led.lock().ok()?;
        led.values().next().map(|l| l.store.clock().now_ms())
    }

    fn is_idle(&self) -> bool {
        self.led.lock().map(|led| led.is_empty()).unwrap_or(true)
    }

    async fn renew(&self, ledger: &Ledger, holder: &Holder, lease_ms: i64) {
        let held = match ledger.renew_leases(holder, lease_ms).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot renew the leases; will try again.");
                return;
            }
        };
        // A set: scanning the list once per bot would cost the square of the number of bots.
        let held: HashSet<String> = held.into_iter().collect();
        let Ok(led) = self.led.lock() else { return };
        for (bot, entry) in led.iter() {
            if !held.contains(bot) {
                entry.lost.cancel();
            }
        }
    }

    async fn wake_bots_with_work(&self, ledger: &Ledger) {
        let (updates, deliveries) = tokio::join!(
            ledger.bots_with_pending_updates(),
            ledger.bots_with_due_deliveries()
        );
        let Ok(led) = self.led.lock() else { return };
        match updates {
            Ok(bots) => {
                for bot in bots {
                    if let Some(inbox) = led.get(&bot).and_then(|l| l.inbox.as_ref()) {
                        inbox.notify_one();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Cannot look for stored updates; will try again."),
        }
        match deliveries {
            Ok(bots) => {
                for bot in bots {
                    if let Some(entry) = led.get(&bot) {
                        entry.store.wake_outbox();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "Cannot look for due deliveries; will try again."),
        }
    }
}
