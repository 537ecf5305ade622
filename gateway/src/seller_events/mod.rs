//! Seller events: signed, durable, retried webhooks to the seller's own backend (`[events]` in a
//! bot file). The ledger writes each event in the transaction of the change it reports
//! (`ledger/seller_events`); this module sends them.
//!
//! - [`signature`]: the `Starsgate-Signature` header (Stripe's scheme) and its verification.
//! - [`retry`]: when a failed send is tried again, and when it is given up.
//! - [`sender`]: the gateway's sender task.

pub mod retry;
pub mod sender;
pub mod signature;

pub use sender::Sender;
