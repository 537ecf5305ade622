//! Pushing updates to a bot's webhook, with Telegram's delivery discipline.
//!
//! What a gateway must survive, and so what is reproduced: an update stays queued until the bot
//! answers 2xx; failures are retried with doubling back-off (scaled down from Telegram's seconds
//! to 100 ms .. 2 s so tests run quickly) or after `Retry-After`; and updates of one chat go out
//! one at a time, in order, so a failing update holds back that chat (head-of-line blocking)
//! while other chats proceed, up to `max_connections` at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use serde_json::Value;

use crate::http::{execute, record_call};
use crate::params::Params;
use crate::queue::Lane;
use crate::state::Shared;
use crate::types::WebhookAttempt;

const FIRST_BACKOFF_MS: i64 = 100;
const MAX_BACKOFF_MS: i64 = 2_000;
const MAX_RETRY_AFTER_SECS: i64 = 3_600;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Re-check at least this often, in case a wake-up went to a retired pusher.
const IDLE_RECHECK_MS: i64 = 1_000;
const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

struct Job {
    seq: u64,
    update_id: i64,
    body: Value,
    url: String,
    secret: Option<String>,
}

pub(crate) fn spawn(shared: Arc<Shared>, token: String, generation: u64) {
    tokio::spawn(run(shared, token, generation));
}

/// One pusher per bot and webhook generation; it exits when the webhook changes.
async fn run(shared: Arc<Shared>, token: String, generation: u64) {
    loop {
        let Some((jobs, next_due_ms, notify)) = plan(&shared, &token, generation) else {
            return;
        };
        for job in jobs {
            tokio::spawn(deliver(shared.clone(), token.clone(), job));
        }
        let wait_ms = next_due_ms
            .map(|due| due - shared.clock.mono_ms())
            .unwrap_or(IDLE_RECHECK_MS)
            .clamp(1, IDLE_RECHECK_MS);
        let clock_moved = shared.clock.changed.notified();
        tokio::select! {
            _ = notify.notified() => {}
            _ = clock_moved => {}
            _ = tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())) => {}
            _ = shared.cancel.cancelled() => return,
        }
    }
}

/// Picks the head update of every idle lane that is due, marking them in flight.
fn plan(
    shared: &Shared,
    token: &str,
    generation: u64,
) -> Option<(Vec<Job>, Option<i64>, Arc<tokio::sync::Notify>)> {
    let now = shared.clock.unix();
    let now_ms = shared.clock.mono_ms();
    let mut world = shared.world();
    let bot = world.bots.get_mut(token)?;
    if bot.webhook_gen != generation {
        // Pass on a wake-up this retired pusher may have swallowed.
        bot.webhook_notify.notify_one();
        return None;
    }
    let hook = bot.webhook.clone()?;
    bot.drop_expired(now);
    let mut busy = bot.queue.iter().filter(|q| q.in_flight).count();
    let capacity = usize::try_from(hook.max_connections).unwrap_or(1);
    let mut seen: HashSet<Lane> = HashSet::new();
    let mut next_due = None;
    let mut jobs = Vec::new();
    for queued in bot.queue.iter_mut() {
        if !seen.insert(queued.lane) || queued.in_flight {
            continue;
        }
        if queued.next_attempt_ms > now_ms {
            next_due = Some(next_due.map_or(queued.next_attempt_ms, |d: i64| {
                d.min(queued.next_attempt_ms)
            }));
            continue;
        }
        if busy >= capacity {
            break;
        }
        busy += 1;
        queued.in_flight = true;
        jobs.push(Job {
            seq: queued.seq,
            update_id: queued.update_id,
            body: queued.json.clone(),
            url: hook.url.clone(),
            secret: hook.secret_token.clone(),
        });
    }
    Some((jobs, next_due, bot.webhook_notify.clone()))
}

async fn deliver(shared: Arc<Shared>, token: String, job: Job) {
    let mut request = shared
        .http
        .post(&job.url)
        .json(&job.body)
        .timeout(REQUEST_TIMEOUT);
    if let Some(secret) = &job.secret {
        request = request.header(SECRET_HEADER, secret);
    }
    let sent = tokio::select! {
        sent = request.send() => sent,
        _ = shared.cancel.cancelled() => return,
    };
    let mut reply = None;
    let (status, retry_after, error) = match sent {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok());
            let error = (!status.is_success()).then(|| {
                format!(
                    "Wrong response from the webhook: {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            });
            if status.is_success() {
                reply = response.bytes().await.ok();
            }
            (Some(status.as_u16()), retry_after, error)
        }
        Err(e) => (None, None, Some(describe(&e))),
    };
    settle_attempt(&shared, &token, &job, status, retry_after, error);
    if let Some(body) = reply {
        run_reply_method(&shared, &token, &body).await;
    }
}

fn settle_attempt(
    shared: &Shared,
    token: &str,
    job: &Job,
    status: Option<u16>,
    retry_after: Option<i64>,
    error: Option<String>,
) {
    let now = shared.clock.unix();
    let now_ms = shared.clock.mono_ms();
    let mut world = shared.world();
    let Some(bot) = world.bots.get_mut(token) else {
        return;
    };
    bot.webhook_attempts.push(WebhookAttempt {
        update_id: job.update_id,
        status,
        error: error.clone(),
    });
    if let Some(pos) = bot.queue.iter().position(|q| q.seq == job.seq) {
        match error {
            None => {
                bot.queue.remove(pos);
            }
            Some(message) => {
                let queued = &mut bot.queue[pos];
                queued.in_flight = false;
                queued.attempts += 1;
                let backoff = match retry_after {
                    Some(secs) => secs.clamp(0, MAX_RETRY_AFTER_SECS) * 1000,
                    None => (FIRST_BACKOFF_MS << (queued.attempts - 1).min(16)).min(MAX_BACKOFF_MS),
                };
                queued.next_attempt_ms = now_ms + backoff;
                bot.last_webhook_error = Some((now, message));
            }
        }
    }
    bot.webhook_notify.notify_one();
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "Read timeout expired".to_owned()
    } else if error.is_connect() {
        "Connection refused".to_owned()
    } else {
        format!("Webhook request failed: {error}")
    }
}

/// A 2xx webhook answer may carry one method call, which Telegram executes without reporting
/// the result. It is the fastest way to answer a pre-checkout query, so gateways use it.
async fn run_reply_method(shared: &Arc<Shared>, token: &str, body: &[u8]) {
    let Ok(params) = Params::parse(Some("application/json"), None, body) else {
        return;
    };
    let Ok(Some(method)) = params.opt_str("method") else {
        return;
    };
    let lower = method.to_ascii_lowercase();
    let ignored = lower.starts_with("get")
        || matches!(
            lower.as_str(),
            "setwebhook" | "deletewebhook" | "close" | "logout"
        );
    if ignored {
        return;
    }
    let (name, result) = execute(shared, token, &method, &params).await;
    let status = result.as_ref().map_or_else(|e| e.code, |_| 200);
    record_call(shared, token, name, &params, status, false);
}
