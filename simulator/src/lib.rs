//! `starsgate-sim`: an offline stand-in for the Telegram Bot API, faithful where a Telegram
//! Stars gateway can go wrong.
//!
//! The gateway, its black-box tests and `starsgate demo` talk to it over real HTTP exactly as
//! they would talk to `api.telegram.org`, so what is tested is the code that runs in
//! production, including its HTTP client, JSON (de)serialization and error handling.
//!
//! What it reproduces, because each is a classic source of lost or double-delivered orders:
//! - Stars invoice rules (`XTR`, one price item, no tips, no provider token, subscriptions only
//!   on invoice links, 30-day period, at most 10000 Stars) with Telegram's error texts;
//! - the 10 s pre-checkout deadline (on a clock tests can move with `advance_time`);
//! - getUpdates semantics: confirmation by offset, long polling, `allowed_updates` applied when
//!   an update is created, 409 conflicts;
//! - webhook delivery with the secret header, per-chat ordering and retries until a 2xx;
//! - unique charge ids, refunds (`CHARGE_ALREADY_REFUNDED`, also of a renewal's charge), star
//!   transactions and balance;
//! - subscriptions over time: when `advance_time` crosses the end of a 30-day period, a
//!   running subscription renews (a new charge, a `successful_payment` with `is_recurring`
//!   and the next `subscription_expiration_date`), a canceled one expires, and one armed with
//!   `fail_next_renewal` fails; a failed renewal and the buyer canceling or re-enabling in the
//!   app (`cancel_subscription_as_buyer`, `reenable_subscription_as_buyer`) reach the bot as
//!   the Bot API 10.2 `subscription` update, which gateways built on older client libraries
//!   must survive without a type for it;
//! - paid media (`sendPaidMedia`, 1-25000 Stars, up to 10 photos or videos by URL or a file_id
//!   it issued): a buyer unlocking a post (`buy_paid_media`) is charged a `paid_media_payment`
//!   transaction and, for a non-empty payload outside channels, the bot gets
//!   `purchased_paid_media`;
//! - injected faults: 429 with retry_after, 5xx, slow answers and lost answers.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use starsgate_sim::{InvoiceRef, Simulator};
//! let sim = Simulator::start("127.0.0.1:0".parse().unwrap()).await?;
//! sim.add_bot("123:secret", "shop_bot");
//! sim.send_text("123:secret", 42, "/start");
//! // ... point the gateway at sim.api_url(), let it send an invoice, then:
//! let outcome = sim.pay("123:secret", 42, &InvoiceRef::Latest).await;
//! # Ok(()) }
//! ```
//!
//! A human-facing control API lives under `/sim/` on the same port (see `GET /sim`).

mod buyer;
mod clock;
mod control;
mod delivery;
mod error;
mod faults;
mod handle;
mod http;
mod methods;
mod paid_media;
mod params;
mod queue;
mod shapes;
mod state;
mod subscriptions;
mod types;

pub use handle::{SimHandle, Simulator};
pub use types::{
    ApiCall, BotInfo, Fault, InvoiceRef, PaidMediaPurchase, PayOutcome, PreCheckoutAnswer,
    SentInvoice, SentMedia, SentMessage, SentPaidMedia, SimError, SubscriptionInfo, WebhookAttempt,
};
