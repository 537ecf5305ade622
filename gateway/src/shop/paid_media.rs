//! Paid media posts: sending one for a seller (`starsgate paid-media send`, `POST
//! /admin/paid-media`) and recording each `purchased_paid_media` update against its post.
//!
//! A post is recorded before it is sent, with its id as the payload, so a purchase that arrives
//! at once still finds it; Telegram's refusal is recorded on the post and handed back. A purchase
//! has no charge id in its update (reconciliation links that later), so it is keyed by the update:
//! a redelivered update records nothing new. A payload that is none of our posts is recorded and
//! logged, never an error, because an error would hold back the rest of the bot's updates.

use super::{ShopError, Store};
use crate::ledger::{LedgerError, NewPurchase, PurchaseRecorded};
use crate::paid_media::{PostId, PostRequest};
use crate::telegram::Failure;
use crate::telegram::incoming::PaidMediaPurchased;

/// A post Telegram accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub id: PostId,
    pub message_id: i64,
}

/// Why a post was not sent. Telegram's texts are already redacted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Telegram refused the request itself (a 400: a chat it does not know, a bad URL or file_id).
    #[error("Telegram refused the post: {0}")]
    Refused(String),
    /// The bot may not post there (a 403: blocked, not a member, no right to post).
    #[error("Telegram does not let the bot post there: {0}")]
    Forbidden(String),
    /// Telegram could not be reached or failed; the post is recorded as failed, send it again.
    #[error("Telegram could not take the post now: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Records the post, sends it with its id as the payload, and records how that went.
pub async fn send_post(
    store: &Store,
    post: &PostRequest,
    source: &str,
) -> Result<Posted, PostError> {
    let bot = store.id.as_str();
    let id = PostId::generate();
    store
        .ledger
        .record_paid_media_post(&store.id, &id, post, source)
        .await?;
    match crate::telegram::send_paid_media(&store.clients.api, post, &id).await {
        Ok(message_id) => {
            store
                .ledger
                .finish_paid_media_post(&store.id, &id, Ok(message_id))
                .await?;
            tracing::info!(bot, post = %id, chat = %post.chat, stars = post.stars.get(), "Sent a paid media post.");
            Ok(Posted { id, message_id })
        }
        Err(e) => {
            let text = crate::telegram::describe(&e);
            store
                .ledger
                .finish_paid_media_post(&store.id, &id, Err(text.clone()))
                .await?;
            tracing::warn!(bot, post = %id, error = %text, "Telegram refused a paid media post.");
            // teloxide counts "chat not found" as unreachable (no point retrying a chat); for a
            // seller naming a chat it is a bad request, so only a 403 means "not allowed there".
            Err(match crate::telegram::classify(&e) {
                Failure::Rejected(_) | Failure::Unreachable(_) if text.starts_with("Forbidden") => {
                    PostError::Forbidden(text)
                }
                Failure::Rejected(_) | Failure::Unreachable(_) => PostError::Refused(text),
                Failure::RetryAfter(_) | Failure::Transient(_) | Failure::Unauthorized => {
                    PostError::Unavailable(text)
                }
            })
        }
    }
}

/// Records a `purchased_paid_media` update against its post; returns the inbox outcome.
pub(super) async fn on_purchase(
    store: &Store,
    update_id: i64,
    purchased: &PaidMediaPurchased,
    received_at: i64,
) -> Result<String, ShopError> {
    let bot = store.id.as_str();
    let payload = purchased.payload();
    let recorded = store
        .ledger
        .record_paid_media_purchase(NewPurchase {
            bot: bot.to_owned(),
            payload: payload.clone(),
            user_id: purchased.from.id,
            update_id,
            purchased_at: received_at,
        })
        .await?;
    Ok(match recorded {
        PurchaseRecorded::Post(post) => {
            tracing::info!(bot, post = %post, user = purchased.from.id, "A buyer unlocked a paid media post.");
            format!("paid media purchase of {post} recorded")
        }
        PurchaseRecorded::UnknownPayload => {
            let shown = crate::brief::value(&payload);
            tracing::warn!(bot, user = purchased.from.id, payload = %shown, "A paid media purchase names none of this bot's posts; recorded for review.");
            format!("paid media purchase recorded; payload {shown} is none of our posts")
        }
        PurchaseRecorded::Repeat => "paid media purchase already recorded".into(),
    })
}
