//! Payments, keyed by `(bot, telegram_payment_charge_id)`: the exactly-once key (guarantee 2).
//! A repeated `successful_payment` finds the row already there and changes nothing.

use crate::domain::{BotId, ChargeId, OrderId, ProductId};
use crate::ledger::conn::{Conn, query};

mod record;

use super::events::{EventKind, Subject, append};
use super::ids::{id, optional_id};
use super::promos::{Pricing, pricing_from_row};
use super::sales::{Sale, count};
use super::seller_events::stage::{About, Fact, stage};
use super::status::PaymentStatus;
use super::writer::Command;
use super::{Ledger, LedgerError};
use crate::domain::SellerEventType;

#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub bot: &'a BotId,
    pub charge_id: &'a ChargeId,
    pub order_id: Option<&'a OrderId>,
    pub payload: &'a str,
    pub user_id: i64,
    pub chat_id: i64,
    pub product: Option<&'a ProductId>,
    pub amount: i64,
    pub currency: &'a str,
    pub provider_charge_id: Option<&'a str>,
    pub plugin_sha256: Option<&'a str>,
    pub update_id: Option<i64>,
    /// Set when the money does not match the order (guarantee 4): the payment is recorded as
    /// `needs_review` and never delivered silently.
    pub review_reason: Option<String>,
    /// A subscription renewal (not its first payment).
    pub is_renewal: bool,
    /// Until when a subscription charge pays (unix ms).
    pub expires_at: Option<i64>,
    /// The order's list price, promo code and discount source (the list price is the amount
    /// when the payment has no order).
    pub pricing: Pricing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub bot: BotId,
    pub charge_id: ChargeId,
    pub order_id: Option<OrderId>,
    pub payload: String,
    pub user_id: i64,
    pub chat_id: i64,
    pub product: Option<ProductId>,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub review_reason: Option<String>,
    pub plugin_sha256: Option<String>,
    pub paid_at: i64,
    pub delivered_at: Option<i64>,
    pub refunded_at: Option<i64>,
    pub is_renewal: bool,
    pub expires_at: Option<i64>,
    pub pricing: Pricing,
}

/// Whether `record_payment` wrote a new row or found the charge already recorded.
#[derive(Debug, Clone)]
pub enum Recorded {
    New(Payment),
    Repeat(Payment),
}

impl Recorded {
    pub fn payment(&self) -> &Payment {
        match self {
            Recorded::New(p) | Recorded::Repeat(p) => p,
        }
    }
}

pub(super) const PAYMENT_COLUMNS: &str = "bot, charge_id, order_id, payload, user_id, chat_id, \
     product, amount, currency, status, review_reason, plugin_sha256, paid_at, delivered_at, refunded_at, \
     is_renewal, expires_at, list_price, promo_code, discount_source";

pub(super) fn payment_from_row(
    r: &impl crate::ledger::conn::Fields,
) -> Result<Payment, LedgerError> {
    let status: String = r.try_get("status")?;
    let amount: i64 = r.try_get("amount")?;
    Ok(Payment {
        pricing: pricing_from_row(r, amount)?,
        bot: id(r, "bot")?,
        charge_id: id(r, "charge_id")?,
        order_id: optional_id(r, "order_id")?,
        payload: r.try_get("payload")?,
        user_id: r.try_get("user_id")?,
        chat_id: r.try_get("chat_id")?,
        product: optional_id(r, "product")?,
        amount,
        currency: r.try_get("currency")?,
        status: PaymentStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown payment status {status:?}").into())
        })?,
        review_reason: r.try_get("review_reason")?,
        plugin_sha256: r.try_get("plugin_sha256")?,
        paid_at: r.try_get("paid_at")?,
        delivered_at: r.try_get("delivered_at")?,
        refunded_at: r.try_get("refunded_at")?,
        is_renewal: r.try_get::<i64, _>("is_renewal")? != 0,
        expires_at: r.try_get("expires_at")?,
    })
}

pub(super) async fn fetch_payment(
    conn: &mut Conn,
    bot: &str,
    charge_id: &str,
) -> Result<Option<Payment>, LedgerError> {
    let row = query(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE bot = $1 AND charge_id = $2"
    ))
    .bind(bot)
    .bind(charge_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(payment_from_row).transpose()
}

/// Moves a payment to `to` inside the caller's transaction, checking the transition and recording
/// it in the history. Returns false (and changes nothing) if it is already there.
///
/// The update is conditional on the status just read (`status = $4`). If another process moved
/// the payment in between (PostgreSQL's READ COMMITTED re-checks the condition and updates no
/// row), the status is read again and the transition re-checked from there, so a concurrent
/// delivery can never swallow a refund.
/// The seller event a move to `status` is reported as.
fn reported_as(status: PaymentStatus) -> Option<SellerEventType> {
    match status {
        PaymentStatus::Paid => None,
        PaymentStatus::Delivered => Some(SellerEventType::DeliverySucceeded),
        PaymentStatus::DeliveryFailed => Some(SellerEventType::DeliveryFailed),
        PaymentStatus::NeedsReview => Some(SellerEventType::PaymentNeedsReview),
        PaymentStatus::Refunded => Some(SellerEventType::RefundSucceeded),
    }
}

pub(super) async fn transition(
    conn: &mut Conn,
    at: i64,
    bot: &str,
    charge_id: &str,
    to: PaymentStatus,
    detail: &str,
) -> Result<bool, LedgerError> {
    for _ in 0..4 {
        let current = fetch_payment(conn, bot, charge_id).await?.ok_or_else(|| {
            LedgerError::UnknownPayment {
                bot: bot.to_owned(),
                charge_id: charge_id.to_owned(),
            }
        })?;
        if current.status == to {
            return Ok(false);
        }
        if !current.status.can_become(to) {
            return Err(LedgerError::Transition {
                charge_id: charge_id.to_owned(),
                from: current.status,
                to,
            });
        }
        let stamp = match to {
            PaymentStatus::Delivered => Some("delivered_at"),
            PaymentStatus::Refunded => Some("refunded_at"),
            _ => None,
        };
        let sql = match stamp {
            Some(column) => format!(
                "UPDATE payments SET status = $1, {column} = $5 \
                 WHERE bot = $2 AND charge_id = $3 AND status = $4"
            ),
            None => {
                "UPDATE payments SET status = $1 WHERE bot = $2 AND charge_id = $3 AND status = $4"
                    .to_owned()
            }
        };
        let mut query = query(&sql)
            .bind(to.as_str())
            .bind(bot)
            .bind(charge_id)
            .bind(current.status.as_str());
        if stamp.is_some() {
            query = query.bind(at);
        }
        if query.execute(&mut *conn).await?.rows_affected() != 1 {
            continue;
        }
        let product = current.product.as_deref();
        let sale = Sale::of_change(bot, product, current.user_id, Some(current.status), to);
        count(conn, sale.as_slice()).await?;
        append(
            conn,
            at,
            bot,
            EventKind::StatusChanged,
            Subject {
                order_id: current.order_id.as_deref(),
                charge_id: Some(charge_id),
                user_id: Some(current.user_id),
            },
            &format!("{} -> {}: {detail}", current.status, to),
        )
        .await?;
        if let Some(event_type) = reported_as(to) {
            let fact = Fact {
                at,
                bot,
                event_type,
                about: About::Payment { charge_id },
            };
            stage(conn, &[fact]).await?;
        }
        return Ok(true);
    }
    Err(LedgerError::Contended {
        charge_id: charge_id.to_owned(),
    })
}

impl Ledger {
    pub async fn payment(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<Option<Payment>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let mut conn = self.lookups.lend().await?;
        fetch_payment(&mut conn, bot, charge_id).await
    }

    /// Moves a payment to a new status (checked) and records the change.
    pub async fn set_status(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        to: PaymentStatus,
        detail: &str,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(SetStatus {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            to,
            detail: detail.to_owned(),
            at: self.stamp(),
        })
        .await
    }

    /// Paid payments whose delivery content has not been generated yet: after a crash between
    /// recording and generating, this is the work to resume.
    pub async fn payments_awaiting_content(
        &self,
        bot: &BotId,
    ) -> Result<Vec<Payment>, LedgerError> {
        let bot = bot.as_str();
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments p WHERE bot = $1 AND status = 'paid' \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.bot = p.bot AND d.charge_id = p.charge_id) \
             ORDER BY paid_at"
        ))
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// Every payment of a bot (or all bots), oldest first.
    pub async fn payments(&self, bot: Option<&BotId>) -> Result<Vec<Payment>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE ($1 IS NULL OR bot = $1) ORDER BY paid_at, charge_id"
        ))
        .bind(bot)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }
}

/// A checked status change (see [`transition`]).
struct SetStatus {
    bot: String,
    charge_id: String,
    to: PaymentStatus,
    detail: String,
    at: i64,
}

impl Command for SetStatus {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        transition(
            conn,
            self.at,
            &self.bot,
            &self.charge_id,
            self.to,
            &self.detail,
        )
        .await
    }
}
