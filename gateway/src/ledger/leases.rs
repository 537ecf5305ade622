//! Leases: how several gateways share one ledger without doing the same work twice.
//!
//! A bot is run by one gateway at a time, the holder of its lease in `bot_leases`. The holder
//! renews it well before it expires; a gateway that dies stops renewing, and another takes the
//! bot over once the lease has expired. Deliveries are additionally claimed one by one
//! (`claim_delivery`), so even two gateways that both believe they hold a bot (a stalled holder
//! waking up) cannot send the same delivery twice. Both use plain conditional upserts, so the
//! same SQL works on SQLite and PostgreSQL. Times come from each gateway's clock: keep them in
//! sync (NTP); a lease of 15 s tolerates seconds of skew.

use crate::domain::{BotId, ChargeId};
use crate::holder::Holder;
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::multirow::placeholders;
use super::writer::{Command, Write};
use super::{Ledger, LedgerError, now_ms};

impl Ledger {
    /// Takes or renews the lease on `bot` for `holder`; true if `holder` now holds it.
    pub async fn lease_bot(
        &self,
        bot: &BotId,
        holder: &Holder,
        lease_ms: i64,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        self.run(Lease {
            bot: bot.to_owned(),
            holder: holder.to_string(),
            lease_ms,
        })
        .await
    }

    /// Takes the lease on `bot` from `dead`, a holder known to have died (a crashed earlier run of
    /// this very gateway), without waiting for it to expire. True if taken.
    pub async fn take_over_bot(
        &self,
        bot: &BotId,
        dead: &Holder,
        holder: &Holder,
        lease_ms: i64,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        self.run(TakeOver {
            bot: bot.to_owned(),
            dead: dead.to_string(),
            holder: holder.to_string(),
            lease_ms,
        })
        .await
    }

    /// Who holds the lease on `bot`, if anyone.
    pub async fn bot_holder(&self, bot: &BotId) -> Result<Option<Holder>, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query("SELECT holder FROM bot_leases WHERE bot = $1")
            .bind(bot)
            .fetch_optional(&self.reads)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let raw: String = r.try_get("holder")?;
        Holder::parse(&raw)
            .map(Some)
            .map_err(|why| LedgerError::Unreadable {
                column: "holder",
                why,
            })
    }

    /// Gives a lease up (a graceful stop), so another gateway can take the bot at once.
    pub async fn release_bot(&self, bot: &BotId, holder: &Holder) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.run(Release {
            bot: bot.to_owned(),
            holder: holder.to_string(),
        })
        .await
    }

    /// Claims a due delivery for `holder` for `claim_ms`; true if this gateway may send it now.
    pub async fn claim_delivery(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        holder: &Holder,
        claim_ms: i64,
    ) -> Result<Option<u32>, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        let now = now_ms();
        let claim = Claim {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            holder: holder.to_string(),
            until: now + claim_ms,
            now,
        };
        self.write(claim).await
    }
}

/// A claim on a delivery: granted unless it is sent, given up, claimed by another gateway whose
/// claim has not run out, or its payment is no longer `paid` (refunded or held meanwhile).
pub(super) struct Claim {
    pub bot: String,
    pub charge_id: String,
    pub holder: String,
    /// Until when the claim holds (unix ms).
    pub until: i64,
    pub now: i64,
}

impl Write for Claim {
    /// `Some(parts already sent)` when claimed.
    type Out = Option<u32>;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<Option<u32>>, LedgerError> {
        let sql = format!(
            "WITH v (bot, charge_id, holder, until_ms, now_ms) AS (VALUES {}) \
             UPDATE deliveries SET claimed_by = v.holder, claimed_until = v.until_ms FROM v \
             WHERE deliveries.bot = v.bot AND deliveries.charge_id = v.charge_id \
             AND deliveries.sent_at IS NULL AND deliveries.failed_at IS NULL \
             AND (deliveries.claimed_until IS NULL OR deliveries.claimed_until < v.now_ms \
                  OR deliveries.claimed_by = v.holder) \
             AND EXISTS (SELECT 1 FROM payments p WHERE p.bot = deliveries.bot \
                         AND p.charge_id = deliveries.charge_id AND p.status = 'paid') \
             RETURNING deliveries.bot, deliveries.charge_id, deliveries.parts_sent",
            placeholders(rows.len(), 5, 1)
        );
        let mut query = query(&sql);
        for c in rows {
            query = query
                .bind(c.bot.as_str())
                .bind(c.charge_id.as_str())
                .bind(c.holder.as_str())
                .bind(c.until)
                .bind(c.now);
        }
        let claimed = query.fetch_all(&mut *conn).await?;
        let mut parts = std::collections::HashMap::with_capacity(claimed.len());
        for r in &claimed {
            let key: (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let sent = u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
            parts.insert(key, sent);
        }
        // A charge claimed twice in one batch is granted to its first claim only.
        Ok(rows
            .iter()
            .map(|c| parts.remove(&(c.bot.clone(), c.charge_id.clone())))
            .collect())
    }
}

/// Takes or renews a bot's lease.
struct Lease {
    bot: String,
    holder: String,
    lease_ms: i64,
}

impl Command for Lease {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let now = now_ms();
        let done = query(
            "INSERT INTO bot_leases (bot, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (bot) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE bot_leases.holder = excluded.holder OR bot_leases.until < $4",
        )
        .bind(&self.bot)
        .bind(&self.holder)
        .bind(now + self.lease_ms)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Takes a dead holder's lease at once and releases its delivery claims.
struct TakeOver {
    bot: String,
    dead: String,
    holder: String,
    lease_ms: i64,
}

impl Command for TakeOver {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let done =
            query("UPDATE bot_leases SET holder = $1, until = $2 WHERE bot = $3 AND holder = $4")
                .bind(&self.holder)
                .bind(now_ms() + self.lease_ms)
                .bind(&self.bot)
                .bind(&self.dead)
                .execute(&mut *conn)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // Its deliveries in flight died with it: release their claims.
        query(
            "UPDATE deliveries SET claimed_until = NULL \
             WHERE bot = $1 AND claimed_by = $2 AND sent_at IS NULL",
        )
        .bind(&self.bot)
        .bind(&self.dead)
        .execute(conn)
        .await?;
        Ok(true)
    }
}

/// Gives a lease up.
struct Release {
    bot: String,
    holder: String,
}

impl Command for Release {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query("DELETE FROM bot_leases WHERE bot = $1 AND holder = $2")
            .bind(&self.bot)
            .bind(&self.holder)
            .execute(conn)
            .await?;
        Ok(())
    }
}
