//! SPEC §4: what a buyer sees, row by row.

use serde_json::Value;
use starsgate::domain::OrderId;
use starsgate::ledger::{EventKind, PaymentStatus};
use starsgate_sim::PayOutcome;

use crate::helpers::*;
use crate::on_both_ledgers;

const ALICE: i64 = 5001;
const BOB: i64 = 5002;

fn buttons(markup: &Value) -> Vec<String> {
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_lists_every_product_with_a_buy_button() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, ALICE, "/start");
    let msgs = h
        .wait_for(GUIDES, ALICE, "the catalogue", |m| {
            m.iter().any(|m| m.reply_markup.is_some())
        })
        .await;
    let catalogue = msgs.iter().find(|m| m.reply_markup.is_some()).unwrap();
    let text = catalogue.text.clone().unwrap_or_default();
    assert!(
        text.contains("Python Integration Guide") && text.contains("Starter pack"),
        "{text}"
    );
    assert!(text.contains("50 ⭐"), "prices are shown in Stars: {text}");
    let data = buttons(catalogue.reply_markup.as_ref().unwrap());
    assert_eq!(
        data,
        [
            "buy:premium-guide",
            "buy:starter-pack",
            "buy:pro-access",
            "buy:pro-monthly"
        ]
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_sends_a_correct_stars_invoice() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, ALICE, "/start premium-guide");
    h.wait_for_invoice(GUIDES, ALICE, 1).await;
    let invoices = h.sim.invoices(&h.token(GUIDES));
    assert_eq!(invoices.len(), 1);
    let inv = &invoices[0];
    assert_eq!((inv.currency.as_str(), inv.amount), ("XTR", 50));
    assert_eq!(inv.title, "Python Integration Guide");
    assert!(!inv.payload.is_empty() && inv.payload.len() <= 128);
    let p = &inv.params;
    assert_eq!(
        p["prices"].as_array().map(Vec::len),
        Some(1),
        "exactly one price item: {p}"
    );
    for forbidden in [
        "max_tip_amount",
        "suggested_tip_amounts",
        "need_name",
        "need_phone_number",
        "need_email",
        "need_shipping_address",
        "is_flexible",
        "subscription_period",
    ] {
        assert!(
            p.get(forbidden).is_none(),
            "{forbidden} must not be sent with XTR: {p}"
        );
    }
    assert!(
        p.get("provider_token").is_none_or(|t| t == ""),
        "no provider token: {p}"
    );
    let order = h
        .ledger()
        .await
        .order(&OrderId::parse(&inv.payload).expect("the payload is an order id"))
        .await
        .unwrap()
        .expect("the payload is our order id");
    assert_eq!(
        (order.bot.as_str(), order.product.as_str(), order.price),
        (GUIDES, "premium-guide", 50)
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buy_command_and_the_buy_button_both_send_invoices() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, ALICE, "/buy starter-pack");
    h.wait_for_invoice(GUIDES, ALICE, 1).await;
    h.say(GUIDES, ALICE, "/start");
    let msgs = h
        .wait_for(GUIDES, ALICE, "the catalogue", |m| {
            m.iter().any(|m| m.reply_markup.is_some())
        })
        .await;
    let catalogue = msgs.iter().find(|m| m.reply_markup.is_some()).unwrap();
    h.sim
        .press_button(
            &h.token(GUIDES),
            ALICE,
            catalogue.message_id,
            "buy:premium-guide",
        )
        .unwrap();
    h.wait_for_invoice(GUIDES, ALICE, 2).await;
    let amounts: Vec<i64> = h
        .sim
        .invoices(&h.token(GUIDES))
        .iter()
        .map(|i| i.amount)
        .collect();
    assert_eq!(amounts, [15, 50]);
    let answered = h
        .sim
        .calls(&h.token(GUIDES))
        .iter()
        .filter(|c| c.method == "answerCallbackQuery" && c.status == 200)
        .count();
    assert_eq!(answered, 1, "the button press is answered");
    gw.stop().await;
    h.finish().await;
}

async fn a_paid_order_is_recorded_then_delivered_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, ALICE, "premium-guide").await;
    let delivered = h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    assert!(
        delivered[0].contains("https://example.com/guides/python-integration.pdf"),
        "{delivered:?}"
    );
    let ledger = h.ledger().await;
    eventually("the payment to be marked delivered", || async {
        status(&ledger, GUIDES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    let p = payment(&ledger, GUIDES, &charge).await;
    assert_eq!(
        (p.amount, p.currency.as_str(), p.product.as_deref()),
        (50, "XTR", Some("premium-guide"))
    );
    assert!(p.delivered_at.is_some());
    let answers = h.sim.precheckout_answers(&h.token(GUIDES));
    assert_eq!(answers.len(), 1);
    assert!(answers[0].ok);
    assert!(
        answers[0].after_ms < 10_000,
        "answered within Telegram's deadline: {} ms",
        answers[0].after_ms
    );
    gw.stop().await;
    assert_eq!(h.deliveries(GUIDES, ALICE).len(), 1);
    h.finish().await;
}

async fn two_bots_with_the_same_product_id_sell_their_own_products(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (guides_charge, _) = h.buy(GUIDES, ALICE, "starter-pack").await;
    let (games_charge, _) = h.buy(GAMES, ALICE, "starter-pack").await;
    let guides = h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    let games = h.wait_for_deliveries(GAMES, ALICE, 1).await;
    assert!(guides[0].contains("checklists and templates"), "{guides:?}");
    assert!(
        games[0].contains("Key #1: STARTER-"),
        "a licence key from the games store: {games:?}"
    );
    let amounts: Vec<i64> = [GUIDES, GAMES]
        .iter()
        .map(|b| h.sim.invoices(&h.token(b))[0].amount)
        .collect();
    assert_eq!(amounts, [15, 25], "each bot invoices its own price");
    let ledger = h.ledger().await;
    assert_eq!(payment(&ledger, GUIDES, &guides_charge).await.amount, 15);
    assert_eq!(payment(&ledger, GAMES, &games_charge).await.amount, 25);
    // A bot does not know the other bot's payments.
    assert!(
        ledger
            .payment(&bot_id(GAMES), &charge_id_of(&guides_charge))
            .await
            .unwrap()
            .is_none()
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paysupport_and_terms_answer_with_the_bot_texts() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GAMES, BOB, "/paysupport");
    h.say(GAMES, BOB, "/terms");
    let msgs = h
        .wait_for(GAMES, BOB, "two answers", |m| m.len() >= 2)
        .await;
    assert_eq!(
        msgs[0].text.as_deref(),
        Some("Write to @games_help for anything about your purchase.")
    );
    assert!(
        msgs[1]
            .text
            .as_deref()
            .unwrap_or("")
            .starts_with("In-game items are delivered as codes.")
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_or_command_gets_a_helpful_answer() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GAMES, BOB, "/buy premium-guide");
    h.say(GAMES, BOB, "hello?");
    let msgs = h
        .wait_for(GAMES, BOB, "two answers", |m| m.len() >= 2)
        .await;
    let first = msgs[0].text.clone().unwrap_or_default();
    assert!(
        first.contains("premium-guide") && first.contains("/start"),
        "{first}"
    );
    assert!(msgs[1].text.clone().unwrap_or_default().contains("/start"));
    assert!(
        h.sim.invoices(&h.token(GAMES)).is_empty(),
        "no invoice for another bot's product"
    );
    gw.stop().await;
    h.finish().await;
}

async fn an_admin_refund_in_chat_is_recorded_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    h.say(GUIDES, ALICE, &format!("/refund {charge}")); // not an admin: just help
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    h.wait_for(GUIDES, GUIDES_ADMIN, "the refund answer", |m| !m.is_empty())
        .await;
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    let msgs = h
        .wait_for(GUIDES, GUIDES_ADMIN, "the second refund answer", |m| {
            m.len() >= 2
        })
        .await;
    assert!(
        msgs[0]
            .text
            .as_deref()
            .unwrap_or("")
            .starts_with("Refunded"),
        "{msgs:?}"
    );
    assert!(
        msgs[1]
            .text
            .as_deref()
            .unwrap_or("")
            .starts_with("Already refunded"),
        "{msgs:?}"
    );
    let ledger = h.ledger().await;
    eventually("Telegram's refunded_payment to be processed", || async {
        let events = ledger
            .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
            .await
            .unwrap();
        events
            .iter()
            .filter(|e| e.kind == EventKind::RefundRecorded)
            .count()
            == 1
            && h.sim.pending_updates(&h.token(GUIDES)) == 0
    })
    .await;
    let p = payment(&ledger, GUIDES, &charge).await;
    assert_eq!(p.status, PaymentStatus::Refunded);
    let refunds: Vec<_> = h
        .sim
        .star_transactions(&h.token(GUIDES))
        .into_iter()
        .filter(|t| t.get("receiver").is_some())
        .collect();
    assert_eq!(
        refunds.len(),
        1,
        "Telegram refunded exactly once: {refunds:?}"
    );
    let events = ledger
        .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::RefundRecorded)
            .count(),
        1
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_stats_and_buyers_do_not() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    h.say(GUIDES, GUIDES_ADMIN, "/stats");
    let msgs = h
        .wait_for(GUIDES, GUIDES_ADMIN, "stats", |m| !m.is_empty())
        .await;
    let stats = msgs[0].text.clone().unwrap_or_default();
    assert!(stats.contains("premium-guide: 1 paid"), "{stats}");
    h.say(GUIDES, BOB, "/stats");
    let msgs = h
        .wait_for(GUIDES, BOB, "an answer", |m| !m.is_empty())
        .await;
    assert!(
        !msgs[0].text.clone().unwrap_or_default().contains("paid"),
        "buyers get help, not stats"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_product_is_refused_at_pre_checkout_with_a_clear_message() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GAMES, BOB, "/buy gold-chest");
    h.wait_for_invoice(GAMES, BOB, 1).await;
    let store = gw.store(GAMES).unwrap();
    let current = store.current();
    let mut config = current.config.clone();
    config.products.retain(|p| p.id.as_str() != "gold-chest");
    store.replace(config, current.plugins.clone());
    match h.pay_latest(GAMES, BOB).await {
        PayOutcome::Rejected { error_message } => {
            assert!(error_message.contains("no longer sold"), "{error_message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        h.sim.star_transactions(&h.token(GAMES)).is_empty(),
        "no Stars moved"
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_paid_order_is_recorded_then_delivered_once,
    two_bots_with_the_same_product_id_sell_their_own_products,
    an_admin_refund_in_chat_is_recorded_once,
);
