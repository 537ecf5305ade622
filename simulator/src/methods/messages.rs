//! Text messages, their inline keyboards, and answers to button presses.

use serde_json::{Value, json};

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::shapes;
use crate::state::{BotState, Registry, StoredMessage};
use crate::types::{SentInvoice, SentMedia, SentMessage};

const MAX_TEXT_CHARS: usize = 4096;
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
                            markup are exactly the same as a current content and reply markup of \
                            the message";

/// What a bot message carries besides the common head.
pub(super) struct Outgoing {
    pub fields: Value,
    pub text: Option<String>,
    pub invoice: Option<SentInvoice>,
    pub reply_markup: Option<Value>,
    pub media: Option<SentMedia>,
}

/// Appends a bot message to a private chat the bot may write to, and returns its JSON.
pub(super) fn post(
    bot: &mut BotState,
    reg: &Registry,
    chat_id: i64,
    now: i64,
    mut out: Outgoing,
) -> ApiResult<Value> {
    let from = shapes::bot_user(&bot.info);
    let name = reg.user_name(chat_id).unwrap_or_default();
    let chat = bot.writable_chat(chat_id)?;
    let message_id = chat.take_message_id();
    if let Some(invoice) = out.invoice.as_mut() {
        invoice.message_id = Some(message_id);
    }
    if let Some(markup) = shapes::echoed_markup(&out.reply_markup) {
        out.fields["reply_markup"] = markup;
    }
    let json = shapes::message(
        message_id,
        from,
        shapes::private_chat(chat_id, &name),
        now,
        out.fields,
    );
    let invoice = out.invoice;
    chat.messages.push(StoredMessage {
        sent: SentMessage {
            message_id,
            chat_id,
            text: out.text,
            invoice: invoice.clone(),
            reply_markup: out.reply_markup,
            media: out.media,
            date: now,
        },
        json: json.clone(),
        deleted: false,
    });
    if let Some(invoice) = invoice {
        bot.invoices.push(invoice);
    }
    bot.messages_notify.notify_waiters();
    Ok(json)
}

pub(super) fn send_message(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let text = message_text(ctx.params.opt_str("text")?)?;
    let reply_markup = reply_markup(ctx)?;
    let now = ctx.now();
    ctx.with_bot(|bot, reg| {
        let out = Outgoing {
            fields: json!({ "text": text }),
            text: Some(text.clone()),
            invoice: None,
            reply_markup,
            media: None,
        };
        post(bot, reg, chat_id, now, out)
    })
}

/// Telegram trims message text and counts what is left.
fn message_text(raw: Option<String>) -> ApiResult<String> {
    let text = raw.unwrap_or_default().trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::bad("message text is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad("message is too long"));
    }
    Ok(text)
}

/// Validates `reply_markup` the way Telegram does for the cases gateways get wrong
/// (callback_data over 64 bytes, bad URLs, buttons with no action).
pub(super) fn reply_markup(ctx: &Ctx<'_>) -> ApiResult<Option<Value>> {
    let Some(markup) = ctx.params.opt_json("reply_markup")? else {
        return Ok(None);
    };
    let unparsable = || ApiError::bad("can't parse reply keyboard markup JSON object");
    let object = markup.as_object().ok_or_else(unparsable)?;
    if let Some(rows) = object.get("inline_keyboard") {
        let rows = rows.as_array().ok_or_else(|| {
            ApiError::bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
        })?;
        for row in rows {
            let row = row.as_array().ok_or_else(|| {
                ApiError::bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
            })?;
            for button in row {
                check_button(button)?;
            }
        }
    } else if !["keyboard", "remove_keyboard", "force_reply"]
        .iter()
        .any(|k| object.contains_key(*k))
    {
        return Err(unparsable());
    }
    Ok(Some(markup))
}

const BUTTON_KINDS: [&str; 10] = [
    "url",
    "callback_data",
    "pay",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "web_app",
    "copy_text",
    "callback_game",
];

fn check_button(button: &Value) -> ApiResult<()> {
    let object = button.as_object().ok_or_else(|| {
        ApiError::bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    })?;
    if !object.get("text").is_some_and(Value::is_string) {
        return Err(ApiError::bad(
            "can't parse inline keyboard button: Field \"text\" must be of type String",
        ));
    }
    if let Some(data) = object.get("callback_data") {
        let fits = data.as_str().is_some_and(|d| (1..=64).contains(&d.len()));
        if !fits {
            return Err(ApiError::bad("BUTTON_DATA_INVALID"));
        }
    }
    if let Some(link) = object.get("url") {
        let valid = link
            .as_str()
            .and_then(|l| url::Url::parse(l).ok())
            .is_some_and(|u| matches!(u.scheme(), "http" | "https" | "tg"));
        if !valid {
            return Err(ApiError::bad("BUTTON_URL_INVALID"));
        }
    }
    if !BUTTON_KINDS.iter().any(|k| object.contains_key(*k)) {
        return Err(ApiError::bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ));
    }
    Ok(())
}

/// The bot's own, not deleted, message in a chat.
fn own_message<'a>(
    bot: &'a mut BotState,
    chat_id: i64,
    message_id: i64,
    missing: &str,
) -> ApiResult<&'a mut StoredMessage> {
    bot.chats
        .get_mut(&chat_id)
        .ok_or_else(ApiError::chat_not_found)?
        .messages
        .iter_mut()
        .find(|m| m.sent.message_id == message_id && !m.deleted)
        .ok_or_else(|| ApiError::bad(missing))
}

pub(super) fn edit_message_text(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let message_id = ctx.params.req_i64("message_id")?;
    let text = message_text(ctx.params.opt_str("text")?)?;
    let markup = reply_markup(ctx)?;
    let now = ctx.now();
    ctx.with_bot(|bot, _| {
        let message = own_message(bot, chat_id, message_id, "message to edit not found")?;
        if message.sent.invoice.is_some() {
            return Err(ApiError::bad("there is no text in the message to edit"));
        }
        if message.sent.text.as_deref() == Some(text.as_str())
            && message.sent.reply_markup == markup
        {
            return Err(ApiError::bad(NOT_MODIFIED));
        }
        message.sent.text = Some(text.clone());
        message.json["text"] = json!(text);
        set_markup(message, markup, now);
        let json = message.json.clone();
        bot.messages_notify.notify_waiters();
        Ok(json)
    })
}

pub(super) fn edit_message_reply_markup(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let message_id = ctx.params.req_i64("message_id")?;
    let markup = reply_markup(ctx)?;
    let now = ctx.now();
    ctx.with_bot(|bot, _| {
        let message = own_message(bot, chat_id, message_id, "message to edit not found")?;
        if message.sent.reply_markup == markup {
            return Err(ApiError::bad(NOT_MODIFIED));
        }
        set_markup(message, markup, now);
        let json = message.json.clone();
        bot.messages_notify.notify_waiters();
        Ok(json)
    })
}

fn set_markup(message: &mut StoredMessage, markup: Option<Value>, now: i64) {
    match (shapes::echoed_markup(&markup), message.json.as_object_mut()) {
        (Some(inline), Some(obj)) => {
            obj.insert("reply_markup".into(), inline);
        }
        (None, Some(obj)) => {
            obj.remove("reply_markup");
        }
        _ => {}
    }
    message.sent.reply_markup = markup;
    message.json["edit_date"] = json!(now);
}

pub(super) fn delete_message(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let message_id = ctx.params.req_i64("message_id")?;
    ctx.with_bot(|bot, _| {
        own_message(bot, chat_id, message_id, "message to delete not found")?.deleted = true;
        Ok(Value::Bool(true))
    })
}

pub(super) fn send_chat_action(ctx: &Ctx<'_>) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    ctx.params.req_str("action")?;
    ctx.with_bot(|bot, _| {
        bot.writable_chat(chat_id)?;
        Ok(Value::Bool(true))
    })
}

pub(super) fn answer_callback_query(ctx: &Ctx<'_>) -> ApiResult {
    let id = ctx.params.req_str("callback_query_id")?;
    if ctx
        .params
        .opt_str("text")?
        .is_some_and(|t| t.chars().count() > 200)
    {
        return Err(ApiError::bad("MESSAGE_TOO_LONG"));
    }
    ctx.with_bot(|bot, _| match bot.callbacks.get_mut(&id) {
        Some(answered) if !*answered => {
            *answered = true;
            Ok(Value::Bool(true))
        }
        _ => Err(ApiError::query_too_old()),
    })
}
