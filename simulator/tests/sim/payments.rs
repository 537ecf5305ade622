//! Checkout, charges, refunds, subscriptions and the Stars ledger.

use std::collections::HashSet;

use serde_json::json;
use starsgate_sim::{InvoiceRef, PayOutcome, SimError};

use crate::common::{BUYER, Env, TOKEN};

async fn buy(env: &Env, amount: i64, payload: &str) -> (String, serde_json::Value) {
    env.send_invoice(amount, payload).await;
    let (outcome, _) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &InvoiceRef::Latest),
        env.answer_next_pre_checkout(true, None)
    );
    let PayOutcome::Paid {
        charge_id,
        update_id,
    } = outcome.unwrap()
    else {
        panic!("payment failed");
    };
    let updates = env.drain().await;
    let update = updates
        .into_iter()
        .find(|u| u["update_id"] == update_id)
        .expect("successful_payment update");
    (charge_id, update)
}

#[tokio::test]
async fn a_purchase_goes_from_pre_checkout_to_successful_payment_and_a_transaction() {
    let env = Env::start().await;
    env.open_chat().await;
    let invoice = env.send_invoice(50, "order-1").await;
    let message_id = invoice["message_id"].as_i64().unwrap();
    let target = InvoiceRef::Message { message_id };
    let (outcome, query) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &target),
        env.answer_next_pre_checkout(true, None)
    );
    assert_eq!(query["currency"], "XTR");
    assert_eq!(query["total_amount"], 50);
    assert_eq!(query["invoice_payload"], "order-1");
    assert_eq!(query["from"]["id"], BUYER);

    let PayOutcome::Paid {
        charge_id,
        update_id,
    } = outcome.unwrap()
    else {
        panic!("not paid");
    };
    assert!(charge_id.starts_with("stx"));
    let update = env.drain().await.remove(0);
    assert_eq!(update["update_id"], update_id);
    let message = &update["message"];
    assert_eq!(message["from"]["id"], BUYER);
    assert_eq!(
        message["successful_payment"],
        json!({
            "currency": "XTR",
            "total_amount": 50,
            "invoice_payload": "order-1",
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        })
    );

    let transactions = env.ok("getStarTransactions", json!({})).await;
    let tx = &transactions["transactions"][0];
    assert_eq!(tx["id"], charge_id.as_str());
    assert_eq!(tx["amount"], 50);
    assert_eq!(tx["source"]["type"], "user");
    assert_eq!(tx["source"]["transaction_type"], "invoice_payment");
    assert_eq!(tx["source"]["invoice_payload"], "order-1");
    assert_eq!(tx["source"]["user"]["id"], BUYER);
    assert_eq!(
        env.sim.star_transactions(TOKEN),
        transactions["transactions"].as_array().unwrap().clone()
    );
    assert_eq!(env.ok("getMyStarBalance", json!({})).await["amount"], 50);

    let answers = env.sim.precheckout_answers(TOKEN);
    assert_eq!(answers.len(), 1);
    assert!(answers[0].ok && answers[0].accepted);
    assert!(answers[0].after_ms < 10_000);
}

#[tokio::test]
async fn a_rejected_pre_checkout_charges_nothing_and_shows_the_message() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(50, "order-1").await;
    let (outcome, _) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &InvoiceRef::Latest),
        env.answer_next_pre_checkout(false, Some("Sold out"))
    );
    assert_eq!(
        outcome.unwrap(),
        PayOutcome::Rejected {
            error_message: "Sold out".into()
        }
    );
    assert!(env.sim.star_transactions(TOKEN).is_empty());
    assert_eq!(env.sim.pending_updates(TOKEN), 0);
}

#[tokio::test]
async fn ok_false_without_an_error_message_is_refused() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(50, "order-1").await;
    let sim = env.sim.clone();
    let pay = tokio::spawn(async move { sim.pay(TOKEN, BUYER, &InvoiceRef::Latest).await });
    let query = env.next_update_of("pre_checkout_query").await;
    let (status, description) = env
        .err(
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": query["id"], "ok": false }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(description.contains("error_message"), "{description}");
    env.ok(
        "answerPreCheckoutQuery",
        json!({ "pre_checkout_query_id": query["id"], "ok": true }),
    )
    .await;
    assert!(matches!(
        pay.await.unwrap().unwrap(),
        PayOutcome::Paid { .. }
    ));
}

#[tokio::test]
async fn a_pre_checkout_answer_after_ten_seconds_is_refused() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(50, "order-1").await;
    let sim = env.sim.clone();
    let pay = tokio::spawn(async move { sim.pay(TOKEN, BUYER, &InvoiceRef::Latest).await });
    let query = env.next_update_of("pre_checkout_query").await;
    // The simulated clock jumps past Telegram's deadline; nobody waits ten real seconds.
    env.sim.advance_time(11);
    assert_eq!(pay.await.unwrap().unwrap(), PayOutcome::NoAnswer);
    let (status, description) = env
        .err(
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": query["id"], "ok": true }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        description,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );
    let answers = env.sim.precheckout_answers(TOKEN);
    assert_eq!(answers.len(), 1);
    assert!(!answers[0].accepted);
    assert!(answers[0].after_ms >= 10_000);
    assert!(env.sim.star_transactions(TOKEN).is_empty());
}

#[tokio::test]
async fn answering_a_pre_checkout_query_twice_or_an_unknown_one_is_refused() {
    let env = Env::start().await;
    env.open_chat().await;
    env.send_invoice(50, "order-1").await;
    let (outcome, query) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &InvoiceRef::Latest),
        env.answer_next_pre_checkout(true, None)
    );
    assert!(matches!(outcome.unwrap(), PayOutcome::Paid { .. }));
    let (status, _) = env
        .err(
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": query["id"], "ok": true }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = env
        .err(
            "answerPreCheckoutQuery",
            json!({ "pre_checkout_query_id": "123", "ok": true }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(env.sim.star_transactions(TOKEN).len(), 1);
}

#[tokio::test]
async fn a_second_refund_says_charge_already_refunded() {
    let env = Env::start().await;
    env.open_chat().await;
    let (charge_id, _) = buy(&env, 30, "order-1").await;
    let refund = json!({ "user_id": BUYER, "telegram_payment_charge_id": charge_id });
    assert_eq!(env.ok("refundStarPayment", refund.clone()).await, true);
    let (status, description) = env.err("refundStarPayment", refund).await;
    assert_eq!(
        (status, description.as_str()),
        (400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    );

    // The refund is an outgoing transaction with the same id, and a service message.
    let transactions = env.sim.star_transactions(TOKEN);
    assert_eq!(transactions.len(), 2);
    assert_eq!(transactions[1]["id"], charge_id.as_str());
    assert_eq!(transactions[1]["receiver"]["type"], "user");
    assert_eq!(
        transactions[1]["receiver"]["transaction_type"],
        "invoice_payment"
    );
    assert_eq!(transactions[1]["receiver"]["invoice_payload"], "order-1");
    assert!(transactions[1].get("source").is_none());
    assert_eq!(env.ok("getMyStarBalance", json!({})).await["amount"], 0);
    let updates = env.drain().await;
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0]["message"]["refunded_payment"],
        json!({
            "currency": "XTR",
            "total_amount": 30,
            "invoice_payload": "order-1",
            "telegram_payment_charge_id": charge_id,
        })
    );
}

#[tokio::test]
async fn refunds_check_the_charge_and_the_user() {
    let env = Env::start().await;
    env.open_chat().await;
    let (charge_id, _) = buy(&env, 30, "order-1").await;
    let (_, unknown) = env
        .err(
            "refundStarPayment",
            json!({ "user_id": BUYER, "telegram_payment_charge_id": "stxnope" }),
        )
        .await;
    assert_eq!(unknown, "Bad Request: CHARGE_NOT_FOUND");
    let (_, wrong_user) = env
        .err(
            "refundStarPayment",
            json!({ "user_id": 1, "telegram_payment_charge_id": charge_id }),
        )
        .await;
    assert_eq!(wrong_user, "Bad Request: USER_ID_INVALID");
}

#[tokio::test]
async fn an_external_refund_queues_refunded_payment_and_is_not_repeatable() {
    let env = Env::start().await;
    env.open_chat().await;
    let (charge_id, _) = buy(&env, 30, "order-1").await;
    env.sim.refund_externally(TOKEN, &charge_id).unwrap();
    assert_eq!(
        env.sim.refund_externally(TOKEN, &charge_id),
        Err(SimError::AlreadyRefunded(charge_id.clone()))
    );
    let update = env.drain().await.remove(0);
    assert_eq!(
        update["message"]["refunded_payment"]["telegram_payment_charge_id"],
        charge_id.as_str()
    );
    let (_, again) = env
        .err(
            "refundStarPayment",
            json!({ "user_id": BUYER, "telegram_payment_charge_id": charge_id }),
        )
        .await;
    assert_eq!(again, "Bad Request: CHARGE_ALREADY_REFUNDED");
}

#[tokio::test]
async fn charge_ids_are_unique_and_belong_to_one_bot() {
    let env = Env::start().await;
    env.open_chat().await;
    let mut ids = HashSet::new();
    for n in 0..5 {
        let (charge_id, _) = buy(&env, 1 + n, &format!("order-{n}")).await;
        assert!(ids.insert(charge_id));
    }
    let other = "222:BBBother";
    env.sim.add_bot(other, "other_bot");
    let charge_id = ids.iter().next().unwrap();
    let (status, body) = env
        .call_as(
            other,
            "refundStarPayment",
            json!({ "user_id": BUYER, "telegram_payment_charge_id": charge_id }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["description"], "Bad Request: CHARGE_NOT_FOUND");
}

#[tokio::test]
async fn get_star_transactions_pages_with_offset_and_limit_oldest_first() {
    let env = Env::start().await;
    env.open_chat().await;
    let mut charges = Vec::new();
    for n in 0..3 {
        charges.push(buy(&env, 10 + n, "order").await.0);
    }
    let page = env
        .ok("getStarTransactions", json!({ "offset": 1, "limit": 1 }))
        .await;
    assert_eq!(page["transactions"].as_array().unwrap().len(), 1);
    assert_eq!(page["transactions"][0]["id"], charges[1].as_str());
    let clamped = env
        .ok("getStarTransactions", json!({ "limit": 1000 }))
        .await;
    assert_eq!(clamped["transactions"].as_array().unwrap().len(), 3);
    let zero = env.ok("getStarTransactions", json!({ "limit": 0 })).await;
    assert_eq!(zero["transactions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_subscription_link_pays_with_recurring_fields_and_can_be_canceled() {
    let env = Env::start().await;
    let link = env
        .ok(
            "createInvoiceLink",
            json!({
                "title": "Pro", "description": "30 days of Pro", "payload": "sub-1",
                "currency": "XTR", "prices": [{ "label": "Pro", "amount": 100 }],
                "subscription_period": 2592000,
            }),
        )
        .await;
    let link = link.as_str().unwrap().to_owned();
    // The buyer opened the link without ever writing to the bot.
    let before = env.sim.now();
    let target = InvoiceRef::Link(link.clone());
    let (outcome, _) = tokio::join!(
        env.sim.pay(TOKEN, BUYER, &target),
        env.answer_next_pre_checkout(true, None)
    );
    let PayOutcome::Paid { charge_id, .. } = outcome.unwrap() else {
        panic!()
    };
    let payment = env.drain().await.remove(0)["message"]["successful_payment"].clone();
    assert_eq!(payment["is_recurring"], true);
    assert_eq!(payment["is_first_recurring"], true);
    let expires = payment["subscription_expiration_date"].as_i64().unwrap();
    assert!(expires >= before + 2592000 && expires <= before + 2592000 + 5);
    assert_eq!(
        env.sim.star_transactions(TOKEN)[0]["source"]["subscription_period"],
        2592000
    );
    // Paying opened the chat, so the bot may now write.
    env.ok(
        "sendMessage",
        json!({ "chat_id": BUYER, "text": "Welcome to Pro" }),
    )
    .await;

    let renewal = env.sim.renew_subscription(TOKEN, &charge_id).unwrap();
    let PayOutcome::Paid {
        charge_id: second, ..
    } = renewal
    else {
        panic!()
    };
    assert_ne!(second, charge_id);
    let renewed = env.drain().await.remove(0)["message"]["successful_payment"].clone();
    assert_eq!(renewed["is_recurring"], true);
    assert!(renewed.get("is_first_recurring").is_none());

    let cancel =
        json!({ "user_id": BUYER, "telegram_payment_charge_id": charge_id, "is_canceled": true });
    assert_eq!(env.ok("editUserStarSubscription", cancel).await, true);
    let subs = env.sim.subscriptions(TOKEN);
    assert!(subs[0].is_canceled);
    assert_eq!(subs[0].state, "canceled");
    assert_eq!(subs[0].charge_ids, vec![charge_id.clone(), second]);
    assert!(matches!(
        env.sim.renew_subscription(TOKEN, &charge_id),
        Err(SimError::SubscriptionCanceled(_))
    ));
    let (_, unknown) = env
        .err(
            "editUserStarSubscription",
            json!({ "user_id": BUYER, "telegram_payment_charge_id": "x", "is_canceled": true }),
        )
        .await;
    assert_eq!(unknown, "Bad Request: CHARGE_NOT_FOUND");
}

#[tokio::test]
async fn paying_something_that_was_never_sent_is_a_sim_error() {
    let env = Env::start().await;
    env.open_chat().await;
    assert!(matches!(
        env.sim.pay(TOKEN, BUYER, &InvoiceRef::Latest).await,
        Err(SimError::UnknownInvoice(_))
    ));
    assert!(matches!(
        env.sim.pay(TOKEN, 77, &InvoiceRef::Latest).await,
        Err(SimError::UnknownUser(77))
    ));
    let text = env
        .ok("sendMessage", json!({ "chat_id": BUYER, "text": "hi" }))
        .await;
    let message_id = text["message_id"].as_i64().unwrap();
    assert_eq!(
        env.sim
            .pay(TOKEN, BUYER, &InvoiceRef::Message { message_id })
            .await,
        Err(SimError::NotAnInvoice(message_id))
    );
    assert!(matches!(
        env.sim.pay("nope", BUYER, &InvoiceRef::Latest).await,
        Err(SimError::UnknownBot(_))
    ));
}
