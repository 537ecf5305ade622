//! Starting the simulator, configuring it, and looking inside it.

use axum::serve::ListenerExt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::faults;
use crate::http;
use crate::state::Shared;
use crate::subscriptions;
use crate::types::{
    ApiCall, BotInfo, Fault, PreCheckoutAnswer, SentInvoice, SentMessage, SubscriptionInfo,
    WebhookAttempt,
};

/// Builder entry point.
pub struct Simulator;

impl Simulator {
    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves the Bot API and the `/sim/` control
    /// API on the current tokio runtime until `shutdown`.
    pub async fn start(addr: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared::new(local));
        let app = http::router(shared.clone());
        let cancel = shared.cancel.clone();
        let server = tokio::spawn(async move {
            let served = axum::serve(
                listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                }),
                app,
            )
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
            if let Err(e) = served {
                tracing::warn!("telegram simulator stopped serving: {e}");
            }
        });
        *shared.server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
        tracing::info!("telegram simulator listening on http://{local}/");
        Ok(SimHandle { shared })
    }
}

/// A cheap, clonable handle on a running simulator.
#[derive(Clone)]
pub struct SimHandle {
    pub(crate) shared: Arc<Shared>,
}

impl SimHandle {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        SimHandle { shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The base URL to configure as the Bot API server (`http://127.0.0.1:PORT/`).
    /// A wildcard bind address is replaced by loopback so the URL is connectable.
    pub fn api_url(&self) -> url::Url {
        let mut addr = self.shared.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        url::Url::parse(&format!("http://{addr}/"))
            .expect("a socket address always forms a valid http URL")
    }

    /// Registers a bot token. Idempotent: the same token returns the same bot.
    pub fn add_bot(&self, token: &str, username: &str) -> BotInfo {
        self.shared.world().add_bot(token, username)
    }

    /// Makes a Telegram user exist (keeps the first name of an existing one up to date).
    pub fn add_user(&self, user_id: i64, first_name: &str) {
        self.shared
            .world()
            .reg
            .users
            .insert(user_id, first_name.to_owned());
    }

    /// Sets the `language_code` the user's Telegram client reports (an IETF tag such as `ru` or
    /// `pt-BR`; `en` until set), in every update from them from now on.
    pub fn set_user_language(&self, user_id: i64, language_code: &str) {
        self.shared
            .world()
            .reg
            .languages
            .insert(user_id, language_code.to_owned());
    }

    /// The commands a user whose client speaks `language_code` sees in the bot's menu in private
    /// chats, as Telegram chooses them: the list set for that language, else the default list.
    pub fn menu(&self, token: &str, language_code: &str) -> Vec<(String, String)> {
        let mut world = self.shared.world();
        let Some((bot, _)) = world.bot(token) else {
            return Vec::new();
        };
        crate::methods::menu_for(bot, language_code)
    }

    /// Marks the user as having blocked (or unblocked) the bot, so sends to them get 403.
    pub fn block_bot(&self, token: &str, user_id: i64, blocked: bool) {
        if let Some(bot) = self.shared.world().bots.get_mut(token) {
            bot.chat_mut(user_id).blocked = blocked;
        }
    }

    /// Arms a fault for the next `times` calls of `method` (any letter case, `*` for every
    /// method). Arming the same method again replaces its fault; `times: 0` disarms it.
    pub fn inject_fault(&self, token: &str, method: &str, fault: Fault) {
        let mut world = self.shared.world();
        let slots = world.faults.entry(token.to_owned()).or_default();
        faults::arm(slots, method, fault);
    }

    /// Loses the next `n` `successful_payment` updates of this bot: the Stars move and the star
    /// transaction exists, but the bot never receives the update (as when a gateway is down for
    /// longer than Telegram keeps updates).
    pub fn lose_next_payment_updates(&self, token: &str, n: u32) {
        let mut world = self.shared.world();
        if let Some((bot, _)) = world.bot(token) {
            bot.lose_payment_updates = n;
        }
    }

    /// Moves simulated time forward: dates, update lifetimes and the pre-checkout deadline.
    ///
    /// Subscriptions move with it, because that is when Telegram acts on them: each period that
    /// ends in the jump renews a running subscription (a new charge and a `successful_payment`
    /// dated when it came due, expiring one period later), fails it if
    /// [`SimHandle::fail_next_renewal`] was armed, or lets a canceled one expire. The world stays
    /// locked from the clock move until all of that is queued, so nobody observes the new time
    /// with renewals still missing.
    pub fn advance_time(&self, secs: i64) {
        let mut world = self.shared.world();
        self.shared.clock.advance(secs);
        subscriptions::run_due(&mut world, self.shared.clock.unix());
    }

    /// Simulated unix time.
    pub fn now(&self) -> i64 {
        self.shared.clock.unix()
    }

    pub fn invoices(&self, token: &str) -> Vec<SentInvoice> {
        self.read(token, |bot| bot.invoices.clone())
    }

    pub fn messages(&self, token: &str, chat_id: i64) -> Vec<SentMessage> {
        self.read(token, |bot| {
            bot.chats
                .get(&chat_id)
                .map(|chat| chat.messages.iter().map(|m| m.sent.clone()).collect())
                .unwrap_or_default()
        })
    }

    pub fn precheckout_answers(&self, token: &str) -> Vec<PreCheckoutAnswer> {
        self.read(token, |bot| bot.precheckout_answers.clone())
    }

    /// Exactly what getStarTransactions returns, all pages, oldest first.
    pub fn star_transactions(&self, token: &str) -> Vec<serde_json::Value> {
        self.read(token, |bot| bot.transactions.clone())
    }

    /// The methods called with `token` when no bot had it (each answered 401 Unauthorized).
    pub fn refused_calls(&self, token: &str) -> Vec<String> {
        self.shared
            .world()
            .refused
            .get(token)
            .cloned()
            .unwrap_or_default()
    }

    pub fn calls(&self, token: &str) -> Vec<ApiCall> {
        self.read(token, |bot| bot.calls.clone())
    }

    /// Updates queued and not yet confirmed (by offset or a 2xx webhook answer).
    pub fn pending_updates(&self, token: &str) -> usize {
        let now = self.shared.clock.unix();
        self.read(token, |bot| {
            bot.queue
                .iter()
                .filter(|q| q.in_flight || q.expires_at >= now)
                .count()
        })
    }

    pub fn subscriptions(&self, token: &str) -> Vec<SubscriptionInfo> {
        self.read(token, |bot| {
            bot.subscriptions
                .iter()
                .map(|s| SubscriptionInfo {
                    user_id: s.user_id,
                    payload: s.payload.clone(),
                    amount: s.amount,
                    period: s.period,
                    charge_ids: s.charge_ids.clone(),
                    expires_at: s.expires_at,
                    is_canceled: s.is_canceled,
                    state: s.state().to_owned(),
                })
                .collect()
        })
    }

    /// Every push to the bot's webhook, in the order they finished.
    pub fn webhook_attempts(&self, token: &str) -> Vec<WebhookAttempt> {
        self.read(token, |bot| bot.webhook_attempts.clone())
    }

    /// The `X-Telegram-Bot-Api-Secret-Token` the bot registered with setWebhook, if any.
    pub fn webhook_secret(&self, token: &str) -> Option<String> {
        self.read(token, |bot| {
            bot.webhook.as_ref().and_then(|h| h.secret_token.clone())
        })
    }

    /// Waits until `pred` holds for the messages the bot sent to `chat_id`, or `timeout`
    /// passes; returns the messages either way.
    pub async fn wait_for_messages(
        &self,
        token: &str,
        chat_id: i64,
        pred: impl Fn(&[SentMessage]) -> bool,
        timeout: Duration,
    ) -> Vec<SentMessage> {
        let deadline = Instant::now() + timeout;
        let Some(notify) = self.read(token, |bot| Some(bot.messages_notify.clone())) else {
            return Vec::new();
        };
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let messages = self.messages(token, chat_id);
            if pred(&messages) || Instant::now() >= deadline {
                return messages;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = sleep_until(deadline) => {}
                _ = self.shared.cancel.cancelled() => return messages,
            }
        }
    }

    /// Stops serving: ends long polls and webhook pushes, then waits for the server.
    pub async fn shutdown(self) {
        self.shared.cancel.cancel();
        let server = self
            .shared
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut server) = server
            && tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }

    pub(crate) fn read<R: Default>(
        &self,
        token: &str,
        f: impl FnOnce(&crate::state::BotState) -> R,
    ) -> R {
        self.shared
            .world()
            .bots
            .get(token)
            .map(f)
            .unwrap_or_default()
    }
}
