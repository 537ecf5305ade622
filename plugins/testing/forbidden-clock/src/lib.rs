//! `forbidden-clock`: reads the wall clock through `std::time::SystemTime::now()`, so the
//! component imports `wasi:clocks/wall-clock`. For the gateway's sandbox tests; takes no config.
//!
//! Expected under the gateway: the import is refused or traps. If the clock can be read, the
//! result (a reject message / text starting with `SANDBOX BREACH`) carries the time it saw, so a
//! test can also tell a real clock from a fixed, deterministic one.

use std::time::{SystemTime, UNIX_EPOCH};

use starsgate_plugin::prelude::*;

fn probe() -> Result<String, Error> {
    let now = core::hint::black_box(SystemTime::now());
    match now.duration_since(UNIX_EPOCH) {
        Ok(since) => Ok(format!(
            "SANDBOX BREACH: wall clock read {} s",
            since.as_secs()
        )),
        Err(e) => Ok(format!("SANDBOX BREACH: wall clock read before 1970 ({e})")),
    }
}

struct ForbiddenClock;

impl Plugin for ForbiddenClock {
    fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        probe().map(Decision::Reject)
    }

    fn deliver(_ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        probe().map(Delivery::text)
    }
}

export_plugin!(ForbiddenClock);
