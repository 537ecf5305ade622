//! Webhook registration and delivery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use starsgate_sim::{InvoiceRef, PayOutcome};

use crate::common::{BUYER, Env, TOKEN};

/// Each request the receiver got: the secret header and the update.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A bot's webhook endpoint that fails the first `failures` requests with 500.
#[derive(Clone, Default)]
struct Receiver {
    seen: Seen,
    failures: Arc<Mutex<u32>>,
    /// When set, a pre-checkout query is answered in the webhook response itself.
    answer_inline: bool,
}

async fn hook(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> (StatusCode, axum::Json<Value>) {
    let secret = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.to_str().unwrap().to_owned());
    receiver.seen.lock().unwrap().push((secret, body.0.clone()));
    let mut failures = receiver.failures.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})));
    }
    if receiver.answer_inline
        && let Some(query) = body.0.get("pre_checkout_query")
    {
        let reply = json!({ "method": "answerPreCheckoutQuery", "pre_checkout_query_id": query["id"], "ok": true });
        return (StatusCode::OK, axum::Json(reply));
    }
    (StatusCode::OK, axum::Json(json!({})))
}

async fn serve(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not reached in 5 s");
}

#[tokio::test]
async fn webhook_delivery_retries_until_2xx() {
    let env = Env::start().await;
    let receiver = Receiver::default();
    *receiver.failures.lock().unwrap() = 2;
    let url = serve(receiver.clone()).await;
    let set = env
        .call(
            "setWebhook",
            json!({ "url": url, "secret_token": "s3cr3t_-X" }),
        )
        .await;
    assert_eq!(set.1["result"], true);
    assert_eq!(env.sim.webhook_secret(TOKEN).as_deref(), Some("s3cr3t_-X"));

    let update_id = env.sim.send_text(TOKEN, BUYER, "/start");
    let seen = receiver.seen.clone();
    until(|| seen.lock().unwrap().len() >= 3).await;
    until(|| env.sim.pending_updates(TOKEN) == 0).await;

    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "two failures then one success, and no more");
    for (secret, update) in &seen {
        assert_eq!(secret.as_deref(), Some("s3cr3t_-X"));
        assert_eq!(update["update_id"], update_id);
        assert_eq!(update["message"]["text"], "/start");
    }
    let attempts = env.sim.webhook_attempts(TOKEN);
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![Some(500), Some(500), Some(200)]);

    let info = env.ok("getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], url.as_str());
    assert_eq!(info["pending_update_count"], 0);
    assert_eq!(info["has_custom_certificate"], false);
    assert_eq!(
        info["last_error_message"],
        "Wrong response from the webhook: 500 Internal Server Error"
    );
    assert!(info["last_error_date"].is_i64());
}

#[tokio::test]
async fn one_chat_is_delivered_in_order_behind_a_failing_update() {
    let env = Env::start().await;
    let receiver = Receiver::default();
    *receiver.failures.lock().unwrap() = 1;
    let url = serve(receiver.clone()).await;
    let first = env.sim.send_text(TOKEN, BUYER, "one");
    env.sim.send_text(TOKEN, BUYER, "two");
    env.sim.send_text(TOKEN, BUYER, "three");
    // Queued before the webhook existed: delivered once it is set.
    env.ok("setWebhook", json!({ "url": url })).await;
    let seen = receiver.seen.clone();
    until(|| seen.lock().unwrap().len() >= 4).await;
    let ids: Vec<i64> = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, u)| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![first, first, first + 1, first + 2]);
}

#[tokio::test]
async fn a_webhook_answer_can_carry_the_pre_checkout_answer() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(25, "order-1").await;
    let receiver = Receiver {
        answer_inline: true,
        ..Receiver::default()
    };
    let url = serve(receiver.clone()).await;
    env.ok("setWebhook", json!({ "url": url })).await;
    let outcome = env
        .sim
        .pay(TOKEN, BUYER, &InvoiceRef::Latest)
        .await
        .unwrap();
    assert!(matches!(outcome, PayOutcome::Paid { .. }));
    let calls = env.sim.calls(TOKEN);
    let answer = calls
        .iter()
        .find(|c| c.method == "answerPreCheckoutQuery")
        .unwrap();
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn set_webhook_validates_its_secret_and_url() {
    let env = Env::start().await;
    let (_, bad_chars) = env
        .err(
            "setWebhook",
            json!({ "url": "https://example.com/hook", "secret_token": "has space" }),
        )
        .await;
    assert!(bad_chars.contains("secret token"), "{bad_chars}");
    let (_, too_long) = env
        .err(
            "setWebhook",
            json!({ "url": "https://example.com/hook", "secret_token": "a".repeat(257) }),
        )
        .await;
    assert!(too_long.contains("secret token"), "{too_long}");
    let (status, _) = env
        .err("setWebhook", json!({ "url": "ftp://example.com" }))
        .await;
    assert_eq!(status, 400);
    // Setting the same webhook again is a no-op; an empty URL removes it.
    let url = "http://127.0.0.1:9/hook";
    env.ok("setWebhook", json!({ "url": url, "max_connections": 500 }))
        .await;
    let (_, again) = env
        .call("setWebhook", json!({ "url": url, "max_connections": 500 }))
        .await;
    assert_eq!(again["description"], "Webhook is already set");
    assert_eq!(
        env.ok("getWebhookInfo", json!({})).await["max_connections"],
        100
    );
    let (_, removed) = env.call("setWebhook", json!({ "url": "" })).await;
    assert_eq!(removed["description"], "Webhook was deleted");
    assert_eq!(env.ok("getWebhookInfo", json!({})).await["url"], "");
}

#[tokio::test]
async fn drop_pending_updates_forgets_the_queue() {
    let env = Env::start().await;
    env.sim.send_text(TOKEN, BUYER, "old");
    env.ok("deleteWebhook", json!({ "drop_pending_updates": true }))
        .await;
    assert_eq!(env.sim.pending_updates(TOKEN), 0);
}
