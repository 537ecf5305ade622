//! `/subscriptions`: a buyer's memberships with their expiry, and buttons to stop the renewal or
//! turn it back on (editUserStarSubscription). Telegram keeps a cancelled membership running until
//! the period ends.

use teloxide_core::prelude::*;
use teloxide_core::requests::Request;
use teloxide_core::types::{
    CallbackQuery, ChatId, InlineKeyboardButton, TelegramTransactionId, UserId,
};

use super::{Current, ShopError, Store, tg};
use crate::domain::ProductId;
use crate::ledger::report::rfc3339;
use crate::telegram::with_retry;

const CANCEL: &str = "sub-cancel:";
const RESUME: &str = "sub-resume:";

/// `2026-12-26 08:03:00 UTC`: an expiry as a buyer reads it.
fn readable(ms: i64) -> String {
    rfc3339(ms).replace('T', " ").replace('Z', " UTC")
}

fn title(current: &Current, product: &str) -> String {
    ProductId::parse(product)
        .ok()
        .and_then(|id| {
            current
                .config
                .product(&id)
                .map(|p| p.title.as_str().to_owned())
        })
        .unwrap_or_else(|| product.to_owned())
}

pub(super) async fn list(
    store: &Store,
    current: &Current,
    user: i64,
    chat: ChatId,
) -> Result<(), ShopError> {
    let subs = store.ledger.subscriptions(store.id.as_str(), user).await?;
    if subs.is_empty() {
        return super::catalogue::say(
            store,
            chat,
            "You have no memberships here. /start shows what is for sale.",
        )
        .await;
    }
    let mut text = String::from("Your memberships:");
    let mut rows = Vec::new();
    for s in &subs {
        let name = title(current, &s.product);
        let until = readable(s.expires_at);
        let line = match s.state.as_str() {
            "active" => {
                rows.push(vec![InlineKeyboardButton::callback(
                    format!("Stop renewing {name}"),
                    format!("{CANCEL}{}", s.product),
                )]);
                format!("renews on {until}")
            }
            "cancelled" => {
                rows.push(vec![InlineKeyboardButton::callback(
                    format!("Renew {name} again"),
                    format!("{RESUME}{}", s.product),
                )]);
                format!("renewal stopped; runs until {until}")
            }
            other => format!("{other} since {until}"),
        };
        text.push_str(&format!("\n• {name}: {line}"));
    }
    super::catalogue::say_with_buttons(store, chat, text, rows).await
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
    let bot = store.id.as_str();
    let subs = store.ledger.subscriptions(bot, user).await?;
    let answer = match subs.iter().find(|s| s.product == product) {
        None => "That membership is not yours or no longer exists.".to_owned(),
        Some(s) => {
            let charge = TelegramTransactionId(s.last_charge_id.clone());
            let request =
                store
                    .clients
                    .api
                    .edit_user_star_subscription(UserId(user as u64), charge, cancel);
            match with_retry(|| request.send_ref()).await {
                Ok(_) => {
                    let state = if cancel { "cancelled" } else { "active" };
                    let by = if cancel {
                        "the buyer stopped the renewal"
                    } else {
                        "the buyer renewed again"
                    };
                    store
                        .ledger
                        .set_subscription_state(bot, user, product, state, by)
                        .await?;
                    let until = readable(s.expires_at);
                    if cancel {
                        format!(
                            "Renewal stopped. {} stays yours until {until}.",
                            title(current, product)
                        )
                    } else {
                        format!("{} will renew again on {until}.", title(current, product))
                    }
                }
                Err(e) => {
                    tracing::warn!(bot, user, product, error = %crate::telegram::describe(&e), "editUserStarSubscription failed.");
                    "Telegram did not accept that just now; please try again.".to_owned()
                }
            }
        }
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
