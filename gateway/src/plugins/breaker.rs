//! A circuit breaker per product: a plugin that keeps failing is paused (checkouts are refused
//! at once with the generic message, without calling it), then probed with one call after a
//! cool-down. It protects buyers from waiting on a broken plugin and the pool from being filled
//! by it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures within [`WINDOW`] that open the breaker.
pub const FAILURES_TO_OPEN: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long an open breaker refuses before letting one probe through.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug)]
enum State {
    Closed {
        failures: Vec<Instant>,
    },
    Open {
        until: Instant,
    },
    /// One probe call is in flight; everyone else is refused until it reports.
    Probing,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::Closed {
                failures: Vec::new(),
            }),
        }
    }
}

impl Breaker {
    /// May a call go ahead now?
    pub fn allow(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Closed { .. } => true,
            State::Open { until } if now >= *until => {
                *state = State::Probing;
                true
            }
            State::Open { .. } | State::Probing => false,
        }
    }

    /// Reports how an allowed call went.
    pub fn record(&self, ok: bool, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let next = match (&mut *state, ok) {
            (State::Probing, true) => State::Closed {
                failures: Vec::new(),
            },
            (State::Probing, false) => State::Open {
                until: now + COOL_DOWN,
            },
            (State::Closed { failures }, false) => {
                failures.retain(|t| now.duration_since(*t) < WINDOW);
                failures.push(now);
                if failures.len() >= FAILURES_TO_OPEN {
                    State::Open {
                        until: now + COOL_DOWN,
                    }
                } else {
                    return;
                }
            }
            (State::Closed { failures }, true) => {
                failures.clear();
                return;
            }
            (State::Open { .. }, _) => return,
        };
        *state = next;
    }

    pub fn is_open(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        !matches!(&*state, State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_minute_open_the_breaker_and_a_probe_closes_it() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..FAILURES_TO_OPEN {
            assert!(b.allow(t0), "call {i} allowed while closed");
            b.record(false, t0);
        }
        assert!(
            !b.allow(t0 + Duration::from_secs(1)),
            "open: refused without calling"
        );
        let later = t0 + COOL_DOWN;
        assert!(b.allow(later), "one probe after the cool-down");
        assert!(!b.allow(later), "only one probe at a time");
        b.record(true, later);
        assert!(b.allow(later) && !b.is_open());
    }

    #[test]
    fn a_failed_probe_keeps_the_breaker_open() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for _ in 0..FAILURES_TO_OPEN {
            b.record(false, t0);
        }
        let later = t0 + COOL_DOWN;
        assert!(b.allow(later));
        b.record(false, later);
        assert!(!b.allow(later + Duration::from_secs(1)));
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_open_it() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..10u64 {
            b.record(false, t0 + Duration::from_secs(20 * i));
        }
        assert!(!b.is_open());
    }
}
