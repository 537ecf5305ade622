//! Leases: how several gateways share one ledger without doing the same work twice.
//!
//! A bot is run by one gateway at a time, the holder of its lease in `bot_leases`. The holder
//! renews it well before it expires; a gateway that dies stops renewing, and another takes the
//! bot over once the lease has expired. Deliveries are additionally claimed one by one
//! (`claim_delivery`), so even two gateways that both believe they hold a bot (a stalled holder
//! waking up) cannot send the same delivery twice. Both use plain conditional upserts, so the
//! same SQL works on SQLite and PostgreSQL. Times come from each gateway's clock: keep them in
//! sync (NTP); a lease of 15 s tolerates seconds of skew.

use super::{Ledger, LedgerError, now_ms};

impl Ledger {
    /// Takes or renews the lease on `bot` for `holder`; true if `holder` now holds it.
    pub async fn lease_bot(
        &self,
        bot: &str,
        holder: &str,
        lease_ms: i64,
    ) -> Result<bool, LedgerError> {
        let now = now_ms();
        let mut tx = self.begin_single().await?;
        let done = sqlx::query(
            "INSERT INTO bot_leases (bot, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (bot) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE bot_leases.holder = excluded.holder OR bot_leases.until < $4",
        )
        .bind(bot)
        .bind(holder)
        .bind(now + lease_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the lease on `bot` from `dead`, a holder known to have died (a crashed earlier run of
    /// this very gateway), without waiting for it to expire. True if taken.
    pub async fn take_over_bot(
        &self,
        bot: &str,
        dead: &str,
        holder: &str,
        lease_ms: i64,
    ) -> Result<bool, LedgerError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE bot_leases SET holder = $1, until = $2 WHERE bot = $3 AND holder = $4",
        )
        .bind(holder)
        .bind(now_ms() + lease_ms)
        .bind(bot)
        .bind(dead)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // Its deliveries in flight died with it: release their claims.
        sqlx::query("UPDATE deliveries SET claimed_until = NULL WHERE bot = $1 AND claimed_by = $2 AND sent_at IS NULL")
            .bind(bot)
            .bind(dead)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Who holds the lease on `bot`, if anyone.
    pub async fn bot_holder(&self, bot: &str) -> Result<Option<String>, LedgerError> {
        use sqlx::Row;
        let row = sqlx::query("SELECT holder FROM bot_leases WHERE bot = $1")
            .bind(bot)
            .fetch_optional(&self.reads)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("holder")?),
            None => None,
        })
    }

    /// Gives a lease up (a graceful stop), so another gateway can take the bot at once.
    pub async fn release_bot(&self, bot: &str, holder: &str) -> Result<(), LedgerError> {
        let mut tx = self.begin_single().await?;
        sqlx::query("DELETE FROM bot_leases WHERE bot = $1 AND holder = $2")
            .bind(bot)
            .bind(holder)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Claims a due delivery for `holder` for `claim_ms`; true if this gateway may send it now.
    pub async fn claim_delivery(
        &self,
        bot: &str,
        charge_id: &str,
        holder: &str,
        claim_ms: i64,
    ) -> Result<bool, LedgerError> {
        let now = now_ms();
        let mut tx = self.begin_single().await?;
        let done = sqlx::query(
            "UPDATE deliveries SET claimed_by = $1, claimed_until = $2 \
             WHERE bot = $3 AND charge_id = $4 AND sent_at IS NULL AND failed_at IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $5 OR claimed_by = $1)",
        )
        .bind(holder)
        .bind(now + claim_ms)
        .bind(bot)
        .bind(charge_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
