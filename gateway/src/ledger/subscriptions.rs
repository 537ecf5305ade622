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

    /// Sets a subscription's state (`active`/`cancelled`/…) and records why.
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
             WHERE bot = $3 AND user_id = $4 AND product = $5 AND state <> $1",
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
        let rows = sqlx::query(
            "SELECT bot, user_id, product, first_charge_id, last_charge_id, state, expires_at \
             FROM subscriptions WHERE bot = $1 AND user_id = $2 ORDER BY expires_at",
        )
        .bind(bot)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Subscription {
                    bot: r.try_get("bot")?,
                    user_id: r.try_get("user_id")?,
                    product: r.try_get("product")?,
                    first_charge_id: r.try_get("first_charge_id")?,
                    last_charge_id: r.try_get("last_charge_id")?,
                    state: r.try_get("state")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }
}
