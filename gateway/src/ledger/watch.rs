//! What a gateway asks the ledger about all of its bots at once, so its idle cost does not grow
//! with the number of bots: one lease renewal for every bot it runs, and one look each at the
//! inbox and the outbox for bots with work waiting (stored by another gateway, left by a crash,
//! or a retry coming due), and one for memberships past their paid period. The gateway's watch
//! (`app::watch`) wakes only those bots.

use crate::holder::Holder;
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::writer::Command;
use super::{Ledger, LedgerError, now_ms};

impl Ledger {
    /// Renews every lease `holder` has, for `lease_ms` from now, and returns the bots it still
    /// holds: a bot missing from the answer was taken over by another gateway.
    pub async fn renew_leases(
        &self,
        holder: &Holder,
        lease_ms: i64,
    ) -> Result<Vec<String>, LedgerError> {
        self.run(Renew {
            holder: holder.to_string(),
            lease_ms,
        })
        .await
    }

    /// Bots with stored updates not yet processed.
    pub async fn bots_with_pending_updates(&self) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query("SELECT DISTINCT bot FROM updates WHERE processed_at IS NULL")
            .fetch_all(&self.reads)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Bots with a membership whose paid period ended before `now_ms` and that is not yet
    /// expired: the candidates for an expiry sweep (each bot then applies its own grace).
    pub async fn bots_with_lapsing_memberships(
        &self,
        now_ms: i64,
    ) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query(
            "SELECT DISTINCT bot FROM subscriptions WHERE expires_at < $1 AND state <> $2",
        )
        .bind(now_ms)
        .bind(super::SubscriptionState::Expired.as_str())
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Bots with a delivery due now whose payment is still `paid` (one the outbox would send).
    pub async fn bots_with_due_deliveries(&self) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query(
            "SELECT DISTINCT bot FROM deliveries \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
             AND EXISTS (SELECT 1 FROM payments p WHERE p.bot = deliveries.bot \
                         AND p.charge_id = deliveries.charge_id AND p.status = 'paid')",
        )
        .bind(now_ms())
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }
}

/// Every lease of one holder, renewed by one statement.
struct Renew {
    holder: String,
    lease_ms: i64,
}

impl Command for Renew {
    type Out = Vec<String>;

    fn bot(&self) -> &str {
        ""
    }

    async fn apply(&self, conn: &mut Conn) -> Result<Vec<String>, LedgerError> {
        let rows = query("UPDATE bot_leases SET until = $1 WHERE holder = $2 RETURNING bot")
            .bind(now_ms() + self.lease_ms)
            .bind(&self.holder)
            .fetch_all(conn)
            .await?;
        rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
    }
}
