//! Star subscriptions: one row per (bot, buyer, product), moved forward by each paid charge
//! (first payment or renewal) and by the buyer's cancel and re-enable. The charges themselves
//! are payments, with the same exactly-once guarantees as any other.

use sqlx::Row;

use super::events::{EventKind, Subject, append};
use super::{Ledger, LedgerError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub bot: String,
    pub user_id: i64,
    pub product: String,
    pub first_charge_id: String,
    pub last_charge_id: String,
    /// `active`, `cancelled` (renewal off, still running), `expired` or `failed`.
    pub state: String,
    /// Unix ms.
    pub expires_at: i64,
}

impl Ledger {
    /// Records that `charge_id` paid the subscription until `expires_at` (unix ms): the first
    /// charge creates it, a renewal extends it. A charge older than the one on record does not
    /// move the expiry back.
    pub async fn subscription_paid(
        &self,
        bot: &str,
        user_id: i64,
        product: &str,
        charge_id: &str,
        expires_at: i64,
    ) -> Result<(), LedgerError> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO subscriptions (bot, user_id, product, first_charge_id, last_charge_id, state, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4, 'active', $5, $6) \
             ON CONFLICT (bot, user_id, product) DO UPDATE SET last_charge_id = excluded.last_charge_id, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at, \
             state = CASE WHEN subscriptions.state = 'cancelled' THEN 'cancelled' ELSE 'active' END \
             WHERE subscriptions.expires_at < excluded.expires_at",
        )
        .bind(bot)
        .bind(user_id)
        .bind(product)
        .bind(charge_id)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let subject = Subject {
            charge_id: Some(charge_id),
            user_id: Some(user_id),
            ..Default::default()
        };
        append(
            &mut tx,
            bot,
            EventKind::SubscriptionChanged,
            subject,
            &format!("{product} paid until {expires_at}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a subscription's state (`active`/`cancelled`/`failed`) and records why. An expired
    /// membership is left alone: only a new payment brings it back.
    pub async fn set_subscription_state(
        &self,
        bot: &str,
        user_id: i64,
        product: &str,
        state: &str,
        detail: &str,
    ) -> Result<bool, LedgerError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE subscriptions SET state = $1, updated_at = $2 \
             WHERE bot = $3 AND user_id = $4 AND product = $5 AND state <> $1 AND state <> 'expired'",
        )
        .bind(state)
        .bind(now_ms())
        .bind(bot)
        .bind(user_id)
        .bind(product)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if done {
            let subject = Subject {
                user_id: Some(user_id),
                ..Default::default()
            };
            append(
                &mut tx,
                bot,
                EventKind::SubscriptionChanged,
                subject,
                &format!("{product} -> {state}: {detail}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// A buyer's subscriptions in a bot, soonest expiry first.
    pub async fn subscriptions(
        &self,
        bot: &str,
        user_id: i64,
    ) -> Result<Vec<Subscription>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND user_id = $2 ORDER BY expires_at"
        ))
        .bind(bot)
        .bind(user_id)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The subscription a buyer's invoice payload (our order id) belongs to, as Telegram names
    /// it in a `subscription` update.
    pub async fn subscription_by_payload(
        &self,
        bot: &str,
        user_id: i64,
        payload: &str,
    ) -> Result<Option<Subscription>, LedgerError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND user_id = $2 AND product = \
             (SELECT product FROM orders WHERE order_id = $3 AND bot = $1)"
        ))
        .bind(bot)
        .bind(user_id)
        .bind(payload)
        .fetch_optional(&self.reads)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Expires every membership of `bot` whose paid period ended more than `grace_ms` before
    /// `now_ms` and returns those this call expired. Each row moves by a conditional update, so
    /// when several gateways sweep at once exactly one of them expires (and revokes) it.
    pub async fn expire_due(
        &self,
        bot: &str,
        now_ms: i64,
        grace_ms: i64,
    ) -> Result<Vec<Subscription>, LedgerError> {
        let cutoff = now_ms.saturating_sub(grace_ms);
        let due = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions \
             WHERE bot = $1 AND expires_at < $2 AND state <> 'expired' ORDER BY expires_at LIMIT 500"
        ))
        .bind(bot)
        .bind(cutoff)
        .fetch_all(&self.reads)
        .await?;
        let mut expired = Vec::new();
        for row in &due {
            let sub = from_row(row)?;
            let mut tx = self.begin().await?;
            let moved = sqlx::query(
                "UPDATE subscriptions SET state = 'expired', updated_at = $1 \
                 WHERE bot = $2 AND user_id = $3 AND product = $4 AND state = $5 AND expires_at = $6",
            )
            .bind(now_ms)
            .bind(bot)
            .bind(sub.user_id)
            .bind(&sub.product)
            .bind(&sub.state)
            .bind(sub.expires_at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if moved {
                let subject = Subject {
                    charge_id: Some(&sub.last_charge_id),
                    user_id: Some(sub.user_id),
                    ..Default::default()
                };
                let detail = format!(
                    "{} -> expired: not renewed by {} (was {})",
                    sub.product, sub.expires_at, sub.state
                );
                append(
                    &mut tx,
                    bot,
                    EventKind::SubscriptionChanged,
                    subject,
                    &detail,
                )
                .await?;
            }
            tx.commit().await?;
            if moved {
                expired.push(sub);
            }
        }
        Ok(expired)
    }

    /// The subscription's latest charge was refunded: its access ends now, so it is expired
    /// (and the expiry sweep will not revoke it a second time). False when `charge_id` is not the
    /// latest charge of a running subscription.
    pub async fn subscription_refunded(
        &self,
        bot: &str,
        charge_id: &str,
    ) -> Result<Option<Subscription>, LedgerError> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE bot = $1 AND last_charge_id = $2 AND state <> 'expired'"
        ))
        .bind(bot)
        .bind(charge_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(sub) = row.as_ref().map(from_row).transpose()? else {
            tx.commit().await?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE subscriptions SET state = 'expired', updated_at = $1 \
             WHERE bot = $2 AND user_id = $3 AND product = $4",
        )
        .bind(now_ms())
        .bind(bot)
        .bind(sub.user_id)
        .bind(&sub.product)
        .execute(&mut *tx)
        .await?;
        let subject = Subject {
            charge_id: Some(charge_id),
            user_id: Some(sub.user_id),
            ..Default::default()
        };
        let detail = format!("{} -> expired: its latest charge was refunded", sub.product);
        append(
            &mut tx,
            bot,
            EventKind::SubscriptionChanged,
            subject,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(sub))
    }
}

const COLUMNS: &str = "bot, user_id, product, first_charge_id, last_charge_id, state, expires_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Subscription, LedgerError> {
    Ok(Subscription {
        bot: r.try_get("bot")?,
        user_id: r.try_get("user_id")?,
        product: r.try_get("product")?,
        first_charge_id: r.try_get("first_charge_id")?,
        last_charge_id: r.try_get("last_charge_id")?,
        state: r.try_get("state")?,
        expires_at: r.try_get("expires_at")?,
    })
}
