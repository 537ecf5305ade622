//! setWebhook, deleteWebhook and getWebhookInfo. Delivery itself lives in `delivery`.

use serde_json::{Value, json};

use super::updates::allowed_updates;
use super::{Ctx, Reply};
use crate::delivery;
use crate::error::{ApiError, ApiResult};
use crate::state::{BotState, Webhook};

const DEFAULT_MAX_CONNECTIONS: i64 = 40;

pub(super) fn set_webhook(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let p = ctx.params;
    let url = p.opt_str("url")?.unwrap_or_default();
    let drop_pending = p.opt_bool("drop_pending_updates")?.unwrap_or(false);
    if url.is_empty() {
        return remove(ctx, drop_pending);
    }
    let parsed = url::Url::parse(&url)
        .map_err(|_| ApiError::bad("bad webhook: invalid webhook URL specified"))?;
    // Plain http is fine: like a `--local` Bot API server, the simulator talks to local bots.
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::bad("bad webhook: unsupported URL protocol"));
    }
    let secret_token = p.opt_str("secret_token")?.filter(|s| !s.is_empty());
    if let Some(secret) = &secret_token {
        if secret.len() > 256 {
            return Err(ApiError::bad("secret token is too long"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !secret.chars().all(allowed) {
            return Err(ApiError::bad("secret token contains unallowed characters"));
        }
    }
    // The real server clamps integer arguments into range instead of refusing them.
    let max_connections = p
        .opt_i64("max_connections")?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS)
        .clamp(1, 100);
    let allowed = allowed_updates(ctx)?;
    let hook = Webhook {
        url,
        secret_token,
        max_connections,
    };
    let now_ms = ctx.shared.clock.mono_ms();
    let generation = ctx.with_bot(|bot, _| {
        if let Some(allowed) = allowed {
            bot.allowed_updates = Some(allowed);
        }
        if drop_pending {
            bot.queue.clear();
        }
        if bot.webhook.as_ref() == Some(&hook) {
            return Ok(None);
        }
        // [SRV] refuses to change the webhook URL more than once a second.
        let changing_url = bot.webhook.as_ref().is_some_and(|h| h.url != hook.url);
        if changing_url && bot.webhook_set_at_ms.is_some_and(|at| now_ms - at < 1000) {
            return Err(ApiError::too_many_requests(1));
        }
        bot.webhook = Some(hook);
        bot.webhook_set_at_ms = Some(now_ms);
        bot.last_webhook_error = None;
        Ok(Some(replace_generation(bot)))
    })?;
    let Some(generation) = generation else {
        return Ok(Reply {
            result: Value::Bool(true),
            description: Some("Webhook is already set"),
        });
    };
    delivery::spawn(ctx.shared.clone(), ctx.token.to_owned(), generation);
    Ok(Reply {
        result: Value::Bool(true),
        description: Some("Webhook was set"),
    })
}

pub(super) fn delete_webhook(ctx: &Ctx<'_>) -> ApiResult<Reply> {
    let drop_pending = ctx
        .params
        .opt_bool("drop_pending_updates")?
        .unwrap_or(false);
    remove(ctx, drop_pending)
}

fn remove(ctx: &Ctx<'_>, drop_pending: bool) -> ApiResult<Reply> {
    let existed = ctx.with_bot(|bot, _| {
        if drop_pending {
            bot.queue.clear();
        }
        let existed = bot.webhook.take().is_some();
        if existed {
            replace_generation(bot);
        }
        Ok(existed)
    })?;
    Ok(Reply {
        result: Value::Bool(true),
        description: Some(if existed {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    })
}

/// Retires the running pusher (it checks the generation) and wakes pollers, which now
/// either may poll again or must get a 409.
fn replace_generation(bot: &mut BotState) -> u64 {
    bot.webhook_gen += 1;
    bot.updates_notify.notify_waiters();
    bot.webhook_notify.notify_one();
    bot.webhook_gen
}

pub(super) fn get_webhook_info(ctx: &Ctx<'_>) -> ApiResult {
    let now = ctx.now();
    ctx.with_bot(|bot, _| {
        bot.drop_expired(now);
        let mut info = json!({
            "url": bot.webhook.as_ref().map(|h| h.url.as_str()).unwrap_or(""),
            "has_custom_certificate": false,
            "pending_update_count": bot.queue.len(),
        });
        if let Some(hook) = &bot.webhook {
            info["max_connections"] = json!(hook.max_connections);
            if let Some(allowed) = bot.allowed_updates.as_ref().filter(|a| !a.is_empty()) {
                info["allowed_updates"] = json!(allowed);
            }
            if let Some((date, message)) = &bot.last_webhook_error {
                info["last_error_date"] = json!(date);
                info["last_error_message"] = json!(message);
            }
        }
        Ok(info)
    })
}
