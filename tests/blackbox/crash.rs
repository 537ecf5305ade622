//! kill -9 in the middle of a purchase: the real binary, killed at each step of a purchase and
//! restarted, delivers every paid order exactly once (guarantees 1 and 2).

use std::time::Duration;

use starsgate::ledger::PaymentStatus;
use starsgate_sim::{Fault, PayOutcome};

use crate::helpers::*;
use crate::on_both_ledgers;

const FRANK: i64 = 8001;

pub(crate) fn wait_for_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not die at its crash point"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the gateway at `point` during a purchase, restarts it, and checks the buyer got exactly
/// one delivery and the ledger one delivered payment.
async fn killed_at(point: &str, backend: Backend) {
    let h = Harness::new(backend).await;
    let mut first = h.spawn_process(Some(point));
    let (charge, _) = h.buy(GUIDES, FRANK, "premium-guide").await;
    let exit = wait_for_exit(&mut first);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit.signal(), Some(9), "killed by SIGKILL at {point}");
    }
    let mut second = h.spawn_process(None);
    let delivered = h.wait_for_deliveries(GUIDES, FRANK, 1).await;
    let ledger = h.ledger().await;
    eventually("the payment to be delivered", || async {
        status(&ledger, GUIDES, &charge).await == Some(PaymentStatus::Delivered)
    })
    .await;
    h.settle().await;
    assert_eq!(
        h.deliveries(GUIDES, FRANK).len(),
        1,
        "exactly one delivery after a kill at {point}: {delivered:?}"
    );
    assert_eq!(
        ledger.payments(Some(&bot_id(GUIDES))).await.unwrap().len(),
        1
    );
    let _ = second.kill();
    let _ = second.wait();
    h.finish().await;
}

async fn a_kill_after_the_payment_is_received_loses_nothing(backend: Backend) {
    killed_at("payment_received", backend).await;
}

async fn a_kill_after_the_payment_is_recorded_still_delivers_once(backend: Backend) {
    killed_at("payment_recorded", backend).await;
}

async fn a_kill_after_the_delivery_is_prepared_still_delivers_once(backend: Backend) {
    killed_at("delivery_prepared", backend).await;
}

async fn a_kill_after_the_delivery_is_sent_does_not_send_it_again(backend: Backend) {
    killed_at("delivery_sent", backend).await;
}

/// The test itself sends SIGKILL while the delivery is held back by Telegram (a 429), then
/// restarts the gateway.
async fn a_sigkill_between_payment_and_delivery_delivers_exactly_once(backend: Backend) {
    let h = Harness::new(backend).await;
    let token = h.token(GAMES);
    let mut first = h.spawn_process(None);
    h.say(GAMES, FRANK, "/buy starter-pack");
    h.wait_for_invoice(GAMES, FRANK, 1).await;
    h.sim.inject_fault(
        &token,
        "sendMessage",
        Fault::TooManyRequests {
            retry_after: 2,
            times: 1000,
        },
    );
    let charge = match h.pay_latest(GAMES, FRANK).await {
        PayOutcome::Paid { charge_id, .. } => charge_id,
        other => panic!("payment failed: {other:?}"),
    };
    let ledger = h.ledger().await;
    eventually("the delivery to be prepared", || async {
        ledger
            .delivery_content(&bot_id(GAMES), &charge_id_of(&charge))
            .await
            .unwrap()
            .is_some()
    })
    .await;
    first.kill().expect("SIGKILL the gateway");
    let _ = first.wait();
    assert!(h.deliveries(GAMES, FRANK).is_empty());
    h.sim.inject_fault(
        &token,
        "sendMessage",
        Fault::TooManyRequests {
            retry_after: 0,
            times: 0,
        },
    );
    let mut second = h.spawn_process(None);
    h.wait_for_deliveries(GAMES, FRANK, 1).await;
    h.settle().await;
    assert_eq!(h.deliveries(GAMES, FRANK).len(), 1);
    assert_eq!(
        payment(&ledger, GAMES, &charge).await.status,
        PaymentStatus::Delivered
    );
    let _ = second.kill();
    let _ = second.wait();
    h.finish().await;
}

on_both_ledgers!(
    a_kill_after_the_payment_is_received_loses_nothing,
    a_kill_after_the_payment_is_recorded_still_delivers_once,
    a_kill_after_the_delivery_is_prepared_still_delivers_once,
    a_kill_after_the_delivery_is_sent_does_not_send_it_again,
    a_sigkill_between_payment_and_delivery_delivers_exactly_once,
);
