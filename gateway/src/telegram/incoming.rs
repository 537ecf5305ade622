//! A stored update, read. The ledger keeps each update as Telegram sent it; ingest reads it into
//! an [`Incoming`] once, at the edge, and the shop acts on the typed value and never sees JSON.
//! `subscription` (Bot API 10.2) and `purchased_paid_media` have no teloxide types, so their
//! shapes are declared here with only the fields a store reads.

use serde::Deserialize;
use teloxide_core::types::{CallbackQuery, Message, PreCheckoutQuery, Update, UpdateKind};

use super::KindLabel;

/// What a store may be asked to act on.
#[derive(Debug)]
pub enum Incoming {
    Message(Box<Message>),
    Callback(Box<CallbackQuery>),
    PreCheckout(Box<PreCheckoutQuery>),
    PaidMediaPurchased(PaidMediaPurchased),
    Subscription(SubscriptionChanged),
    /// A kind a store does not use (kept in the ledger, answered with nothing).
    Other(String),
}

/// Why a stored update cannot be read; recorded, never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unreadable {
    kind: KindLabel,
    reason: String,
}

impl Unreadable {
    fn new(kind: KindLabel, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    /// The update's outcome in the inbox.
    pub fn outcome(&self) -> String {
        match self.kind {
            KindLabel::PurchasedPaidMedia => "unreadable: purchased_paid_media update".into(),
            KindLabel::Subscription => "unreadable: subscription update".into(),
            _ => "unreadable".into(),
        }
    }
}

impl Incoming {
    /// Reads the body of a stored update of `kind` (its one field besides `update_id`).
    pub fn parse(kind: &str, body: &str) -> Result<Self, Unreadable> {
        let label = KindLabel::of(kind);
        match label {
            KindLabel::PurchasedPaidMedia => serde_json::from_str::<PaidMediaUpdate>(body)
                .map(|u| Self::PaidMediaPurchased(u.purchased_paid_media))
                .map_err(|e| Unreadable::new(label, format!("purchased_paid_media: {e}"))),
            KindLabel::Subscription => serde_json::from_str::<SubscriptionUpdate>(body)
                .map(|u| Self::Subscription(u.subscription))
                .map_err(|e| Unreadable::new(label, format!("subscription: {e}"))),
            _ => {
                let update: Update = serde_json::from_str(body)
                    .map_err(|e| Unreadable::new(label, e.to_string()))?;
                Ok(match update.kind {
                    UpdateKind::Message(m) => Self::Message(Box::new(m)),
                    UpdateKind::CallbackQuery(q) => Self::Callback(Box::new(q)),
                    UpdateKind::PreCheckoutQuery(q) => Self::PreCheckout(Box::new(q)),
                    _ => Self::Other(kind.to_owned()),
                })
            }
        }
    }
}

/// Whether a stored update of `kind` is a pre-checkout query (answered on a path of its own).
pub fn is_pre_checkout(kind: &str) -> bool {
    KindLabel::of(kind) == KindLabel::PreCheckoutQuery
}

#[derive(Deserialize)]
struct PaidMediaUpdate {
    purchased_paid_media: PaidMediaPurchased,
}

/// PaidMediaPurchased: a buyer unlocked one of the bot's paid media posts.
#[derive(Debug, Deserialize)]
pub struct PaidMediaPurchased {
    pub from: UserRef,
    /// Clients have seen the payload both as `paid_media_payload` (the Bot API's name) and as
    /// `payload`, so either is read (see [`PaidMediaPurchased::payload`]).
    paid_media_payload: Option<String>,
    payload: Option<String>,
}

impl PaidMediaPurchased {
    /// The post's payload, whichever name it came under; empty if none.
    pub fn payload(&self) -> String {
        self.paid_media_payload
            .clone()
            .or_else(|| self.payload.clone())
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct SubscriptionUpdate {
    subscription: SubscriptionChanged,
}

/// `Update.subscription` (BotSubscriptionUpdated): a buyer cancelled or re-enabled a membership,
/// or a renewal failed. `state` is kept as text: a state a later Bot API adds is ignored, not an
/// unreadable update.
#[derive(Debug, Deserialize)]
pub struct SubscriptionChanged {
    pub user: UserRef,
    pub invoice_payload: String,
    pub state: String,
}

#[derive(Debug, Deserialize)]
pub struct UserRef {
    pub id: i64,
    #[serde(default)]
    pub language_code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_a_store_uses_is_read_into_its_own_variant() {
        let paid = r#"{"update_id":1,"purchased_paid_media":{"from":{"id":7,"is_bot":false,"first_name":"A"},"payload":"p1"}}"#;
        match Incoming::parse("purchased_paid_media", paid) {
            Ok(Incoming::PaidMediaPurchased(p)) => {
                assert_eq!((p.from.id, p.payload()), (7, "p1".into()))
            }
            other => panic!("{other:?}"),
        }
        let sub = r#"{"update_id":2,"subscription":{"user":{"id":8},"invoice_payload":"o","state":"canceled"}}"#;
        match Incoming::parse("subscription", sub) {
            Ok(Incoming::Subscription(s)) => {
                assert_eq!((s.user.id, s.state.as_str()), (8, "canceled"))
            }
            other => panic!("{other:?}"),
        }
        let poll = r#"{"update_id":3,"poll_answer":{"poll_id":"x","option_ids":[],"user":{"id":1,"is_bot":false,"first_name":"A"}}}"#;
        assert!(
            matches!(Incoming::parse("poll_answer", poll), Ok(Incoming::Other(k)) if k == "poll_answer")
        );
    }

    #[test]
    fn a_body_that_does_not_fit_its_kind_is_unreadable_and_says_which_kind() {
        let e = Incoming::parse("subscription", r#"{"update_id":1,"subscription":{}}"#)
            .expect_err("missing fields");
        assert!(e.to_string().starts_with("subscription: "), "{e}");
        assert!(Incoming::parse("message", "not json").is_err());
        assert_eq!(e.outcome(), "unreadable: subscription update");
    }
}
