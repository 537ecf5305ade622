//! The bot's Stars as Telegram keeps them: the balance checked before a refund, and
//! reconciliation that classifies every kind of transaction and flags a chargeback.

use serde_json::json;
use starsgate::ledger::{PaymentStatus, TxClass, money_by_bot};

use crate::helpers::*;
use crate::on_both_ledgers;

const ANN: i64 = 9301;
const BEN: i64 = 9302;

async fn a_refund_the_balance_cannot_cover_is_refused_up_front(backend: Backend) {
    let h = Harness::new(backend).await;
    let gw = h.start().await;
    let token = h.token(GUIDES);
    let (charge, _) = h.buy(GUIDES, ANN, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, ANN, 1).await;
    // The seller withdrew most of the balance to Fragment.
    h.sim
        .add_star_transaction(
            &token,
            json!({"id": "w1", "amount": 45, "date": 1, "receiver": {"type": "fragment"}}),
        )
        .unwrap();
    assert_eq!(h.sim.star_balance(&token), 5);
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {charge}"));
    let said = h
        .wait_for(GUIDES, GUIDES_ADMIN, "the refund's answer", |m| {
            m.iter()
                .any(|m| m.text.as_deref().unwrap_or("").contains("cannot cover"))
        })
        .await;
    assert!(
        said.iter()
            .any(|m| m.text.as_deref().unwrap_or("").contains("5")
                && m.text.as_deref().unwrap_or("").contains("50 Stars")),
        "{said:?}"
    );
    assert!(
        h.sim
            .calls(&token)
            .iter()
            .all(|c| c.method != "refundStarPayment"),
        "Telegram is not asked"
    );
    let ledger = h.ledger().await;
    assert_eq!(
        status(&ledger, GUIDES, &charge).await,
        Some(PaymentStatus::Delivered)
    );
    gw.stop().await;
    h.finish().await;
}

async fn reconciliation_classifies_every_kind_and_flags_a_chargeback(backend: Backend) {
    let h = Harness::new(backend).await;
    h.set_gateway("ledger", "reconcile_every_secs", "0");
    let gw = h.start().await;
    let token = h.token(GUIDES);
    let (refunded, _) = h.buy(GUIDES, ANN, "premium-guide").await;
    let (charged_back, _) = h.buy(GUIDES, BEN, "premium-guide").await;
    h.wait_for_deliveries(GUIDES, BEN, 1).await;
    h.say(GUIDES, GUIDES_ADMIN, &format!("/refund {refunded}"));
    let ledger = h.ledger().await;
    eventually("our refund recorded", || async {
        status(&ledger, GUIDES, &refunded).await == Some(PaymentStatus::Refunded)
    })
    .await;
    let add = |tx: serde_json::Value| h.sim.add_star_transaction(&token, tx).unwrap();
    // A chargeback: Stars back to Ben with no refund of ours behind it.
    add(
        json!({"id": charged_back, "amount": 50, "date": 2, "receiver": {"type": "user", "transaction_type": "invoice_payment", "user": {"id": BEN, "is_bot": false, "first_name": "Ben"}}}),
    );
    add(
        json!({"id": "aff1", "amount": 8, "nanostar_amount": 500000000, "date": 3, "source": {"type": "affiliate_program", "commission_per_mille": 100}}),
    );
    add(
        json!({"id": "fee1", "amount": 1, "date": 4, "receiver": {"type": "telegram_api", "request_count": 1000}}),
    );
    add(json!({"id": "ads1", "amount": 2, "date": 5, "receiver": {"type": "telegram_ads"}}));
    add(
        json!({"id": "wd1", "amount": 3, "date": 6, "receiver": {"type": "fragment", "withdrawal_state": {"type": "pending"}}}),
    );
    add(
        json!({"id": "gift1", "amount": 4, "date": 7, "source": {"type": "user", "transaction_type": "gift_purchase", "user": {"id": 5, "is_bot": false, "first_name": "G"}}}),
    );
    add(json!({"id": "odd1", "amount": 6, "date": 8, "source": {"type": "a_partner_from_2027"}}));
    let store = gw.store(GUIDES).unwrap();
    let report = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        report.unexplained,
        std::slice::from_ref(&charged_back),
        "{report:?}"
    );
    for class in [
        TxClass::InvoicePayment,
        TxClass::Refund,
        TxClass::UnexplainedOutgoing,
        TxClass::AffiliateProgram,
        TxClass::TelegramApi,
        TxClass::TelegramAds,
        TxClass::Withdrawal,
        TxClass::GiftPurchase,
        TxClass::Unknown,
    ] {
        assert!(
            report.classes.contains_key(class.as_str()),
            "{class}: {report:?}"
        );
    }
    assert_eq!(report.classes["affiliate_program"].stars, "8.5");
    assert_eq!(
        status(&ledger, GUIDES, &charged_back).await,
        Some(PaymentStatus::Refunded),
        "the Stars are gone: recorded as refunded"
    );
    let money = money_by_bot(&ledger.star_totals(Some(&bot_id(GUIDES))).await.unwrap());
    let m = &money[0];
    assert_eq!(m.gross_sales.to_string(), "100");
    assert_eq!(m.refunds.to_string(), "50");
    assert_eq!(m.chargebacks.to_string(), "50");
    assert_eq!(m.fees.to_string(), "3");
    assert_eq!(m.withdrawals.to_string(), "3");
    assert_eq!(m.other_in.to_string(), "18.5");
    assert_eq!(m.net.to_string(), "12.5");
    let balance = ledger
        .star_balance(&bot_id(GUIDES))
        .await
        .unwrap()
        .expect("balance read");
    assert_eq!(balance.amount.stars, h.sim.star_balance(&token));
    let again = starsgate::reconcile::reconcile(&store, &|_| {})
        .await
        .unwrap();
    assert!(
        again.classes.is_empty() && again.unexplained.is_empty(),
        "{again:?}"
    );
    let out = h
        .command()
        .args(["stats", "--config"])
        .arg(h.dir.path())
        .output()
        .expect("run starsgate stats");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("chargebacks") && stdout.contains("12.5"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("needs review: guides {charged_back}")),
        "{stdout}"
    );
    gw.stop().await;
    h.finish().await;
}

on_both_ledgers!(
    a_refund_the_balance_cannot_cover_is_refused_up_front,
    reconciliation_classifies_every_kind_and_flags_a_chargeback,
);
