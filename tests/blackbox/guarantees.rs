//! SPEC §5, guarantees 1, 2, 3 (in polling mode; webhook mode has its own in `webhook.rs`)
//! and 4, on both ledgers.

use serde_json::json;
use starsgate::app::Running;
use starsgate::ledger::{EventKind, PaymentStatus};
use starsgate_sim::{Fault, PayOutcome};

use crate::helpers::*;
use crate::on_both_ledgers;

const ALICE: i64 = 6001;
const DAVE: i64 = 6004;

async fn a_repeated_successful_payment_delivers_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let ledger = h.ledger().await;
    let (charge, update_id) = h.buy(GUIDES, ALICE, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ALICE, 1).await;
    let token = h.token(GUIDES);
    // Telegram repeats with a new update id (twice) and with the same id (once).
    let again = h.sim.repeat_update(&token, update_id, false).unwrap();
    let third = h.sim.repeat_update(&token, update_id, false).unwrap();
    h.sim.repeat_update(&token, update_id, true).unwrap();
    for id in [again, third] {
        let outcome = wait_for_outcome(&ledger, GUIDES, id).await;
        assert!(outcome.starts_with("repeat"), "{outcome}");
    }
    eventually("every repeat to be confirmed", || async {
        h.sim.pending_updates(&token) == 0
    })
    .await;
    h.settle().await;
    assert_eq!(
        h.deliveries(GUIDES, ALICE).len(),
        1,
        "one delivery for one charge"
    );
    let payments = ledger.payments(Some(&bot_id(GUIDES))).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].charge_id, charge);
    let events = ledger
        .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::PaymentRepeated)
            .count(),
        2
    );
    gw.stop().await;
    h.finish().await;
}

async fn a_repeat_after_a_restart_still_delivers_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let (_, update_id) = h.buy(GAMES, ALICE, "gold-chest").await;
    h.wait_for_deliveries(GAMES, ALICE, 1).await;
    gw.stop().await;
    let gw = h.start().await;
    let repeat = h
        .sim
        .repeat_update(&h.token(GAMES), update_id, false)
        .unwrap();
    let outcome = wait_for_outcome(&h.ledger().await, GAMES, repeat).await;
    assert!(outcome.starts_with("repeat"), "{outcome}");
    h.settle().await;
    assert_eq!(h.deliveries(GAMES, ALICE).len(), 1);
    gw.stop().await;
    h.finish().await;
}

async fn an_update_is_not_confirmed_to_telegram_until_it_is_stored(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, ALICE, "/terms");
    h.wait_for(GUIDES, ALICE, "the terms", |m| m.len() == 1)
        .await;
    let lock = hold_inbox_lock(&h).await;
    h.say(GUIDES, ALICE, "/paysupport");
    // The gateway has taken the update from Telegram and waits to store it: from here on, a
    // confirmation or a reply could only come from not waiting for the store.
    eventually("the gateway to be storing the update", || async {
        gw.ledger().updates_being_stored() > 0
    })
    .await;
    assert_eq!(
        h.sim.pending_updates(&token),
        1,
        "the update stays unconfirmed while it cannot be stored"
    );
    assert_eq!(
        h.sim.messages(&token, ALICE).len(),
        1,
        "nothing is processed before it is stored"
    );
    assert!(
        gw.ledger().updates_being_stored() > 0,
        "still storing while the lock is held"
    );
    drop(lock); // the transaction is rolled back when its connection closes
    h.wait_for(GUIDES, ALICE, "the support text", |m| m.len() == 2)
        .await;
    eventually("the update to be confirmed", || async {
        h.sim.pending_updates(&token) == 0
    })
    .await;
    gw.stop().await;
    h.finish().await;
}

async fn a_payment_that_does_not_match_its_order_is_held_for_review(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, DAVE, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, DAVE, 1).await;
    let order = h.sim.invoices(&token)[0].payload.clone();
    // A successful_payment for the order, but for 1 Star instead of 50.
    let update_id = h.sim.inject_update(
        &token,
        json!({"message": {
            "message_id": 9001, "date": 1_780_000_000,
            "from": {"id": DAVE, "is_bot": false, "first_name": "Dave"},
            "chat": {"id": DAVE, "type": "private", "first_name": "Dave"},
            "successful_payment": {
                "currency": "XTR", "total_amount": 1, "invoice_payload": order,
                "telegram_payment_charge_id": "stx-mismatch-1", "provider_payment_charge_id": ""
            }
        }}),
    );
    let ledger = h.ledger().await;
    let outcome = wait_for_outcome(&ledger, GUIDES, update_id).await;
    assert_eq!(outcome, "recorded: needs review");
    let p = payment(&ledger, GUIDES, "stx-mismatch-1").await;
    assert_eq!(p.status, PaymentStatus::NeedsReview);
    assert_eq!(p.amount, 1);
    assert!(
        p.review_reason
            .unwrap_or_default()
            .contains("the order is 50")
    );
    let msgs = h.wait_for(GUIDES, DAVE, "a notice", |m| m.len() >= 2).await;
    assert!(
        msgs.last()
            .unwrap()
            .text
            .clone()
            .unwrap_or_default()
            .contains("a person will check it")
    );
    h.settle().await;
    assert!(
        h.deliveries(GUIDES, DAVE).is_empty(),
        "never delivered silently"
    );
    assert!(
        ledger
            .delivery_content(&bot_id(GUIDES), &charge_id_of("stx-mismatch-1"))
            .await
            .unwrap()
            .is_none()
    );
    gw.stop().await;
    h.finish().await;
}

async fn a_payment_for_an_unknown_payload_is_recorded_and_flagged(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let token = h.token(GAMES);
    h.say(GAMES, DAVE, "/start");
    h.wait_for(GAMES, DAVE, "the catalogue", |m| !m.is_empty())
        .await;
    let update_id = h.sim.inject_update(
        &token,
        json!({"message": {
            "message_id": 9002, "date": 1_780_000_000,
            "from": {"id": DAVE, "is_bot": false, "first_name": "Dave"},
            "chat": {"id": DAVE, "type": "private", "first_name": "Dave"},
            "successful_payment": {
                "currency": "XTR", "total_amount": 25, "invoice_payload": "legacy-bot-payload",
                "telegram_payment_charge_id": "stx-foreign-1", "provider_payment_charge_id": ""
            }
        }}),
    );
    let ledger = h.ledger().await;
    wait_for_outcome(&ledger, GAMES, update_id).await;
    let p = payment(&ledger, GAMES, "stx-foreign-1").await;
    assert_eq!(
        p.status,
        PaymentStatus::NeedsReview,
        "the money is recorded, not lost"
    );
    assert_eq!(p.payload, "legacy-bot-payload");
    gw.stop().await;
    h.finish().await;
}

/// A running gateway where Dave holds an invoice from the guides bot, with `fault` armed on the
/// bot's `method` before he pays.
async fn dave_has_an_invoice_and_then(
    backend: Backend,
    method: &str,
    fault: Fault,
) -> (Harness, Running) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    h.say(GUIDES, DAVE, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, DAVE, 1).await;
    h.sim.inject_fault(&h.token(GUIDES), method, fault);
    (h, gw)
}

/// Guarantee 3 while the bot is busy: a polling bot answers a pre-checkout query even while a
/// message that came before it is still being handled. Here Telegram takes longer than the
/// query's 10 s deadline to accept the invoice Alice asked for just before Dave pays; handled in
/// turn behind her message, Dave's query would be answered too late and he could not pay.
async fn a_pre_checkout_query_is_answered_while_an_earlier_message_waits_on_telegram(
    backend: Backend,
) {
    let (h, gw) = dave_has_an_invoice_and_then(
        backend,
        "sendInvoice",
        Fault::Slow {
            millis: 11_000,
            times: 1,
        },
    )
    .await;
    h.say(GUIDES, ALICE, "/buy premium-guide");
    match h.pay_latest(GUIDES, DAVE).await {
        PayOutcome::Paid { .. } => {}
        other => panic!("Dave's query waited behind Alice's slow invoice: {other:?}"),
    }
    h.wait_for_deliveries(GUIDES, DAVE, 1).await;
    // Alice loses nothing: her invoice arrives once Telegram has accepted it.
    h.wait_for_invoice(GUIDES, ALICE, 1).await;
    gw.stop().await;
    h.finish().await;
}

/// Polling mode answers a pre-checkout query by request. Telegram asking the bot to wait a
/// second on that request must not cost the buyer the sale: the answer is sent again within the
/// deadline.
async fn a_pre_checkout_answer_told_to_wait_is_sent_again_and_the_buyer_pays(backend: Backend) {
    let wait = Fault::TooManyRequests {
        retry_after: 1,
        times: 1,
    };
    dave_pays_although_the_answer_first_meets(backend, wait, "one 429").await;
}

/// The same with a 5xx: Telegram failing the answer once must not cost the sale either. teloxide
/// waits 10 s before it returns a 5xx, the whole deadline, so the answer goes out on a path of
/// its own (`telegram/answer.rs`) that returns it at once and is sent again.
async fn a_pre_checkout_answer_met_by_a_server_error_is_sent_again_and_the_buyer_pays(
    backend: Backend,
) {
    let failure = Fault::ServerError { times: 1 };
    dave_pays_although_the_answer_first_meets(backend, failure, "one 5xx").await;
}

/// Dave holds an invoice, the bot's next `answerPreCheckoutQuery` meets `fault`, and Dave still
/// pays and gets his delivery.
async fn dave_pays_although_the_answer_first_meets(backend: Backend, fault: Fault, what: &str) {
    let (h, gw) = dave_has_an_invoice_and_then(backend, "answerPreCheckoutQuery", fault).await;
    match h.pay_latest(GUIDES, DAVE).await {
        PayOutcome::Paid { .. } => {}
        other => panic!("{what} on the answer lost the sale: {other:?}"),
    }
    h.wait_for_deliveries(GUIDES, DAVE, 1).await;
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_repeated_successful_payment_delivers_once,
    a_repeat_after_a_restart_still_delivers_once,
    an_update_is_not_confirmed_to_telegram_until_it_is_stored,
    a_payment_that_does_not_match_its_order_is_held_for_review,
    a_payment_for_an_unknown_payload_is_recorded_and_flagged,
    a_pre_checkout_query_is_answered_while_an_earlier_message_waits_on_telegram,
    a_pre_checkout_answer_told_to_wait_is_sent_again_and_the_buyer_pays,
    a_pre_checkout_answer_met_by_a_server_error_is_sent_again_and_the_buyer_pays,
);
