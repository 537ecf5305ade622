//! The `/sim/` control API, as a person with curl would use it.

use serde_json::{Value, json};

use crate::common::{BUYER, Env, TOKEN};

async fn post(env: &Env, path: &str, body: Value) -> (u16, Value) {
    let response = env
        .http
        .post(format!("{}sim/{path}", env.sim.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(env: &Env, path_and_query: &str) -> (u16, Value) {
    let response = env
        .http
        .get(format!("{}sim/{path_and_query}", env.sim.api_url()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_control_api_plays_a_buyer_over_http() {
    let env = Env::start().await;
    let (status, bot) = post(
        &env,
        "bots",
        json!({ "token": "333:CCC", "username": "cli_bot" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bot["result"]["id"], 333);

    let (_, sent) = post(
        &env,
        "send",
        json!({ "token": TOKEN, "user_id": BUYER, "text": "/start" }),
    )
    .await;
    assert!(sent["result"]["update_id"].is_i64());
    env.drain().await;
    let invoice = env.send_invoice(15, "order-1").await;

    let pay = {
        let env_http = env.http.clone();
        let url = format!("{}sim/pay", env.sim.api_url());
        let body = json!({ "token": TOKEN, "user_id": BUYER, "message_id": invoice["message_id"] });
        tokio::spawn(async move {
            env_http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    env.answer_next_pre_checkout(true, None).await;
    let paid = pay.await.unwrap();
    assert_eq!(paid["result"]["outcome"], "paid");
    let charge_id = paid["result"]["charge_id"].as_str().unwrap().to_owned();

    let (status, _) = post(
        &env,
        "refund",
        json!({ "token": TOKEN, "charge_id": charge_id }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, again) = post(
        &env,
        "refund",
        json!({ "token": TOKEN, "charge_id": charge_id }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(again["ok"], false);

    let (_, messages) = get(&env, &format!("messages?token={TOKEN}&chat_id={BUYER}")).await;
    assert_eq!(messages["result"][0]["invoice"]["amount"], 15);
    let (_, transactions) = get(&env, &format!("transactions?token={TOKEN}")).await;
    assert_eq!(transactions["result"].as_array().unwrap().len(), 2);
    let (_, calls) = get(&env, &format!("calls?token={TOKEN}")).await;
    assert!(
        calls["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["method"] == "sendInvoice")
    );

    let (status, _) = post(
        &env,
        "fault",
        json!({ "token": TOKEN, "method": "getMe", "kind": "429", "retry_after": 2, "times": 1 }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(env.call("getMe", json!({})).await.0, 429);
    let (status, _) = post(
        &env,
        "fault",
        json!({ "token": TOKEN, "method": "getMe", "kind": "weird" }),
    )
    .await;
    assert_eq!(status, 400);

    let (status, _) = post(&env, "advance", json!({ "secs": 60 })).await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &env,
        "repeat",
        json!({ "token": TOKEN, "update_id": 1, "same_id": true }),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn control_api_mistakes_are_readable_errors() {
    let env = Env::start().await;
    let (status, body) = post(
        &env,
        "send",
        json!({ "token": "nope", "user_id": 1, "text": "x" }),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["ok"], false);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("unknown bot")
    );
    let (status, body) = post(&env, "send", json!({ "token": TOKEN })).await;
    assert_eq!(status, 400);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("invalid JSON body")
    );
    let (status, _) = get(&env, "messages?token=nope&chat_id=1").await;
    assert_eq!(status, 404);
    let (status, _) = get(&env, &format!("messages?token={TOKEN}")).await;
    assert_eq!(status, 400);
}
