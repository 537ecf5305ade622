//! Injected faults.

use std::time::{Duration, Instant};

use serde_json::json;
use starsgate_sim::Fault;

use crate::common::{BUYER, Env, TOKEN};

#[tokio::test]
async fn an_injected_429_carries_retry_after_in_header_and_parameters() {
    let env = Env::start().await;
    env.open_chat().await;
    env.sim.inject_fault(
        TOKEN,
        "SENDMESSAGE",
        Fault::TooManyRequests {
            retry_after: 7,
            times: 1,
        },
    );
    let response = env
        .http
        .post(env.url(TOKEN, "sendMessage"))
        .json(&json!({ "chat_id": BUYER, "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "ok": false,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": { "retry_after": 7 },
        })
    );
    // Not handled, and used up: the retry goes through.
    assert!(env.sim.messages(TOKEN, BUYER).is_empty());
    env.ok("sendMessage", json!({ "chat_id": BUYER, "text": "hi" }))
        .await;
    let statuses: Vec<u16> = env.sim.calls(TOKEN).iter().map(|c| c.status).collect();
    assert_eq!(&statuses[statuses.len() - 2..], &[429, 200]);
}

#[tokio::test]
async fn server_errors_apply_to_any_method_when_armed_with_a_star() {
    let env = Env::start().await;
    env.sim
        .inject_fault(TOKEN, "*", Fault::ServerError { times: 2 });
    let (status, _) = env.err("getMe", json!({})).await;
    assert_eq!(status, 500);
    let (status, _) = env.err("getUpdates", json!({})).await;
    assert_eq!(status, 500);
    env.ok("getMe", json!({})).await;
}

#[tokio::test]
async fn a_dropped_response_still_has_its_effect() {
    let env = Env::start().await;
    env.open_chat().await;
    env.sim
        .inject_fault(TOKEN, "sendInvoice", Fault::DropResponse { times: 1 });
    let (status, body) = env
        .call(
            "sendInvoice",
            json!({
                "chat_id": BUYER, "title": "Guide", "description": "d", "payload": "p",
                "currency": "XTR", "prices": [{ "label": "Guide", "amount": 5 }],
            }),
        )
        .await;
    assert_eq!(status, 502);
    assert_eq!(body["description"], "Bad Gateway");
    assert_eq!(
        env.sim.invoices(TOKEN).len(),
        1,
        "the invoice was sent although the answer was lost"
    );
}

#[tokio::test]
async fn a_slow_fault_delays_then_answers_normally() {
    let env = Env::start().await;
    env.sim.inject_fault(
        TOKEN,
        "getMe",
        Fault::Slow {
            millis: 300,
            times: 1,
        },
    );
    let started = Instant::now();
    env.ok("getMe", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}
