//! `/subscriptions`: a buyer's memberships with their expiry, and buttons to stop the renewal or
//! turn it back on (editUserStarSubscription). Telegram keeps a cancelled membership running until
//! the period ends.

use teloxide_core::prelude::*;
use teloxide_core::requests::Request;
use teloxide_core::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, TelegramTransactionId, UserId,
};

use super::lapse::readable;
use super::{Current, ShopError, Store, tg};
use crate::config::Texts;
use crate::domain::ProductId;
use crate::i18n::Msg;
use crate::ledger::{Subscription, SubscriptionState};
use crate::telegram::with_retry;

const CANCEL: &str = "sub-cancel:";
const RESUME: &str = "sub-resume:";

/// A product's title in the buyer's language, or its id if the product is gone.
pub(super) fn title(current: &Current, texts: &Texts<'_>, product: &str) -> String {
    ProductId::parse(product)
        .ok()
        .and_then(|id| {
            current
                .config
                .product(&id)
                .map(|p| texts.title(p).to_owned())
        })
        .unwrap_or_else(|| product.to_owned())
}

pub(super) async fn list(
    store: &Store,
    current: &Current,
    user: i64,
    chat: ChatId,
    texts: &Texts<'_>,
) -> Result<(), ShopError> {
    let subs = store.ledger.subscriptions(&store.id, user).await?;
    if subs.is_empty() {
        return super::reply::say(store, chat, &texts.msg(Msg::NoMemberships)).await;
    }
    let mut text = texts.msg(Msg::MembershipsHeader);
    let mut rows = Vec::new();
    for s in &subs {
        let name = title(current, texts, &s.product);
        let until = readable(s.expires_at);
        let args = [
            ("title", name.as_str()),
            ("until", until.as_str()),
            ("product", s.product.as_str()),
        ];
        let line = match s.state {
            SubscriptionState::Active => {
                rows.push(vec![InlineKeyboardButton::callback(
                    texts.fill(Msg::StopRenewingButton, &args),
                    format!("{CANCEL}{}", s.product),
                )]);
                texts.fill(Msg::MembershipRenews, &args)
            }
            SubscriptionState::Cancelled => {
                rows.push(vec![InlineKeyboardButton::callback(
                    texts.fill(Msg::RenewAgainButton, &args),
                    format!("{RESUME}{}", s.product),
                )]);
                texts.fill(Msg::MembershipStopped, &args)
            }
            SubscriptionState::Failed => {
                let grace = current.config.subscription_grace.as_millis() as i64;
                let until = readable(s.expires_at.saturating_add(grace));
                texts.fill(
                    Msg::MembershipFailed,
                    &[("until", until.as_str()), ("product", s.product.as_str())],
                )
            }
            SubscriptionState::Expired => texts.fill(Msg::MembershipEnded, &args),
        };
        text.push_str(&format!("\n• {name}: {line}"));
    }
    super::reply::say_with_buttons(store, chat, text, rows).await
}

/// Why a membership's renewal could not be switched.
#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("user {user} has no membership {product:?} in this bot")]
    NoSuchMembership { user: i64, product: String },
    #[error("the membership has expired; only a new payment brings it back")]
    Expired,
    /// Redacted already (see `telegram::describe`).
    #[error("Telegram refused editUserStarSubscription: {0}")]
    Telegram(String),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// Stops (`cancel`) or restarts a membership's renewal at Telegram, then records it. Used by the
/// buyer's buttons and by the admin API; `by` says who, for the ledger's history.
pub async fn set_renewal(
    store: &Store,
    user: i64,
    product: &str,
    cancel: bool,
    by: &str,
) -> Result<Subscription, RenewalError> {
    let bot = store.id.as_str();
    let subs = store.ledger.subscriptions(&store.id, user).await?;
    let sub = subs
        .into_iter()
        .find(|s| s.product == product)
        .ok_or_else(|| RenewalError::NoSuchMembership {
            user,
            product: product.to_owned(),
        })?;
    if sub.state == SubscriptionState::Expired {
        return Err(RenewalError::Expired);
    }
    let charge = TelegramTransactionId(sub.last_charge_id.to_string());
    let request =
        store
            .clients
            .api
            .edit_user_star_subscription(UserId(user as u64), charge, cancel);
    if let Err(e) = with_retry(|| request.send_ref()).await {
        let error = crate::telegram::describe(&e);
        tracing::warn!(
            bot,
            user,
            product,
            error,
            "editUserStarSubscription failed."
        );
        return Err(RenewalError::Telegram(error));
    }
    let state = if cancel {
        SubscriptionState::Cancelled
    } else {
        SubscriptionState::Active
    };
    store
        .ledger
        .set_subscription_state(&store.id, user, &sub.product, state, by)
        .await?;
    Ok(Subscription { state, ..sub })
}

/// Handles a cancel or re-enable button; `None` if the button is not one of these.
pub(super) async fn on_button(
    store: &Store,
    current: &Current,
    q: &CallbackQuery,
) -> Result<Option<String>, ShopError> {
    let data = q.data.as_deref().unwrap_or("");
    let (cancel, product) = match (data.strip_prefix(CANCEL), data.strip_prefix(RESUME)) {
        (Some(p), _) => (true, p),
        (_, Some(p)) => (false, p),
        _ => return Ok(None),
    };
    let user = q.from.id.0 as i64;
    let by = if cancel {
        "the buyer stopped the renewal"
    } else {
        "the buyer renewed again"
    };
    let texts = current.config.texts(q.from.language_code.as_deref());
    let name = title(current, &texts, product);
    let fill = |m: Msg, until: &str| {
        texts.fill(
            m,
            &[
                ("title", name.as_str()),
                ("until", until),
                ("product", product),
            ],
        )
    };
    let answer = match set_renewal(store, user, product, cancel, by).await {
        Ok(s) if cancel => fill(Msg::RenewalStopped, &readable(s.expires_at)),
        Ok(s) => fill(Msg::RenewalResumed, &readable(s.expires_at)),
        Err(RenewalError::NoSuchMembership { .. }) => texts.msg(Msg::NotYourMembership),
        Err(RenewalError::Expired) => fill(Msg::MembershipOver, ""),
        Err(RenewalError::Telegram(_)) => texts.msg(Msg::TryAgain),
        Err(RenewalError::Ledger(e)) => return Err(e.into()),
    };
    let request = store
        .clients
        .api
        .answer_callback_query(q.id.clone())
        .text(answer.clone())
        .show_alert(true);
    with_retry(|| request.send_ref())
        .await
        .map_err(tg("answerCallbackQuery"))?;
    Ok(Some(format!("answered: {answer}")))
}
