//! The gateway's "now". A Stars subscription runs for 30 days; deciding that one lapsed must be
//! testable (and demonstrable) without waiting a month, so expiry reads this clock: real time
//! plus an offset that only [`Clock::advance`] moves. The ledger stamps every row it records
//! (payments, events, orders, refunds, memberships) from the same clock, so a test that moves it
//! sees the history move with it. Schedules shared with other gateways or compared with real
//! time (leases, delivery claims, retry times) read [`system_now_ms`]: moving those would break
//! cooperating gateways.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Milliseconds since the Unix epoch, unmoved by any [`Clock`]: the ledger's one time format.
pub fn system_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Cheap to clone: every clone reads and moves the same offset.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Milliseconds added to the real time. A watch channel, so waiting work (the expiry sweep)
    /// learns of every move, even one made while it was busy.
    offset_ms: Arc<watch::Sender<i64>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset_ms: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl Clock {
    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        system_now_ms().saturating_add(*self.offset_ms.borrow())
    }

    /// Moves this clock (never the system's) forward; for tests and the demo.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.send_modify(|o| *o = o.saturating_add(ms));
    }

    /// A receiver that changes whenever [`Clock::advance`] is called.
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.offset_ms.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_only_this_clock_forward() {
        let clock = Clock::default();
        let before = clock.now_ms();
        clock.advance(Duration::from_secs(30 * 86_400));
        let after = clock.now_ms();
        assert!(after - before >= 30 * 86_400_000);
        assert!(system_now_ms() < after - 29 * 86_400_000);
    }
}
