//! What a StarTransaction is, read from its raw JSON by its partner. Raw, because teloxide's typed
//! StarTransaction fails on a kind newer than it knows, and one such transaction would stop
//! reconciliation for good: here a kind nobody knows yet is `Unknown`, kept and counted.

use serde_json::Value;

use crate::domain::StarAmount;
use crate::ledger::{TxClass, TxDirection};

/// A transaction's facts as reconciliation needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub id: String,
    pub direction: TxDirection,
    /// For an outgoing transaction to a user this is [`TxClass::Refund`] until reconciliation
    /// finds whether one of our refunds explains it.
    pub class: TxClass,
    pub amount: StarAmount,
    /// The affiliate's commission on a sale (`TransactionPartnerUser.affiliate`).
    pub commission: StarAmount,
    pub user_id: Option<i64>,
    /// `TransactionPartnerUser.invoice_payload`.
    pub invoice_payload: Option<String>,
    /// `TransactionPartnerUser.paid_media_payload` (a paid media post's payload, ours a post id).
    pub paid_media_payload: Option<String>,
    /// Unix seconds.
    pub date: i64,
}

/// `None` for a transaction without an id (nothing could key it).
pub fn classify(tx: &Value) -> Option<Classified> {
    let id = tx.get("id").and_then(Value::as_str)?.to_owned();
    let (direction, partner) = match (tx.get("source"), tx.get("receiver")) {
        (Some(p), _) => (TxDirection::In, Some(p)),
        (None, Some(p)) => (TxDirection::Out, Some(p)),
        (None, None) => (TxDirection::In, None),
    };
    let kind = partner.and_then(|p| p.get("type")).and_then(Value::as_str);
    let class = match kind {
        Some("user") => user_class(direction, partner),
        Some("affiliate_program") => TxClass::AffiliateProgram,
        Some("chat") => TxClass::Chat,
        Some("fragment") => TxClass::Withdrawal,
        Some("telegram_ads") => TxClass::TelegramAds,
        Some("telegram_api") => TxClass::TelegramApi,
        Some("other") => TxClass::Other,
        _ => TxClass::Unknown,
    };
    let affiliate = partner.and_then(|p| p.get("affiliate"));
    Some(Classified {
        id,
        direction,
        class,
        amount: amount(Some(tx)),
        commission: amount(affiliate),
        user_id: partner
            .and_then(|p| p.pointer("/user/id"))
            .and_then(Value::as_i64),
        invoice_payload: partner
            .and_then(|p| p.get("invoice_payload"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        paid_media_payload: partner
            .and_then(|p| p.get("paid_media_payload"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        date: tx.get("date").and_then(Value::as_i64).unwrap_or(0),
    })
}

fn user_class(direction: TxDirection, partner: Option<&Value>) -> TxClass {
    if direction == TxDirection::Out {
        return TxClass::Refund;
    }
    match partner
        .and_then(|p| p.get("transaction_type"))
        .and_then(Value::as_str)
    {
        Some("invoice_payment") => TxClass::InvoicePayment,
        Some("paid_media_payment") => TxClass::PaidMediaPayment,
        Some("gift_purchase") => TxClass::GiftPurchase,
        Some("premium_purchase") => TxClass::PremiumPurchase,
        Some("business_account_transfer") => TxClass::BusinessAccountTransfer,
        _ => TxClass::UserOther,
    }
}

/// `amount` and `nanostar_amount` of an object (a transaction or an AffiliateInfo), exactly.
fn amount(of: Option<&Value>) -> StarAmount {
    let get = |key: &str| {
        of.and_then(|v| v.get(key))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    StarAmount {
        stars: get("amount"),
        nanostars: get("nanostar_amount"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn class_of(tx: Value) -> TxClass {
        classify(&tx).map(|c| c.class).unwrap_or(TxClass::Unknown)
    }

    #[test]
    fn every_partner_kind_has_its_class() {
        let user = |t: &str| json!({"id": "a", "amount": 5, "date": 1, "source": {"type": "user", "transaction_type": t, "user": {"id": 7}}});
        for (t, class) in [
            ("invoice_payment", TxClass::InvoicePayment),
            ("paid_media_payment", TxClass::PaidMediaPayment),
            ("gift_purchase", TxClass::GiftPurchase),
            ("premium_purchase", TxClass::PremiumPurchase),
            (
                "business_account_transfer",
                TxClass::BusinessAccountTransfer,
            ),
            ("a_type_from_2027", TxClass::UserOther),
        ] {
            assert_eq!(class_of(user(t)), class, "{t}");
        }
        let partner =
            |side: &str, kind: &str| json!({"id": "b", "amount": 3, side: {"type": kind}});
        for (side, kind, class) in [
            ("source", "affiliate_program", TxClass::AffiliateProgram),
            ("source", "chat", TxClass::Chat),
            ("receiver", "fragment", TxClass::Withdrawal),
            ("receiver", "telegram_ads", TxClass::TelegramAds),
            ("receiver", "telegram_api", TxClass::TelegramApi),
            ("source", "other", TxClass::Other),
            ("source", "quantum_partner", TxClass::Unknown),
        ] {
            assert_eq!(class_of(partner(side, kind)), class, "{kind}");
        }
        assert_eq!(
            class_of(
                json!({"id": "c", "amount": 5, "receiver": {"type": "user", "transaction_type": "invoice_payment", "user": {"id": 7}}})
            ),
            TxClass::Refund
        );
        assert_eq!(class_of(json!({"id": "d", "amount": 1})), TxClass::Unknown);
        assert_eq!(
            classify(&json!({"amount": 1})),
            None,
            "no id, nothing to key"
        );
    }

    #[test]
    fn amounts_and_commissions_are_kept_exactly() {
        let c = classify(&json!({
            "id": "e", "amount": 85, "nanostar_amount": 500000000, "date": 1700000000,
            "source": {"type": "user", "transaction_type": "invoice_payment", "user": {"id": 42},
                       "invoice_payload": "order-1",
                       "affiliate": {"commission_per_mille": 150, "amount": 15, "nanostar_amount": 250000000}}
        }))
        .expect("classified");
        assert_eq!(
            c.amount,
            StarAmount {
                stars: 85,
                nanostars: 500_000_000
            }
        );
        assert_eq!(
            c.commission,
            StarAmount {
                stars: 15,
                nanostars: 250_000_000
            }
        );
        assert_eq!(c.user_id, Some(42));
        assert_eq!(c.invoice_payload.as_deref(), Some("order-1"));
        assert_eq!((c.direction, c.date), (TxDirection::In, 1_700_000_000));
    }
}
