//! Star subscriptions: first payment and renewals recorded with the same exactly-once
//! guarantees, plugins told about renewals and expiry, the buyer's `/subscriptions` with cancel
//! and re-enable, Telegram's `subscription` update, failed renewals, expiry after the grace
//! period and refunds of a renewal, each revoking access once.

use starsgate_sim::PayOutcome;

use crate::helpers::*;
use crate::on_both_ledgers;

pub(crate) const CLUB: &str = "club";
pub(crate) const MEMBER: i64 = 5101;

fn club_bot_head() -> &'static str {
    "token_env = \"CLUB_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n"
}

pub(crate) fn club_bot() -> String {
    format!("{}{}", club_bot_head(), club_product())
}

fn club_product() -> &'static str {
    "[[product]]\nid = \"pro\"\ntitle = \"Pro membership\"\ndescription = \"Monthly\"\nprice = 100\nsubscription = true\n\
     plugin = \"bundled:access-role\"\n[product.config]\nrole = \"pro\"\ndays = 30\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_is_bought_renewed_twice_and_each_charge_counted_once() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(CLUB, &club_bot());
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
        let p = ledger.payments(Some(&bot_id(CLUB))).await.unwrap();
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
    let subs = ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap();
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
    let stats = ledger.stats(Some(&bot_id(CLUB))).await.unwrap();
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
    h.add_bot(CLUB, &club_bot());
    let gw = h.start().await;
    let token = h.token(CLUB);
    join(&h).await;
    let ledger = h.ledger().await;
    eventually("the subscription", || async {
        !ledger
            .subscriptions(&bot_id(CLUB), MEMBER)
            .await
            .unwrap()
            .is_empty()
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
        ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap()[0]
            .state
            .as_str()
            == state
    })
    .await;
}

pub(crate) const DAY: i64 = 86_400;

/// Buys the club's membership as MEMBER and waits for its delivery; returns the first charge id.
pub(crate) async fn join(h: &Harness) -> String {
    let token = h.token(CLUB);
    h.say(CLUB, MEMBER, "/buy pro");
    eventually("an invoice link", || async {
        !h.sim.invoices(&token).is_empty()
    })
    .await;
    let PayOutcome::Paid { charge_id, .. } = h.pay_latest(CLUB, MEMBER).await else {
        panic!("the first payment")
    };
    h.wait_for_deliveries(CLUB, MEMBER, 1).await;
    charge_id
}

/// The ledger's events of `kind` for a charge, with their details.
async fn hooks(ledger: &starsgate::ledger::Ledger, charge: &str, kind: &str) -> Vec<String> {
    ledger
        .events(&bot_id(CLUB), Some(&charge_id_of(charge)))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str() == kind)
        .filter_map(|e| e.detail)
        .collect()
}

async fn state_of(ledger: &starsgate::ledger::Ledger) -> &'static str {
    ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap()[0]
        .state
        .as_str()
}

on_both_ledgers!(a_failed_renewal_lapses_after_the_grace_period_and_access_is_revoked_once);

async fn a_failed_renewal_lapses_after_the_grace_period_and_access_is_revoked_once(
    backend: Backend,
) {
    let mut h = Harness::new(backend).await;
    h.add_bot(
        CLUB,
        &format!(
            "{}subscription_grace_hours = 2\n{}",
            club_bot_head(),
            club_product()
        ),
    );
    let gw = h.start().await;
    let token = h.token(CLUB);
    let first = join(&h).await;
    let ledger = h.ledger().await;

    // Thirty days later Telegram renews on its own.
    h.sim.advance_time(30 * DAY + 60);
    h.wait_for_deliveries(CLUB, MEMBER, 2).await;
    let renewal = h.sim.subscriptions(&token)[0].charge_ids[1].clone();
    eventually("the renewal recorded", || async {
        ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap()[0].last_charge_id == renewal
    })
    .await;
    let paid_until = ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap()[0].expires_at;

    // The next renewal fails: Telegram says so in a `subscription` update.
    h.sim.fail_next_renewal(&token, &first).unwrap();
    h.sim.advance_time(30 * DAY + 60);
    eventually("the failure applied", || async {
        state_of(&ledger).await == "failed"
    })
    .await;
    h.wait_for(CLUB, MEMBER, "the buyer told", |m| {
        m.iter().any(|m| {
            m.text
                .as_deref()
                .unwrap_or("")
                .contains("did not go through")
        })
    })
    .await;
    assert_eq!(
        h.deliveries(CLUB, MEMBER).len(),
        2,
        "no charge, no delivery"
    );
    h.say(CLUB, MEMBER, "/subscriptions");
    h.wait_for(CLUB, MEMBER, "the list", |m| {
        m.iter().any(|m| {
            m.text
                .as_deref()
                .unwrap_or("")
                .contains("Pro membership: the last renewal failed; yours until")
        })
    })
    .await;

    // Within the grace period the membership still holds.
    let clock = gw.clock();
    let now = clock.now_ms();
    clock.advance(std::time::Duration::from_millis(
        (paid_until - now + 3_600_000).max(0) as u64,
    ));
    h.settle_memberships(&gw, CLUB).await;
    assert_eq!(
        state_of(&ledger).await,
        "failed",
        "one hour into a two-hour grace"
    );
    assert!(hooks(&ledger, &renewal, "expiry_hook").await.is_empty());

    // After it, the membership expires and the plugin revokes access, once.
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    eventually("the expiry", || async {
        state_of(&ledger).await == "expired"
    })
    .await;
    eventually("the revoke hook", || async {
        !hooks(&ledger, &renewal, "expiry_hook").await.is_empty()
    })
    .await;
    clock.advance(std::time::Duration::from_secs(DAY as u64));
    h.wait_for(CLUB, MEMBER, "the buyer told it ended", |m| {
        m.iter()
            .any(|m| m.text.as_deref().unwrap_or("").contains("has ended"))
    })
    .await;
    h.settle_memberships(&gw, CLUB).await;
    let revoked = hooks(&ledger, &renewal, "expiry_hook").await;
    assert_eq!(revoked.len(), 1, "revoked once: {revoked:?}");
    assert!(
        revoked[0].contains("revoked role pro for user 5101"),
        "{revoked:?}"
    );
    let stats = ledger.stats(Some(&bot_id(CLUB))).await.unwrap();
    assert_eq!(
        (stats[0].payments, stats[0].renewals, stats[0].net_revenue),
        (2, 1, 200),
        "the failed renewal is no payment"
    );
    gw.stop().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_cancelling_and_re_enabling_in_telegram_is_applied_from_the_subscription_update() {
    let mut h = Harness::new(Backend::Sqlite).await;
    h.add_bot(CLUB, &club_bot());
    let gw = h.start().await;
    let token = h.token(CLUB);
    let first = join(&h).await;
    let ledger = h.ledger().await;
    eventually("the subscription", || async {
        !ledger
            .subscriptions(&bot_id(CLUB), MEMBER)
            .await
            .unwrap()
            .is_empty()
    })
    .await;

    h.sim.cancel_subscription_as_buyer(&token, &first).unwrap();
    eventually("cancelled in the ledger", || async {
        state_of(&ledger).await == "cancelled"
    })
    .await;
    h.sim
        .reenable_subscription_as_buyer(&token, &first)
        .unwrap();
    eventually("active again", || async {
        state_of(&ledger).await == "active"
    })
    .await;

    // A state a future Bot API might add, and a membership this bot never sold: recorded and
    // ignored, never fatal.
    let payload = h.sim.invoices(&token)[0].payload.clone();
    let user = serde_json::json!({"id": MEMBER, "is_bot": false, "first_name": "M"});
    let odd_state = h.sim.inject_update(
        &token,
        serde_json::json!({"subscription": {"user": user, "invoice_payload": payload, "state": "paused"}}),
    );
    let foreign = h.sim.inject_update(
        &token,
        serde_json::json!({"subscription": {"user": user, "invoice_payload": "not-ours", "state": "failed"}}),
    );
    for update in [odd_state, foreign] {
        let outcome = wait_for_outcome(&ledger, CLUB, update).await;
        assert!(outcome.starts_with("ignored"), "{outcome}");
    }
    assert_eq!(state_of(&ledger).await, "active");
    // The store still works after it.
    h.sim.advance_time(30 * DAY + 60);
    h.wait_for_deliveries(CLUB, MEMBER, 2).await;
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(a_refunded_renewal_revokes_access_once_and_stops_the_renewal);

async fn a_refunded_renewal_revokes_access_once_and_stops_the_renewal(backend: Backend) {
    let mut h = Harness::new(backend).await;
    h.add_bot(CLUB, &club_bot());
    let gw = h.start().await;
    let token = h.token(CLUB);
    let first = join(&h).await;
    let PayOutcome::Paid {
        charge_id: renewal, ..
    } = h.sim.renew_subscription(&token, &first).unwrap()
    else {
        panic!("a renewal")
    };
    h.wait_for_deliveries(CLUB, MEMBER, 2).await;
    let ledger = h.ledger().await;
    eventually("the renewal recorded", || async {
        ledger.subscriptions(&bot_id(CLUB), MEMBER).await.unwrap()[0].last_charge_id == renewal
    })
    .await;
    let store = gw.store(CLUB).unwrap();
    let outcome = starsgate::shop::refund(&store, &charge_id_of(&renewal), "test")
        .await
        .unwrap();
    assert_eq!(outcome, starsgate::shop::RefundOutcome::Refunded);
    eventually("the refund applied", || async {
        state_of(&ledger).await == "expired"
            && h.sim.subscriptions(&token)[0].is_canceled
            && h.sim.pending_updates(&token) == 0
    })
    .await;
    // Telegram's refunded_payment arrives too, and time passes: still one revocation.
    gw.clock()
        .advance(std::time::Duration::from_secs(40 * DAY as u64));
    h.settle_memberships(&gw, CLUB).await;
    let refund_hooks = hooks(&ledger, &renewal, "refund_hook").await;
    assert_eq!(refund_hooks.len(), 1, "{refund_hooks:?}");
    assert!(
        refund_hooks[0].contains("revoked role pro"),
        "{refund_hooks:?}"
    );
    assert!(hooks(&ledger, &renewal, "expiry_hook").await.is_empty());
    assert_eq!(
        payment(&ledger, CLUB, &first).await.status,
        starsgate::ledger::PaymentStatus::Delivered,
        "the first month stays paid"
    );

    // The export lists each charge once; stats count the renewal and net out its refund.
    let export = ledger
        .export(&starsgate::ledger::ExportFilter {
            bot: Some(bot_id(CLUB)),
            since_ms: None,
        })
        .await
        .unwrap();
    let rows: Vec<(&str, &str)> = export
        .iter()
        .map(|r| (r.charge_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (first.as_str(), "delivered"),
            (renewal.as_str(), "refunded")
        ]
    );
    let stats = ledger.stats(Some(&bot_id(CLUB))).await.unwrap();
    assert_eq!(
        (
            stats[0].payments,
            stats[0].renewals,
            stats[0].refunded,
            stats[0].net_revenue
        ),
        (2, 1, 1, 100)
    );
    gw.stop().await;
    h.finish().await;
}
