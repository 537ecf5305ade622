//! The delivery outbox. A paid order's content is generated once and stored here before it is
//! sent; every send (and every retry after a crash) reads the stored content, so a buyer never
//! receives two different licence keys for one payment.

use sqlx::Row;

use super::events::{EventKind, Subject, append};
use super::payments::transition;
use super::status::PaymentStatus;
use super::{Ledger, LedgerError, now_ms};

#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub charge_id: String,
    pub chat_id: i64,
    pub content: String,
    pub attempts: i64,
}

impl Ledger {
    /// Stores the content for a charge unless some content is already stored, and returns the
    /// stored content either way: the first writer wins, later ones reuse it.
    pub async fn store_delivery(
        &self,
        bot: &str,
        charge_id: &str,
        chat_id: i64,
        content: &str,
    ) -> Result<String, LedgerError> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO deliveries (bot, charge_id, chat_id, content, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (bot, charge_id) DO NOTHING",
        )
        .bind(bot)
        .bind(charge_id)
        .bind(chat_id)
        .bind(content)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let subject = Subject {
                charge_id: Some(charge_id),
                ..Default::default()
            };
            append(
                &mut tx,
                bot,
                EventKind::DeliveryPrepared,
                subject,
                "content stored",
            )
            .await?;
        }
        let stored: String =
            sqlx::query("SELECT content FROM deliveries WHERE bot = $1 AND charge_id = $2")
                .bind(bot)
                .bind(charge_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("content")?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Deliveries waiting to be sent whose next attempt is due.
    pub async fn due_deliveries(
        &self,
        bot: &str,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, LedgerError> {
        let rows = sqlx::query(
            "SELECT charge_id, chat_id, content, attempts FROM deliveries \
             WHERE bot = $1 AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
             AND EXISTS (SELECT 1 FROM payments p WHERE p.bot = deliveries.bot \
                         AND p.charge_id = deliveries.charge_id AND p.status = 'paid') \
             ORDER BY next_attempt_at LIMIT $3",
        )
        .bind(bot)
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    charge_id: r.try_get("charge_id")?,
                    chat_id: r.try_get("chat_id")?,
                    content: r.try_get("content")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// When the next delivery of this bot is due, if any (for the outbox to sleep until then).
    pub async fn next_delivery_at(&self, bot: &str) -> Result<Option<i64>, LedgerError> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_at) AS next FROM deliveries \
             WHERE bot = $1 AND sent_at IS NULL AND failed_at IS NULL",
        )
        .bind(bot)
        .fetch_one(&self.reads)
        .await?;
        Ok(row.try_get("next")?)
    }

    /// Records that the content reached Telegram, and moves the payment to `delivered`.
    pub async fn mark_delivered(&self, bot: &str, charge_id: &str) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE deliveries SET sent_at = $1, attempts = attempts + 1 \
             WHERE bot = $2 AND charge_id = $3 AND sent_at IS NULL",
        )
        .bind(now)
        .bind(bot)
        .bind(charge_id)
        .execute(&mut *tx)
        .await?;
        let sent = transition(
            &mut tx,
            bot,
            charge_id,
            PaymentStatus::Delivered,
            "sent to the buyer",
        )
        .await;
        match sent {
            Ok(_) => {}
            // The payment was refunded (or flagged) while its delivery was on the way: the
            // message did go out, and the outbox must remember that so it never sends it again.
            Err(LedgerError::Transition { from, .. }) => {
                let subject = Subject {
                    charge_id: Some(charge_id),
                    ..Default::default()
                };
                let detail = format!("the delivery went out after the payment became {from}");
                append(
                    &mut tx,
                    bot,
                    EventKind::DeliveryAttemptFailed,
                    subject,
                    &detail,
                )
                .await?;
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn delivery_attempt_failed(
        &self,
        bot: &str,
        charge_id: &str,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
             WHERE bot = $3 AND charge_id = $4 AND sent_at IS NULL",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(bot)
        .bind(charge_id)
        .execute(&mut *tx)
        .await?;
        let subject = Subject {
            charge_id: Some(charge_id),
            ..Default::default()
        };
        append(
            &mut tx,
            bot,
            EventKind::DeliveryAttemptFailed,
            subject,
            error,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives up sending (the buyer blocked the bot, or retries ran out) and moves the payment to
    /// `status` (`delivery_failed` or `needs_review`). The content is kept, so an operator can
    /// still resend it or refund.
    pub async fn delivery_given_up(
        &self,
        bot: &str,
        charge_id: &str,
        error: &str,
        status: PaymentStatus,
    ) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, failed_at = $2 \
             WHERE bot = $3 AND charge_id = $4 AND sent_at IS NULL",
        )
        .bind(error)
        .bind(now_ms())
        .bind(bot)
        .bind(charge_id)
        .execute(&mut *tx)
        .await?;
        match transition(&mut tx, bot, charge_id, status, error).await {
            Ok(_) | Err(LedgerError::Transition { .. }) => {}
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored content for a charge, if generated.
    pub async fn delivery_content(
        &self,
        bot: &str,
        charge_id: &str,
    ) -> Result<Option<String>, LedgerError> {
        let row = sqlx::query("SELECT content FROM deliveries WHERE bot = $1 AND charge_id = $2")
            .bind(bot)
            .bind(charge_id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("content")?),
            None => None,
        })
    }
}
