//! Read-only views of work the ledger has in hand, so a test can wait for a condition ("the
//! gateway is storing this update", "an expiry sweep has looked at the memberships since the
//! clock moved") instead of sleeping for a fixed time and hoping. Counting them costs an atomic
//! add per inbox write and a map insert per expiry sweep.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Ledger;

#[derive(Debug, Default)]
pub(super) struct Probes {
    /// Calls of `store_update(s)` waiting for their commit.
    storing: AtomicUsize,
    /// Per bot, the clock time the latest call of `expire_due` started at.
    sweeps: Mutex<HashMap<String, i64>>,
}

/// Counts one inbox write from its start until it is answered or dropped.
pub(super) struct Storing<'a>(&'a Probes);

impl Probes {
    pub(super) fn storing(&self) -> Storing<'_> {
        self.storing.fetch_add(1, Ordering::SeqCst);
        Storing(self)
    }

    pub(super) fn sweep_started(&self, bot: &str, now_ms: i64) {
        let mut sweeps = self.sweeps.lock().unwrap_or_else(|p| p.into_inner());
        sweeps.insert(bot.to_owned(), now_ms);
    }
}

impl Drop for Storing<'_> {
    fn drop(&mut self) {
        self.0.storing.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ledger {
    /// How many calls storing updates into the inbox are waiting for their commit right now
    /// (through this handle and its clones). Nonzero while a write lock held elsewhere keeps an
    /// update from being stored.
    pub fn updates_being_stored(&self) -> usize {
        self.probes.storing.load(Ordering::SeqCst)
    }

    /// The clock time (unix ms) at which the latest expiry sweep of `bot` started looking for
    /// lapsed memberships, if one has. A sweep is one pass: expire, revoke, tell the buyer; the
    /// next one starts only after it, so a sweep seen starting at or after a time proves every
    /// earlier pass has finished.
    pub fn last_expiry_sweep(&self, bot: &str) -> Option<i64> {
        let sweeps = self.probes.sweeps.lock().unwrap_or_else(|p| p.into_inner());
        sweeps.get(bot).copied()
    }
}
