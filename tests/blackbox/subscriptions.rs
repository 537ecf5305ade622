//! Star subscriptions (issue 6, first slice): first payment and renewals recorded with the same
//! exactly-once guarantees, plugins told about renewals and expiry, and the buyer's
//! `/subscriptions` with cancel and re-enable.

use starsgate_sim::PayOutcome;

use crate::helpers::*;

const CLUB: &str = "club";
const MEMBER: i64 = 5101;

fn club_bot() -> &'static str {
    "token_env = \"CLUB_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n\
     [[product]]\nid = \"pro\"\ntitle = \"Pro membership\"\ndescription = \"Monthly\"\nprice = 100\nsubscription = true\n\
     plugin = \"bundled:access-role\"\n[product.config]\nrole = \"pro\"\ndays = 30\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_is_bought_renewed_twice_and_each_charge_counted_once() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(CLUB, club_bot());
    let gw = h.start().await;
    let token = h.token(CLUB);
    h.say(CLUB, MEMBER, "/buy pro");
    eventually("an invoice link", || async {
        !h.sim.invoices(&token).is_empty()
    })
    .await;
    let link = h.sim.invoices(&token)[0].clone();
    assert_eq!(
        link.subscription_period,
        Some(2_592_000),
        "a subscription is sold through a link with the 30-day period"
    );
    assert!(
        h.sim
            .calls(&token)
            .iter()
            .all(|c| c.method != "sendInvoice"),
        "never sendInvoice for a subscription"
    );
    let PayOutcome::Paid {
        charge_id: first, ..
    } = h.pay_latest(CLUB, MEMBER).await
    else {
        panic!("payment")
    };
    h.wait_for_deliveries(CLUB, MEMBER, 1).await;
    let mut charges = vec![first.clone()];
    for n in 2..=3 {
        let outcome = h.sim.renew_subscription(&token, &first).expect("a renewal");
        let PayOutcome::Paid {
            charge_id,
            update_id,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        charges.push(charge_id);
        h.wait_for_deliveries(CLUB, MEMBER, n).await;
        if n == 3 {
            // Telegram repeats the last renewal: still delivered once.
            let again = h.sim.repeat_update(&token, update_id, false).unwrap();
            assert!(
                wait_for_outcome(&h.ledger().await, CLUB, again)
                    .await
                    .starts_with("repeat")
            );
        }
    }
    let ledger = h.ledger().await;
    eventually("three delivered charges", || async {
        let p = ledger.payments(Some(CLUB)).await.unwrap();
        p.len() == 3
            && p.iter()
                .all(|p| p.status == starsgate::ledger::PaymentStatus::Delivered)
    })
    .await;
    let mut expiries = Vec::new();
    for (i, charge) in charges.iter().enumerate() {
        let p = payment(&ledger, CLUB, charge).await;
        assert_eq!(p.is_renewal, i > 0, "charge {i}");
        expiries.push(
            p.expires_at
                .expect("a subscription charge says until when it pays"),
        );
    }
    assert!(
        expiries.windows(2).all(|w| w[0] < w[1]),
        "each renewal extends: {expiries:?}"
    );
    let subs = ledger.subscriptions(CLUB, MEMBER).await.unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].state.as_str(), subs[0].expires_at),
        ("active", expiries[2])
    );
    assert_eq!(
        (
            subs[0].first_charge_id.as_str(),
            subs[0].last_charge_id.as_str()
        ),
        (first.as_str(), charges[2].as_str())
    );
    let delivered = h.deliveries(CLUB, MEMBER);
    assert_eq!(delivered.len(), 3, "one delivery per charge");
    let stats = ledger.stats(Some(CLUB)).await.unwrap();
    assert_eq!(
        (stats[0].payments, stats[0].net_revenue),
        (3, 300),
        "renewals counted as payments"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_stops_and_restarts_the_renewal_from_subscriptions() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(CLUB, club_bot());
    let gw = h.start().await;
    let token = h.token(CLUB);
    h.say(CLUB, MEMBER, "/buy pro");
    eventually("an invoice link", || async {
        !h.sim.invoices(&token).is_empty()
    })
    .await;
    h.pay_latest(CLUB, MEMBER).await;
    h.wait_for_deliveries(CLUB, MEMBER, 1).await;
    let ledger = h.ledger().await;
    eventually("the subscription", || async {
        !ledger.subscriptions(CLUB, MEMBER).await.unwrap().is_empty()
    })
    .await;
    press_in_subscriptions(
        &h,
        &ledger,
        "Pro membership: renews on",
        "sub-cancel:pro",
        true,
    )
    .await;
    let outcome = h.sim.renew_subscription(
        &token,
        &h.sim.subscriptions(&token)[0].charge_ids[0].clone(),
    );
    assert!(
        outcome.is_err() || !matches!(outcome, Ok(PayOutcome::Paid { .. })),
        "a cancelled subscription does not renew: {outcome:?}"
    );
    press_in_subscriptions(&h, &ledger, "renewal stopped", "sub-resume:pro", false).await;
    gw.stop().await;
    h.finish().await;
}

/// Opens `/subscriptions`, checks the list says `shows`, presses `button`, and waits until both
/// Telegram and the ledger agree the renewal is off (`cancelled`) or on again.
async fn press_in_subscriptions(
    h: &Harness,
    ledger: &starsgate::ledger::Ledger,
    shows: &str,
    button: &str,
    cancelled: bool,
) {
    let token = h.token(CLUB);
    let before = h.sim.messages(&token, MEMBER).len();
    h.say(CLUB, MEMBER, "/subscriptions");
    let msgs = h
        .wait_for(CLUB, MEMBER, "the list", |m| m.len() > before)
        .await;
    let list = msgs.last().unwrap();
    assert!(
        list.text.as_deref().unwrap_or("").contains(shows),
        "{list:?}"
    );
    h.sim
        .press_button(&token, MEMBER, list.message_id, button)
        .unwrap();
    eventually("Telegram to agree", || async {
        h.sim
            .subscriptions(&token)
            .first()
            .is_some_and(|s| s.is_canceled == cancelled)
    })
    .await;
    let state = if cancelled { "cancelled" } else { "active" };
    eventually("the ledger to agree", || async {
        ledger.subscriptions(CLUB, MEMBER).await.unwrap()[0].state == state
    })
    .await;
}
