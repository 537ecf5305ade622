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
}

/// Kinds of update the simulator creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    CallbackQuery,
    PreCheckoutQuery,
}

impl Kind {
    pub(crate) fn field(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::CallbackQuery => "callback_query",
            Kind::PreCheckoutQuery => "pre_checkout_query",
        }
    }

    fn lifetime_secs(self) -> i64 {
        match self {
            Kind::PreCheckoutQuery => 150,
            Kind::Message | Kind::CallbackQuery => 86_400,
        }
    }

    fn of(update: &Value) -> Option<Kind> {
        [Kind::Message, Kind::CallbackQuery, Kind::PreCheckoutQuery]
            .into_iter()
            .find(|k| update.get(k.field()).is_some())
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

    /// Creates a fresh update (new id) from its payload.
    pub(crate) fn push_update(
        &mut self,
        now: i64,
        kind: Kind,
        lane: Lane,
        payload: Value,
    ) -> Created {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        let update = json!({ "update_id": update_id, kind.field(): payload });
        let kept = self.enqueue(now, kind, lane, update);
        Created { update_id, kept }
    }

    /// Queues a copy of an earlier update, with its own id or a new one.
    pub(crate) fn repeat_update(&mut self, now: i64, update_id: i64, same_id: bool) -> Option<i64> {
        let mut update = self.history.get(&update_id)?.clone();
        let kind = Kind::of(&update)?;
        let lane = lane_of(&update, kind);
        let id = if same_id {
            update_id
        } else {
            let id = self.next_update_id;
            self.next_update_id += 1;
            id
        };
        update["update_id"] = json!(id);
        self.enqueue(now, kind, lane, update);
        Some(id)
    }

    fn enqueue(&mut self, now: i64, kind: Kind, lane: Lane, update: Value) -> bool {
        if !self.allows(kind.field()) {
            return false;
        }
        let update_id = update["update_id"].as_i64().unwrap_or_default();
        let born = update[kind.field()]["date"].as_i64().unwrap_or(now);
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
                expires_at: born + kind.lifetime_secs(),
                json: update,
                attempts: 0,
                next_attempt_ms: 0,
                in_flight: false,
            },
        );
        self.updates_notify.notify_waiters();
        self.webhook_notify.notify_one();
        true
    }

    pub(crate) fn drop_expired(&mut self, now: i64) {
        self.queue.retain(|q| q.in_flight || q.expires_at >= now);
    }

    /// getUpdates' `offset`: positive confirms everything below it; negative keeps only the
    /// last `-offset` updates.
    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            self.queue.retain(|q| q.update_id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            let drop = self.queue.len().saturating_sub(keep);
            self.queue.drain(..drop);
        }
    }
}

fn lane_of(update: &Value, kind: Kind) -> Lane {
    let body = &update[kind.field()];
    match kind {
        Kind::Message => Lane::Chat(body["chat"]["id"].as_i64().unwrap_or_default()),
        Kind::CallbackQuery => Lane::Chat(body["from"]["id"].as_i64().unwrap_or_default()),
        Kind::PreCheckoutQuery => {
            Lane::PreCheckout(body["from"]["id"].as_i64().unwrap_or_default())
        }
    }
}
