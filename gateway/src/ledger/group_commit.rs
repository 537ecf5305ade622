//! Group commit for webhook ingest. Each webhook request must not be answered before its update
//! is durably stored (guarantee 1), and with SQLite every commit is an fsync on the one writer
//! connection. Concurrent requests (Telegram opens up to `max_connections` per bot, and there are
//! many bots) therefore hand their update to one writer task, which stores everything queued at
//! that moment in a single transaction and then answers each request. Nothing waits on purpose:
//! a lone update is committed at once, and under load the batch is whatever arrived during the
//! previous commit.

use std::sync::{Arc, OnceLock};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::inbox::StoredUpdate;
use super::{Backend, Ledger, LedgerError};

/// Most updates stored in one transaction.
const MAX_BATCH: usize = 256;
/// Requests waiting for the writer before new ones wait for room (backpressure).
const QUEUE: usize = 4096;

struct Job {
    bot: String,
    update: StoredUpdate,
    /// True when the update was new; the error text when the batch could not be stored.
    reply: oneshot::Sender<Result<bool, String>>,
}

/// The writer task's queue, started on first use. The task holds only the pool, so it ends
/// when the last `Ledger` clone (and with it this sender) is dropped.
#[derive(Clone, Default)]
pub(super) struct InboxWriter(Arc<OnceLock<mpsc::Sender<Job>>>);

impl std::fmt::Debug for InboxWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboxWriter")
    }
}

impl Ledger {
    /// Stores one update durably, committed together with whatever other updates are being
    /// stored at the same moment. Returns whether it was new (false for a redelivery).
    pub async fn store_update_grouped(
        &self,
        bot: &str,
        update: StoredUpdate,
    ) -> Result<bool, LedgerError> {
        let queue = self.inbox_writer.0.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write_batches(self.pool.clone(), self.backend, rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let job = Job {
            bot: bot.to_owned(),
            update,
            reply,
        };
        queue
            .send(job)
            .await
            .map_err(|_| LedgerError::Batch("the inbox writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| LedgerError::Batch("the inbox writer has stopped".into()))?
            .map_err(LedgerError::Batch)
    }
}

async fn write_batches(pool: AnyPool, backend: Backend, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match store_batch(&pool, backend, &batch).await {
            Ok(fresh) => {
                for (job, new) in batch.drain(..).zip(fresh) {
                    let _ = job.reply.send(Ok(new));
                }
            }
            Err(e) => {
                let text = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(text.clone()));
                }
            }
        }
    }
}

async fn store_batch(
    pool: &AnyPool,
    backend: Backend,
    batch: &[Job],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    let mut fresh = Vec::with_capacity(batch.len());
    for job in batch {
        let u = &job.update;
        let done = sqlx::query(
            "INSERT INTO updates (bot, update_id, kind, body, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bot, update_id) DO NOTHING",
        )
        .bind(&job.bot)
        .bind(u.update_id)
        .bind(&u.kind)
        .bind(&u.body)
        .bind(u.received_at)
        .execute(&mut *tx)
        .await?;
        fresh.push(done.rows_affected() == 1);
    }
    tx.commit().await?;
    Ok(fresh)
}
