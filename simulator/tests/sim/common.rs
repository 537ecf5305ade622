//! Helpers: a simulator with one bot, and a raw HTTP Bot API client.

use serde_json::{Value, json};
use starsgate_sim::{InvoiceRef, PayOutcome, SimHandle, Simulator};

pub const TOKEN: &str = "111:AAAshop";
pub const BUYER: i64 = 4242;
/// The only subscription period Telegram accepts: 30 days.
pub const PERIOD: i64 = 2_592_000;

pub struct Env {
    pub sim: SimHandle,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Env {
        let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        sim.add_bot(TOKEN, "shop_bot");
        sim.add_user(BUYER, "Ada");
        Env {
            sim,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, token: &str, method: &str) -> String {
        format!("{}bot{token}/{method}", self.sim.api_url())
    }

    /// POSTs JSON and returns (status, body).
    pub async fn call_as(&self, token: &str, method: &str, params: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(token, method))
            .json(&params)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        self.call_as(TOKEN, method, params).await
    }

    /// Calls and expects success; returns `result`.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params).await;
        assert_eq!(status, 200, "{method} failed: {body}");
        assert_eq!(body["ok"], true);
        body["result"].clone()
    }

    /// Calls and expects a Telegram error; returns (status, description).
    pub async fn err(&self, method: &str, params: Value) -> (u16, String) {
        let (status, body) = self.call(method, params).await;
        assert_eq!(body["ok"], false, "{method} unexpectedly succeeded: {body}");
        assert_eq!(body["error_code"], status);
        (status, body["description"].as_str().unwrap().to_owned())
    }

    /// Short-polls and confirms everything returned, like a well-behaved bot.
    pub async fn drain(&self) -> Vec<Value> {
        let updates = self.ok("getUpdates", json!({})).await;
        let updates = updates.as_array().unwrap().clone();
        if let Some(last) = updates.last() {
            let next = last["update_id"].as_i64().unwrap() + 1;
            self.ok("getUpdates", json!({ "offset": next, "limit": 1 }))
                .await;
        }
        updates
    }

    /// Makes the buyer talk to the bot and returns nothing else (the chat now exists).
    pub async fn open_chat(&self) {
        self.sim.send_text(TOKEN, BUYER, "/start");
        self.drain().await;
    }

    pub async fn send_invoice(&self, amount: i64, payload: &str) -> Value {
        self.ok(
            "sendInvoice",
            json!({
                "chat_id": BUYER,
                "title": "Guide",
                "description": "A PDF guide",
                "payload": payload,
                "currency": "XTR",
                "prices": [{ "label": "Guide", "amount": amount }],
            }),
        )
        .await
    }

    /// The buyer subscribes through an invoice link for `amount` Stars a period; returns the
    /// first charge id. Every update up to and including the first payment is confirmed.
    pub async fn subscribe(&self, amount: i64, payload: &str) -> String {
        let link = self
            .ok(
                "createInvoiceLink",
                json!({
                    "title": "Pro", "description": "30 days of Pro", "payload": payload,
                    "currency": "XTR", "prices": [{ "label": "Pro", "amount": amount }],
                    "subscription_period": PERIOD,
                }),
            )
            .await;
        let target = InvoiceRef::Link(link.as_str().unwrap().to_owned());
        let (outcome, _) = tokio::join!(
            self.sim.pay(TOKEN, BUYER, &target),
            self.answer_next_pre_checkout(true, None)
        );
        let PayOutcome::Paid { charge_id, .. } = outcome.unwrap() else {
            panic!("the subscription was not paid");
        };
        self.drain().await;
        charge_id
    }

    /// Plays the gateway's side of a checkout: waits for the pre-checkout query and answers it.
    pub async fn answer_next_pre_checkout(&self, ok: bool, error: Option<&str>) -> Value {
        let query = self.next_update_of("pre_checkout_query").await;
        let mut answer = json!({ "pre_checkout_query_id": query["id"], "ok": ok });
        if let Some(e) = error {
            answer["error_message"] = json!(e);
        }
        self.ok("answerPreCheckoutQuery", answer).await;
        query
    }

    /// Long-polls until an update of the given kind arrives, confirming what it reads.
    pub async fn next_update_of(&self, kind: &str) -> Value {
        let mut offset = 0;
        for _ in 0..20 {
            let updates = self
                .ok("getUpdates", json!({ "offset": offset, "timeout": 2 }))
                .await;
            for update in updates.as_array().unwrap() {
                offset = update["update_id"].as_i64().unwrap() + 1;
                if let Some(body) = update.get(kind) {
                    self.ok("getUpdates", json!({ "offset": offset, "limit": 1 }))
                        .await;
                    return body.clone();
                }
            }
        }
        panic!("no {kind} update arrived");
    }
}
