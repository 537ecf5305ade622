//! Subscriptions over time: renewals as the clock crosses each period, failed renewals, the
//! buyer canceling and re-enabling, and refunds of renewal charges.

use serde_json::{Value, json};
use starsgate_sim::{PayOutcome, SimError};

use crate::common::{BUYER, Env, PERIOD, TOKEN};

/// The `successful_payment` bodies among `updates`, in order.
fn payments(updates: &[Value]) -> Vec<Value> {
    updates
        .iter()
        .filter_map(|u| u["message"].get("successful_payment").cloned())
        .collect()
}

/// The BotSubscriptionUpdated `state`s among `updates`, in order.
fn states(updates: &[Value]) -> Vec<String> {
    updates
        .iter()
        .filter_map(|u| u["subscription"]["state"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn crossing_the_end_of_a_period_renews_the_subscription_once_per_period_in_order() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    let expires = env.sim.subscriptions(TOKEN)[0].expires_at;

    // Almost a period: nothing is due yet.
    env.sim.advance_time(PERIOD - 3600);
    assert!(env.drain().await.is_empty());
    // Two more periods end in one jump: two renewals, oldest first.
    env.sim.advance_time(PERIOD + 3600 + 60);
    let updates = env.drain().await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    let renewals = payments(&updates);
    let charges: Vec<String> = renewals
        .iter()
        .map(|p| p["telegram_payment_charge_id"].as_str().unwrap().to_owned())
        .collect();
    for (n, payment) in renewals.iter().enumerate() {
        let due = expires + PERIOD * n as i64;
        assert_eq!(
            *payment,
            json!({
                "currency": "XTR",
                "total_amount": 100,
                "invoice_payload": "sub-1",
                "telegram_payment_charge_id": charges[n],
                "provider_payment_charge_id": "",
                "subscription_expiration_date": due + PERIOD,
                "is_recurring": true,
            }),
            "renewal {n}"
        );
        // Dated when Telegram charged it, not when the test looked.
        assert_eq!(updates[n]["message"]["date"], due);
    }
    assert!(updates[0]["update_id"].as_i64() < updates[1]["update_id"].as_i64());
    assert!(charges[0] != first && charges[1] != first && charges[0] != charges[1]);

    let transactions = env.sim.star_transactions(TOKEN);
    assert_eq!(transactions.len(), 3);
    for (n, charge) in charges.iter().enumerate() {
        let tx = &transactions[n + 1];
        assert_eq!(tx["id"], charge.as_str());
        assert_eq!(tx["amount"], 100);
        assert_eq!(tx["date"], expires + PERIOD * n as i64);
        assert_eq!(tx["source"]["subscription_period"], PERIOD);
    }
    assert_eq!(env.ok("getMyStarBalance", json!({})).await["amount"], 300);
    let sub = &env.sim.subscriptions(TOKEN)[0];
    assert_eq!(
        sub.charge_ids,
        vec![first, charges[0].clone(), charges[1].clone()]
    );
    assert_eq!(sub.expires_at, expires + 2 * PERIOD);
    assert_eq!(sub.state, "active");

    // Time that does not reach the next expiry renews nothing.
    env.sim.advance_time(60);
    assert!(env.drain().await.is_empty());
}

#[tokio::test]
async fn time_renews_every_running_subscription_earliest_expiry_first() {
    let env = Env::start().await;
    env.subscribe(100, "early").await;
    env.sim.advance_time(10 * 86_400);
    env.subscribe(50, "late").await;
    // Day 65: "early" is due on days 30 and 60, "late" on day 40.
    env.sim.advance_time(55 * 86_400);
    let order: Vec<Value> = payments(&env.drain().await)
        .iter()
        .map(|p| p["invoice_payload"].clone())
        .collect();
    assert_eq!(order, vec![json!("early"), json!("late"), json!("early")]);
    let subs = env.sim.subscriptions(TOKEN);
    assert_eq!((subs[0].charge_ids.len(), subs[1].charge_ids.len()), (3, 2));
}

#[tokio::test]
async fn a_canceled_subscription_lapses_at_the_end_of_its_period_instead_of_renewing() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    let cancel =
        json!({ "user_id": BUYER, "telegram_payment_charge_id": first, "is_canceled": true });
    assert_eq!(env.ok("editUserStarSubscription", cancel).await, true);
    assert_eq!(env.sim.subscriptions(TOKEN)[0].state, "canceled");

    env.sim.advance_time(3 * PERIOD);
    assert!(env.drain().await.is_empty(), "no charge and no update");
    assert_eq!(env.sim.star_transactions(TOKEN).len(), 1);
    let sub = &env.sim.subscriptions(TOKEN)[0];
    assert_eq!(
        (sub.state.as_str(), sub.is_canceled, sub.charge_ids.len()),
        ("expired", true, 1)
    );
    assert_eq!(
        env.sim.renew_subscription(TOKEN, &first),
        Err(SimError::SubscriptionEnded {
            charge_id: first.clone(),
            state: "expired".into()
        })
    );
}

#[tokio::test]
async fn a_failed_renewal_charges_nothing_and_tells_the_bot_with_a_subscription_update() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    env.sim.fail_next_renewal(TOKEN, &first).unwrap();

    env.sim.advance_time(2 * PERIOD + 60);
    let updates = env.drain().await;
    assert_eq!(
        updates.len(),
        1,
        "one failure, then no more attempts: {updates:?}"
    );
    let update_id = updates[0]["update_id"].as_i64().unwrap();
    assert_eq!(
        updates[0],
        json!({
            "update_id": update_id,
            "subscription": {
                "user": { "id": BUYER, "is_bot": false, "first_name": "Ada", "language_code": "en" },
                "invoice_payload": "sub-1",
                "state": "failed",
            },
        })
    );
    assert_eq!(env.sim.star_transactions(TOKEN).len(), 1);
    let sub = &env.sim.subscriptions(TOKEN)[0];
    assert_eq!((sub.state.as_str(), sub.charge_ids.len()), ("failed", 1));
    let ended = || SimError::SubscriptionEnded {
        charge_id: first.clone(),
        state: "failed".into(),
    };
    assert_eq!(env.sim.renew_subscription(TOKEN, &first), Err(ended()));
    assert_eq!(env.sim.fail_next_renewal(TOKEN, &first), Err(ended()));
}

#[tokio::test]
async fn a_manual_renewal_after_fail_next_renewal_says_renewal_failed() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    let PayOutcome::Paid {
        charge_id: renewal, ..
    } = env.sim.renew_subscription(TOKEN, &first).unwrap()
    else {
        panic!("the first renewal goes through");
    };
    // Any charge of the subscription names it, including a renewal's.
    env.sim.fail_next_renewal(TOKEN, &renewal).unwrap();
    let PayOutcome::RenewalFailed { update_id } =
        env.sim.renew_subscription(TOKEN, &first).unwrap()
    else {
        panic!("the armed renewal fails");
    };
    let updates = env.drain().await;
    assert_eq!(payments(&updates).len(), 1);
    assert_eq!(updates[1]["update_id"], update_id);
    assert_eq!(states(&updates), vec!["failed"]);
    assert_eq!(env.sim.star_transactions(TOKEN).len(), 2);
    assert_eq!(env.sim.subscriptions(TOKEN)[0].state, "failed");
    assert_eq!(env.sim.pending_updates(TOKEN), 0);
}

#[tokio::test]
async fn the_buyer_cancels_and_re_enables_and_the_bot_hears_of_both() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;

    let canceled = env.sim.cancel_subscription_as_buyer(TOKEN, &first).unwrap();
    let updates = env.drain().await;
    assert_eq!(updates[0]["update_id"], canceled);
    assert_eq!(updates[0]["subscription"]["user"]["id"], BUYER);
    assert_eq!(updates[0]["subscription"]["invoice_payload"], "sub-1");
    assert_eq!(states(&updates), vec!["canceled"]);
    let sub = &env.sim.subscriptions(TOKEN)[0];
    assert_eq!((sub.state.as_str(), sub.is_canceled), ("canceled", true));
    let already = || SimError::SubscriptionCanceled(first.clone());
    assert_eq!(
        env.sim.cancel_subscription_as_buyer(TOKEN, &first),
        Err(already())
    );
    assert_eq!(env.sim.renew_subscription(TOKEN, &first), Err(already()));

    let active = env
        .sim
        .reenable_subscription_as_buyer(TOKEN, &first)
        .unwrap();
    let updates = env.drain().await;
    assert_eq!(updates[0]["update_id"], active);
    assert_eq!(states(&updates), vec!["active"]);
    let sub = &env.sim.subscriptions(TOKEN)[0];
    assert_eq!((sub.state.as_str(), sub.is_canceled), ("active", false));
    assert_eq!(
        env.sim.reenable_subscription_as_buyer(TOKEN, &first),
        Err(SimError::SubscriptionNotCanceled(first.clone()))
    );

    // Re-enabled in time, it renews at the end of the period.
    env.sim.advance_time(PERIOD + 60);
    assert_eq!(payments(&env.drain().await).len(), 1);
}

#[tokio::test]
async fn changes_the_bot_makes_send_no_update_and_the_buyer_cannot_undo_a_bot_cancel() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    let edit = |is_canceled: bool| json!({ "user_id": BUYER, "telegram_payment_charge_id": first, "is_canceled": is_canceled });
    assert_eq!(env.ok("editUserStarSubscription", edit(true)).await, true);
    assert!(env.drain().await.is_empty());
    assert_eq!(
        env.sim.reenable_subscription_as_buyer(TOKEN, &first),
        Err(SimError::CanceledByBot(first.clone()))
    );
    assert_eq!(env.ok("editUserStarSubscription", edit(false)).await, true);
    assert!(env.drain().await.is_empty());
    assert_eq!(env.sim.subscriptions(TOKEN)[0].state, "active");

    // The bot echoing a cancel the buyer made does not take it over: the buyer can still undo it.
    env.sim.cancel_subscription_as_buyer(TOKEN, &first).unwrap();
    assert_eq!(env.ok("editUserStarSubscription", edit(true)).await, true);
    env.sim
        .reenable_subscription_as_buyer(TOKEN, &first)
        .unwrap();
    assert_eq!(states(&env.drain().await), vec!["canceled", "active"]);
}

#[tokio::test]
async fn a_renewal_charge_is_refunded_like_any_other_charge() {
    let env = Env::start().await;
    env.subscribe(100, "sub-1").await;
    env.sim.advance_time(PERIOD + 60);
    let renewal = payments(&env.drain().await)[0]["telegram_payment_charge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refund = json!({ "user_id": BUYER, "telegram_payment_charge_id": renewal });
    assert_eq!(env.ok("refundStarPayment", refund.clone()).await, true);
    let updates = env.drain().await;
    assert_eq!(
        updates[0]["message"]["refunded_payment"],
        json!({
            "currency": "XTR",
            "total_amount": 100,
            "invoice_payload": "sub-1",
            "telegram_payment_charge_id": renewal,
        })
    );
    let refund_tx = env.sim.star_transactions(TOKEN).pop().unwrap();
    assert_eq!(refund_tx["id"], renewal.as_str());
    assert_eq!(refund_tx["receiver"]["subscription_period"], PERIOD);
    let (_, again) = env.err("refundStarPayment", refund).await;
    assert_eq!(again, "Bad Request: CHARGE_ALREADY_REFUNDED");

    // The next renewal, refunded from outside the bot (support, a chargeback).
    env.sim.advance_time(PERIOD);
    let second = payments(&env.drain().await)[0]["telegram_payment_charge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.sim.refund_externally(TOKEN, &second).unwrap();
    let updates = env.drain().await;
    assert_eq!(
        updates[0]["message"]["refunded_payment"]["telegram_payment_charge_id"],
        second.as_str()
    );
    assert_eq!(env.ok("getMyStarBalance", json!({})).await["amount"], 100);
    // A refund does not stop the subscription.
    assert_eq!(env.sim.subscriptions(TOKEN)[0].state, "active");
}

#[tokio::test]
async fn the_subscription_update_is_in_the_default_set_and_obeys_allowed_updates() {
    let env = Env::start().await;
    let first = env.subscribe(100, "sub-1").await;
    env.ok("getUpdates", json!({ "allowed_updates": ["message"] }))
        .await;
    env.sim.cancel_subscription_as_buyer(TOKEN, &first).unwrap();
    assert!(env.drain().await.is_empty(), "discarded when not listed");
    // An empty list means Telegram's default set, which includes `subscription`.
    env.ok("getUpdates", json!({ "allowed_updates": [] })).await;
    env.sim
        .reenable_subscription_as_buyer(TOKEN, &first)
        .unwrap();
    assert_eq!(states(&env.drain().await), vec!["active"]);
}
