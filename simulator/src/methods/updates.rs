//! getUpdates: confirmation by offset, long polling, and the two 409 conflicts.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};

use super::Ctx;
use crate::error::{ApiError, ApiResult};

/// Telegram clamps `timeout` to this many seconds.
const LONG_POLL_MAX_SECS: i64 = 50;
pub(crate) const WEBHOOK_ACTIVE: &str = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const TERMINATED: &str =
    "terminated by other getUpdates request; make sure that only one bot instance is running";

pub(super) fn allowed_updates(ctx: &Ctx<'_>) -> ApiResult<Option<Vec<String>>> {
    let unparsable = || ApiError::bad("can't parse allowed_updates JSON object");
    match ctx.params.opt_json("allowed_updates")? {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(unparsable))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(unparsable()),
    }
}

pub(super) async fn get_updates(ctx: &Ctx<'_>) -> ApiResult {
    let offset = ctx.params.opt_i64("offset")?.unwrap_or(0);
    let limit = ctx.params.opt_i64("limit")?.unwrap_or(100).clamp(1, 100);
    let limit = usize::try_from(limit).unwrap_or(100);
    let timeout = ctx
        .params
        .opt_i64("timeout")?
        .unwrap_or(0)
        .clamp(0, LONG_POLL_MAX_SECS);
    let allowed = allowed_updates(ctx)?;
    let deadline = Instant::now() + Duration::from_secs(timeout.unsigned_abs());

    let (generation, notify) = ctx.with_bot(|bot, _| {
        if bot.webhook.is_some() {
            return Err(ApiError::conflict(WEBHOOK_ACTIVE));
        }
        if let Some(allowed) = allowed {
            bot.allowed_updates = Some(allowed);
        }
        bot.confirm(offset);
        bot.poll_gen += 1;
        // Wake an earlier long poll so it can answer 409 to the superseded instance.
        bot.updates_notify.notify_waiters();
        Ok((bot.poll_gen, bot.updates_notify.clone()))
    })?;

    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = ctx.now();
        let batch = ctx.with_bot(|bot, _| {
            if bot.poll_gen != generation {
                return Err(ApiError::conflict(TERMINATED));
            }
            if bot.webhook.is_some() {
                return Err(ApiError::conflict(WEBHOOK_ACTIVE));
            }
            bot.drop_expired(now);
            Ok(bot
                .queue
                .iter_mut()
                .take(limit)
                .map(|q| {
                    q.returned = true;
                    q.json.clone()
                })
                .collect::<Vec<_>>())
        })?;
        if !batch.is_empty() || Instant::now() >= deadline {
            return Ok(Value::Array(batch));
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = sleep_until(deadline) => {}
            _ = ctx.shared.cancel.cancelled() => return Ok(json!([])),
        }
    }
}
