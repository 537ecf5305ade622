//! The buyer flow of one store (SPEC §4): the catalogue and commands, invoices, the pre-checkout
//! decision, recording payments, preparing deliveries, refunds. A [`Store`] handles one stored
//! update at a time and reports how it ended; sending deliveries is the outbox's job.

mod catalogue;
mod checkout;
mod fulfil;
mod give_up;
pub mod invoice;
mod lapse;
pub mod memberships;
pub mod menus;
pub mod paid_media;
mod payment;
mod plugin_input;
mod pricing;
mod refund;
pub mod replay;
mod reply;
mod seller;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use teloxide_core::types::PreCheckoutQuery;

pub use checkout::CheckoutDecision;
pub use fulfil::prepare_delivery;
use give_up::give_up;
pub use lapse::{EXPIRY_SWEEP_EVERY, expire_lapsed, sweep as sweep_lapsed};
pub use memberships::{RenewalError, set_renewal};
pub use payment::{PaidFacts, settle};
pub use refund::{RefundError, RefundOutcome, record_refund, refund};
pub use seller::{Alert, tell_admins};

use crate::clock::Clock;
use crate::config::BotConfig;
use crate::domain::{BotId, ChargeId};
use crate::holder::Holder;
use crate::ledger::{Ledger, LedgerError};
use crate::plugins::{Catalogue, Runner, SeedKey};
use crate::telegram::BotClients;
use crate::telegram::incoming::Incoming;

/// Telegram drops a pre-checkout query that is not answered within 10 s. We aim well inside it.
pub const PRE_CHECKOUT_DEADLINE: Duration = Duration::from_secs(10);

/// One running store: its config and plugins (swappable as a unit), its ledger and its client.
///
/// Its parts are private: other modules ask it for what they need ([`Store::ledger`],
/// [`Store::api`]) or ask it to act (`decide_pre_checkout`, `delivery_given_up`), so what a store
/// is made of can change without touching ingest, the outbox or the admin API.
pub struct Store {
    pub id: BotId,
    current: RwLock<Arc<Current>>,
    ledger: Ledger,
    clients: BotClients,
    runner: Runner,
    /// Keys the seeds handed to plugins.
    seeds: SeedKey,
    /// This gateway's name among those sharing the ledger (for leases and delivery claims).
    holder: Holder,
    /// The `bot` label on this bot's metrics (see `admin::metrics::bot_label`).
    metrics_label: String,
    /// Set once the bot is introduced to Telegram (polling) or its webhook registered.
    /// Whether Telegram accepted the token (introduced, or webhook registered); a watch, so
    /// work that must wait for it (the command menus) waits without polling.
    ready: tokio::sync::watch::Sender<bool>,
    /// Where a stored delivery is handed to the outbox, which sends it at once.
    outbox: crate::handoff::Handoff<crate::ledger::DueDelivery>,
    /// What memberships expire by (see [`Clock`]).
    clock: Clock,
    /// Notified on reload, so the command menus are set again (see [`menus`]).
    menus_changed: tokio::sync::Notify,
    /// Woken by the gateway's watch when this bot may have memberships to expire.
    lapse_due: tokio::sync::Notify,
    /// Which payments the bot's admins were told about (see [`seller`]).
    alerts: seller::SellerAlerts,
}

/// The parts of a store that change together on reload.
pub struct Current {
    pub config: BotConfig,
    pub plugins: Catalogue,
}

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The error text is already redacted (see `telegram::describe`).
    #[error("Telegram refused {method}: {error}")]
    Telegram { method: &'static str, error: String },
}

pub(crate) fn tg(method: &'static str) -> impl FnOnce(teloxide_core::RequestError) -> ShopError {
    move |e| ShopError::Telegram {
        method,
        error: crate::telegram::describe(&e),
    }
}

impl Store {
    pub fn new(
        config: BotConfig,
        plugins: Catalogue,
        ledger: Ledger,
        clients: BotClients,
        runner: Runner,
        seeds: SeedKey,
        holder: Holder,
    ) -> Self {
        let metrics_label = config.id.to_string();
        Self {
            id: config.id.clone(),
            current: RwLock::new(Arc::new(Current { config, plugins })),
            ledger,
            clients,
            runner,
            seeds,
            metrics_label,
            holder,
            ready: tokio::sync::watch::Sender::new(false),
            outbox: Default::default(),
            clock: Clock::default(),
            menus_changed: tokio::sync::Notify::new(),
            lapse_due: tokio::sync::Notify::new(),
            alerts: seller::SellerAlerts::default(),
        }
    }

    /// Shares the gateway's membership clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the metrics label (a deployment with many bots aggregates them as "all").
    pub fn with_metrics_label(mut self, label: String) -> Self {
        self.metrics_label = label;
        self
    }

    /// The ledger every part of this store records in.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The bot's Bot API client for requests (answers, messages, refunds).
    pub fn api(&self) -> &teloxide_core::Bot {
        &self.clients.api
    }

    /// The bot's client for long polling (`getUpdates`), on connections of their own.
    pub fn poll_api(&self) -> &teloxide_core::Bot {
        &self.clients.poll
    }

    /// The `bot` label on this bot's metrics (bounded: see `admin::metrics::bot_label`).
    pub fn metrics_label(&self) -> &str {
        &self.metrics_label
    }

    /// This gateway's name among those sharing the ledger (it claims deliveries under it).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// The clock memberships expire by and the ledger's rows are stamped with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The deliveries the shop stored and handed over, for the outbox to send at once.
    pub fn outbox_queue(&self) -> &crate::handoff::Handoff<crate::ledger::DueDelivery> {
        &self.outbox
    }

    /// Wakes the outbox to read the ledger (a delivery is due that nobody handed over).
    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// Wakes the expiry sweep (memberships may have lapsed).
    pub fn wake_expiry_sweep(&self) {
        self.lapse_due.notify_one();
    }

    pub fn mark_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Whether the bot is connected to Telegram (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Returns once the bot is connected to Telegram.
    pub async fn until_ready(&self) {
        let mut ready = self.ready.subscribe();
        // The sender lives as long as the store, so this only ends when the bot is ready.
        let _ = ready.wait_for(|r| *r).await;
    }

    /// The store's config and plugins as of now; hold the `Arc` for the length of one update so
    /// a reload in the middle cannot mix old and new.
    pub fn current(&self) -> Arc<Current> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces config and plugins at once (a reload).
    pub fn replace(&self, config: BotConfig, plugins: Catalogue) {
        let next = Arc::new(Current { config, plugins });
        match self.current.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        self.menus_changed.notify_one();
    }

    /// The line above a delivery's content. The buyer's language is not stored with the
    /// delivery, so it is in the bot's default texts.
    pub fn delivery_header(&self) -> String {
        self.current()
            .config
            .texts(None)
            .msg(crate::i18n::Msg::DeliveryHeader)
    }

    /// How many times the outbox tries a delivery before giving up (`delivery_attempts`).
    pub fn delivery_attempts(&self) -> u32 {
        self.current().config.delivery_attempts
    }

    /// A delivery that can never be sent (Telegram refused it, or retries ran out): held for
    /// the seller or refunded, per `on_delivery_failure`, and everyone told (see [`give_up`]).
    pub async fn delivery_given_up(
        &self,
        charge: &ChargeId,
        chat_id: i64,
        reason: &str,
    ) -> Result<(), LedgerError> {
        give_up::give_up(self, charge, chat_id, reason).await
    }

    /// The buyer cannot be reached (blocked the bot, deleted the chat): `delivery_failed` with
    /// the content kept, and the bot's admins told.
    pub async fn delivery_unreachable(
        &self,
        charge: &ChargeId,
        why: &str,
    ) -> Result<(), LedgerError> {
        let failed = crate::ledger::PaymentStatus::DeliveryFailed;
        self.ledger
            .delivery_given_up(&self.id, charge, why, failed)
            .await?;
        tell_admins(self, charge.as_str(), Alert::DeliveryFailed, why).await;
        Ok(())
    }

    /// Decides a pre-checkout query received at `received_ms` (SPEC §4, guarantee 3), within
    /// Telegram's deadline; `None` when it is already past it. Nothing is recorded until
    /// [`Store::record_pre_checkout`], once the answer is on its way.
    pub async fn decide_pre_checkout(
        &self,
        q: &PreCheckoutQuery,
        received_ms: i64,
    ) -> Option<CheckoutDecision> {
        let current = self.current();
        checkout::decide_query(self, &current, q, received_ms).await
    }

    /// Records an answer given (metrics, a log line, the ledger event); returns the outcome.
    pub async fn record_pre_checkout(
        &self,
        q: &PreCheckoutQuery,
        decision: &CheckoutDecision,
        received_ms: i64,
    ) -> Result<String, ShopError> {
        checkout::record(self, q, decision, received_ms).await
    }

    /// Acts on one update (read by ingest) and returns a short outcome for the inbox.
    /// Pre-checkout queries are not handled here: ingest answers them with
    /// [`Store::decide_pre_checkout`].
    pub async fn handle(
        &self,
        incoming: &Incoming,
        update_id: i64,
        received_at: i64,
    ) -> Result<String, ShopError> {
        let current = self.current();
        match incoming {
            Incoming::Message(msg) => {
                if let Some(paid) = msg.successful_payment() {
                    return payment::on_successful_payment(self, &current, msg, paid, update_id)
                        .await;
                }
                if let teloxide_core::types::MessageKind::RefundedPayment(r) = &msg.kind {
                    return refund::on_refunded_payment(self, &current, &r.refunded_payment).await;
                }
                catalogue::on_message(self, &current, msg).await
            }
            Incoming::Callback(q) => catalogue::on_callback(self, &current, q).await,
            Incoming::PaidMediaPurchased(p) => {
                paid_media::on_purchase(self, update_id, p, received_at).await
            }
            Incoming::Subscription(changed) => {
                lapse::on_subscription_update(self, &current, changed).await
            }
            Incoming::PreCheckout(_) => {
                Ok("ignored: a pre-checkout query is answered by ingest".into())
            }
            Incoming::Other(kind) => Ok(format!("ignored: {kind} updates are not used by a store")),
        }
    }
}
