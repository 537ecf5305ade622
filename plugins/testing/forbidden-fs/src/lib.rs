//! `forbidden-fs`: reads `/etc/passwd` through `std::fs`, so the component imports
//! `wasi:filesystem`. For the gateway's sandbox tests; takes no config.
//!
//! Expected under the gateway: the call never reads the file (the import is refused or traps,
//! or there is no preopened directory and the read fails with a plugin-error). If the read
//! succeeds, the result says so: a reject message / text starting with `SANDBOX BREACH`.

use starsgate_plugin::prelude::*;

/// Reads the file, or describes why it could not.
fn probe() -> Result<String, Error> {
    let path = core::hint::black_box("/etc/passwd");
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(format!(
            "SANDBOX BREACH: read {} bytes from {path}",
            text.len()
        )),
        Err(e) => Err(Error::fatal(format!("filesystem access failed: {e}"))),
    }
}

struct ForbiddenFs;

impl Plugin for ForbiddenFs {
    fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        probe().map(Decision::Reject)
    }

    fn deliver(_ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        probe().map(Delivery::text)
    }
}

export_plugin!(ForbiddenFs);
