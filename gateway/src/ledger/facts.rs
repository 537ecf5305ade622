//! Ledger facts plugins are given (so they can stay stateless), and the gateway's own secrets.

use crate::domain::{BotId, ChargeId, ProductId};
use std::sync::LazyLock;

use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::writer::Command;
use super::{Ledger, LedgerError};
use crate::plugins::Facts;

/// Payments that count as sold: not refunded, not held for review ([`PaymentStatus::is_sold`]).
/// Spelled exactly as the `payments_sold` index's condition (migration 0008), so a count reads
/// only that index.
///
/// [`PaymentStatus::is_sold`]: super::PaymentStatus::is_sold
const SOLD: &str = "status IN ('paid', 'delivered', 'delivery_failed')";

/// A product's sales ($1 bot, $2 product) as of now, in all and to one buyer ($3): two counter
/// rows (see [`super::sales`]).
const NOW: &str = "SELECT \
     COALESCE((SELECT units FROM product_sales WHERE bot = $1 AND product = $2), 0) AS units, \
     COALESCE((SELECT units FROM buyer_sales WHERE bot = $1 AND product = $2 AND user_id = $3), 0) \
     AS mine";

/// The same before one payment ($4 paid_at, $5 charge_id): the counters less the sales from that
/// payment on, read in the same statement so both see one snapshot. A delivery asks right after
/// its payment is recorded, when few or none come after it; only delivering an old payment again
/// counts the product's later sales (one range of the `payments_sold` index).
static BEFORE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT \
         COALESCE((SELECT units FROM product_sales WHERE bot = $1 AND product = $2), 0) \
         - COUNT(*) AS units, \
         COALESCE((SELECT units FROM buyer_sales WHERE bot = $1 AND product = $2 AND user_id = $3), 0) \
         - COALESCE(SUM(CASE WHEN user_id = $3 THEN 1 ELSE 0 END), 0) AS mine \
         FROM payments WHERE bot = $1 AND product = $2 AND {SOLD} \
         AND (paid_at, charge_id) >= ($4, $5)"
    )
});

impl Ledger {
    /// Purchases of `product` by `user_id` and by anyone. With `before`, only payments made
    /// before that one (`paid_at`, `charge_id`), so a delivery sees the same facts on a retry.
    pub async fn facts(
        &self,
        bot: &BotId,
        product: &ProductId,
        user_id: i64,
        before: Option<(i64, &ChargeId)>,
    ) -> Result<Facts, LedgerError> {
        let bot = bot.as_str();
        let mut conn = self.lookups.lend().await?;
        let row = match before {
            None => {
                query(NOW)
                    .bind(bot)
                    .bind(product)
                    .bind(user_id)
                    .fetch_one(&mut conn)
                    .await?
            }
            Some((paid_at, charge)) => {
                query(BEFORE.as_str())
                    .bind(bot)
                    .bind(product)
                    .bind(user_id)
                    .bind(paid_at)
                    .bind(charge)
                    .fetch_one(&mut conn)
                    .await?
            }
        };
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        Ok(Facts {
            buyer_purchases: count(row.try_get("mine")?),
            units_sold: count(row.try_get("units")?),
        })
    }

    /// A secret generated on first use and kept in the ledger, hex-encoded.
    pub async fn secret(&self, name: &str) -> Result<String, LedgerError> {
        let fresh: [u8; 32] = rand::random();
        self.run(Secret {
            name: name.to_owned(),
            value: hex::encode(fresh),
        })
        .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.reads)
            .await?;
        Ok(row.try_get("value")?)
    }
}

impl Ledger {
    /// How far reconciliation has read this bot's star transactions.
    pub async fn reconcile_offset(&self, bot: &BotId) -> Result<i64, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query("SELECT next_offset FROM reconcile_state WHERE bot = $1")
            .bind(bot)
            .fetch_optional(&self.reads)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("next_offset")?,
            None => 0,
        })
    }

    pub async fn set_reconcile_offset(&self, bot: &BotId, offset: i64) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.run(ReconcileOffset {
            bot: bot.to_owned(),
            offset,
        })
        .await
    }
}

/// A secret stored unless one of that name already is.
struct Secret {
    name: String,
    value: String,
}

impl Command for Secret {
    type Out = ();

    fn bot(&self) -> &str {
        ""
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(&self.name)
            .bind(&self.value)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// How far reconciliation has read a bot's star transactions.
struct ReconcileOffset {
    bot: String,
    offset: i64,
}

impl Command for ReconcileOffset {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "INSERT INTO reconcile_state (bot, next_offset, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bot) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at",
        )
        .bind(&self.bot)
        .bind(self.offset)
        .bind(super::now_ms())
        .execute(conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::BEFORE;
    use crate::config::LedgerUrl;
    use crate::ledger::Ledger;

    /// A delivery counts the sales from its payment on; if `SOLD` and the index's condition drift
    /// apart, SQLite silently falls back to a lookup per sale.
    #[tokio::test]
    async fn the_sales_count_reads_only_the_sold_payments_index() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("no temporary directory: {e}"),
        };
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let ledger = match Ledger::connect(&LedgerUrl::new(&url)).await {
            Ok(l) => l,
            Err(e) => panic!("cannot open a test ledger: {e}"),
        };
        let plan = sqlx::query(&format!("EXPLAIN QUERY PLAN {}", *BEFORE))
            .bind("b")
            .bind("item")
            .bind(7_i64)
            .bind(i64::MAX)
            .bind("")
            .fetch_all(&ledger.reads)
            .await;
        let steps: Vec<String> = match plan {
            Ok(rows) => rows
                .iter()
                .filter_map(|r| r.try_get::<String, _>("detail").ok())
                .collect(),
            Err(e) => panic!("cannot explain the facts query: {e}"),
        };
        assert!(
            steps
                .iter()
                .any(|s| s.contains("COVERING INDEX payments_sold")),
            "the facts query should read only payments_sold, but its plan is {steps:?}"
        );
    }
}
