//! Telegram object shapes (User, Chat, Message and friends).
//!
//! Kept in one place because strict clients (teloxide) reject a message whose fields do not
//! line up exactly with one kind of message, and the same objects appear both in method
//! results and inside updates.

use serde_json::{Value, json};

use crate::types::BotInfo;

pub(crate) fn user(id: i64, first_name: &str, language_code: &str) -> Value {
    json!({
        "id": id,
        "is_bot": false,
        "first_name": first_name,
        "language_code": language_code,
    })
}

pub(crate) fn bot_user(bot: &BotInfo) -> Value {
    json!({
        "id": bot.id,
        "is_bot": true,
        "first_name": bot_first_name(bot),
        "username": bot.username,
    })
}

/// What getMe returns: the bot's User plus the capability flags teloxide requires.
pub(crate) fn me(bot: &BotInfo) -> Value {
    json!({
        "id": bot.id,
        "is_bot": true,
        "first_name": bot_first_name(bot),
        "username": bot.username,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false,
    })
}

fn bot_first_name(bot: &BotInfo) -> String {
    bot.username
        .strip_suffix("_bot")
        .or_else(|| bot.username.strip_suffix("bot"))
        .filter(|s| !s.is_empty())
        .unwrap_or(&bot.username)
        .to_owned()
}

pub(crate) fn private_chat(user_id: i64, first_name: &str) -> Value {
    json!({ "id": user_id, "first_name": first_name, "type": "private" })
}

/// The common head of every message in a private chat; the kind-specific fields are merged in.
pub(crate) fn message(message_id: i64, from: Value, chat: Value, date: i64, kind: Value) -> Value {
    let mut message = json!({
        "message_id": message_id,
        "from": from,
        "chat": chat,
        "date": date,
    });
    if let (Some(target), Value::Object(fields)) = (message.as_object_mut(), kind) {
        target.extend(fields);
    }
    message
}

/// Text plus the `bot_command` entity Telegram adds for a leading `/command[@bot]`.
pub(crate) fn text_fields(text: &str) -> Value {
    let mut fields = json!({ "text": text });
    if let Some(length) = command_length(text) {
        fields["entities"] = json!([{ "type": "bot_command", "offset": 0, "length": length }]);
    }
    fields
}

/// Length in UTF-16 code units (Telegram's entity unit) of a leading bot command.
fn command_length(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('/')?;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let name_len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
    if name_len == 0 || name_len > 64 {
        return None;
    }
    let mut end = 1 + name_len;
    if let Some(mention) = text[end..].strip_prefix('@') {
        let mention_len = mention.find(|c: char| !is_word(c)).unwrap_or(mention.len());
        if (5..=32).contains(&mention_len) {
            end += 1 + mention_len;
        }
    }
    // The command is ASCII, so bytes == UTF-16 units here.
    Some(end)
}

/// Reply markup as echoed back inside a Message: only inline keyboards appear there.
pub(crate) fn echoed_markup(markup: &Option<Value>) -> Option<Value> {
    markup
        .as_ref()
        .filter(|m| m.get("inline_keyboard").is_some())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_get_an_entity_covering_name_and_mention() {
        assert_eq!(command_length("/start"), Some(6));
        assert_eq!(command_length("/buy premium-guide"), Some(4));
        assert_eq!(command_length("/start@shop_bot x"), Some(15));
        assert_eq!(command_length("hello"), None);
        assert_eq!(command_length("/ x"), None);
    }
}
