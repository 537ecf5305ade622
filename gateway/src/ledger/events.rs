//! The append-only event history. Every state change in the ledger adds one row here in the same
//! transaction, so the history explains every payment's current status.

use sqlx::AnyConnection;

use super::{LedgerError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OrderCreated,
    PreCheckoutApproved,
    PreCheckoutRejected,
    PaymentRecorded,
    PaymentRepeated,
    PaymentFlagged,
    DeliveryPrepared,
    DeliveryAttemptFailed,
    StatusChanged,
    RefundRecorded,
    /// A plugin's refund hook ran (detail: its outcome and log lines).
    RefundHook,
    /// A plugin's revoke hook ran because a membership lapsed (detail as for `RefundHook`).
    ExpiryHook,
    SubscriptionChanged,
    UpdateUnreadable,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order_created",
            Self::PreCheckoutApproved => "pre_checkout_approved",
            Self::PreCheckoutRejected => "pre_checkout_rejected",
            Self::PaymentRecorded => "payment_recorded",
            Self::PaymentRepeated => "payment_repeated",
            Self::PaymentFlagged => "payment_flagged",
            Self::DeliveryPrepared => "delivery_prepared",
            Self::DeliveryAttemptFailed => "delivery_attempt_failed",
            Self::StatusChanged => "status_changed",
            Self::RefundRecorded => "refund_recorded",
            Self::RefundHook => "refund_hook",
            Self::ExpiryHook => "expiry_hook",
            Self::SubscriptionChanged => "subscription_changed",
            Self::UpdateUnreadable => "update_unreadable",
        }
    }
}

/// What an event is about; unset fields are stored as NULL.
#[derive(Debug, Default, Clone)]
pub struct Subject<'a> {
    pub order_id: Option<&'a str>,
    pub charge_id: Option<&'a str>,
    pub user_id: Option<i64>,
}

pub(super) async fn append(
    conn: &mut AnyConnection,
    bot: &str,
    kind: EventKind,
    subject: Subject<'_>,
    detail: &str,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO events (at, bot, kind, order_id, charge_id, user_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now_ms())
    .bind(bot)
    .bind(kind.as_str())
    .bind(subject.order_id)
    .bind(subject.charge_id)
    .bind(subject.user_id)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the history, as `starsgate demo` and the tests read it.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: i64,
    pub bot: String,
    pub kind: String,
    pub order_id: Option<String>,
    pub charge_id: Option<String>,
    pub detail: Option<String>,
}

impl super::Ledger {
    /// Records an event that is not part of a state change (a pre-checkout answer, an unreadable
    /// update).
    pub async fn record_event(
        &self,
        bot: &str,
        kind: EventKind,
        subject: Subject<'_>,
        detail: &str,
    ) -> Result<(), LedgerError> {
        let mut tx = self.begin_single().await?;
        append(&mut tx, bot, kind, subject, detail).await?;
        tx.commit().await
    }

    pub async fn events(
        &self,
        bot: &str,
        charge_id: Option<&str>,
    ) -> Result<Vec<Event>, LedgerError> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT at, bot, kind, order_id, charge_id, detail FROM events \
             WHERE bot = $1 AND ($2 IS NULL OR charge_id = $2) ORDER BY id",
        )
        .bind(bot)
        .bind(charge_id)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    at: r.try_get("at")?,
                    bot: r.try_get("bot")?,
                    kind: r.try_get("kind")?,
                    order_id: r.try_get("order_id")?,
                    charge_id: r.try_get("charge_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
