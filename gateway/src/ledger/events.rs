//! The append-only event history. Every state change in the ledger adds one row here in the same
//! transaction, so the history explains every payment's current status.

use crate::domain::{BotId, ChargeId, OrderId};

use super::ids::{id, optional_id};
use crate::ledger::conn::{Conn, query};

use super::LedgerError;
use super::multirow::placeholders;
use super::writer::Write;

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

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EventKind {
    pub const ALL: [EventKind; 14] = [
        Self::OrderCreated,
        Self::PreCheckoutApproved,
        Self::PreCheckoutRejected,
        Self::PaymentRecorded,
        Self::PaymentRepeated,
        Self::PaymentFlagged,
        Self::DeliveryPrepared,
        Self::DeliveryAttemptFailed,
        Self::StatusChanged,
        Self::RefundRecorded,
        Self::RefundHook,
        Self::ExpiryHook,
        Self::SubscriptionChanged,
        Self::UpdateUnreadable,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

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
    conn: &mut Conn,
    at: i64,
    bot: &str,
    kind: EventKind,
    subject: Subject<'_>,
    detail: &str,
) -> Result<(), LedgerError> {
    query(
        "INSERT INTO events (at, bot, kind, order_id, charge_id, user_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(at)
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
    pub bot: BotId,
    pub kind: EventKind,
    pub order_id: Option<OrderId>,
    pub charge_id: Option<ChargeId>,
    pub detail: Option<String>,
}

impl super::Ledger {
    /// Records an event that is not part of a state change (a pre-checkout answer, an unreadable
    /// update).
    pub async fn record_event(
        &self,
        bot: &BotId,
        kind: EventKind,
        subject: Subject<'_>,
        detail: &str,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.write(NewEvent::new(self.stamp(), bot, kind, subject, detail))
            .await
    }

    pub async fn events(
        &self,
        bot: &BotId,
        charge_id: Option<&ChargeId>,
    ) -> Result<Vec<Event>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.map(ChargeId::as_str);
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
                    bot: id(r, "bot")?,
                    kind: {
                        let raw: String = r.try_get("kind")?;
                        EventKind::parse(&raw).ok_or_else(|| {
                            sqlx::Error::Decode(format!("unknown event kind {raw:?}").into())
                        })?
                    },
                    order_id: optional_id(r, "order_id")?,
                    charge_id: optional_id(r, "charge_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// An event that is not part of another write (see `Ledger::record_event`).
pub(super) struct NewEvent {
    pub at: i64,
    pub bot: String,
    pub kind: EventKind,
    pub order_id: Option<String>,
    pub charge_id: Option<String>,
    pub user_id: Option<i64>,
    pub detail: String,
}

impl NewEvent {
    pub fn new(at: i64, bot: &str, kind: EventKind, subject: Subject<'_>, detail: &str) -> Self {
        Self {
            at,
            bot: bot.to_owned(),
            kind,
            order_id: subject.order_id.map(str::to_owned),
            charge_id: subject.charge_id.map(str::to_owned),
            user_id: subject.user_id,
            detail: detail.to_owned(),
        }
    }
}

impl Write for NewEvent {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<()>, LedgerError> {
        let sql = format!(
            "INSERT INTO events (at, bot, kind, order_id, charge_id, user_id, detail) VALUES {}",
            placeholders(rows.len(), 7, 1)
        );
        let mut query = query(&sql);
        for e in rows {
            query = query
                .bind(e.at)
                .bind(e.bot.as_str())
                .bind(e.kind.as_str())
                .bind(e.order_id.as_deref())
                .bind(e.charge_id.as_deref())
                .bind(e.user_id)
                .bind(e.detail.as_str());
        }
        query.execute(&mut *conn).await?;
        Ok(vec![(); rows.len()])
    }
}
