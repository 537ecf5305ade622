//! Telegram's rules for Stars invoices.

use serde_json::{Value, json};

use crate::common::{BUYER, Env, TOKEN};

fn invoice(overrides: Value) -> Value {
    let mut params = json!({
        "chat_id": BUYER,
        "title": "Guide",
        "description": "A PDF guide",
        "payload": "order-1",
        "currency": "XTR",
        "prices": [{ "label": "Guide", "amount": 50 }],
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            params.as_object_mut().unwrap().remove(k);
        } else {
            params[k] = v.clone();
        }
    }
    params
}

async fn refused(env: &Env, method: &str, overrides: Value) -> String {
    let (status, description) = env.err(method, invoice(overrides)).await;
    assert_eq!(status, 400);
    description
}

#[tokio::test]
async fn an_invoice_with_tips_is_rejected_like_telegram_does() {
    let env = Env::start().await;
    env.open_chat().await;
    for method in ["sendInvoice", "createInvoiceLink"] {
        assert_eq!(
            refused(&env, method, json!({ "max_tip_amount": 10 })).await,
            "Bad Request: STARS_INVOICE_INVALID"
        );
        assert_eq!(
            refused(&env, method, json!({ "suggested_tip_amounts": [1, 2] })).await,
            "Bad Request: STARS_INVOICE_INVALID"
        );
    }
    assert!(env.sim.invoices(TOKEN).is_empty());
    assert!(env.sim.messages(TOKEN, BUYER).is_empty());
}

#[tokio::test]
async fn stars_invoices_take_exactly_one_whole_star_price_in_xtr_without_a_provider() {
    let env = Env::start().await;
    env.open_chat().await;
    let stars_invalid = "Bad Request: STARS_INVOICE_INVALID";
    let two = json!([{ "label": "a", "amount": 1 }, { "label": "b", "amount": 1 }]);
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "prices": two })).await,
        stars_invalid
    );
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "prices": [] })).await,
        stars_invalid
    );
    let zero = json!([{ "label": "a", "amount": 0 }]);
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "prices": zero })).await,
        stars_invalid
    );
    assert_eq!(
        refused(
            &env,
            "sendInvoice",
            json!({ "provider_token": "284685063:TEST:abc" })
        )
        .await,
        stars_invalid
    );
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "currency": "USD" })).await,
        "Bad Request: CURRENCY_INVALID"
    );
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "currency": "XTS" })).await,
        "Bad Request: CURRENCY_INVALID"
    );
    // An empty provider token and ignored need_* flags are fine.
    env.ok(
        "sendInvoice",
        invoice(json!({ "provider_token": "", "need_email": true })),
    )
    .await;
}

#[tokio::test]
async fn payload_title_and_description_limits_are_enforced() {
    let env = Env::start().await;
    env.open_chat().await;
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "payload": "" })).await,
        "Bad Request: Parameter \"payload\" is required"
    );
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "payload": "p".repeat(129) })).await,
        "Bad Request: INVOICE_PAYLOAD_INVALID"
    );
    assert!(
        refused(&env, "sendInvoice", json!({ "title": "t".repeat(33) }))
            .await
            .contains("TITLE")
    );
    assert!(
        refused(
            &env,
            "sendInvoice",
            json!({ "description": "d".repeat(256) })
        )
        .await
        .contains("DESCRIPTION")
    );
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "title": null })).await,
        "Bad Request: Parameter \"title\" is required"
    );
    env.ok(
        "sendInvoice",
        invoice(json!({ "payload": "p".repeat(128), "title": "t".repeat(32) })),
    )
    .await;
}

#[tokio::test]
async fn subscription_period_is_only_for_thirty_day_invoice_links_up_to_ten_thousand_stars() {
    let env = Env::start().await;
    env.open_chat().await;
    assert_eq!(
        refused(
            &env,
            "sendInvoice",
            json!({ "subscription_period": 2592000 })
        )
        .await,
        "Bad Request: SUBSCRIPTION_PERIOD_INVALID"
    );
    assert_eq!(
        refused(
            &env,
            "createInvoiceLink",
            json!({ "subscription_period": 86400 })
        )
        .await,
        "Bad Request: SUBSCRIPTION_PERIOD_INVALID"
    );
    let expensive = json!([{ "label": "Pro", "amount": 10001 }]);
    assert_eq!(
        refused(
            &env,
            "createInvoiceLink",
            json!({ "subscription_period": 2592000, "prices": expensive })
        )
        .await,
        "Bad Request: SUBSCRIPTION_PRICE_INVALID"
    );
    let max = json!([{ "label": "Pro", "amount": 10000 }]);
    let link = env
        .ok(
            "createInvoiceLink",
            invoice(json!({ "chat_id": null, "subscription_period": 2592000, "prices": max })),
        )
        .await;
    let link = link.as_str().unwrap();
    assert!(link.starts_with("https://t.me/$"), "{link}");
    let invoices = env.sim.invoices(TOKEN);
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].link.as_deref(), Some(link));
    assert_eq!(invoices[0].subscription_period, Some(2592000));
    assert_eq!(invoices[0].message_id, None);
}

#[tokio::test]
async fn send_invoice_returns_an_invoice_message_and_records_it() {
    let env = Env::start().await;
    env.open_chat().await;
    let message = env.send_invoice(50, "order-7").await;
    assert_eq!(
        message["invoice"],
        json!({
            "title": "Guide",
            "description": "A PDF guide",
            "start_parameter": "",
            "currency": "XTR",
            "total_amount": 50,
        })
    );
    assert!(message.get("text").is_none());
    let sent = env.sim.messages(TOKEN, BUYER);
    let invoice = sent[0].invoice.clone().unwrap();
    assert_eq!(invoice.message_id, message["message_id"].as_i64());
    assert_eq!(invoice.chat_id, Some(BUYER));
    assert_eq!((invoice.payload.as_str(), invoice.amount), ("order-7", 50));
    assert_eq!(env.sim.invoices(TOKEN), vec![invoice]);
}

#[tokio::test]
async fn an_invoice_keyboard_must_start_with_a_pay_button() {
    let env = Env::start().await;
    env.open_chat().await;
    let wrong = json!({ "inline_keyboard": [[{ "text": "Buy", "callback_data": "x" }]] });
    assert_eq!(
        refused(&env, "sendInvoice", json!({ "reply_markup": wrong })).await,
        "Bad Request: REPLY_MARKUP_BUY_EMPTY"
    );
    let right = json!({ "inline_keyboard": [[{ "text": "Pay ⭐50", "pay": true }]] });
    let message = env
        .ok("sendInvoice", invoice(json!({ "reply_markup": right })))
        .await;
    assert_eq!(message["reply_markup"], right);
}
