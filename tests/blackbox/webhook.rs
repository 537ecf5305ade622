//! Webhook mode: many bots on one listener, secrets, bad bodies, a ledger that is down, restarts.

use starsgate::config::Secret;
use starsgate::ingest::webhook::secret_token;
use starsgate::ledger::{EventKind, StoredUpdate};

use crate::helpers::*;
use crate::on_both_ledgers;

const MASTER: &str = "test-master-secret-0123456789";

async fn post(url: &str, secret: Option<&str>, body: Vec<u8>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send()
        .await
        .expect("the webhook listener answers")
        .status()
        .as_u16()
}

async fn two_bots_on_one_webhook_listener_sell_and_deliver(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    assert_eq!(
        gw.webhook_addr().map(|a| format!("http://{a}")),
        Some(base.clone())
    );
    h.buy(GUIDES, 2001, "premium-guide").await;
    h.buy(GAMES, 2002, "starter-pack").await;
    h.wait_for_deliveries(GUIDES, 2001, 1).await;
    h.wait_for_deliveries(GAMES, 2002, 1).await;
    for bot in [GUIDES, GAMES] {
        let token = h.token(bot);
        let set: Vec<_> = h
            .sim
            .calls(&token)
            .into_iter()
            .filter(|c| c.method == "setWebhook")
            .collect();
        assert!(!set.is_empty(), "{bot}: setWebhook was called");
        let p = &set[0].params;
        assert_eq!(p["url"], format!("{base}/telegram/{bot}"));
        assert!(
            p["max_connections"] == 40 || p["max_connections"] == "40",
            "{p}"
        );
        let allowed = p["allowed_updates"].to_string();
        assert!(
            allowed.contains("pre_checkout_query")
                && allowed.contains("callback_query")
                && allowed.contains("message")
                && allowed.contains("subscription")
                && allowed.contains("purchased_paid_media"),
            "{allowed}"
        );
        assert!(
            p.get("drop_pending_updates").is_none_or(|v| v == false),
            "never drops pending updates: {p}"
        );
        let expected = secret_token(&Secret::new(MASTER), bot);
        assert_eq!(
            h.sim.webhook_secret(&token).as_deref(),
            Some(expected.as_str())
        );
        assert!(
            h.sim.calls(&token).iter().all(|c| c.method != "getUpdates"),
            "no polling in webhook mode"
        );
    }
    gw.stop().await;
    assert!(
        h.sim
            .calls(&h.token(GUIDES))
            .iter()
            .all(|c| c.method != "deleteWebhook"),
        "the webhook is not deleted on shutdown: other gateways may serve it"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_secret_passes_and_every_wrong_one_fails() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    h.say(GUIDES, 2101, "/start"); // the buyer has a chat with the bot
    h.wait_for(GUIDES, 2101, "the catalogue", |m| !m.is_empty())
        .await;
    let url = format!("{base}/telegram/{GUIDES}");
    let body = |id: i64| {
        serde_json::to_vec(&serde_json::json!({"update_id": id, "message": {
        "message_id": 1, "date": 1_780_000_000, "text": "/terms",
        "from": {"id": 2101, "is_bot": false, "first_name": "W"},
        "chat": {"id": 2101, "type": "private", "first_name": "W"}}}))
        .unwrap()
    };
    let right = secret_token(&Secret::new(MASTER), GUIDES);
    let other_bot = secret_token(&Secret::new(MASTER), GAMES);
    let other_master = secret_token(&Secret::new("another-master-secret-xyz"), GUIDES);
    assert_eq!(post(&url, None, body(1)).await, 401, "no secret");
    assert_eq!(
        post(&url, Some("wrong"), body(2)).await,
        401,
        "a wrong secret"
    );
    assert_eq!(
        post(&url, Some(&other_bot), body(3)).await,
        401,
        "another bot's secret"
    );
    assert_eq!(
        post(&url, Some(&other_master), body(4)).await,
        401,
        "a secret from another master"
    );
    assert_eq!(
        post(&url, Some(&right[..right.len() - 1]), body(5)).await,
        401,
        "a prefix of the secret"
    );
    assert_eq!(
        post(&format!("{base}/telegram/nobody"), Some(&right), body(6)).await,
        404
    );
    let ledger = h.ledger().await;
    let pending = ledger.pending_updates(&bot_id(GUIDES), 100).await.unwrap();
    assert!(
        pending.iter().all(|u| u.update_id > 6),
        "a refused update is never stored: {pending:?}"
    );
    assert_eq!(
        ledger.update_outcome(&bot_id(GUIDES), 1).await.unwrap(),
        None,
        "a refused update is not stored"
    );
    assert_eq!(
        post(&url, Some(&right), body(7)).await,
        200,
        "the right secret"
    );
    let outcome = wait_for_outcome(&ledger, GUIDES, 7).await;
    assert_eq!(outcome, "answered: terms");
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_bodies_are_refused_or_kept_as_dead_letters() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    let url = format!("{base}/telegram/{GAMES}");
    let secret = secret_token(&Secret::new(MASTER), GAMES);
    assert_eq!(
        post(&url, Some(&secret), vec![b'x'; 2 << 20]).await,
        413,
        "over the size limit"
    );
    assert_eq!(
        post(
            &url,
            Some(&secret),
            b"{\"update_id\": 5, \"message\": {".to_vec()
        )
        .await,
        200,
        "truncated JSON is acknowledged"
    );
    assert_eq!(
        post(&url, Some(&secret), b"{\"hello\": 1}".to_vec()).await,
        200,
        "no update_id"
    );
    let ledger = h.ledger().await;
    assert_eq!(
        ledger.dead_letters(&bot_id(GAMES)).await.unwrap(),
        2,
        "both kept for a person to read"
    );
    // The bot still works.
    h.buy(GAMES, 2201, "starter-pack").await;
    h.wait_for_deliveries(GAMES, 2201, 1).await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_kind_from_a_future_bot_api_is_stored_and_ignored() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    let url = format!("{base}/telegram/{GAMES}");
    let secret = secret_token(&Secret::new(MASTER), GAMES);
    let body =
        br#"{"update_id": 900001, "gift_wrapped": {"user": {"id": 2202}, "colour": "gold"}}"#;
    assert_eq!(post(&url, Some(&secret), body.to_vec()).await, 200);
    let ledger = h.ledger().await;
    let outcome = wait_for_outcome(&ledger, GAMES, 900001).await;
    assert!(outcome.starts_with("ignored"), "{outcome}");
    // The bot still works.
    h.buy(GAMES, 2202, "starter-pack").await;
    h.wait_for_deliveries(GAMES, 2202, 1).await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_query_is_answered_in_the_webhook_reply_and_again_when_delivered_again() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    let (user, update_id) = (2203, 900002);
    h.say(GAMES, user, "/buy starter-pack");
    let msgs = h.wait_for_invoice(GAMES, user, 1).await;
    let invoice = msgs
        .iter()
        .find_map(|m| m.invoice.clone())
        .expect("an invoice");
    let query_as = |update_id: i64, amount: i64| {
        serde_json::json!({
            "update_id": update_id,
            "pre_checkout_query": {
                "id": "q-in-reply",
                "from": {"id": user, "is_bot": false, "first_name": "Ann"},
                "currency": "XTR",
                "total_amount": amount,
                "invoice_payload": invoice.payload,
            }
        })
        .to_string()
        .into_bytes()
    };
    let query = |amount: i64| query_as(update_id, amount);
    let url = format!("{base}/telegram/{GAMES}");
    let secret = secret_token(&Secret::new(MASTER), GAMES);
    let answer = |body: Vec<u8>| {
        let (url, secret) = (url.clone(), secret.clone());
        async move {
            let reply = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("X-Telegram-Bot-Api-Secret-Token", &secret)
                .body(body)
                .send()
                .await
                .expect("the webhook listener answers");
            assert_eq!(reply.status().as_u16(), 200);
            reply
                .json::<serde_json::Value>()
                .await
                .expect("a method call in the reply")
        }
    };
    let expected = serde_json::json!({
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": "q-in-reply",
        "ok": true,
    });
    assert_eq!(answer(query(invoice.amount)).await, expected);
    // Telegram delivers the same update again only when our reply did not reach it.
    assert_eq!(
        answer(query(invoice.amount)).await,
        expected,
        "answered again"
    );
    let ledger = h.ledger().await;
    let outcome = wait_for_outcome(&ledger, GAMES, update_id).await;
    assert!(outcome.ends_with("(in the webhook reply)"), "{outcome}");
    let approved = ledger
        .events(&bot_id(GAMES), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::PreCheckoutApproved)
        .count();
    assert_eq!(approved, 1, "the decision is recorded once");
    // A wrong amount is refused in the reply, with the message the buyer sees.
    let refused = answer(query_as(900_003, invoice.amount + 1)).await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("You have not been charged")),
        "{refused}"
    );
    // A query that cannot be stored is not answered: 503, and Telegram delivers it again.
    let lock = hold_inbox_lock(&h).await;
    assert_eq!(
        post(&url, Some(&secret), query_as(900_004, invoice.amount)).await,
        503,
        "no answer before the query is stored"
    );
    drop(lock);
    assert_eq!(
        answer(query_as(900_004, invoice.amount)).await,
        expected,
        "answered on the retry"
    );
    gw.stop().await;
    h.finish().await;
}

/// An update as Telegram sends it: `text` from `user` in their private chat.
fn text_update(update_id: i64, user: i64, text: &str) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000, "text": text,
            "chat": {"id": user, "type": "private", "first_name": "Ann"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann"},
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_stored_by_another_gateway_is_handled_before_a_later_one_handed_over_here() {
    let mut h = Harness::new(Backend::Sqlite).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    let url = format!("{base}/telegram/{GAMES}");
    let secret = secret_token(&Secret::new(MASTER), GAMES);
    let user = 2204;
    let ledger = h.ledger().await;
    let post_text = |update_id: i64, text: &str| {
        post(
            &url,
            Some(&secret),
            text_update(update_id, user, text).into_bytes(),
        )
    };
    // The buyer opens the chat (so the simulator lets the bot write to them).
    let opened = h.say(GAMES, user, "/start");
    h.wait_for(GAMES, user, "the catalogue", |m| !m.is_empty())
        .await;
    // Several rounds in quick succession, so that the loop's periodic read of the ledger (twice a
    // second) cannot be what puts them in order.
    for round in 0..6 {
        // Each round's first update follows the last one handled: handed over and handled
        // from memory. Its second is stored elsewhere, leaving a gap before its third.
        let first = opened + 1 + round * 3;
        let sent = h.sim.messages(&h.token(GAMES), user).len();
        assert_eq!(post_text(first, "/terms").await, 200);
        h.wait_for(GAMES, user, "the terms", |m| m.len() > sent)
            .await;
        // The next update reached another gateway sharing the ledger: stored there, no hand-over
        // here. The one after it arrives here and is handed to this gateway's loop in memory.
        let elsewhere = StoredUpdate {
            update_id: first + 1,
            kind: "message".into(),
            body: text_update(first + 1, user, "/paysupport"),
            received_at: starsgate::ledger::now_ms(),
        };
        assert!(
            ledger
                .store_update(&bot_id(GAMES), &elsewhere)
                .await
                .unwrap()
        );
        assert_eq!(post_text(first + 2, "/terms").await, 200);
        let msgs = h
            .wait_for(GAMES, user, "two more replies", |m| m.len() >= sent + 3)
            .await;
        let texts: Vec<_> = msgs.iter().filter_map(|m| m.text.clone()).collect();
        assert!(
            texts[sent + 1].contains("@games_help") && texts[sent + 2].contains("Refunds"),
            "round {round}: the support text before the terms: {texts:#?}"
        );
    }
    gw.stop().await;
    h.finish().await;
}

async fn a_ledger_that_is_down_gets_5xx_and_telegram_retries_until_stored(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.use_webhooks();
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, 2301, "/terms");
    h.wait_for(GUIDES, 2301, "the terms", |m| m.len() == 1)
        .await;
    // Hold the inbox's table locked for longer than the listener waits to store.
    let lock = hold_inbox_lock(&h).await;
    h.say(GUIDES, 2301, "/paysupport");
    eventually("a 5xx answer to Telegram", || async {
        h.sim
            .webhook_attempts(&token)
            .iter()
            .any(|a| a.status.is_some_and(|s| s >= 500))
    })
    .await;
    assert_eq!(
        h.sim.messages(&token, 2301).len(),
        1,
        "nothing processed before it is stored"
    );
    drop(lock);
    h.wait_for(
        GUIDES,
        2301,
        "the support text after Telegram's retry",
        |m| m.len() == 2,
    )
    .await;
    eventually("nothing pending at Telegram", || async {
        h.sim.pending_updates(&token) == 0
    })
    .await;
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_does_not_drop_pending_updates() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.use_webhooks();
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, 2401, "/terms");
    h.wait_for(GUIDES, 2401, "the terms", |m| m.len() == 1)
        .await;
    gw.stop().await;
    // While the gateway is down, the buyer writes; Telegram keeps the update and retries.
    let update_id = h.say(GUIDES, 2401, "/paysupport");
    eventually("Telegram to fail to push the update", || async {
        h.sim
            .webhook_attempts(&token)
            .iter()
            .any(|a| a.update_id == update_id && a.status.is_none())
    })
    .await;
    assert_eq!(h.sim.pending_updates(&token), 1);
    let gw = h.start().await;
    h.wait_for(GUIDES, 2401, "the answer after the restart", |m| {
        m.len() == 2
    })
    .await;
    let dropped = h.sim.calls(&token).iter().any(|c| {
        c.method == "setWebhook"
            && c.params
                .get("drop_pending_updates")
                .is_some_and(|v| v == true)
    });
    assert!(
        !dropped,
        "a restart never asks Telegram to drop pending updates"
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    two_bots_on_one_webhook_listener_sell_and_deliver,
    a_ledger_that_is_down_gets_5xx_and_telegram_retries_until_stored,
);

on_both_ledgers!(concurrent_webhook_updates_are_committed_together_and_each_stored_once);

/// Group commit: many requests at once (two bots, some of them redeliveries) are each answered
/// only once stored, every update is processed, and a redelivery is not stored twice.
async fn concurrent_webhook_updates_are_committed_together_and_each_stored_once(backend: Backend) {
    let mut h = Harness::new(backend).await;
    let base = h.use_webhooks();
    let gw = h.start().await;
    let body = |id: i64, user: i64| {
        serde_json::to_vec(&serde_json::json!({"update_id": id, "message": {
            "message_id": id, "date": 1_780_000_000, "text": "/terms",
            "from": {"id": user, "is_bot": false, "first_name": "G"},
            "chat": {"id": user, "type": "private", "first_name": "G"}}}))
        .unwrap()
    };
    // The buyers have chats with both bots.
    let mut before = std::collections::HashMap::new();
    for bot in [GUIDES, GAMES] {
        for u in 2400..2406 {
            h.say(bot, u, "/start");
            let m = h.wait_for(bot, u, "the catalogue", |m| !m.is_empty()).await;
            before.insert((bot, u), m.len());
        }
    }
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..120i64 {
        for bot in [GUIDES, GAMES] {
            let url = format!("{base}/telegram/{bot}");
            let secret = secret_token(&Secret::new(MASTER), bot);
            // Every update twice: Telegram redelivers what it thinks was not received.
            for _ in 0..2 {
                let (url, secret, body) =
                    (url.clone(), secret.clone(), body(800_000 + i, 2400 + i % 6));
                calls.spawn(async move { post(&url, Some(&secret), body).await });
            }
        }
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let ledger = h.ledger().await;
    for bot in [GUIDES, GAMES] {
        for i in 0..120 {
            let outcome = wait_for_outcome(&ledger, bot, 800_000 + i).await;
            assert!(outcome.starts_with("answered"), "{outcome}");
        }
    }
    // One answer per update, not per request.
    for bot in [GUIDES, GAMES] {
        let token = h.token(bot);
        let answers: usize = (2400..2406)
            .map(|u| h.sim.messages(&token, u).len() - before[&(bot, u)])
            .sum();
        assert_eq!(answers, 120, "{bot}");
    }
    gw.stop().await;
    h.finish().await;
}
