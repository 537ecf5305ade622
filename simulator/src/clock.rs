//! Simulated time.
//!
//! Tests must be able to cross Telegram's deadlines (10 s pre-checkout, 150 s / 24 h update
//! lifetimes) without waiting for them, so every date and every deadline reads this clock, which
//! is the real clock plus an offset that `advance_time` moves forward. Deadlines use tokio's
//! monotonic `Instant`, so `tokio::time::pause` works too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

pub(crate) struct Clock {
    started: Instant,
    offset_ms: AtomicI64,
    /// Woken whenever the offset moves, so deadline waiters re-check at once.
    pub(crate) changed: Notify,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            started: Instant::now(),
            offset_ms: AtomicI64::new(0),
            changed: Notify::new(),
        }
    }

    /// Unix seconds as Telegram would stamp them on a message or transaction.
    pub(crate) fn unix(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (real + self.offset_ms.load(Ordering::SeqCst)).div_euclid(1000)
    }

    /// Monotonic simulated milliseconds, for measuring deadlines.
    pub(crate) fn mono_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64 + self.offset_ms.load(Ordering::SeqCst)
    }

    pub(crate) fn advance(&self, secs: i64) {
        self.offset_ms
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}
