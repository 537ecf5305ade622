//! Sending the buyer a plain reply, with or without buttons: the one way every part of the shop
//! talks back (a leaf, so the catalogue, memberships, payments and lapses share it without
//! importing each other).

use teloxide_core::prelude::*;
use teloxide_core::requests::Request;
use teloxide_core::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup};

use super::{ShopError, Store, tg};
use crate::telegram::with_retry;

/// Sends `text` with inline buttons, retrying a brief 429.
pub(super) async fn say_with_buttons(
    store: &Store,
    chat: ChatId,
    text: String,
    rows: Vec<Vec<InlineKeyboardButton>>,
) -> Result<(), ShopError> {
    let request = store
        .clients
        .api
        .send_message(chat, text)
        .reply_markup(InlineKeyboardMarkup::new(rows));
    with_retry(|| request.send_ref())
        .await
        .map_err(tg("sendMessage"))?;
    Ok(())
}

/// Sends `text`, retrying a brief 429.
pub(super) async fn say(store: &Store, chat: ChatId, text: &str) -> Result<(), ShopError> {
    let request = store.clients.api.send_message(chat, text);
    with_retry(|| request.send_ref())
        .await
        .map_err(tg("sendMessage"))?;
    Ok(())
}
