//! Updates in: long-polling (`poller`) stores each batch in the ledger's inbox and only then
//! confirms it to Telegram with the next offset (guarantee 1); `processor` hands stored updates
//! to the shop, pre-checkout queries on their own fast path so they never wait behind slow work.

mod backoff;
mod poller;
mod processor;
pub mod webhook;

pub use backoff::Backoff;
pub use poller::poll;
pub use processor::{handle_update, inbox_loop, process, recover};
