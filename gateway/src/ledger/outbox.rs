//! The delivery outbox. A paid order's content is generated once and stored here before it is
//! sent; every send (and every retry after a crash) reads the stored content, so a buyer never
//! receives two different licence keys for one payment.

use super::ids::id;
use crate::domain::{BotId, ChargeId};
use std::collections::HashSet;

use crate::ledger::conn::{Conn, Query, query};
use sqlx::Row;

use crate::domain::SellerEventType;

use super::events::{EventKind, NewEvent, Subject, append};
use super::multirow::{first_returned, placeholders};
use super::payments::transition;
use super::seller_events::stage::{About, Fact, stage};
use super::status::PaymentStatus;
use super::writer::{Command, Write, write_in_chunks};
use super::{Ledger, LedgerError, now_ms};

#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub charge_id: ChargeId,
    pub chat_id: i64,
    pub content: String,
    pub attempts: i64,
}

impl Ledger {
    /// Stores the content for a charge unless some content is already stored, and returns the
    /// stored content either way: the first writer wins, later ones reuse it.
    pub async fn store_delivery(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        chat_id: i64,
        content: &str,
    ) -> Result<String, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let row = NewDelivery {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            chat_id,
            content: content.to_owned(),
            at: self.stamp(),
            due_at: now_ms(),
        };
        self.write(row).await
    }

    /// Deliveries waiting to be sent whose next attempt is due.
    pub async fn due_deliveries(
        &self,
        bot: &BotId,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, LedgerError> {
        let bot = bot.as_str();
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
                    charge_id: id(r, "charge_id")?,
                    chat_id: r.try_get("chat_id")?,
                    content: r.try_get("content")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// When the next delivery of this bot is due, if any (for the outbox to sleep until then).
    pub async fn next_delivery_at(&self, bot: &BotId) -> Result<Option<i64>, LedgerError> {
        let bot = bot.as_str();
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
    pub async fn mark_delivered(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let row = Sent {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            at: self.stamp(),
        };
        self.write(row).await
    }

    /// Records that Telegram accepted the first `parts` parts of a delivery that has more: a
    /// retry starts after them. Never moves the count back.
    pub async fn mark_parts_sent(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        parts: u32,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(PartsSent {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            parts,
        })
        .await
    }

    /// Records a failed attempt and when to try again.
    pub async fn delivery_attempt_failed(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(AttemptFailed {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            error: error.to_owned(),
            next_attempt_at,
            at: self.stamp(),
        })
        .await
    }

    /// Gives up sending (the buyer blocked the bot, or retries ran out) and moves the payment to
    /// `status` (`delivery_failed` or `needs_review`). The content is kept, so an operator can
    /// still resend it or refund.
    pub async fn delivery_given_up(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        error: &str,
        status: PaymentStatus,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(GivenUp {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            error: error.to_owned(),
            status,
            at: self.stamp(),
        })
        .await
    }

    /// The stored content for a charge, if generated.
    pub async fn delivery_content(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
    ) -> Result<Option<String>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
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

/// A delivery's content to store; the outcome is the content stored for the charge, which is
/// this one unless another was stored first.
pub(super) struct NewDelivery {
    pub bot: String,
    pub charge_id: String,
    pub chat_id: i64,
    pub content: String,
    /// When it was stored (the gateway's clock).
    pub at: i64,
    /// When its first send is due (real time, as every retry time).
    pub due_at: i64,
}

impl Write for NewDelivery {
    type Out = String;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<String>, LedgerError> {
        let sql = format!(
            "INSERT INTO deliveries (bot, charge_id, chat_id, content, created_at, next_attempt_at) \
             VALUES {} ON CONFLICT (bot, charge_id) DO NOTHING RETURNING bot, charge_id",
            placeholders(rows.len(), 6, 1)
        );
        let mut insert = query(&sql);
        for d in rows {
            insert = insert
                .bind(d.bot.as_str())
                .bind(d.charge_id.as_str())
                .bind(d.chat_id)
                .bind(d.content.as_str())
                .bind(d.at)
                .bind(d.due_at);
        }
        let inserted = insert.fetch_all(&mut *conn).await?;
        let keys = rows.iter().map(|d| (d.bot.clone(), d.charge_id.clone()));
        let fresh = first_returned(&inserted, keys)?;
        let prepared: Vec<NewEvent> = rows
            .iter()
            .zip(&fresh)
            .filter(|(_, new)| **new)
            .map(|(d, _)| {
                let subject = Subject {
                    charge_id: Some(d.charge_id.as_str()),
                    ..Default::default()
                };
                NewEvent::new(
                    d.at,
                    &d.bot,
                    EventKind::DeliveryPrepared,
                    subject,
                    "content stored",
                )
            })
            .collect();
        write_in_chunks(conn, &prepared).await?;
        let mut stored = Vec::with_capacity(rows.len());
        for (d, new) in rows.iter().zip(fresh) {
            if new {
                stored.push(d.content.clone());
            } else {
                // Content was stored first by someone else (a retry, another gateway): theirs.
                let row = query("SELECT content FROM deliveries WHERE bot = $1 AND charge_id = $2")
                    .bind(d.bot.as_str())
                    .bind(d.charge_id.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
                stored.push(row.try_get("content")?);
            }
        }
        Ok(stored)
    }
}

/// A delivery that reached Telegram.
pub(super) struct Sent {
    pub bot: String,
    pub charge_id: String,
    pub at: i64,
}

impl Write for Sent {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    /// Stamps the deliveries sent, then moves their payments from `paid` to `delivered` with one
    /// event each. A payment in any other state (refunded or flagged while its delivery was on
    /// the way, or already delivered) takes the checked path of [`transition`], one at a time.
    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<()>, LedgerError> {
        let values = placeholders(rows.len(), 3, 1);
        let stamp = format!(
            "WITH v (bot, charge_id, at) AS (VALUES {values}) \
             UPDATE deliveries SET sent_at = v.at, attempts = attempts + 1 FROM v \
             WHERE deliveries.bot = v.bot AND deliveries.charge_id = v.charge_id \
             AND deliveries.sent_at IS NULL"
        );
        with_rows(&stamp, rows).execute(&mut *conn).await?;
        // The one move this batch makes, checked against the state machine when compiled.
        const FROM: PaymentStatus = PaymentStatus::Paid;
        const TO: PaymentStatus = PaymentStatus::Delivered;
        const _: () = assert!(FROM.can_become(TO));
        let promote = format!(
            "WITH v (bot, charge_id, at) AS (VALUES {values}) \
             UPDATE payments SET status = '{to}', delivered_at = v.at FROM v \
             WHERE payments.bot = v.bot AND payments.charge_id = v.charge_id \
             AND payments.status = '{from}' \
             RETURNING payments.bot, payments.charge_id, payments.order_id, payments.user_id",
            from = FROM.as_str(),
            to = TO.as_str(),
        );
        let moved = with_rows(&promote, rows).fetch_all(&mut *conn).await?;
        let stamps: std::collections::HashMap<(&str, &str), i64> = rows
            .iter()
            .map(|d| ((d.bot.as_str(), d.charge_id.as_str()), d.at))
            .collect();
        let mut done = HashSet::with_capacity(moved.len());
        let mut events = Vec::with_capacity(moved.len());
        for r in &moved {
            let (bot, charge_id): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let order_id: Option<String> = r.try_get(2)?;
            let subject = Subject {
                order_id: order_id.as_deref(),
                charge_id: Some(charge_id.as_str()),
                user_id: Some(r.try_get(3)?),
            };
            let detail = format!("{FROM} -> {TO}: sent to the buyer");
            let at = stamps
                .get(&(bot.as_str(), charge_id.as_str()))
                .copied()
                .unwrap_or_else(now_ms);
            events.push(NewEvent::new(
                at,
                &bot,
                EventKind::StatusChanged,
                subject,
                &detail,
            ));
            done.insert((bot, charge_id));
        }
        write_in_chunks(conn, &events).await?;
        let facts: Vec<Fact<'_>> = events
            .iter()
            .filter_map(|e| {
                Some(Fact {
                    at: e.at,
                    bot: &e.bot,
                    event_type: SellerEventType::DeliverySucceeded,
                    about: About::Payment {
                        charge_id: e.charge_id.as_deref()?,
                    },
                })
            })
            .collect();
        stage(conn, &facts).await?;
        for d in rows {
            if !done.remove(&(d.bot.clone(), d.charge_id.clone())) {
                delivered_from_elsewhere(conn, d.at, &d.bot, &d.charge_id).await?;
            }
        }
        Ok(vec![(); rows.len()])
    }
}

/// `sql` with each sent delivery's `(bot, charge_id, at)` bound in order.
fn with_rows<'q>(sql: &'q str, rows: &'q [Sent]) -> Query<'q> {
    let mut statement = query(sql);
    for d in rows {
        statement = statement
            .bind(d.bot.as_str())
            .bind(d.charge_id.as_str())
            .bind(d.at);
    }
    statement
}

/// Moves a payment that was not `paid` to `delivered` if its state allows it. When it does not
/// (refunded or flagged while the delivery was on the way), the message did go out all the same,
/// and the history says so: the outbox must never send it again.
async fn delivered_from_elsewhere(
    conn: &mut Conn,
    at: i64,
    bot: &str,
    charge_id: &str,
) -> Result<(), LedgerError> {
    match transition(
        conn,
        at,
        bot,
        charge_id,
        PaymentStatus::Delivered,
        "sent to the buyer",
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(LedgerError::Transition { from, .. }) => {
            let subject = Subject {
                charge_id: Some(charge_id),
                ..Default::default()
            };
            let detail = format!("the delivery went out after the payment became {from}");
            append(
                conn,
                at,
                bot,
                EventKind::DeliveryAttemptFailed,
                subject,
                &detail,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// Parts of a delivery accepted by Telegram.
struct PartsSent {
    bot: String,
    charge_id: String,
    parts: u32,
}

impl Command for PartsSent {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "UPDATE deliveries SET parts_sent = $1 \
             WHERE bot = $2 AND charge_id = $3 AND sent_at IS NULL AND parts_sent < $1",
        )
        .bind(i64::from(self.parts))
        .bind(&self.bot)
        .bind(&self.charge_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// A failed attempt at sending, and when to try again.
struct AttemptFailed {
    bot: String,
    charge_id: String,
    error: String,
    next_attempt_at: i64,
    at: i64,
}

impl Command for AttemptFailed {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
             WHERE bot = $3 AND charge_id = $4 AND sent_at IS NULL",
        )
        .bind(&self.error)
        .bind(self.next_attempt_at)
        .bind(&self.bot)
        .bind(&self.charge_id)
        .execute(&mut *conn)
        .await?;
        let subject = Subject {
            charge_id: Some(&self.charge_id),
            ..Default::default()
        };
        append(
            conn,
            self.at,
            &self.bot,
            EventKind::DeliveryAttemptFailed,
            subject,
            &self.error,
        )
        .await
    }
}

/// A delivery given up, and its payment moved to `status`.
struct GivenUp {
    bot: String,
    charge_id: String,
    error: String,
    status: PaymentStatus,
    at: i64,
}

impl Command for GivenUp {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        let given_up = query(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = $1, failed_at = $2 \
             WHERE bot = $3 AND charge_id = $4 AND sent_at IS NULL",
        )
        .bind(&self.error)
        .bind(self.at)
        .bind(&self.bot)
        .bind(&self.charge_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        // A move to `delivery_failed` is reported by `transition`; a delivery given up into
        // another state (held for review) is reported here.
        if given_up && self.status != PaymentStatus::DeliveryFailed {
            let fact = Fact {
                at: self.at,
                bot: &self.bot,
                event_type: SellerEventType::DeliveryFailed,
                about: About::Payment {
                    charge_id: &self.charge_id,
                },
            };
            stage(conn, &[fact]).await?;
        }
        match transition(
            conn,
            self.at,
            &self.bot,
            &self.charge_id,
            self.status,
            &self.error,
        )
        .await
        {
            Ok(_) | Err(LedgerError::Transition { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
