//! Recording a successful payment: once per charge id (guarantee 2), with its events, before
//! anything is delivered. Payments arriving together share statements (see `writer`).

use crate::ledger::conn::{Conn, query};

use crate::domain::SellerEventType;

use super::super::events::{EventKind, NewEvent, Subject};
use super::super::multirow::{first_returned, placeholders};
use super::super::sales::{Sale, count};
use super::super::seller_events::stage::{About, Fact, stage};
use super::super::writer::{Write, write_in_chunks};
use super::super::{Ledger, LedgerError};
use super::{NewPayment, Payment, PaymentStatus, Recorded, fetch_payment};

/// A payment to record, as its row will read.
pub(crate) struct PaymentRow {
    payment: Payment,
    provider_charge_id: Option<String>,
    update_id: Option<i64>,
}

impl Ledger {
    /// Records a successful payment once. The insert, its event and (for a mismatch) the review
    /// flag commit together, before anything is delivered.
    pub async fn record_payment(&self, p: &NewPayment<'_>) -> Result<Recorded, LedgerError> {
        let status = if p.review_reason.is_some() {
            PaymentStatus::NeedsReview
        } else {
            PaymentStatus::Paid
        };
        let row = PaymentRow {
            payment: Payment {
                bot: p.bot.clone(),
                charge_id: p.charge_id.clone(),
                order_id: p.order_id.cloned(),
                payload: p.payload.to_owned(),
                user_id: p.user_id,
                chat_id: p.chat_id,
                product: p.product.cloned(),
                amount: p.amount,
                currency: p.currency.to_owned(),
                status,
                review_reason: p.review_reason.clone(),
                plugin_sha256: p.plugin_sha256.map(str::to_owned),
                paid_at: self.stamp(),
                delivered_at: None,
                refunded_at: None,
                is_renewal: p.is_renewal,
                expires_at: p.expires_at,
                pricing: p.pricing.clone(),
            },
            provider_charge_id: p.provider_charge_id.map(str::to_owned),
            update_id: p.update_id,
        };
        self.write(row).await
    }
}

impl Write for PaymentRow {
    type Out = Recorded;

    fn bot(&self) -> &str {
        &self.payment.bot
    }

    /// The new payments, then one event each (two for a flagged one), then a read of each charge
    /// that was already recorded.
    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<Recorded>, LedgerError> {
        let sql = format!(
            "INSERT INTO payments (bot, charge_id, order_id, payload, user_id, chat_id, product, \
             amount, currency, provider_charge_id, status, review_reason, plugin_sha256, paid_at, \
             update_id, is_renewal, expires_at, list_price, promo_code, discount_source) VALUES {} \
             ON CONFLICT (bot, charge_id) DO NOTHING RETURNING bot, charge_id",
            placeholders(rows.len(), 20, 1)
        );
        let mut query = query(&sql);
        for row in rows {
            let p = &row.payment;
            query = query
                .bind(p.bot.as_str())
                .bind(p.charge_id.as_str())
                .bind(p.order_id.as_deref())
                .bind(p.payload.as_str())
                .bind(p.user_id)
                .bind(p.chat_id)
                .bind(p.product.as_deref())
                .bind(p.amount)
                .bind(p.currency.as_str())
                .bind(row.provider_charge_id.as_deref())
                .bind(p.status.as_str())
                .bind(p.review_reason.as_deref())
                .bind(p.plugin_sha256.as_deref())
                .bind(p.paid_at)
                .bind(row.update_id)
                .bind(i64::from(p.is_renewal))
                .bind(p.expires_at)
                .bind(p.pricing.list_price)
                .bind(p.pricing.promo_code.as_ref().map(|c| c.as_str()))
                .bind(p.pricing.discount_source.map(|s| s.as_str()));
        }
        let inserted = query.fetch_all(&mut *conn).await?;
        let keys = rows
            .iter()
            .map(|r| (r.payment.bot.to_string(), r.payment.charge_id.to_string()));
        let fresh = first_returned(&inserted, keys)?;
        let mut events = Vec::with_capacity(rows.len());
        for (row, new) in rows.iter().zip(&fresh) {
            let p = &row.payment;
            let subject = Subject {
                order_id: p.order_id.as_deref(),
                charge_id: Some(p.charge_id.as_str()),
                user_id: Some(p.user_id),
            };
            if *new {
                let product = p.product.as_deref().unwrap_or("?");
                let detail = format!("{} {} for {product}", p.amount, p.currency);
                events.push(NewEvent::new(
                    p.paid_at,
                    &p.bot,
                    EventKind::PaymentRecorded,
                    subject.clone(),
                    &detail,
                ));
                if let Some(reason) = &p.review_reason {
                    events.push(NewEvent::new(
                        p.paid_at,
                        &p.bot,
                        EventKind::PaymentFlagged,
                        subject,
                        reason,
                    ));
                }
            } else {
                let detail = format!("repeat in update {}", row.update_id.unwrap_or(-1));
                // A retry of the same update (after a ledger error later in its handling) finds
                // the repeat already noted: the history holds one event per repeating update.
                if repeat_noted(conn, p, &detail).await? {
                    continue;
                }
                events.push(NewEvent::new(
                    p.paid_at,
                    &p.bot,
                    EventKind::PaymentRepeated,
                    subject,
                    &detail,
                ));
            }
        }
        write_in_chunks(conn, &events).await?;
        let sold: Vec<Sale> = rows
            .iter()
            .zip(&fresh)
            .filter(|(_, new)| **new)
            .filter_map(|(row, _)| {
                let p = &row.payment;
                Sale::of_change(&p.bot, p.product.as_deref(), p.user_id, None, p.status)
            })
            .collect();
        count(conn, &sold).await?;
        let mut facts = Vec::new();
        for (row, new) in rows.iter().zip(&fresh) {
            let p = &row.payment;
            if !*new {
                continue;
            }
            let about = About::Payment {
                charge_id: &p.charge_id,
            };
            facts.push(Fact {
                at: p.paid_at,
                bot: &p.bot,
                event_type: SellerEventType::PaymentSucceeded,
                about,
            });
            if p.review_reason.is_some() {
                facts.push(Fact {
                    at: p.paid_at,
                    bot: &p.bot,
                    event_type: SellerEventType::PaymentNeedsReview,
                    about,
                });
            }
        }
        stage(conn, &facts).await?;
        let mut recorded = Vec::with_capacity(rows.len());
        for (row, new) in rows.iter().zip(fresh) {
            let p = &row.payment;
            if new {
                recorded.push(Recorded::New(p.clone()));
                continue;
            }
            let stored = fetch_payment(conn, &p.bot, &p.charge_id)
                .await?
                .ok_or_else(|| LedgerError::UnknownPayment {
                    bot: p.bot.to_string(),
                    charge_id: p.charge_id.to_string(),
                })?;
            recorded.push(Recorded::Repeat(stored));
        }
        Ok(recorded)
    }
}

/// True when this repeat (same charge, same update) is already in the history.
async fn repeat_noted(conn: &mut Conn, p: &Payment, detail: &str) -> Result<bool, LedgerError> {
    let found = query(
        "SELECT 1 AS one FROM events WHERE bot = $1 AND charge_id = $2 AND kind = $3 AND detail = $4",
    )
    .bind(p.bot.as_str())
    .bind(p.charge_id.as_str())
    .bind(EventKind::PaymentRepeated.as_str())
    .bind(detail)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}
