//! The per-bot update queue, shared by getUpdates and webhook delivery.
//!
//! Telegram decides at creation time whether an update is kept (`allowed_updates`), numbers
//! kept and dropped ones alike from one counter, expires them (150 s for pre-checkout queries,
//! 24 h for messages) and forgets them only once confirmed.

use serde_json::{Value, json};

use crate::state::BotState;

/// Update types left out when `allowed_updates` is empty or was never set.
const NOT_IN_DEFAULT_SET: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

/// The webhook ordering domain: a chat, or a user's pre-checkout queries (Telegram keeps those
/// apart so a stuck message does not block a checkout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    Chat(i64),
    PreCheckout(i64),
    /// A user's `purchased_paid_media` updates (the server queues them apart from the chat).
    PaidMedia(i64),
}

#[derive(Debug, Clone)]
pub(crate) struct Queued {
    /// Unique per bot even when a test re-queues an update with the same update_id.
    pub seq: u64,
    pub update_id: i64,
    pub lane: Lane,
    /// Simulated unix time after which Telegram drops the update.
    pub expires_at: i64,
    pub json: Value,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub in_flight: bool,
    /// A same-id copy made by `repeat_update`; survives the offset until returned once.
    pub redelivery: bool,
    /// Returned by getUpdates at least once.
    pub returned: bool,
}

/// Kinds of update the simulator creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    CallbackQuery,
    PreCheckoutQuery,
    /// Bot API 10.2 `BotSubscriptionUpdated`: the user canceled or re-enabled a subscription, or
    /// a renewal failed. In Telegram's default set, so a bot gets it unless it lists types.
    Subscription,
    /// `PaidMediaPurchased`: a user unlocked a paid media post with a non-empty payload outside
    /// a channel. In the default set.
    PurchasedPaidMedia,
}

impl Kind {
    pub(crate) fn field(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::CallbackQuery => "callback_query",
            Kind::PreCheckoutQuery => "pre_checkout_query",
            Kind::Subscription => "subscription",
            Kind::PurchasedPaidMedia => "purchased_paid_media",
        }
    }
}

fn lifetime_secs(field: &str) -> i64 {
    if field == "pre_checkout_query" {
        150
    } else {
        86_400
    }
}

/// Result of creating an update.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Created {
    pub update_id: i64,
    /// False when `allowed_updates` excluded the type and Telegram discarded it.
    pub kept: bool,
}

impl BotState {
    pub(crate) fn allows(&self, field: &str) -> bool {
        match &self.allowed_updates {
            Some(list) if !list.is_empty() => list.iter().any(|t| t == field),
            _ => !NOT_IN_DEFAULT_SET.contains(&field),
        }
    }

    fn take_update_id(&mut self) -> i64 {
        let id = self.next_update_id;
        self.next_update_id += 1;
        id
    }

    /// Creates a fresh update (new id) from its payload.
    pub(crate) fn push_update(
        &mut self,
        now: i64,
        kind: Kind,
        lane: Lane,
        payload: Value,
    ) -> Created {
        let update_id = self.take_update_id();
        let update = json!({ "update_id": update_id, kind.field(): payload });
        let kept = self.enqueue(now, kind.field(), lane, update, false);
        Created { update_id, kept }
    }

    /// Queues an update a test wrote by hand (possibly malformed on purpose) under a new id.
    /// A value that is not an object is queued as a `message`.
    pub(crate) fn inject(&mut self, now: i64, body: Value) -> Created {
        let update_id = self.take_update_id();
        let mut update = match body {
            Value::Object(fields) => Value::Object(fields),
            other => json!({ "message": other }),
        };
        update["update_id"] = json!(update_id);
        let field = update_field(&update).unwrap_or_else(|| "message".to_owned());
        let lane = lane_of(&update, &field);
        let kept = self.enqueue(now, &field, lane, update, false);
        Created { update_id, kept }
    }

    /// Queues a copy of an earlier update, with its own id or a new one.
    ///
    /// A same-id copy models a redelivery after a lost acknowledgement, so it is delivered
    /// once even if the bot's offset has already moved past that id.
    pub(crate) fn repeat_update(&mut self, now: i64, update_id: i64, same_id: bool) -> Option<i64> {
        let mut update = self.history.get(&update_id)?.clone();
        let field = update_field(&update)?;
        let lane = lane_of(&update, &field);
        let id = if same_id {
            update_id
        } else {
            self.take_update_id()
        };
        update["update_id"] = json!(id);
        self.enqueue(now, &field, lane, update, same_id);
        Some(id)
    }

    fn enqueue(
        &mut self,
        now: i64,
        field: &str,
        lane: Lane,
        update: Value,
        redelivery: bool,
    ) -> bool {
        if !self.allows(field) {
            return false;
        }
        let update_id = update["update_id"].as_i64().unwrap_or_default();
        self.history.insert(update_id, update.clone());
        let seq = self.next_seq;
        self.next_seq += 1;
        let at = self.queue.partition_point(|q| q.update_id <= update_id);
        self.queue.insert(
            at,
            Queued {
                seq,
                update_id,
                lane,
                expires_at: now + lifetime_secs(field),
                json: update,
                attempts: 0,
                next_attempt_ms: 0,
                in_flight: false,
                redelivery,
                returned: false,
            },
        );
        self.updates_notify.notify_waiters();
        self.webhook_notify.notify_one();
        true
    }

    pub(crate) fn drop_expired(&mut self, now: i64) {
        self.queue.retain(|q| q.in_flight || q.expires_at >= now);
    }

    /// getUpdates' `offset`: positive confirms everything below it (except a redelivered copy
    /// not yet returned); negative keeps only the last `-offset` updates.
    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.queue
                .retain(|q| q.update_id >= offset || (q.redelivery && !q.returned));
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.queue.len().saturating_sub(keep);
            self.queue.drain(..drop);
        }
    }
}

/// The update's type: its one field besides `update_id`.
fn update_field(update: &Value) -> Option<String> {
    update
        .as_object()?
        .keys()
        .find(|k| k.as_str() != "update_id")
        .cloned()
}

fn lane_of(update: &Value, field: &str) -> Lane {
    let body = &update[field];
    let chat = body["chat"]["id"].as_i64();
    let from = body["from"]["id"].as_i64();
    // BotSubscriptionUpdated names its user `user`; it shares the user's private-chat lane so a
    // repeated copy stays behind the payments it follows.
    let user = body["user"]["id"].as_i64();
    match field {
        "pre_checkout_query" => Lane::PreCheckout(from.unwrap_or_default()),
        "callback_query" => Lane::Chat(from.unwrap_or_default()),
        "purchased_paid_media" => Lane::PaidMedia(from.unwrap_or_default()),
        _ => Lane::Chat(chat.or(from).or(user).unwrap_or_default()),
    }
}
