//! Crash points for kill-9 testing. When the environment variable `STARSGATE_CRASH_AT` names a
//! point, the process sends itself SIGKILL the first time it reaches it: no destructors, no
//! flushing, exactly what a power cut or the OOM killer does. Tests use this to stop a purchase at
//! a precise step and prove that a restart finishes it. Unset (always, in production), each point
//! costs one comparison.

use std::sync::OnceLock;

/// The named points, in the order a purchase reaches them.
pub const POINTS: &[&str] = &[
    "payment_received",   // the successful_payment update is stored in the inbox
    "payment_recorded",   // the payment row is committed
    "delivery_prepared",  // the delivery content is stored in the outbox
    "delivery_part_sent", // Telegram accepted a part of a delivery with more, and the ledger says so
    "delivery_sent",      // Telegram accepted the delivery and the ledger says so
];

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("STARSGATE_CRASH_AT").ok())
        .as_deref()
}

/// Kills the process here if this point is armed.
pub fn hit(point: &'static str) {
    if armed() == Some(point) {
        eprintln!("starsgate: crash point {point} reached; sending SIGKILL to myself.");
        #[cfg(unix)]
        // SAFETY: kill(2) on our own pid with a valid signal has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
