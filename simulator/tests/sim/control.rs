//! The `/sim/` control API, as a person with curl would use it.

use serde_json::{Value, json};

use crate::common::{BUYER, Env, PERIOD, TOKEN};

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

#[tokio::test]
async fn the_control_api_renews_fails_cancels_and_re_enables_subscriptions() {
    let env = Env::start().await;
    let (_, help) = {
        let response = env
            .http
            .get(format!("{}sim", env.sim.api_url()))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    for route in [
        "POST /sim/fail-renewal",
        "POST /sim/subscription/cancel",
        "POST /sim/subscription/reenable",
    ] {
        assert!(help.contains(route), "help lists {route}: {help}");
    }
    let first = env.subscribe(100, "sub-1").await;
    let charge = json!({ "token": TOKEN, "charge_id": first });

    let (status, canceled) = post(&env, "subscription/cancel", charge.clone()).await;
    assert_eq!(status, 200, "{canceled}");
    assert!(canceled["result"]["update_id"].is_i64());
    let (status, again) = post(&env, "subscription/cancel", charge.clone()).await;
    assert_eq!((status, &again["ok"]), (400, &json!(false)));
    let (status, _) = post(&env, "subscription/reenable", charge.clone()).await;
    assert_eq!(status, 200);
    let (_, renewed) = post(&env, "renew", charge.clone()).await;
    assert_eq!(renewed["result"]["outcome"], "paid");
    let (status, armed) = post(&env, "fail-renewal", charge.clone()).await;
    assert_eq!((status, &armed["result"]), (200, &json!(true)));
    // Fetched before the jump: Telegram drops updates nobody fetched within 24 hours.
    let mut updates = env.drain().await;
    let (status, _) = post(&env, "advance", json!({ "secs": 2 * PERIOD })).await;
    assert_eq!(status, 200);

    updates.extend(env.drain().await);
    let states: Vec<&Value> = updates
        .iter()
        .filter_map(|u| u.get("subscription"))
        .map(|s| &s["state"])
        .collect();
    assert_eq!(
        states,
        [&json!("canceled"), &json!("active"), &json!("failed")]
    );
    let (_, subs) = get(&env, &format!("subscriptions?token={TOKEN}")).await;
    assert_eq!(subs["result"][0]["state"], "failed");
    assert_eq!(subs["result"][0]["charge_ids"].as_array().unwrap().len(), 2);
    let (status, _) = post(&env, "renew", charge.clone()).await;
    assert_eq!(status, 400, "a failed subscription does not renew");
    let (status, _) = post(
        &env,
        "fail-renewal",
        json!({ "token": TOKEN, "charge_id": "stxnope" }),
    )
    .await;
    assert_eq!(status, 404);
}
