//! When a failed send is tried again: exponential backoff with jitter, for up to three days
//! (Stripe's window), then the event is marked failed. Jitter spreads the retries of many events
//! that failed together (an endpoint that was down) so they do not all return at once.

use std::time::Duration;

/// How long an event is retried after it was queued before it is marked failed.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// The pause after the first failure; each further failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest pause between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// The pause after the `failures`-th failed attempt (1 for the first), before jitter.
pub fn base_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// [`base_delay`] scaled by a random factor in [0.5, 1.5).
pub fn delay(failures: u32) -> Duration {
    base_delay(failures).mul_f64(0.5 + rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_one_second_up_to_an_hour() {
        let secs: Vec<u64> = [1, 2, 3, 4, 12, 13, 40]
            .into_iter()
            .map(|n| base_delay(n).as_secs())
            .collect();
        assert_eq!(secs, [1, 2, 4, 8, 2048, 3600, 3600]);
    }

    #[test]
    fn jitter_stays_within_half_either_side() {
        for _ in 0..1000 {
            let d = delay(3);
            assert!(
                d >= Duration::from_secs(2) && d < Duration::from_secs(6),
                "{d:?}"
            );
        }
    }
}
