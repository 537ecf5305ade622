//! Webhook mode: one listener serves `/telegram/<bot-id>` for every bot.
//!
//! teloxide's own webhook listener answers 200 before the update is processed (and even when the
//! body does not parse), so an update can be lost; this handler stores the update in the inbox
//! first and answers 2xx only once it is committed. Telegram retries anything else, so:
//! - a wrong or missing secret gets 401 (the body is neither read into logs nor stored);
//! - a body over [`BODY_LIMIT`] gets 413;
//! - a body that is not an update is kept as a dead letter and acknowledged, so one bad update
//!   cannot hold back the chat's queue at Telegram;
//! - a ledger that cannot store in [`STORE_TIMEOUT`] gets 503, and Telegram delivers again.
//!
//! Pre-checkout queries are answered right here, by whichever gateway Telegram reached, on their
//! own task; everything else is processed by the gateway that holds the bot's lease.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use crate::config::Secret;
use crate::ledger::{StoredUpdate, now_ms};
use crate::shop::Store;
use crate::telegram::update_kind;

/// Largest webhook body accepted. Telegram's updates are a few KiB.
pub const BODY_LIMIT: usize = 1 << 20;
/// How long storing may take before we answer 503 and let Telegram retry.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// A bot's `secret_token`: HMAC-SHA256 of its id under the master secret, in hex (within
/// Telegram's `A-Za-z0-9_-` alphabet). Stable across restarts and the same on every gateway.
pub fn secret_token(master: &Secret, bot: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(master.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(b"starsgate webhook secret for bot ");
    mac.update(bot.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What the listener knows of one bot.
#[derive(Clone)]
pub struct Endpoint {
    pub store: Arc<Store>,
    pub secret: String,
    /// Wakes this gateway's inbox loop for the bot (if it runs the bot).
    pub wake: Arc<Notify>,
}

/// The bots the listener serves; reload adds and removes them.
pub type Endpoints = Arc<std::sync::RwLock<HashMap<String, Endpoint>>>;

pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/telegram/{bot}", post(receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(endpoints)
}

async fn receive(
    State(endpoints): State<Endpoints>,
    Path(bot): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let found = endpoints.read().ok().and_then(|map| {
        map.get(&bot)
            .map(|e| (e.store.clone(), e.secret.clone(), e.wake.clone()))
    });
    let Some((store, secret, wake)) = found else {
        return StatusCode::NOT_FOUND;
    };
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.as_bytes())) {
        tracing::warn!(
            bot,
            "Refused a webhook call with a wrong or missing secret."
        );
        metrics::counter!("starsgate_webhook_rejected_total").increment(1);
        return StatusCode::UNAUTHORIZED;
    }
    let store = &store;
    let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let Some(update_id) = value
        .as_ref()
        .and_then(|v| v.get("update_id"))
        .and_then(|v| v.as_i64())
    else {
        let reason = if value.is_some() {
            "no update_id"
        } else {
            "not JSON"
        };
        return match store.ledger.dead_letter(&bot, reason, &body).await {
            Ok(()) => {
                tracing::warn!(
                    bot,
                    reason,
                    "Kept an unreadable webhook body as a dead letter."
                );
                StatusCode::OK
            }
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
    };
    let value = value.unwrap_or_default();
    let update = StoredUpdate {
        update_id,
        kind: update_kind(&value),
        body: value.to_string(),
        received_at: now_ms(),
    };
    let stored =
        tokio::time::timeout(STORE_TIMEOUT, store.ledger.store_update(&bot, &update)).await;
    let fresh = match stored {
        Ok(Ok(new)) => new.then_some(update),
        Ok(Err(e)) => {
            tracing::error!(bot, update_id, error = %e, "Cannot store a webhook update; Telegram will retry.");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        Err(_) => {
            tracing::error!(
                bot,
                update_id,
                "Storing a webhook update timed out; Telegram will retry."
            );
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    };
    if let Some(update) = fresh.into_iter().next() {
        metrics::counter!("starsgate_updates_total", "bot" => store.metrics_label.clone(), "kind" => update.kind.clone())
            .increment(1);
        if update.kind == "pre_checkout_query" {
            let store = store.clone();
            tokio::spawn(async move { super::processor::handle_update(&store, &update).await });
        } else {
            wake.notify_one();
        }
    }
    StatusCode::OK
}

/// Registers the bot's webhook: its URL, derived secret, the update kinds a store needs and
/// `max_connections`. Pending updates are never dropped, and the webhook is never deleted on
/// shutdown: other gateways may be serving it. Retries until it works or `stop`.
pub async fn register(
    store: &Store,
    url: url::Url,
    secret: &str,
    max_connections: u8,
    stop: &tokio_util::sync::CancellationToken,
) -> bool {
    use teloxide_core::requests::{JsonRequest, Request};
    let bot = store.id.to_string();
    let mut backoff = super::Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        let request = JsonRequest::new(
            store.clients.api.clone(),
            crate::telegram::SetWebhookRaw {
                url: url.to_string(),
                secret_token: secret.to_owned(),
                max_connections,
                allowed_updates: crate::telegram::ALLOWED_UPDATES.to_vec(),
            },
        );
        let pause = match request.send().await {
            Ok(_) => {
                tracing::info!(bot, url = %url, "The webhook is registered.");
                return true;
            }
            Err(e) => {
                let pause = match crate::telegram::classify(&e) {
                    crate::telegram::Failure::RetryAfter(d) => d,
                    _ => backoff.step(),
                };
                tracing::warn!(bot, error = %crate::telegram::describe(&e), retry_in_s = pause.as_secs(), "setWebhook failed; retrying.");
                pause
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// `<public_url>/telegram/<bot-id>`.
pub fn url_for(public: &url::Url, bot: &str) -> url::Url {
    let mut url = public.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push("telegram").push(bot);
    }
    url
}
