//! `forbidden-net`: opens a TCP connection to `127.0.0.1:80` through `std::net`, so the
//! component imports `wasi:sockets`. For the gateway's sandbox tests; takes no config.
//!
//! Expected under the gateway: no connection (the import is refused or traps, or the connect
//! fails with a plugin-error). If it connects, the result starts with `SANDBOX BREACH`.

use starsgate_plugin::prelude::*;

fn probe() -> Result<String, Error> {
    let addr = core::hint::black_box("127.0.0.1:80");
    match std::net::TcpStream::connect(addr) {
        Ok(stream) => Ok(format!(
            "SANDBOX BREACH: connected to {:?}",
            stream.peer_addr().ok()
        )),
        Err(e) => Err(Error::fatal(format!("network access failed: {e}"))),
    }
}

struct ForbiddenNet;

impl Plugin for ForbiddenNet {
    fn pre_checkout(_ctx: &Context, _order: &Order) -> Result<Decision, Error> {
        probe().map(Decision::Reject)
    }

    fn deliver(_ctx: &Context, _order: &Order, _payment: &Payment) -> Result<Delivery, Error> {
        probe().map(Delivery::text)
    }
}

export_plugin!(ForbiddenNet);
