//! getUpdates semantics.

use std::time::{Duration, Instant};

use serde_json::json;
use starsgate_sim::{InvoiceRef, PayOutcome};

use crate::common::{BUYER, Env, TOKEN};

#[tokio::test]
async fn get_updates_confirms_by_offset() {
    let env = Env::start().await;
    let first = env.sim.send_text(TOKEN, BUYER, "/start");
    let second = env.sim.send_text(TOKEN, BUYER, "/buy premium-guide");
    assert_eq!(second, first + 1);
    assert_eq!(env.sim.pending_updates(TOKEN), 2);

    // Without an offset nothing is confirmed: the same updates come again.
    let updates = env.ok("getUpdates", json!({})).await;
    assert_eq!(updates.as_array().unwrap().len(), 2);
    let again = env.ok("getUpdates", json!({ "limit": 1 })).await;
    assert_eq!(again[0]["update_id"], first);
    let message = &updates[1]["message"];
    assert_eq!(message["text"], "/buy premium-guide");
    assert_eq!(
        message["entities"],
        json!([{ "type": "bot_command", "offset": 0, "length": 4 }])
    );
    assert_eq!(message["from"]["first_name"], "Ada");
    assert_eq!(message["chat"]["type"], "private");

    let rest = env.ok("getUpdates", json!({ "offset": first + 1 })).await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    assert_eq!(rest[0]["update_id"], second);
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
    let none = env.ok("getUpdates", json!({ "offset": second + 1 })).await;
    assert_eq!(none, json!([]));
    assert_eq!(env.sim.pending_updates(TOKEN), 0);
}

#[tokio::test]
async fn a_negative_offset_keeps_only_the_newest_updates() {
    let env = Env::start().await;
    for text in ["a", "b", "c"] {
        env.sim.send_text(TOKEN, BUYER, text);
    }
    let last = env.ok("getUpdates", json!({ "offset": -1 })).await;
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["message"]["text"], "c");
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
}

#[tokio::test]
async fn a_long_poll_wakes_as_soon_as_an_update_arrives() {
    let env = Env::start().await;
    let sim = env.sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        sim.send_text(TOKEN, BUYER, "hello");
    });
    let started = Instant::now();
    let updates = env.ok("getUpdates", json!({ "timeout": 30 })).await;
    assert_eq!(updates[0]["message"]["text"], "hello");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_deliver_returns_an_empty_list_at_its_timeout() {
    let env = Env::start().await;
    let started = Instant::now();
    let updates = env.ok("getUpdates", json!({ "timeout": 1 })).await;
    assert_eq!(updates, json!([]));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_second_get_updates_terminates_the_first_with_409() {
    let env = Env::start().await;
    let first = {
        let http = env.http.clone();
        let url = env.url(TOKEN, "getUpdates");
        tokio::spawn(async move {
            let response = http
                .post(url)
                .json(&json!({ "timeout": 20 }))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = env.ok("getUpdates", json!({ "timeout": 0 })).await;
    assert_eq!(second, json!([]));
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 409);
    assert_eq!(
        body["description"],
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    );
}

#[tokio::test]
async fn get_updates_is_refused_while_a_webhook_is_set() {
    let env = Env::start().await;
    env.ok("setWebhook", json!({ "url": "http://127.0.0.1:9/hook" }))
        .await;
    let (status, description) = env.err("getUpdates", json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(
        description,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
    env.ok("deleteWebhook", json!({})).await;
    env.ok("getUpdates", json!({})).await;
}

#[tokio::test]
async fn allowed_updates_filter_updates_when_they_are_created() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(10, "order-1").await;
    // The bot forgot pre_checkout_query: Telegram discards the query and the checkout fails.
    env.ok("getUpdates", json!({ "allowed_updates": ["message"] }))
        .await;
    let outcome = env
        .sim
        .pay(TOKEN, BUYER, &InvoiceRef::Latest)
        .await
        .unwrap();
    assert_eq!(outcome, PayOutcome::NoAnswer);
    assert_eq!(env.sim.pending_updates(TOKEN), 0);

    // Omitting allowed_updates keeps the previous setting.
    env.ok("getUpdates", json!({})).await;
    let outcome = env
        .sim
        .pay(TOKEN, BUYER, &InvoiceRef::Latest)
        .await
        .unwrap();
    assert_eq!(outcome, PayOutcome::NoAnswer);

    // Widening it only affects updates created afterwards; an empty list is the default set.
    env.ok("getUpdates", json!({ "allowed_updates": [] })).await;
    let (outcome, _) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &InvoiceRef::Latest),
        env.answer_next_pre_checkout(true, None)
    );
    assert!(matches!(outcome.unwrap(), PayOutcome::Paid { .. }));
}

#[tokio::test]
async fn repeat_update_redelivers_with_the_same_or_a_new_id() {
    let env = Env::start().await;
    let id = env.sim.send_text(TOKEN, BUYER, "/start");
    let original = env.drain().await.remove(0);

    let new_id = env.sim.repeat_update(TOKEN, id, false).unwrap();
    assert_eq!(new_id, id + 1);
    let copy = env.drain().await.remove(0);
    assert_eq!(copy["update_id"], new_id);
    assert_eq!(copy["message"], original["message"]);

    // A same-id copy models a redelivery after a lost acknowledgement: it is delivered once
    // even though the bot's offset is already past it, then confirmed like any other.
    assert_eq!(env.sim.repeat_update(TOKEN, id, true).unwrap(), id);
    let updates = env.ok("getUpdates", json!({ "offset": new_id + 1 })).await;
    assert_eq!(updates.as_array().unwrap(), &[original]);
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
    env.ok("getUpdates", json!({ "offset": new_id + 1 })).await;
    assert_eq!(env.sim.pending_updates(TOKEN), 0);
    assert!(env.sim.repeat_update(TOKEN, 1, false).is_err());
}

#[tokio::test]
async fn injected_updates_are_queued_as_written_under_the_next_id() {
    let env = Env::start().await;
    let first = env.sim.send_text(TOKEN, BUYER, "/start");
    let odd = env.sim.inject_update(
        TOKEN,
        json!({ "message": { "message_id": "not-a-number", "chat": 5 } }),
    );
    assert_eq!(odd, first + 1);
    let updates = env.drain().await;
    assert_eq!(
        updates[1],
        json!({ "update_id": odd, "message": { "message_id": "not-a-number", "chat": 5 } })
    );
    // Dates far in the past do not make an injected update expire on arrival.
    let old = json!({ "message": { "message_id": 9, "date": 1_000_000_000, "chat": { "id": BUYER, "type": "private" } } });
    env.sim.inject_update(TOKEN, old);
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
    assert!(env.sim.try_inject_update("nope", json!({})).is_err());
}

#[tokio::test]
async fn a_pre_checkout_query_expires_after_150_seconds_unread() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(10, "order-1").await;
    let sim = env.sim.clone();
    let pay = tokio::spawn(async move { sim.pay(TOKEN, BUYER, &InvoiceRef::Latest).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
    env.sim.advance_time(151);
    assert_eq!(pay.await.unwrap().unwrap(), PayOutcome::NoAnswer);
    assert_eq!(env.ok("getUpdates", json!({})).await, json!([]));
}
