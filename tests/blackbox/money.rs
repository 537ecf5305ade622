//! Money safety under faults (issue: delivery outbox, refunds, reconciliation, several gateways):
//! repeated and reordered payment updates, 429 and 5xx storms on one bot, a refund whose answer is
//! lost, a payment whose update never arrived, and two gateways sharing one ledger with one of
//! them killed. After each: one ledger record and one delivery per charge.

use std::collections::HashMap;
use std::time::Duration;

use starsgate::ledger::{EventKind, PaymentStatus};
use starsgate_sim::{Fault, PayOutcome};

use crate::helpers::*;
use crate::on_both_ledgers;

async fn every_payment_update_three_times_and_out_of_order_delivers_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let buyers = [
        (GUIDES, 1101, "premium-guide"),
        (GAMES, 1102, "gold-chest"),
        (GUIDES, 1103, "starter-pack"),
    ];
    let mut paid = Vec::new();
    for (bot, user, product) in buyers {
        let (charge, update) = h.buy(bot, user, product).await;
        paid.push((bot, user, charge, update));
    }
    for (bot, user, _, _) in &paid {
        h.wait_for_deliveries(bot, *user, 1).await;
    }
    // Telegram sends each again twice, newest first, interleaved across bots.
    let ledger = h.ledger().await;
    let mut repeats = Vec::new();
    for _ in 0..2 {
        for (bot, _, _, update) in paid.iter().rev() {
            repeats.push((
                *bot,
                h.sim.repeat_update(&h.token(bot), *update, false).unwrap(),
            ));
        }
    }
    for (bot, id) in repeats {
        let outcome = wait_for_outcome(&ledger, bot, id).await;
        assert!(outcome.starts_with("repeat"), "{outcome}");
    }
    h.settle().await;
    for (bot, user, charge, _) in &paid {
        assert_eq!(
            h.deliveries(bot, *user).len(),
            1,
            "{bot}/{user}: one delivery"
        );
        assert_eq!(
            payment(&ledger, bot, charge).await.status,
            PaymentStatus::Delivered
        );
    }
    let total: usize = [GUIDES, GAMES].iter().map(|_| 0).sum::<usize>()
        + ledger.payments(None).await.unwrap().len();
    assert_eq!(total, 3, "one ledger record per charge");
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_429_and_5xx_on_one_bot_does_not_hold_back_another() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let guides = h.token(GUIDES);
    h.say(GUIDES, 1201, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 1201, 1).await;
    // From now on the guides bot's sendMessage is throttled, then fails with 5xx.
    h.sim.inject_fault(
        &guides,
        "sendMessage",
        Fault::TooManyRequests {
            retry_after: 1,
            times: 4,
        },
    );
    let PayOutcome::Paid {
        charge_id: stormed, ..
    } = h.pay_latest(GUIDES, 1201).await
    else {
        panic!("payment")
    };
    // Armed once the buyer has paid: on the checkout's own answer a 5xx would cost the sale
    // (teloxide waits 10 s before returning a 5xx, past Telegram's deadline), which is not what
    // this test is about.
    h.sim
        .inject_fault(&guides, "*", Fault::ServerError { times: 1 });
    // Meanwhile the games bot sells at its normal pace.
    for user in [1202, 1203] {
        h.buy(GAMES, user, "starter-pack").await;
        h.wait_for_deliveries(GAMES, user, 1).await;
    }
    assert!(
        h.deliveries(GUIDES, 1201).is_empty(),
        "the stormed bot's delivery is still held back"
    );
    // The storm passes: the stormed delivery arrives exactly once.
    let msgs = h
        .sim
        .wait_for_messages(
            &guides,
            1201,
            |m| deliveries(m).len() == 1,
            Duration::from_secs(40),
        )
        .await;
    assert_eq!(deliveries(&msgs).len(), 1, "{msgs:#?}");
    let ledger = h.ledger().await;
    eventually("the stormed payment to be delivered", || async {
        status(&ledger, GUIDES, &stormed).await == Some(PaymentStatus::Delivered)
    })
    .await;
    let throttled = h
        .sim
        .calls(&guides)
        .iter()
        .filter(|c| c.status == 429)
        .count();
    assert!(throttled >= 1, "Telegram's 429s were honoured, not ignored");
    gw.stop().await;
    h.finish().await;
}

async fn a_refund_whose_first_answer_is_lost_is_recorded_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let token = h.token(GAMES);
    let (charge, _) = h.buy(GAMES, 1301, "gold-chest").await;
    h.wait_for_deliveries(GAMES, 1301, 1).await;
    h.sim.inject_fault(
        &token,
        "refundStarPayment",
        Fault::DropResponse { times: 1 },
    );
    let store = gw.store(GAMES).unwrap();
    let first = starsgate::shop::refund(&store, &charge_id_of(&charge), "test").await;
    assert!(
        first.is_err(),
        "the answer was lost, so the outcome is not guessed: {first:?}"
    );
    // Telegram did refund: its refunded_payment reaches the gateway and settles it.
    let ledger = h.ledger().await;
    eventually("the refund to be recorded", || async {
        status(&ledger, GAMES, &charge).await == Some(PaymentStatus::Refunded)
    })
    .await;
    let again = starsgate::shop::refund(&store, &charge_id_of(&charge), "test, again")
        .await
        .unwrap();
    assert_eq!(again, starsgate::shop::RefundOutcome::AlreadyRefunded);
    let report = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert!(
        report.refunds.is_empty() && report.recorded.is_empty(),
        "{report:?}"
    );
    let refunds = h
        .sim
        .star_transactions(&token)
        .into_iter()
        .filter(|t| t.get("receiver").is_some())
        .count();
    assert_eq!(refunds, 1, "refunded exactly once at Telegram");
    let events = ledger
        .events(&bot_id(GAMES), Some(&charge_id_of(&charge)))
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

async fn a_payment_whose_update_never_arrived_is_found_by_reconciliation(backend: Backend) {
    let h = Harness::new(backend).await;
    // Only the reconciliation this test runs may find the payment: the one at start-up (late on a
    // busy machine) and the periodic one are off.
    h.set_gateway("ledger", "reconcile_every_secs", "0");
    let gw = h.start().await;
    let token = h.token(GUIDES);
    h.say(GUIDES, 1401, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 1401, 1).await;
    h.sim.lose_next_payment_updates(&token, 1);
    let PayOutcome::Paid { charge_id, .. } = h.pay_latest(GUIDES, 1401).await else {
        panic!("payment")
    };
    h.settle().await;
    let ledger = h.ledger().await;
    assert!(
        ledger
            .payment(&bot_id(GUIDES), &charge_id_of(&charge_id))
            .await
            .unwrap()
            .is_none(),
        "the gateway never heard of it"
    );
    let store = gw.store(GUIDES).unwrap();
    let report = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert_eq!(report.recorded, vec![charge_id.clone()]);
    let delivered = h.wait_for_deliveries(GUIDES, 1401, 1).await;
    assert!(delivered[0].contains("python-integration.pdf"));
    let p = payment(&ledger, GUIDES, &charge_id).await;
    assert_eq!(
        (p.amount, p.product.as_deref()),
        (50, Some("premium-guide"))
    );
    // Reading again finds nothing new (the watermark moved) and changes nothing.
    let again = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert!(again.recorded.is_empty(), "{again:?}");
    h.settle().await;
    assert_eq!(h.deliveries(GUIDES, 1401).len(), 1);
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amount_that_disagrees_with_telegram_is_flagged_for_review() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    let (charge, _) = h.buy(GAMES, 1501, "starter-pack").await;
    h.wait_for_deliveries(GAMES, 1501, 1).await;
    let ledger = h.ledger().await;
    eventually("delivered", || async {
        status(&ledger, GAMES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    // Someone edits the ledger by hand (the only way the two can disagree).
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&h.ledger.url)
        .await
        .unwrap();
    sqlx::query("UPDATE payments SET amount = 1 WHERE charge_id = $1")
        .bind(&charge)
        .execute(&mut conn)
        .await
        .unwrap();
    let report = starsgate::reconcile::reconcile(&gw.store(GAMES).unwrap(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.mismatches, vec![charge.clone()]);
    let events = ledger
        .events(&bot_id(GAMES), Some(&charge_id_of(&charge)))
        .await
        .unwrap();
    assert!(events.iter().any(|e| {
        e.kind == EventKind::PaymentFlagged
            && e.detail
                .as_deref()
                .unwrap_or("")
                .contains("Telegram says 25")
    }));
    gw.stop().await;
    h.finish().await;
}

async fn a_delivery_that_keeps_failing_follows_the_bots_policy(backend: Backend) {
    let h = Harness::new(backend).await;
    h.set_bot_key(GAMES, "on_delivery_failure", "\"refund\"");
    let gw = h.start().await;
    let games = h.token(GAMES);
    h.say(GAMES, 1601, "/buy starter-pack");
    h.wait_for_invoice(GAMES, 1601, 1).await;
    h.say(GUIDES, 1602, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 1602, 1).await;
    let refused = Fault::BadRequest {
        description: "Bad Request: message is too long".into(),
        times: 1,
    };
    h.sim.inject_fault(&games, "sendMessage", refused.clone());
    h.sim.inject_fault(&h.token(GUIDES), "sendMessage", refused);
    let PayOutcome::Paid {
        charge_id: refunded,
        ..
    } = h.pay_latest(GAMES, 1601).await
    else {
        panic!()
    };
    let PayOutcome::Paid {
        charge_id: held, ..
    } = h.pay_latest(GUIDES, 1602).await
    else {
        panic!()
    };
    let ledger = h.ledger().await;
    eventually("the refund policy to refund", || async {
        status(&ledger, GAMES, &refunded).await == Some(PaymentStatus::Refunded)
    })
    .await;
    eventually("the review policy to hold the order", || async {
        status(&ledger, GUIDES, &held).await == Some(PaymentStatus::NeedsReview)
    })
    .await;
    let msgs = h
        .wait_for(GAMES, 1601, "the refund notice", |m| {
            m.iter()
                .any(|m| m.text.as_deref().is_some_and(|t| t.contains("refunded")))
        })
        .await;
    assert!(deliveries(&msgs).is_empty());
    assert!(
        ledger
            .delivery_content(&bot_id(GUIDES), &charge_id_of(&held))
            .await
            .unwrap()
            .is_some(),
        "the content is kept for the seller"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_who_blocked_the_bot_ends_in_delivery_failed_with_the_content_kept() {
    let h = Harness::new(Backend::Sqlite).await;
    let gw = h.start().await;
    h.say(GUIDES, 1701, "/buy premium-guide");
    h.wait_for_invoice(GUIDES, 1701, 1).await;
    h.sim.block_bot(&h.token(GUIDES), 1701, true);
    let PayOutcome::Paid { charge_id, .. } = h.pay_latest(GUIDES, 1701).await else {
        panic!()
    };
    let ledger = h.ledger().await;
    eventually("delivery_failed", || async {
        status(&ledger, GUIDES, &charge_id).await == Some(PaymentStatus::DeliveryFailed)
    })
    .await;
    assert!(
        ledger
            .delivery_content(&bot_id(GUIDES), &charge_id_of(&charge_id))
            .await
            .unwrap()
            .is_some()
    );
    gw.stop().await;
    h.finish().await;
}

/// Two gateway processes share one PostgreSQL ledger and the same bots; one is SIGKILLed in the
/// middle of the sales (between purchases: a kill inside a purchase is what `crash.rs` does, step
/// by step). Every charge is recorded and delivered exactly once, the later ones by the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_ledger_with_one_killed_deliver_every_charge_once() {
    let h = Harness::new(Backend::Postgres).await;
    let env = [("STARSGATE_LEDGER__LEASE_SECS", "2")];
    let mut first = h.spawn_process_with(None, &env);
    let ledger = h.ledger().await;
    eventually("the first gateway to lead both bots", || async {
        matches!(ledger.bot_holder(&bot_id(GUIDES)).await, Ok(Some(_)))
            && matches!(ledger.bot_holder(&bot_id(GAMES)).await, Ok(Some(_)))
    })
    .await;
    let mut second = h.spawn_process_with(None, &env);
    let mut charges: HashMap<String, (&str, i64)> = HashMap::new();
    for i in 0..12i64 {
        if i == 5 {
            let ledger = h.ledger().await;
            eventually("the first sales to be delivered", || async {
                let payments = ledger.payments(None).await.unwrap();
                payments.len() == 5
                    && payments
                        .iter()
                        .all(|p| p.status == PaymentStatus::Delivered)
            })
            .await;
            first.kill().expect("SIGKILL the first gateway");
            let _ = first.wait();
        }
        let (bot, product) = if i % 2 == 0 {
            (GUIDES, "premium-guide")
        } else {
            (GAMES, "starter-pack")
        };
        let user = 1800 + i;
        let (charge, _) = h.buy(bot, user, product).await;
        charges.insert(charge, (bot, user));
    }
    // A delivery the killed gateway had claimed mid-send waits for its claim to expire (20 s).
    for (bot, user) in charges.values() {
        let token = h.token(bot);
        h.sim
            .wait_for_messages(
                &token,
                *user,
                |m| deliveries(m).len() == 1,
                Duration::from_secs(40),
            )
            .await;
    }
    h.settle().await;
    let ledger = h.ledger().await;
    for (charge, (bot, user)) in &charges {
        assert_eq!(
            h.deliveries(bot, *user).len(),
            1,
            "{bot}/{user}: exactly one delivery"
        );
        assert_eq!(
            payment(&ledger, bot, charge).await.status,
            PaymentStatus::Delivered
        );
    }
    assert_eq!(ledger.payments(None).await.unwrap().len(), charges.len());
    let _ = second.kill();
    let _ = second.wait();
    let _ = first.wait(); // already reaped after the kill; keeps the process handle accounted for
    h.finish().await;
}

/// The ledger stamps what it records from the gateway's one clock, so a test (or the demo) that
/// moves the clock moves the history with it: the payment, its delivery and every event of it.
async fn the_history_is_stamped_by_the_gateways_clock(backend: Backend) {
    const DAY: u64 = 86_400_000;
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    gw.clock().advance(Duration::from_millis(100 * DAY));
    let moved = starsgate::clock::system_now_ms() + 99 * DAY as i64;
    let (charge, _) = h.buy(GUIDES, 1301, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, 1301, 1).await;
    let ledger = h.ledger().await;
    eventually("the payment is delivered", || async {
        payment(&ledger, GUIDES, &charge).await.status == PaymentStatus::Delivered
    })
    .await;
    let p = payment(&ledger, GUIDES, &charge).await;
    assert!(
        p.paid_at > moved,
        "paid_at {} not on the moved clock",
        p.paid_at
    );
    assert!(p.delivered_at.is_some_and(|at| at > moved));
    let events = ledger
        .events(&bot_id(GUIDES), Some(&charge_id_of(&charge)))
        .await
        .unwrap();
    assert!(events.len() >= 3, "{events:?}");
    for e in &events {
        assert!(
            e.at > moved,
            "{:?} at {} not on the moved clock",
            e.kind,
            e.at
        );
    }
    h.finish().await;
}

on_both_ledgers!(
    the_history_is_stamped_by_the_gateways_clock,
    every_payment_update_three_times_and_out_of_order_delivers_once,
    a_refund_whose_first_answer_is_lost_is_recorded_once,
    a_payment_whose_update_never_arrived_is_found_by_reconciliation,
    a_delivery_that_keeps_failing_follows_the_bots_policy,
);
