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
//! Pre-checkout queries are answered right here, by whichever gateway Telegram reached, in the
//! body of the 2xx reply (a method call Telegram executes): no request of its own, so the answer
//! reaches Telegram as soon as it is decided. Everything else is handed to the inbox loop of the
//! gateway that holds the bot's lease (see `ingest::inbox`).

use std::sync::Arc;
use std::time::Duration;

use super::pre_checkout::Decided;
use crate::config::Secret;
use crate::handoff::Handoff;
use crate::ledger::{StoredUpdate, now_ms};
use crate::registry::{Registry, WebhookIntake};
use crate::shop::Store;
use crate::telegram::incoming::is_pre_checkout;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Largest webhook body accepted. Telegram's updates are a few KiB.
pub const BODY_LIMIT: usize = 1 << 20;
/// How long storing may take before we answer 503 and let Telegram retry.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Characters of an update's kind kept; Telegram's longest is far shorter.
const KIND_CHARS: usize = 64;

/// A bot's `secret_token`: HMAC-SHA256 under the master secret of the text
/// `starsgate webhook secret for bot <bot-id>`, in lower-case hex (within Telegram's
/// `A-Za-z0-9_-` alphabet). Stable across restarts and the same on every gateway; the README
/// shows how to compute it with openssl.
pub fn secret_token(master: &Secret, bot: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(master.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(b"starsgate webhook secret for bot ");
    mac.update(bot.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Serves every bot of `bots` that is reached by webhook; a bot that is not running here (never
/// was, or was retired) is a 404.
pub fn router(bots: Registry) -> Router {
    Router::new()
        .route("/telegram/{bot}", post(receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(bots)
}

async fn receive(
    State(bots): State<Registry>,
    Path(bot): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (store, inbox) = match authenticate(&bots, &bot, &headers) {
        Ok(found) => found,
        Err(status) => return status.into_response(),
    };
    let update = match read(&store, &body).await {
        Ok(Some(update)) => update,
        Ok(None) => return StatusCode::OK.into_response(),
        Err(status) => return status.into_response(),
    };
    // A pre-checkout query is decided while it is being stored; its answer goes out in the reply.
    let (stored, decided) = if is_pre_checkout(&update.kind) {
        let deciding = super::pre_checkout::decide(&store, &update);
        let (stored, decided) = tokio::join!(store_in_time(&store, &update), deciding);
        (stored, Some(decided))
    } else {
        (store_in_time(&store, &update).await, None)
    };
    let fresh = match stored {
        Ok(fresh) => fresh,
        Err(status) => return status.into_response(),
    };
    let Some(decided) = decided else {
        if fresh {
            inbox.hand(update);
        }
        return StatusCode::OK.into_response();
    };
    if fresh {
        // Answered here; the inbox loop only learns its id, so it knows nothing is missing
        // before the updates that follow.
        inbox.hand(update.clone());
    }
    match answer_in_reply(&store, update, fresh, decided) {
        Some(method) => axum::Json(method).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// The bot the call is for, if it runs here (404 otherwise) and the call carries its secret
/// (401 otherwise; the body is neither read nor logged).
fn authenticate(
    bots: &Registry,
    bot: &str,
    headers: &HeaderMap,
) -> Result<(Arc<Store>, Arc<Handoff<StoredUpdate>>), StatusCode> {
    let (store, WebhookIntake { secret, inbox }) =
        bots.webhook(bot).ok_or(StatusCode::NOT_FOUND)?;
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
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok((store, inbox))
}

/// The update in a webhook body, to store; `None` when the body is not an update and was kept
/// as a dead letter instead (acknowledged, so it cannot hold back the chat's queue).
async fn read(store: &Store, body: &Bytes) -> Result<Option<StoredUpdate>, StatusCode> {
    let bot = store.id.as_str();
    match Head::read(body) {
        Ok(head) => Ok(Some(StoredUpdate {
            update_id: head.update_id,
            kind: head.kind,
            body: head.body,
            received_at: now_ms(),
        })),
        Err(reason) => {
            store
                .ledger()
                .dead_letter(&store.id, reason, body)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
            tracing::warn!(
                bot,
                reason,
                "Kept an unreadable webhook body as a dead letter."
            );
            Ok(None)
        }
    }
}

/// Stores the update within [`STORE_TIMEOUT`]; whether it is new (not a repeat). 503 when the
/// ledger fails or is too slow, so Telegram delivers it again.
async fn store_in_time(store: &Store, update: &StoredUpdate) -> Result<bool, StatusCode> {
    let (bot, update_id) = (store.id.as_str(), update.update_id);
    let storing = store.ledger().store_update(&store.id, update);
    let fresh = match tokio::time::timeout(STORE_TIMEOUT, storing).await {
        Ok(Ok(fresh)) => fresh,
        Ok(Err(e)) => {
            tracing::error!(bot, update_id, error = %e, "Cannot store a webhook update; Telegram will retry.");
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        Err(_) => {
            tracing::error!(
                bot,
                update_id,
                "Storing a webhook update timed out; Telegram will retry."
            );
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if fresh {
        let kind = crate::telegram::KindLabel::of(&update.kind).as_str();
        metrics::counter!("starsgate_updates_total", "bot" => store.metrics_label().to_owned(), "kind" => kind)
            .increment(1);
    }
    Ok(fresh)
}

/// A pre-checkout query, once stored: returns the answer for the 2xx reply, recording it and
/// marking the update processed on a task of its own. A query Telegram delivers again (`fresh`
/// false) is answered again, since Telegram repeats it only when our reply did not reach it, but
/// recorded once. Without a decision a fresh query is handled as any other update.
fn answer_in_reply(
    store: &Arc<Store>,
    update: StoredUpdate,
    fresh: bool,
    decided: Option<Decided>,
) -> Option<serde_json::Value> {
    let span = super::update_span(store, &update);
    let store = store.clone();
    let Some(decided) = decided else {
        if fresh {
            tokio::spawn(async move { super::processor::handle_one(&store, &update).await });
        }
        return None;
    };
    let method = decided.reply();
    if !fresh {
        span.in_scope(|| tracing::info!("Answered a pre-checkout query Telegram delivered again."));
        return Some(method);
    }
    let finish = async move {
        let outcome = decided.record(&store, update.received_at).await;
        let backoff = super::Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
        super::processor::mark_processed(&store, &update, &outcome, backoff).await
    };
    tokio::spawn(tracing::Instrument::instrument(finish, span));
    Some(method)
}

/// What the handler needs of a webhook body: its `update_id` and kind (its one field besides
/// `update_id`), read without building the whole update, and the body itself, kept as sent.
#[derive(Debug, PartialEq)]
struct Head {
    update_id: i64,
    kind: String,
    body: String,
}

impl Head {
    /// Reads a body, or says why it is not an update (the dead letter's reason).
    fn read(body: &[u8]) -> Result<Self, &'static str> {
        let Ok(text) = std::str::from_utf8(body) else {
            return Err("not JSON");
        };
        let fields = match serde_json::from_str::<Fields>(text) {
            Ok(fields) => fields,
            Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
                return Err("no update_id");
            }
            Err(_) => return Err("not JSON"),
        };
        let update_id = fields.update_id.ok_or("no update_id")?;
        Ok(Self {
            update_id,
            // The first in sorted order, as `telegram::update_kind` names it; a key no update
            // has is cut, as it goes into the ledger's inbox and the log lines of the update.
            kind: fields.kinds.into_iter().next().map_or_else(
                || "unknown".into(),
                |k| k.chars().take(KIND_CHARS).collect(),
            ),
            body: text.to_owned(),
        })
    }
}

/// A JSON object's `update_id` (when it is an integer) and its other keys.
struct Fields {
    update_id: Option<i64>,
    kinds: std::collections::BTreeSet<String>,
}

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Telegram update object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Fields {
                    update_id: None,
                    kinds: Default::default(),
                };
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "update_id" {
                        fields.update_id = map.next_value::<serde_json::Value>()?.as_i64();
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        fields.kinds.insert(key.into_owned());
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
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
            store.api().clone(),
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

#[cfg(test)]
mod tests {
    use super::Head;

    #[test]
    fn the_secret_token_is_derived_as_the_readme_says() {
        // printf 'starsgate webhook secret for bot %s' guides |
        //   openssl dgst -sha256 -hmac test-master-secret-0123456789
        let master = crate::config::Secret::new("test-master-secret-0123456789");
        assert_eq!(
            super::secret_token(&master, "guides"),
            "aab2fd9d6ed5ca875954a09e3884615a356807caf013866b96fc861b426286f4"
        );
    }

    #[test]
    fn a_body_is_read_for_its_id_and_kind_and_kept_as_sent() {
        let body = r#"{"update_id": 7, "message": {"text": "/buy x", "chat": {"id": 1}}}"#;
        assert_eq!(
            Head::read(body.as_bytes()),
            Ok(Head {
                update_id: 7,
                kind: "message".into(),
                body: body.into(),
            })
        );
    }

    #[test]
    fn a_body_that_is_not_an_update_says_why() {
        for (body, reason) in [
            ("{not json", "not JSON"),
            ("[1, 2]", "no update_id"),
            (r#"{"message": {}}"#, "no update_id"),
            (r#"{"update_id": "7", "message": {}}"#, "no update_id"),
        ] {
            assert_eq!(Head::read(body.as_bytes()), Err(reason), "{body}");
        }
        assert_eq!(Head::read(&[0xff, 0xfe]), Err("not JSON"));
        let bare = Head::read(br#"{"update_id": 3}"#).map(|h| h.kind);
        assert_eq!(bare, Ok("unknown".to_owned()));
    }
}
