//! The request envelope: routing, encodings, error shapes.

use serde_json::{Value, json};

use crate::common::{BUYER, Env, TOKEN};

#[tokio::test]
async fn an_unknown_token_is_unauthorized() {
    let env = Env::start().await;
    let (status, body) = env.call_as("999:nope", "getMe", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
    );
}

#[tokio::test]
async fn an_unknown_method_is_not_found_and_still_recorded() {
    let env = Env::start().await;
    let (status, description) = env.err("sendTelepathy", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(description, "Not Found: method not found");
    let calls = env.sim.calls(TOKEN);
    assert_eq!(calls.last().unwrap().method, "sendTelepathy");
    assert_eq!(calls.last().unwrap().status, 404);
}

#[tokio::test]
async fn method_names_are_case_insensitive_and_recorded_in_camel_case() {
    let env = Env::start().await;
    for name in ["GetMe", "getme", "GETME", "getMe"] {
        let me = env.ok(name, json!({})).await;
        assert_eq!(me["username"], "shop_bot");
        assert_eq!(me["id"], 111, "the id comes from the token prefix");
        assert_eq!(me["is_bot"], true);
    }
    let methods: Vec<String> = env.sim.calls(TOKEN).into_iter().map(|c| c.method).collect();
    assert_eq!(methods, vec!["getMe"; 4]);
}

#[tokio::test]
async fn get_requests_with_a_query_string_work() {
    let env = Env::start().await;
    env.open_chat().await;
    let url = format!(
        "{}?chat_id={BUYER}&text=hi%20there",
        env.url(TOKEN, "sendMessage")
    );
    let body: Value = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["result"]["text"], "hi there");
}

#[tokio::test]
async fn form_bodies_carry_nested_values_as_json_text() {
    let env = Env::start().await;
    env.open_chat().await;
    let response = env
        .http
        .post(env.url(TOKEN, "sendinvoice"))
        .form(&[
            ("chat_id", BUYER.to_string()),
            ("title", "Guide".into()),
            ("description", "A guide".into()),
            ("payload", "order-1".into()),
            ("currency", "XTR".into()),
            ("prices", r#"[{"label":"Guide","amount":50}]"#.into()),
            (
                "reply_markup",
                r#"{"inline_keyboard":[[{"text":"Pay 50 XTR","pay":true}]]}"#.into(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let invoices = env.sim.invoices(TOKEN);
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].amount, 50);
    // Recorded parameters are decoded, whatever the encoding.
    assert_eq!(invoices[0].params["prices"][0]["amount"], 50);
    let call = env.sim.calls(TOKEN).pop().unwrap();
    assert_eq!(call.method, "sendInvoice");
    assert_eq!(
        call.params["reply_markup"]["inline_keyboard"][0][0]["pay"],
        true
    );
}

#[tokio::test]
async fn the_test_environment_path_is_served() {
    let env = Env::start().await;
    let (status, body) = env.call_as(TOKEN, "test/getMe", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["username"], "shop_bot");
}

#[tokio::test]
async fn a_missing_required_parameter_is_named() {
    let env = Env::start().await;
    let (status, description) = env.err("answerCallbackQuery", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        description,
        "Bad Request: Parameter \"callback_query_id\" is required"
    );
}

#[tokio::test]
async fn a_malformed_json_body_is_a_bad_request() {
    let env = Env::start().await;
    let response = env
        .http
        .post(env.url(TOKEN, "getMe"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], 400);
}

#[tokio::test]
async fn bots_are_isolated_from_each_other() {
    let env = Env::start().await;
    let other = "222:BBBother";
    let info = env.sim.add_bot(other, "other_bot");
    assert_eq!(
        env.sim.add_bot(other, "renamed_bot"),
        info,
        "add_bot is idempotent"
    );
    env.sim.send_text(TOKEN, BUYER, "/start");
    let (_, body) = env.call_as(other, "getUpdates", json!({})).await;
    assert_eq!(body["result"], json!([]));
    let (_, body) = env
        .call_as(
            other,
            "sendMessage",
            json!({ "chat_id": BUYER, "text": "hi" }),
        )
        .await;
    assert_eq!(body["description"], "Bad Request: chat not found");
    assert_eq!(env.sim.pending_updates(TOKEN), 1);
    assert_eq!(env.sim.calls(TOKEN).len(), 0);
}

#[tokio::test]
async fn shutdown_ends_long_polls_and_stops_serving() {
    let env = Env::start().await;
    let poll = {
        let http = env.http.clone();
        let url = env.url(TOKEN, "getUpdates");
        tokio::spawn(async move { http.post(url).json(&json!({ "timeout": 50 })).send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let url = env.url(TOKEN, "getMe");
    let started = std::time::Instant::now();
    env.sim.clone().shutdown().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let answered: Value = poll.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answered["result"], json!([]));
    assert!(env.http.get(url).send().await.is_err());
}
