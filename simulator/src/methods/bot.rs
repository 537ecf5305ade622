//! Methods about the bot itself. Gateways call these at start-up, so they must succeed even
//! though the simulator has nothing to show for most of them.

use serde_json::Value;

use super::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::shapes;

pub(super) fn get_me(ctx: &Ctx<'_>) -> ApiResult {
    ctx.with_bot(|bot, _| Ok(shapes::me(&bot.info)))
}

pub(super) fn set_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    let commands = ctx
        .params
        .opt_json("commands")?
        .ok_or_else(|| ApiError::required("commands"))?;
    let valid = commands.as_array().is_some_and(|list| {
        list.len() <= 100
            && list.iter().all(|c| {
                c["command"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty() && s.len() <= 32)
                    && c["description"].as_str().is_some_and(|s| !s.is_empty())
            })
    });
    if !valid {
        return Err(ApiError::bad("can't parse commands JSON object"));
    }
    ctx.with_bot(|bot, _| {
        bot.commands = commands;
        Ok(Value::Bool(true))
    })
}

pub(super) fn get_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    ctx.with_bot(|bot, _| Ok(bot.commands.clone()))
}

pub(super) fn delete_my_commands(ctx: &Ctx<'_>) -> ApiResult {
    ctx.with_bot(|bot, _| {
        bot.commands = Value::Array(Vec::new());
        Ok(Value::Bool(true))
    })
}
