//! Methods about the bot itself. Gateways call these at start-up, so they must succeed even
//! though the simulator has nothing to show for most of them.

use serde_json::Value;

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::shapes;
use crate::state::BotState;

pub(super) fn get_me(ctx: &Ctx<'_>) -> ApiResult {
    ctx.with_bot(|bot, _| Ok(shapes::me(&bot.info)))
}

/// Telegram keeps one command list per scope and language. The scope key is its `type` plus
/// the chat and user it names; the language is "" (every language without its own list) or a
/// two-letter ISO 639-1 code.
fn scope_and_language(ctx: &Ctx<'_>) -> ApiResult<(String, String)> {
    let scope = match ctx.params.opt_json("scope")? {
        None => "default".to_owned(),
        Some(scope) => {
            let kind = scope["type"].as_str().unwrap_or("");
            let chat = || {
                scope["chat_id"]
                    .as_i64()
                    .or_else(|| scope["chat_id"].as_str()?.parse().ok())
            };
            match kind {
                "default" | "all_private_chats" | "all_group_chats" | "all_chat_administrators" => {
                    kind.to_owned()
                }
                "chat" | "chat_administrators" => match chat() {
                    Some(id) => format!("{kind}:{id}"),
                    None => return Err(ApiError::bad("chat not found")),
                },
                "chat_member" => match (chat(), scope["user_id"].as_i64()) {
                    (Some(c), Some(u)) => format!("{kind}:{c}:{u}"),
                    _ => return Err(ApiError::bad("chat not found")),
                },
                _ => return Err(ApiError::bad("can't parse BotCommandScope JSON object")),
            }
        }
    };
    let language = ctx.params.opt_str("language_code")?.unwrap_or_default();
    let valid = language.is_empty()
        || (language.len() == 2 && language.bytes().all(|b| b.is_ascii_lowercase()));
    if !valid {
        return Err(ApiError::bad("invalid language code specified"));
    }
    Ok((scope, language))
}

pub(super) fn set_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    let commands = ctx
        .params
        .opt_json("commands")?
        .ok_or_else(|| ApiError::required("commands"))?;
    let Some(list) = commands.as_array() else {
        return Err(ApiError::bad("can't parse commands JSON object"));
    };
    if list.len() > 100 {
        return Err(ApiError::bad("too many commands specified"));
    }
    for c in list {
        let (Some(command), Some(description)) = (c["command"].as_str(), c["description"].as_str())
        else {
            return Err(ApiError::bad("can't parse BotCommand JSON object"));
        };
        let command_ok = (1..=32).contains(&command.len())
            && command
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !command_ok {
            return Err(ApiError::bad("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    let key = scope_and_language(ctx)?;
    let list: Vec<Value> = list
        .iter()
        .map(|c| serde_json::json!({"command": c["command"], "description": c["description"]}))
        .collect();
    ctx.with_bot(|bot, _| {
        if list.is_empty() {
            bot.commands.remove(&key);
        } else {
            bot.commands.insert(key, Value::Array(list));
        }
        Ok(Value::Bool(true))
    })
}

pub(super) fn get_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    let key = scope_and_language(ctx)?;
    ctx.with_bot(|bot, _| {
        Ok(bot
            .commands
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new())))
    })
}

pub(super) fn delete_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    let key = scope_and_language(ctx)?;
    ctx.with_bot(|bot, _| {
        bot.commands.remove(&key);
        Ok(Value::Bool(true))
    })
}

/// The menu a user sees in a private chat with the bot: the narrowest scope that has a list,
/// in their language if it has one, else its default list.
pub(crate) fn menu_for(bot: &BotState, language_code: &str) -> Vec<(String, String)> {
    let language = language_code
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    for scope in ["all_private_chats", "default"] {
        for lang in [language.as_str(), ""] {
            if let Some(Value::Array(list)) = bot.commands.get(&(scope.to_owned(), lang.to_owned()))
            {
                return list
                    .iter()
                    .map(|c| {
                        (
                            c["command"].as_str().unwrap_or("").to_owned(),
                            c["description"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect();
            }
        }
    }
    Vec::new()
}
