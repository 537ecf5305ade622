//! Updates in: long-polling (`poller`) stores each batch in the ledger's inbox and only then
//! confirms it to Telegram with the next offset (guarantee 1); `processor` hands stored updates
//! to the shop, pre-checkout queries on their own fast path so they never wait behind slow work.
//! In webhook mode `webhook` stores each update before answering 2xx, and `inbox` processes the
//! stored updates in order.

mod backoff;
mod inbox;
mod poller;
mod pre_checkout;
mod processor;
pub mod webhook;

pub use backoff::Backoff;
pub use inbox::inbox_loop;
pub use poller::poll;
pub use processor::{process, recover};

/// The span every step of one update runs in: `bot`, `update_id` and the update's kind.
fn update_span(store: &crate::shop::Store, update: &crate::ledger::StoredUpdate) -> tracing::Span {
    tracing::info_span!("update", bot = %store.id, update_id = update.update_id, kind = %update.kind)
}
