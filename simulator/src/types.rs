//! The public vocabulary of the simulator: what tests hand in and what they get back.
//!
//! These are plain data so a test can compare, print and serialize them (the HTTP control API
//! returns them as JSON unchanged).

use serde::Serialize;

/// A bot the simulator serves. `id` is taken from the token's `<id>:` prefix when it has one,
/// because real tokens embed the bot id and gateways sometimes rely on that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotInfo {
    pub id: i64,
    pub username: String,
    pub token: String,
}

/// Which invoice a simulated buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceRef {
    /// An invoice message the bot sent into the buyer's chat.
    Message { message_id: i64 },
    /// An invoice link the bot created with createInvoiceLink.
    Link(String),
    /// The newest invoice the bot sent to this buyer, or the newest link it created.
    Latest,
}

/// How a checkout ended, seen from the buyer's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PayOutcome {
    /// The bot approved the pre-checkout query: Stars moved and `successful_payment` was queued.
    Paid { charge_id: String, update_id: i64 },
    /// The bot answered ok=false; the buyer saw `error_message` and was not charged.
    Rejected { error_message: String },
    /// No answer within Telegram's 10 s deadline (or the query was filtered out by
    /// `allowed_updates`): the buyer's checkout spinner times out and nothing is charged.
    NoAnswer,
    /// A subscription renewal Telegram attempted but could not charge (armed with
    /// `SimHandle::fail_next_renewal`): no Stars moved, no `successful_payment`; the bot got a
    /// `subscription` update with state `"failed"` (`update_id`, which `allowed_updates` may
    /// have discarded) and the subscription no longer renews.
    RenewalFailed { update_id: i64 },
}

/// A misbehaviour of "Telegram" for the next `times` calls of a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with `parameters.retry_after` and a `Retry-After` header; the call is not handled.
    TooManyRequests { retry_after: u32, times: u32 },
    /// 500; the call is not handled.
    ServerError { times: u32 },
    /// The call is handled normally after a delay.
    Slow { millis: u64, times: u32 },
    /// The call is handled (its effects happen) but the answer is lost: 502 Bad Gateway.
    /// This is the case that breaks naive "retry on error" code.
    DropResponse { times: u32 },
    /// 400 with this description (e.g. `"Bad Request: message is too long"`); the call is not
    /// handled. For testing what a client does when Telegram refuses a request outright.
    BadRequest { description: String, times: u32 },
}

impl Fault {
    pub(crate) fn times(&self) -> u32 {
        match self {
            Fault::TooManyRequests { times, .. }
            | Fault::ServerError { times }
            | Fault::Slow { times, .. }
            | Fault::DropResponse { times }
            | Fault::BadRequest { times, .. } => *times,
        }
    }
}

/// A message the bot sent (sendMessage, sendInvoice or a file), as the buyer would see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    pub message_id: i64,
    pub chat_id: i64,
    pub text: Option<String>,
    pub invoice: Option<SentInvoice>,
    pub reply_markup: Option<serde_json::Value>,
    /// A file (sendDocument, sendPhoto, sendVideo, sendAudio); its caption is here, not in `text`.
    pub media: Option<SentMedia>,
    pub date: i64,
}

/// The file of a message sent by sendDocument, sendPhoto, sendVideo or sendAudio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentMedia {
    /// `document`, `photo`, `video` or `audio`.
    pub kind: String,
    /// The file as the bot named it: a URL or a file id.
    pub file: String,
    /// The file id Telegram answered with.
    pub file_id: String,
    pub caption: Option<String>,
}

/// An accepted sendInvoice or createInvoiceLink call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentInvoice {
    /// Set for sendInvoice.
    pub message_id: Option<i64>,
    /// Set for createInvoiceLink.
    pub link: Option<String>,
    /// Set for sendInvoice.
    pub chat_id: Option<i64>,
    pub title: String,
    pub description: String,
    pub payload: String,
    pub currency: String,
    pub amount: i64,
    pub subscription_period: Option<i64>,
    /// The request's parameters as received (form values holding JSON are decoded).
    pub params: serde_json::Value,
}

/// One answerPreCheckoutQuery call for a query the simulator issued, including late and
/// repeated ones (`accepted` = false), so a test can assert the gateway always answered in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreCheckoutAnswer {
    pub query_id: String,
    pub ok: bool,
    pub error_message: Option<String>,
    /// Simulated milliseconds between the buyer pressing Pay and this answer.
    pub after_ms: u64,
    /// False when Telegram refused the answer (too late or a second answer).
    pub accepted: bool,
}

/// An accepted sendPaidMedia call: a post whose media unlock for `star_count` Stars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentPaidMedia {
    pub message_id: i64,
    pub chat_id: i64,
    /// `"private"`, `"group"` or `"channel"` (see the simulator's chat id convention).
    pub chat_type: String,
    pub star_count: i64,
    /// The bot's `payload` (may be empty): what `purchased_paid_media` and the star transaction
    /// hand back.
    pub payload: String,
    pub caption: Option<String>,
    /// One `(type, file_id)` per media, in order; a URL sent is issued a new file_id.
    pub media: Vec<(String, String)>,
    pub date: i64,
}

/// A buyer unlocked a paid media post (see `SimHandle::buy_paid_media`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaidMediaPurchase {
    /// The StarTransaction's id; `None` for a channel post, whose proceeds go to the channel's
    /// balance rather than the bot's.
    pub charge_id: Option<String>,
    /// The `purchased_paid_media` update; `None` when Telegram sends none (empty payload, a
    /// channel post) or `allowed_updates` discarded it.
    pub update_id: Option<i64>,
}

/// One Bot API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiCall {
    /// Canonical camelCase name (`sendMessage`), whatever case the client used.
    pub method: String,
    pub params: serde_json::Value,
    pub status: u16,
    /// Whether the request came in on Telegram's test-environment path (`/bot<token>/test/…`).
    pub test_env: bool,
}

/// A Stars subscription started through an invoice link with `subscription_period`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionInfo {
    pub user_id: i64,
    pub payload: String,
    pub amount: i64,
    pub period: i64,
    /// Every charge of this subscription, first payment first.
    pub charge_ids: Vec<String>,
    /// Unix time the paid period ends, when the next renewal is due.
    pub expires_at: i64,
    /// Renewal is off: set by editUserStarSubscription(is_canceled = true) or by the buyer
    /// (`cancel_subscription_as_buyer`). Stays set once a canceled subscription has expired.
    pub is_canceled: bool,
    /// What the simulator thinks of it: `"active"` (renews), `"canceled"` (paid up to
    /// `expires_at`, will not renew), `"failed"` (a renewal payment failed; stopped for good) or
    /// `"expired"` (the period ran out while canceled; stopped for good).
    pub state: String,
}

/// One push of an update to the bot's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAttempt {
    pub update_id: i64,
    /// The HTTP status the bot answered, or None when the connection failed.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Misuse of the play-a-buyer API (the simulated buyer tried something impossible).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    #[error("unknown bot token {0:?}: register it with add_bot first")]
    UnknownBot(String),
    #[error("unknown user {0}: register it with add_user (or let it send_text) first")]
    UnknownUser(i64),
    #[error("the bot never sent message {message_id} to chat {chat_id}")]
    UnknownMessage { chat_id: i64, message_id: i64 },
    #[error("message {message_id} has no inline button with callback_data {data:?}")]
    UnknownButton { message_id: i64, data: String },
    #[error("no file kind {0:?}: document, photo, video or audio")]
    UnknownFileKind(String),
    #[error("message {0} is not an invoice")]
    NotAnInvoice(i64),
    #[error("no such invoice: {0}")]
    UnknownInvoice(String),
    #[error("the bot never received update {0}")]
    UnknownUpdate(i64),
    #[error("unknown charge {0:?} for this bot")]
    UnknownCharge(String),
    #[error("charge {0:?} was already refunded")]
    AlreadyRefunded(String),
    #[error("charge {0:?} does not belong to a subscription")]
    NotASubscription(String),
    #[error("the subscription of charge {0:?} is canceled, so it does not renew")]
    SubscriptionCanceled(String),
    #[error("the subscription of charge {charge_id:?} has stopped for good (state {state:?})")]
    SubscriptionEnded { charge_id: String, state: String },
    #[error("the subscription of charge {0:?} is not canceled, so there is nothing to re-enable")]
    SubscriptionNotCanceled(String),
    #[error(
        "the bot canceled the subscription of charge {0:?}: only the bot can turn renewal back \
         on (editUserStarSubscription with is_canceled=false)"
    )]
    CanceledByBot(String),
    #[error("user {user_id} already unlocked paid media message {message_id}")]
    AlreadyUnlocked { user_id: i64, message_id: i64 },
    #[error("message {0} is not a paid media post")]
    NotPaidMedia(i64),
    #[error("the simulator is shutting down")]
    ShuttingDown,
}
