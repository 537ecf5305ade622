//! sendMessage, keyboards and button presses.

use std::time::Duration;

use serde_json::json;
use starsgate_sim::SimError;

use crate::common::{BUYER, Env, TOKEN};

#[tokio::test]
async fn a_user_who_never_wrote_to_the_bot_is_chat_not_found() {
    let env = Env::start().await;
    let (status, description) = env
        .err("sendMessage", json!({ "chat_id": BUYER, "text": "hello" }))
        .await;
    assert_eq!(
        (status, description.as_str()),
        (400, "Bad Request: chat not found")
    );
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_gives_403_until_they_write_again() {
    let env = Env::start().await;
    env.open_chat().await;
    env.sim.block_bot(TOKEN, BUYER, true);
    let (status, description) = env
        .err("sendMessage", json!({ "chat_id": BUYER, "text": "hello" }))
        .await;
    assert_eq!(
        (status, description.as_str()),
        (403, "Forbidden: bot was blocked by the user")
    );
    env.sim.send_text(TOKEN, BUYER, "/start");
    env.ok(
        "sendMessage",
        json!({ "chat_id": BUYER, "text": "welcome back" }),
    )
    .await;
}

#[tokio::test]
async fn empty_and_overlong_texts_are_refused() {
    let env = Env::start().await;
    env.open_chat().await;
    let (_, empty) = env
        .err("sendMessage", json!({ "chat_id": BUYER, "text": "  \n " }))
        .await;
    assert_eq!(empty, "Bad Request: message text is empty");
    let long = "x".repeat(4097);
    let (_, too_long) = env
        .err("sendMessage", json!({ "chat_id": BUYER, "text": long }))
        .await;
    assert_eq!(too_long, "Bad Request: message is too long");
    env.ok(
        "sendMessage",
        json!({ "chat_id": BUYER, "text": "é".repeat(4096) }),
    )
    .await;
}

#[tokio::test]
async fn callback_data_over_64_bytes_is_button_data_invalid() {
    let env = Env::start().await;
    env.open_chat().await;
    let markup =
        json!({ "inline_keyboard": [[{ "text": "Buy", "callback_data": "b".repeat(65) }]] });
    let (_, description) = env
        .err(
            "sendMessage",
            json!({ "chat_id": BUYER, "text": "Shop", "reply_markup": markup }),
        )
        .await;
    assert_eq!(description, "Bad Request: BUTTON_DATA_INVALID");
}

#[tokio::test]
async fn sent_messages_are_returned_whole_and_recorded_in_order() {
    let env = Env::start().await;
    env.open_chat().await;
    let markup = json!({ "inline_keyboard": [[
        { "text": "Buy", "callback_data": "buy:guide" },
        { "text": "Site", "url": "https://example.com" }
    ]] });
    let message = env
        .ok("sendMessage", json!({ "chat_id": BUYER, "text": " Shop ", "reply_markup": markup, "parse_mode": "HTML" }))
        .await;
    assert_eq!(message["text"], "Shop");
    assert_eq!(
        message["chat"],
        json!({ "id": BUYER, "first_name": "Ada", "type": "private" })
    );
    assert_eq!(message["from"]["is_bot"], true);
    assert_eq!(message["from"]["username"], "shop_bot");
    assert_eq!(message["reply_markup"], markup);
    // The user's /start was message 1 in this chat.
    assert_eq!(message["message_id"], 2);
    env.ok("sendMessage", json!({ "chat_id": BUYER, "text": "second" }))
        .await;
    let sent = env.sim.messages(TOKEN, BUYER);
    let texts: Vec<_> = sent.iter().map(|m| m.text.clone().unwrap()).collect();
    assert_eq!(texts, ["Shop", "second"]);
    assert_eq!(sent[0].reply_markup, Some(markup));
}

#[tokio::test]
async fn pressing_a_button_queues_a_callback_query_that_can_be_answered_once() {
    let env = Env::start().await;
    env.open_chat().await;
    let markup = json!({ "inline_keyboard": [[{ "text": "Buy", "callback_data": "buy:guide" }]] });
    let message = env
        .ok(
            "sendMessage",
            json!({ "chat_id": BUYER, "text": "Shop", "reply_markup": markup }),
        )
        .await;
    let message_id = message["message_id"].as_i64().unwrap();

    assert!(matches!(
        env.sim.press_button(TOKEN, BUYER, message_id, "nope"),
        Err(SimError::UnknownButton { .. })
    ));
    assert!(matches!(
        env.sim.press_button(TOKEN, BUYER, 999, "buy:guide"),
        Err(SimError::UnknownMessage { .. })
    ));
    let update_id = env
        .sim
        .press_button(TOKEN, BUYER, message_id, "buy:guide")
        .unwrap();
    let updates = env.drain().await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["update_id"], update_id);
    let query = &updates[0]["callback_query"];
    assert_eq!(query["data"], "buy:guide");
    assert_eq!(query["from"]["id"], BUYER);
    assert_eq!(query["message"], message);
    assert!(query["chat_instance"].is_string());

    env.ok(
        "answerCallbackQuery",
        json!({ "callback_query_id": query["id"] }),
    )
    .await;
    let (_, again) = env
        .err(
            "answerCallbackQuery",
            json!({ "callback_query_id": query["id"] }),
        )
        .await;
    assert_eq!(
        again,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
}

#[tokio::test]
async fn wait_for_messages_returns_as_soon_as_the_predicate_holds() {
    let env = Env::start().await;
    env.open_chat().await;
    let sim = env.sim.clone();
    let waiter = tokio::spawn(async move {
        sim.wait_for_messages(TOKEN, BUYER, |m| m.len() == 2, Duration::from_secs(10))
            .await
    });
    env.ok("sendMessage", json!({ "chat_id": BUYER, "text": "one" }))
        .await;
    env.ok("sendMessage", json!({ "chat_id": BUYER, "text": "two" }))
        .await;
    let started = std::time::Instant::now();
    let messages = waiter.await.unwrap();
    assert_eq!(messages.len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
    // On timeout it returns what it has.
    let some = env
        .sim
        .wait_for_messages(TOKEN, BUYER, |m| m.len() == 5, Duration::from_millis(50))
        .await;
    assert_eq!(some.len(), 2);
}

#[tokio::test]
async fn edits_replace_text_and_markup_and_identical_edits_are_refused() {
    let env = Env::start().await;
    env.open_chat().await;
    let message = env
        .ok("sendMessage", json!({ "chat_id": BUYER, "text": "v1" }))
        .await;
    let id = message["message_id"].clone();
    let edited = env
        .ok(
            "editMessageText",
            json!({ "chat_id": BUYER, "message_id": id, "text": "v2" }),
        )
        .await;
    assert_eq!(edited["text"], "v2");
    assert!(edited["edit_date"].is_i64());
    let (_, same) = env
        .err(
            "editMessageText",
            json!({ "chat_id": BUYER, "message_id": id, "text": "v2" }),
        )
        .await;
    assert!(same.starts_with("Bad Request: message is not modified"));
    assert_eq!(
        env.sim.messages(TOKEN, BUYER)[0].text.as_deref(),
        Some("v2")
    );
}
