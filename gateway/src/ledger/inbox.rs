//! The inbox of updates. Ingest writes every update here and commits before Telegram is told it
//! was received (guarantee 1); processing reads it back and marks each one done, so a crash in
//! between means the update is processed after the restart, never lost.

use crate::domain::BotId;
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use super::events::{EventKind, Subject, append};
use super::multirow::{first_returned, placeholders};
use super::writer::{Command, Write};
use super::{Ledger, LedgerError, now_ms};

/// An update as it arrived: its raw JSON, kept whole so nothing Telegram sent is lost even when
/// this gateway does not understand it.
#[derive(Debug, Clone)]
pub struct StoredUpdate {
    pub update_id: i64,
    pub kind: String,
    pub body: String,
    /// When this gateway received it (unix ms): the pre-checkout deadline counts from here.
    pub received_at: i64,
}

impl Ledger {
    /// Stores a batch of updates (queued together, so in one transaction unless the writer's
    /// batch is full) and returns the ones that were new. A repeat
    /// of an update already stored (Telegram redelivers until confirmed) is a no-op.
    pub async fn store_updates(
        &self,
        bot: &BotId,
        updates: &[StoredUpdate],
    ) -> Result<Vec<StoredUpdate>, LedgerError> {
        let bot = bot.as_str();
        let _storing = (!updates.is_empty()).then(|| self.probes.storing());
        let rows = updates
            .iter()
            .map(|u| NewUpdate {
                bot: bot.to_owned(),
                update: u.clone(),
            })
            .collect();
        let mut fresh = Vec::new();
        for (u, new) in updates.iter().zip(self.writer.submit_all(rows).await?) {
            if new? {
                fresh.push(u.clone());
            }
        }
        Ok(fresh)
    }

    /// Stores one update durably (committed together with whatever else is being written at the
    /// same moment, see `writer`). Returns whether it was new (false for a redelivery).
    pub async fn store_update(
        &self,
        bot: &BotId,
        update: &StoredUpdate,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        let _storing = self.probes.storing();
        let row = NewUpdate {
            bot: bot.to_owned(),
            update: update.clone(),
        };
        self.write(row).await
    }

    /// Updates stored but not yet processed, oldest first: the work a restart resumes.
    pub async fn pending_updates(
        &self,
        bot: &BotId,
        limit: i64,
    ) -> Result<Vec<StoredUpdate>, LedgerError> {
        let bot = bot.as_str();
        // Under load each running bot reads its inbox back at least every `INBOX_RECHECK`, and
        // finds it empty or nearly so: a point read (see `readers`).
        let mut conn = self.lookups.lend().await?;
        let rows = query(
            "SELECT update_id, kind, body, received_at FROM updates \
             WHERE bot = $1 AND processed_at IS NULL ORDER BY update_id LIMIT $2",
        )
        .bind(bot)
        .bind(limit)
        .fetch_all(&mut conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredUpdate {
                    update_id: r.try_get("update_id")?,
                    kind: r.try_get("kind")?,
                    body: r.try_get("body")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect()
    }

    pub async fn mark_processed(
        &self,
        bot: &BotId,
        update_id: i64,
        outcome: &str,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        let mark = Mark {
            bot: bot.to_owned(),
            update_id,
            outcome: outcome.to_owned(),
        };
        self.write(mark).await
    }

    /// Marks an update that could not be read as processed and records why, keeping its body:
    /// one malformed update must not block the ones behind it.
    pub async fn mark_unreadable(
        &self,
        bot: &BotId,
        update_id: i64,
        reason: &str,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.run(Unreadable {
            bot: bot.to_owned(),
            update_id,
            reason: reason.to_owned(),
            at: self.stamp(),
        })
        .await
    }

    /// How an update ended, for tests and operators (`None` while unprocessed or unknown).
    pub async fn update_outcome(
        &self,
        bot: &BotId,
        update_id: i64,
    ) -> Result<Option<String>, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query("SELECT outcome FROM updates WHERE bot = $1 AND update_id = $2")
            .bind(bot)
            .bind(update_id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("outcome")?,
            None => None,
        })
    }
}

impl Ledger {
    /// Keeps a webhook body that is not a readable update (its text, lossily decoded).
    pub async fn dead_letter(
        &self,
        bot: &BotId,
        reason: &str,
        body: &[u8],
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.run(DeadLetter {
            bot: bot.to_owned(),
            reason: reason.to_owned(),
            body: String::from_utf8_lossy(body).into_owned(),
        })
        .await
    }

    /// How many dead letters a bot has (for tests and the admin API).
    pub async fn dead_letters(&self, bot: &BotId) -> Result<i64, LedgerError> {
        let bot = bot.as_str();
        let row = sqlx::query("SELECT COUNT(*) AS n FROM dead_letters WHERE bot = $1")
            .bind(bot)
            .fetch_one(&self.reads)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// An update to store in the inbox; the outcome says whether it was new.
pub(super) struct NewUpdate {
    pub bot: String,
    pub update: StoredUpdate,
}

impl Write for NewUpdate {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<bool>, LedgerError> {
        let sql = format!(
            "INSERT INTO updates (bot, update_id, kind, body, received_at) VALUES {} \
             ON CONFLICT (bot, update_id) DO NOTHING RETURNING bot, update_id",
            placeholders(rows.len(), 5, 1)
        );
        let mut query = query(&sql);
        for row in rows {
            let u = &row.update;
            query = query
                .bind(row.bot.as_str())
                .bind(u.update_id)
                .bind(u.kind.as_str())
                .bind(u.body.as_str())
                .bind(u.received_at);
        }
        let inserted = query.fetch_all(&mut *conn).await?;
        let keys = rows.iter().map(|r| (r.bot.clone(), r.update.update_id));
        first_returned(&inserted, keys)
    }
}

/// An update processed, with how it ended.
pub(super) struct Mark {
    pub bot: String,
    pub update_id: i64,
    pub outcome: String,
}

impl Write for Mark {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<()>, LedgerError> {
        let sql = format!(
            "WITH v (bot, update_id, outcome) AS (VALUES {}) \
             UPDATE updates SET processed_at = $1, outcome = v.outcome FROM v \
             WHERE updates.bot = v.bot AND updates.update_id = v.update_id \
             AND updates.processed_at IS NULL",
            placeholders(rows.len(), 3, 2)
        );
        let mut query = query(&sql).bind(now_ms());
        for row in rows {
            query = query
                .bind(row.bot.as_str())
                .bind(row.update_id)
                .bind(row.outcome.as_str());
        }
        query.execute(&mut *conn).await?;
        Ok(vec![(); rows.len()])
    }
}

/// An update that could not be read, marked processed with why (its body is kept).
struct Unreadable {
    bot: String,
    update_id: i64,
    reason: String,
    at: i64,
}

impl Command for Unreadable {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
            "UPDATE updates SET processed_at = $1, outcome = $2 \
             WHERE bot = $3 AND update_id = $4",
        )
        .bind(now_ms())
        .bind(format!("unreadable: {}", self.reason))
        .bind(&self.bot)
        .bind(self.update_id)
        .execute(&mut *conn)
        .await?;
        append(
            conn,
            self.at,
            &self.bot,
            EventKind::UpdateUnreadable,
            Subject::default(),
            &format!("update {}: {}", self.update_id, self.reason),
        )
        .await
    }
}

/// A webhook body that is not a readable update, kept as text.
struct DeadLetter {
    bot: String,
    reason: String,
    body: String,
}

impl Command for DeadLetter {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query("INSERT INTO dead_letters (bot, received_at, reason, body) VALUES ($1, $2, $3, $4)")
            .bind(&self.bot)
            .bind(now_ms())
            .bind(&self.reason)
            .bind(&self.body)
            .execute(conn)
            .await?;
        Ok(())
    }
}
