//! Bad input from outside: updates we do not understand, pre-checkouts for orders that are not
//! this bot's. Each gets a clear answer or a recorded event, and nothing is lost.

use serde_json::json;
use starsgate_sim::PayOutcome;

use crate::helpers::*;

const EVE: i64 = 7001;
const GENERIC: &str = "This item can't be bought right now. You have not been charged.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_the_gateway_does_not_understand_is_kept_and_skipped() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    // A message whose shape teloxide cannot read, then an ordinary command behind it.
    let odd = h.sim.inject_update(
        &token,
        json!({"message": {"message_id": "not-a-number", "chat": 5}}),
    );
    h.say(GUIDES, EVE, "/terms");
    h.wait_for(GUIDES, EVE, "the terms", |m| !m.is_empty())
        .await;
    let ledger = h.ledger().await;
    let outcome = wait_for_outcome(&ledger, GUIDES, odd).await;
    assert!(
        outcome.starts_with("ignored") || outcome.starts_with("unreadable"),
        "{outcome}"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_for_an_order_that_does_not_exist_is_refused() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, EVE, "/start");
    h.wait_for(GUIDES, EVE, "the catalogue", |m| !m.is_empty())
        .await;
    // Another client of the same bot sends an invoice whose payload is not one of our orders.
    let sent = bot_api(
        &h.sim,
        &token,
        "sendInvoice",
        json!({
            "chat_id": EVE, "title": "Forged", "description": "Not from the gateway",
            "payload": "forged-order-id", "currency": "XTR", "prices": [{"label": "x", "amount": 5}]
        }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    match h.pay_latest(GUIDES, EVE).await {
        PayOutcome::Rejected { error_message } => assert_eq!(error_message, GENERIC),
        other => panic!("a forged order must be refused: {other:?}"),
    }
    assert!(h.sim.star_transactions(&token).is_empty());
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_for_another_bots_order_is_refused() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, EVE, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, EVE, 1).await;
    let guides_order = h.sim.invoices(&h.token(GUIDES))[0].payload.clone();
    let games = h.token(GAMES);
    h.say(GAMES, EVE, "/start");
    h.wait_for(GAMES, EVE, "the catalogue", |m| !m.is_empty())
        .await;
    let sent = bot_api(
        &h.sim,
        &games,
        "sendInvoice",
        json!({
            "chat_id": EVE, "title": "Python Integration Guide", "description": "copied",
            "payload": guides_order, "currency": "XTR", "prices": [{"label": "x", "amount": 50}]
        }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    match h.pay_latest(GAMES, EVE).await {
        PayOutcome::Rejected { error_message } => assert_eq!(error_message, GENERIC),
        other => panic!("another bot's order must be refused: {other:?}"),
    }
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_whose_amount_differs_from_the_order_is_refused() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, EVE, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, EVE, 1).await;
    let order = h.sim.invoices(&token)[0].payload.clone();
    let sent = bot_api(
        &h.sim,
        &token,
        "sendInvoice",
        json!({
            "chat_id": EVE, "title": "Cheaper", "description": "same order, 1 Star",
            "payload": order, "currency": "XTR", "prices": [{"label": "x", "amount": 1}]
        }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    match h.pay_latest(GUIDES, EVE).await {
        PayOutcome::Rejected { error_message } => assert_eq!(error_message, GENERIC),
        other => panic!("a cheaper invoice for the order must be refused: {other:?}"),
    }
    gw.stop().await;
    h.finish().await;
}
