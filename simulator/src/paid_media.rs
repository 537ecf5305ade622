//! Paid media as Telegram keeps it: the posts a bot sent with sendPaidMedia, the files it was
//! given, and a buyer unlocking a post.
//!
//! Unlocking is what a gateway must reconcile, because it has no `successful_payment`: the Stars
//! move as a `paid_media_payment` StarTransaction (with `paid_media_payload` and `paid_media`),
//! and `purchased_paid_media` reaches the bot only for a non-empty payload outside channels (Bot
//! API 7.10). A channel post's proceeds go to the channel's balance, so the bot sees nothing.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::handle::SimHandle;
use crate::queue::{Kind, Lane};
use crate::shapes;
use crate::types::{PaidMediaPurchase, SentPaidMedia, SimError};

pub(crate) use crate::methods::files::FileKind;

/// Which kind of chat an id names (the simulator's convention, see `methods::paid_media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatType {
    Private,
    Group,
    Channel,
}

impl ChatType {
    pub(crate) fn of(chat_id: i64) -> Self {
        if chat_id > 0 {
            Self::Private
        } else if chat_id <= -1_000_000_000_000 {
            Self::Channel
        } else {
            Self::Group
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Group => "group",
            Self::Channel => "channel",
        }
    }
}

/// One sendPaidMedia post.
pub(crate) struct PaidPost {
    pub sent: SentPaidMedia,
    /// The post's PaidMedia objects, as a StarTransaction's `paid_media` lists them.
    pub media: Vec<Value>,
    /// Users who unlocked it (Telegram charges each buyer once).
    pub buyers: HashSet<i64>,
}

impl PaidPost {
    pub(crate) fn new(sent: SentPaidMedia, media: Vec<Value>) -> Self {
        Self {
            sent,
            media,
            buyers: HashSet::new(),
        }
    }
}

impl SimHandle {
    /// Every paid media post the bot sent, oldest first.
    pub fn paid_media_posts(&self, token: &str) -> Vec<SentPaidMedia> {
        self.read(token, |bot| {
            bot.paid_posts.iter().map(|p| p.sent.clone()).collect()
        })
    }

    /// `user_id` unlocks the paid media post `message_id` in `chat_id`: charged its
    /// `star_count` as a `paid_media_payment` StarTransaction on the bot's balance (on the
    /// channel's for a channel post, invisible to the bot), and, for a non-empty payload outside
    /// a channel, `purchased_paid_media` is queued (subject to `allowed_updates`).
    pub fn buy_paid_media(
        &self,
        token: &str,
        user_id: i64,
        chat_id: i64,
        message_id: i64,
    ) -> Result<PaidMediaPurchase, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let name = reg
            .user_name(user_id)
            .ok_or(SimError::UnknownUser(user_id))?;
        let user = shapes::user(user_id, &name, &reg.language(user_id));
        let Some(post) = bot
            .paid_posts
            .iter_mut()
            .find(|p| p.sent.chat_id == chat_id && p.sent.message_id == message_id)
        else {
            let sent_there = bot.chats.get(&chat_id).is_some_and(|c| {
                c.messages
                    .iter()
                    .any(|m| m.sent.message_id == message_id && !m.deleted)
            });
            return Err(if sent_there {
                SimError::NotPaidMedia(message_id)
            } else {
                SimError::UnknownMessage {
                    chat_id,
                    message_id,
                }
            });
        };
        if !post.buyers.insert(user_id) {
            return Err(SimError::AlreadyUnlocked {
                user_id,
                message_id,
            });
        }
        if ChatType::of(chat_id) == ChatType::Channel {
            return Ok(PaidMediaPurchase {
                charge_id: None,
                update_id: None,
            });
        }
        let (amount, payload, media) = (
            post.sent.star_count,
            post.sent.payload.clone(),
            post.media.clone(),
        );
        let charge_id = reg.new_charge_id();
        let mut source = json!({
            "type": "user",
            "transaction_type": "paid_media_payment",
            "user": user,
            "paid_media": media,
        });
        if !payload.is_empty() {
            source["paid_media_payload"] = json!(payload);
        }
        bot.transactions.push(json!({
            "id": charge_id,
            "amount": amount,
            "date": now,
            "source": source,
        }));
        bot.charges.insert(
            charge_id.clone(),
            crate::state::Charge {
                user_id,
                amount,
                payload: payload.clone(),
                refunded: false,
                subscription: None,
            },
        );
        let update_id = if payload.is_empty() {
            None
        } else {
            let body = json!({ "from": user, "paid_media_payload": payload });
            let created = bot.push_update(
                now,
                Kind::PurchasedPaidMedia,
                Lane::PaidMedia(user_id),
                body,
            );
            created.kept.then_some(created.update_id)
        };
        Ok(PaidMediaPurchase {
            charge_id: Some(charge_id),
            update_id,
        })
    }
}
