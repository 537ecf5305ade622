//! Everything the simulated Telegram remembers.
//!
//! One `std::sync::Mutex` guards the whole world: every operation is short and synchronous, and
//! a single lock makes cross-bot invariants (unique charge ids, bot ids) trivially true. Nothing
//! holds it across an `.await`; waiters use the `Notify`s stored next to the data they watch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::faults::FaultSlot;
use crate::methods::files::FileKind;
use crate::paid_media::PaidPost;
use crate::queue::Queued;
use crate::types::{ApiCall, BotInfo, PreCheckoutAnswer, SentInvoice, SentMessage, WebhookAttempt};

/// The state shared by the HTTP server, the webhook pushers and every `SimHandle` clone.
pub(crate) struct Shared {
    world: Mutex<World>,
    pub clock: Clock,
    pub cancel: CancellationToken,
    /// Used to push updates to webhooks.
    pub http: reqwest::Client,
    pub addr: SocketAddr,
    /// The axum server task, awaited by `shutdown`.
    pub server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Shared {
            world: Mutex::new(World::default()),
            clock: Clock::new(),
            cancel: CancellationToken::new(),
            // Webhooks point at local bots; a proxy from the environment must not intercept.
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
            addr,
            server: Mutex::new(None),
        }
    }

    /// A panic while holding the lock leaves plain data behind, still usable for a test double.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
pub(crate) struct World {
    pub bots: HashMap<String, BotState>,
    /// Keyed by token so a fault can be armed before or after the bot is added.
    pub faults: HashMap<String, Vec<FaultSlot>>,
    pub reg: Registry,
    /// Calls refused with 401 because no bot has the token, by method, per token: what a
    /// test can see of a client using a token Telegram does not know.
    pub refused: HashMap<String, Vec<String>>,
}

/// What is global rather than per bot: users, and the id spaces Telegram keeps unique.
#[derive(Default)]
pub(crate) struct Registry {
    pub users: BTreeMap<i64, String>,
    /// The `language_code` a user's client reports (default `en`).
    pub languages: BTreeMap<i64, String>,
    bot_ids: HashSet<i64>,
    next_bot_id: i64,
    charge_ids: HashSet<String>,
}

impl World {
    pub(crate) fn add_bot(&mut self, token: &str, username: &str) -> BotInfo {
        if let Some(bot) = self.bots.get(token) {
            return bot.info.clone();
        }
        let reg = &mut self.reg;
        let from_token = token
            .split_once(':')
            .and_then(|(id, _)| id.parse::<i64>().ok())
            .filter(|id| *id > 0 && !reg.bot_ids.contains(id));
        let id = from_token.unwrap_or_else(|| {
            if reg.next_bot_id == 0 {
                reg.next_bot_id = 7_000_000_001;
            }
            while reg.bot_ids.contains(&reg.next_bot_id) {
                reg.next_bot_id += 1;
            }
            reg.next_bot_id
        });
        reg.bot_ids.insert(id);
        let info = BotInfo {
            id,
            username: username.to_owned(),
            token: token.to_owned(),
        };
        self.bots
            .insert(token.to_owned(), BotState::new(info.clone()));
        info
    }

    /// The bot and the global registry at once (they are disjoint borrows of the world).
    pub(crate) fn bot(&mut self, token: &str) -> Option<(&mut BotState, &mut Registry)> {
        let bot = self.bots.get_mut(token)?;
        Some((bot, &mut self.reg))
    }
}

impl Registry {
    pub(crate) fn language(&self, user_id: i64) -> String {
        self.languages
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| "en".to_owned())
    }

    pub(crate) fn user_name(&self, user_id: i64) -> Option<String> {
        self.users.get(&user_id).cloned()
    }

    pub(crate) fn new_charge_id(&mut self) -> String {
        loop {
            let id = format!("stxsim{}", random_alnum(24));
            if self.charge_ids.insert(id.clone()) {
                return id;
            }
        }
    }
}

pub(crate) fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub(crate) fn random_numeric_id() -> String {
    // Telegram query ids are large decimal numbers sent as strings.
    rand::rng()
        .random_range(1_000_000_000_000_000_000u64..10_000_000_000_000_000_000u64)
        .to_string()
}

/// A webhook registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: i64,
}

/// A file Telegram issued an id for (sent by URL once, or uploaded by the seller).
#[derive(Debug, Clone)]
pub(crate) struct IssuedFile {
    pub kind: FileKind,
    pub file_id: String,
    pub file_unique_id: String,
    /// The URL it was fetched from, so the same URL gets the same id.
    pub url: Option<String>,
    pub name: Option<String>,
}

pub(crate) struct BotState {
    pub info: BotInfo,
    pub next_update_id: i64,
    /// Unconfirmed updates, ordered by update_id.
    pub queue: Vec<Queued>,
    pub next_seq: u64,
    /// The next this-many `successful_payment` updates are lost before the bot sees them (the
    /// money still moves): what reconciliation exists for.
    pub lose_payment_updates: u32,
    /// Every update ever queued, so a test can make Telegram repeat one.
    pub history: BTreeMap<i64, Value>,
    /// None or empty = Telegram's default set.
    pub allowed_updates: Option<Vec<String>>,
    pub webhook: Option<Webhook>,
    /// Bumped on every webhook change so an outdated pusher task stops.
    pub webhook_gen: u64,
    pub webhook_set_at_ms: Option<i64>,
    pub last_webhook_error: Option<(i64, String)>,
    pub webhook_attempts: Vec<WebhookAttempt>,
    /// Bumped by each getUpdates so an earlier long poll knows it was superseded.
    pub poll_gen: u64,
    pub chats: BTreeMap<i64, ChatState>,
    pub invoices: Vec<SentInvoice>,
    pub pre_checkouts: HashMap<String, PendingPreCheckout>,
    pub precheckout_answers: Vec<PreCheckoutAnswer>,
    pub callbacks: HashMap<String, bool>,
    pub charges: HashMap<String, Charge>,
    pub subscriptions: Vec<Subscription>,
    pub transactions: Vec<Value>,
    /// Files Telegram holds for this bot, by the `file_id` it issued.
    pub files: HashMap<String, IssuedFile>,
    /// Paid media posts the bot sent (sendPaidMedia), with who unlocked each.
    pub paid_posts: Vec<PaidPost>,
    pub calls: Vec<ApiCall>,
    /// setMyCommands, per (scope, language_code); "" is the language default.
    pub commands: BTreeMap<(String, String), Value>,
    /// Woken when an update is queued or a poll/webhook setting changes.
    pub updates_notify: Arc<Notify>,
    /// Woken when an update is queued or a push finishes (permit semantics: `notify_one`).
    pub webhook_notify: Arc<Notify>,
    /// Woken whenever the bot sends or edits a message.
    pub messages_notify: Arc<Notify>,
}

impl BotState {
    fn new(info: BotInfo) -> Self {
        BotState {
            info,
            // Real update ids are large and arbitrary; starting far from 0 flushes out
            // clients that treat offset 0 or small ids specially.
            next_update_id: rand::rng().random_range(100_000_000..900_000_000),
            queue: Vec::new(),
            next_seq: 0,
            lose_payment_updates: 0,
            history: BTreeMap::new(),
            allowed_updates: None,
            webhook: None,
            webhook_gen: 0,
            webhook_set_at_ms: None,
            last_webhook_error: None,
            webhook_attempts: Vec::new(),
            poll_gen: 0,
            chats: BTreeMap::new(),
            invoices: Vec::new(),
            pre_checkouts: HashMap::new(),
            precheckout_answers: Vec::new(),
            callbacks: HashMap::new(),
            charges: HashMap::new(),
            subscriptions: Vec::new(),
            transactions: Vec::new(),
            files: HashMap::new(),
            paid_posts: Vec::new(),
            calls: Vec::new(),
            commands: BTreeMap::new(),
            updates_notify: Arc::new(Notify::new()),
            webhook_notify: Arc::new(Notify::new()),
            messages_notify: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn chat_mut(&mut self, user_id: i64) -> &mut ChatState {
        self.chats.entry(user_id).or_insert_with(|| ChatState {
            next_message_id: 1,
            started: false,
            blocked: false,
            chat_instance: rand::rng()
                .random_range(-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000)
                .to_string(),
            messages: Vec::new(),
        })
    }

    /// The chat a bot may write to: the user must have talked to it and not blocked it.
    pub(crate) fn writable_chat(
        &mut self,
        chat_id: i64,
    ) -> Result<&mut ChatState, crate::error::ApiError> {
        match self.chats.get_mut(&chat_id) {
            Some(chat) if chat.started && chat.blocked => Err(crate::error::ApiError::blocked()),
            Some(chat) if chat.started => Ok(chat),
            _ => Err(crate::error::ApiError::chat_not_found()),
        }
    }

    pub(crate) fn balance(&self) -> i64 {
        self.transactions
            .iter()
            .map(|t| {
                let amount = t["amount"].as_i64().unwrap_or(0);
                if t.get("receiver").is_some() {
                    -amount
                } else {
                    amount
                }
            })
            .sum()
    }
}

pub(crate) struct ChatState {
    /// Message ids are per chat and shared by both sides, as in real private chats.
    pub next_message_id: i64,
    /// The user has written to (or paid) the bot, so the bot may write back.
    pub started: bool,
    pub blocked: bool,
    pub chat_instance: String,
    pub messages: Vec<StoredMessage>,
}

impl ChatState {
    pub(crate) fn take_message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }
}

/// A message the bot sent: the test-facing summary plus the exact JSON Telegram returned.
pub(crate) struct StoredMessage {
    pub sent: SentMessage,
    pub json: Value,
    pub deleted: bool,
}

pub(crate) struct PendingPreCheckout {
    /// The invoice being paid, as it was when the buyer pressed Pay.
    pub invoice: SentInvoice,
    pub created_ms: i64,
    pub answer: Option<(bool, Option<String>)>,
    /// Set once the buyer gave up waiting; later answers are refused.
    pub expired: bool,
    pub wake: Arc<Notify>,
}

#[derive(Debug, Clone)]
pub(crate) struct Charge {
    pub user_id: i64,
    pub amount: i64,
    pub payload: String,
    pub refunded: bool,
    /// Index into `BotState::subscriptions`.
    pub subscription: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub user_id: i64,
    pub payload: String,
    pub amount: i64,
    pub period: i64,
    pub charge_ids: Vec<String>,
    /// When the paid period ends: the moment Telegram charges the next renewal.
    pub expires_at: i64,
    /// Renewal is off (by the bot with editUserStarSubscription, or by the buyer).
    pub is_canceled: bool,
    /// Who turned renewal off. Telegram lets the buyer re-enable only what the buyer canceled;
    /// a subscription the bot canceled comes back only through the bot.
    pub canceled_by_bot: bool,
    /// `fail_next_renewal` was armed: the next renewal attempt fails instead of charging.
    pub fail_next_renewal: bool,
    /// Set once the subscription stopped for good; it never renews again.
    pub ended: Option<Ended>,
}

/// How a subscription stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// A renewal payment failed.
    Failed,
    /// Its period ran out while renewal was canceled.
    Expired,
}

impl Subscription {
    pub(crate) fn new(user_id: i64, payload: &str, amount: i64, period: i64, now: i64) -> Self {
        Subscription {
            user_id,
            payload: payload.to_owned(),
            amount,
            period,
            charge_ids: Vec::new(),
            expires_at: now,
            is_canceled: false,
            canceled_by_bot: false,
            fail_next_renewal: false,
            ended: None,
        }
    }

    /// What `SubscriptionInfo::state` shows: an ending outranks the canceled flag, because a
    /// lapsed or failed subscription stays stopped whatever the flag says.
    pub(crate) fn state(&self) -> &'static str {
        match self.ended {
            Some(Ended::Failed) => "failed",
            Some(Ended::Expired) => "expired",
            None if self.is_canceled => "canceled",
            None => "active",
        }
    }
}
