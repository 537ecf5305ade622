//! Coalescing small writes: many writes of one shape (store an update, mark one processed,
//! record an event, create an order, record a payment, store a delivery's content, claim a
//! delivery, mark one sent) become one statement of many rows per table. Each shape's statements
//! live next to its table (`inbox`, `events`, `orders`, `payments`, `outbox`, `leases`).
//!
//! Group commit (see `group_commit`) shares the fsync between writes, but each write still holds
//! the one writer connection for its statements, a round trip to SQLite's worker thread each,
//! and on the 100-bot bench that lock was the limit: 12 writes per order, held 86 µs each, busy
//! 84% of the time at ~700 orders/s. Most of those writes were one-row statements of these
//! shapes, issued concurrently by many tasks. Here they queue instead, and one task per shape
//! writes whatever has queued as a single multi-row statement inside the current group; a lone
//! write still goes straight through (a batch of one). Measured, interleaved with the build
//! before: the first four shapes gave 4.4 writes per order instead of 12 and 744-758 orders/s
//! against 628-653; all eight gave 1,008-1,013 against 628-687.
//!
//! Each caller still returns only after the `COMMIT` that includes its row, and learns its own
//! outcome (for an update: whether it was new). If the statement or its commit fails, every
//! caller in the batch gets the error, as each would have on its own. A caller that gives up
//! waiting does not take its row back: it may still be written, exactly as a cancelled write
//! might still have committed.
//!
//! Statements are built for batches of 1, 2, 4 … [`MAX_ROWS`] rows (a batch of 37 is written as
//! 32 + 4 + 1 in one write), so both databases keep a few prepared statements per shape rather
//! than one per batch size.

use std::future::Future;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};
use tokio::sync::{mpsc, oneshot};

use super::events::NewEvent;
use super::inbox::{Mark, NewUpdate};
use super::leases::Claim;
use super::orders::Order;
use super::outbox::{NewDelivery, Sent};
use super::payments::PaymentRow;
use super::{Backend, Ledger, LedgerError};

/// Most rows in one statement (7 parameters per event row: 896 parameters, well inside both
/// databases' limits).
pub(super) const MAX_ROWS: usize = 128;
/// How many writes may queue for a coalescer before callers wait to queue (backpressure).
const QUEUE: usize = 4096;

/// One shape of small write, written many rows to a statement.
pub(super) trait Shape: Send + Sync + Sized + 'static {
    /// What each caller learns of its own row.
    type Out: Send + 'static;
    /// Writes `rows` (at most [`MAX_ROWS`], a power of two) with one statement (or a few, one
    /// per table) and returns one outcome per row, in order. An error fails every row.
    fn write(
        conn: &mut AnyConnection,
        rows: &[Self],
    ) -> impl Future<Output = Result<Vec<Self::Out>, LedgerError>> + Send;
}

type Reply<S> = oneshot::Sender<Result<<S as Shape>::Out, String>>;

/// Queues writes of shape `S` for the task that writes them.
pub(super) struct Coalescer<S: Shape> {
    queue: mpsc::Sender<(S, Reply<S>)>,
}

/// The coalescers of one ledger; dropping the last ledger handle ends their tasks.
pub(super) struct Coalescers {
    pub updates: Coalescer<NewUpdate>,
    pub marks: Coalescer<Mark>,
    pub events: Coalescer<NewEvent>,
    pub orders: Coalescer<Order>,
    pub deliveries: Coalescer<NewDelivery>,
    pub claims: Coalescer<Claim>,
    pub payments: Coalescer<PaymentRow>,
    pub sent: Coalescer<Sent>,
}

impl std::fmt::Debug for Coalescers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Coalescers")
    }
}

impl Coalescers {
    /// Starts one task per shape, each writing through `ledger` (a handle without coalescers, so
    /// the tasks do not keep themselves alive). On SQLite they run on a thread of their own (see
    /// [`WriterThread`]); on PostgreSQL, whose connections belong to the caller's runtime, they
    /// run there.
    pub fn start(ledger: &Ledger) -> std::io::Result<Arc<Self>> {
        let mut thread = match ledger.backend() {
            Backend::Sqlite => Some(WriterThread::new()?),
            Backend::Postgres => None,
        };
        let handle = match &thread {
            Some(t) => t.runtime.handle().clone(),
            None => tokio::runtime::Handle::current(),
        };
        let mut loops = Vec::new();
        let coalescers = Arc::new(Self {
            updates: Coalescer::start(ledger, &handle, &mut loops),
            marks: Coalescer::start(ledger, &handle, &mut loops),
            events: Coalescer::start(ledger, &handle, &mut loops),
            orders: Coalescer::start(ledger, &handle, &mut loops),
            deliveries: Coalescer::start(ledger, &handle, &mut loops),
            claims: Coalescer::start(ledger, &handle, &mut loops),
            payments: Coalescer::start(ledger, &handle, &mut loops),
            sent: Coalescer::start(ledger, &handle, &mut loops),
        });
        if let Some(thread) = thread.take() {
            thread.run_until_done(loops)?;
        }
        Ok(coalescers)
    }
}

/// The thread the SQLite coalescers run on, with a runtime of their own.
///
/// Every write holds the one writer connection across round trips to sqlx's SQLite worker
/// thread, and after each round trip the holder must be polled again before the next statement
/// can go. On the shared runtime that poll waited behind every other ready task (webhook
/// handlers, plugin calls, HTTP clients): on the 100-bot bench a write held the writer 526 µs on
/// average, for far less SQL than that, and the writer was held 82% of the time, the one
/// resource every order queues for. On a thread of its own the holder is polled as soon as its
/// answer arrives: 285 µs per write in the same minutes, and the gateway used 170% of the two
/// cores instead of 150%.
struct WriterThread {
    runtime: tokio::runtime::Runtime,
}

impl WriterThread {
    fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self { runtime })
    }

    /// Runs the runtime on a thread until every coalescer loop has ended (their queues close
    /// when the last ledger handle with coalescers is dropped).
    fn run_until_done(self, loops: Vec<tokio::task::JoinHandle<()>>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("starsgate-ledger-writer".into())
            .spawn(move || {
                self.runtime.block_on(async {
                    for task in loops {
                        let _ = task.await;
                    }
                });
            })
            .map(drop)
    }
}

impl Ledger {
    /// Writes one row of shape `S` through its coalescer (`pick`), or alone in a write of its
    /// own when there is none (the coalescers' own handle) or it has stopped (its runtime ended).
    pub(super) async fn write_one<S: Shape>(
        &self,
        pick: fn(&Coalescers) -> &Coalescer<S>,
        row: S,
    ) -> Result<S::Out, LedgerError> {
        let row = match &self.coalesce {
            Some(c) => match pick(c).submit(row).await {
                Ok(done) => return done,
                Err(row) => row,
            },
            None => row,
        };
        let mut tx = self.begin().await?;
        let mut outs = S::write(&mut tx, std::slice::from_ref(&row)).await?;
        tx.commit().await?;
        outs.pop()
            .ok_or_else(|| LedgerError::Batch("a write reported no outcome".into()))
    }
}

impl<S: Shape> Coalescer<S> {
    /// Spawns the loop writing this shape on `on`, adding it to `loops`.
    fn start(
        ledger: &Ledger,
        on: &tokio::runtime::Handle,
        loops: &mut Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        loops.push(on.spawn(run(ledger.clone(), incoming)));
        Self { queue }
    }

    /// Writes `row` together with whatever else is queued; returns once it is committed.
    /// `Err(row)` back means the coalescer has stopped (its runtime ended): write it directly.
    pub async fn submit(&self, row: S) -> Result<Result<S::Out, LedgerError>, S> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((row, _))) = self.queue.send((row, reply)).await {
            return Err(row);
        }
        Ok(match answer.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(LedgerError::Batch(e)),
            Err(_) => Err(LedgerError::Batch(
                "the write was interrupted; its outcome is unknown".into(),
            )),
        })
    }
}

async fn run<S: Shape>(ledger: Ledger, mut incoming: mpsc::Receiver<(S, Reply<S>)>) {
    let mut batch = Vec::with_capacity(MAX_ROWS);
    while incoming.recv_many(&mut batch, MAX_ROWS).await > 0 {
        let (rows, replies): (Vec<S>, Vec<Reply<S>>) = batch.drain(..).unzip();
        match write_all(&ledger, &rows).await {
            Ok((tx, outs)) => {
                // Queued for the group's commit at once, which frees the writer for the next
                // batch; the answers go out when the commit is done.
                let committed = tx.commit();
                tokio::spawn(async move {
                    match committed.await {
                        Ok(()) => {
                            for (reply, out) in replies.into_iter().zip(outs) {
                                let _ = reply.send(Ok(out));
                            }
                        }
                        Err(e) => fail(replies, &e),
                    }
                });
            }
            Err(e) => fail(replies, &e),
        }
    }
}

fn fail<T>(replies: Vec<oneshot::Sender<Result<T, String>>>, error: &LedgerError) {
    let text = match error {
        LedgerError::Batch(e) => e.clone(),
        other => other.to_string(),
    };
    for reply in replies {
        let _ = reply.send(Err(text.clone()));
    }
}

/// Writes `rows` in chunks of power-of-two sizes, all in one grouped write.
async fn write_all<S: Shape>(
    ledger: &Ledger,
    rows: &[S],
) -> Result<(super::group_commit::WriteTx, Vec<S::Out>), LedgerError> {
    let mut tx = ledger.begin_single().await?;
    let outs = write_in_chunks(&mut tx, rows).await?;
    Ok((tx, outs))
}

/// Writes `rows` as statements of 1, 2, 4 … [`MAX_ROWS`] rows, largest first.
pub(super) async fn write_in_chunks<S: Shape>(
    conn: &mut AnyConnection,
    rows: &[S],
) -> Result<Vec<S::Out>, LedgerError> {
    let mut outs = Vec::with_capacity(rows.len());
    let mut rest = rows;
    while !rest.is_empty() {
        let size = (1usize << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(size);
        outs.extend(S::write(conn, chunk).await?);
        rest = tail;
    }
    Ok(outs)
}

/// For each row's key `(bot, id)` in order, whether the statement returned it (as its first two
/// columns): true for the first row with a returned key, false for any repeat of it in the same
/// batch (a redelivery racing the original is new only once).
pub(super) fn first_returned<K>(
    returned: &[AnyRow],
    keys: impl Iterator<Item = (String, K)>,
) -> Result<Vec<bool>, LedgerError>
where
    K: std::hash::Hash + Eq + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    let mut set = std::collections::HashSet::with_capacity(returned.len());
    for r in returned {
        set.insert((r.try_get::<String, _>(0)?, r.try_get::<K, _>(1)?));
    }
    Ok(keys.map(|k| set.remove(&k)).collect())
}

/// `($first, …), (…)`: `rows` groups of `columns` numbered placeholders.
pub(super) fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(first + r * columns + c).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::placeholders;
    use crate::config::LedgerUrl;
    use crate::ledger::{
        EventKind, Ledger, LedgerError, NewOrder, NewPayment, StoredUpdate, Subject,
    };

    #[test]
    fn placeholders_number_rows_after_the_leading_parameters() {
        assert_eq!(placeholders(1, 2, 1), "($1, $2)");
        assert_eq!(placeholders(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
    }

    async fn ledger(dir: &tempfile::TempDir) -> Ledger {
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        match Ledger::connect(&LedgerUrl::new(&url)).await {
            Ok(l) => l,
            Err(e) => panic!("cannot open a test ledger: {e}"),
        }
    }

    fn update(update_id: i64) -> StoredUpdate {
        StoredUpdate {
            update_id,
            kind: "message".into(),
            body: format!("{{\"update_id\":{update_id}}}"),
            received_at: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_small_writes_each_learn_their_own_outcome() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        // 300 distinct updates, each sent twice at once (a redelivery racing the original),
        // spread over batches of every size: exactly one of each pair is new.
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..600i64 {
            let ledger = ledger.clone();
            tasks.spawn(async move {
                let id = n / 2;
                let fresh = ledger.store_update("b", &update(id)).await?;
                ledger
                    .mark_processed("b", id, &format!("done {id}"))
                    .await?;
                ledger
                    .record_event("b", EventKind::UpdateUnreadable, Subject::default(), "x")
                    .await?;
                Ok::<_, LedgerError>((id, fresh))
            });
        }
        let mut fresh = std::collections::HashMap::<i64, usize>::new();
        while let Some(done) = tasks.join_next().await {
            let (id, new) = done.expect("the task ran")?;
            *fresh.entry(id).or_default() += usize::from(new);
        }
        assert_eq!(fresh.len(), 300);
        assert!(
            fresh.values().all(|&n| n == 1),
            "each update is new exactly once"
        );
        assert!(ledger.pending_updates("b", 1000).await?.is_empty());
        assert_eq!(
            ledger.update_outcome("b", 299).await?.as_deref(),
            Some("done 299")
        );
        assert_eq!(ledger.events("b", None).await?.len(), 600);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_created_order_reads_back_whole_with_its_event() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let order = NewOrder {
            order_id: "o1",
            bot: "b",
            product: "item",
            user_id: 7,
            chat_id: 8,
            title: "Item",
            price: 5,
            currency: "XTR",
            subscription: false,
            plugin_sha256: Some("abc"),
            product_config: Some("{}"),
        };
        ledger.create_order(&order).await?;
        // A second handle on the same file has no cached copy: this reads the row.
        let other = self::ledger(&dir).await;
        let read = other.order("o1").await?.expect("the order is stored");
        assert_eq!((read.price, read.user_id, read.chat_id), (5, 7, 8));
        assert_eq!(read.plugin_sha256.as_deref(), Some("abc"));
        assert_eq!(ledger.order("o1").await?, Some(read));
        let events = other.events("b", None).await?;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "order_created");
        // The same id again breaks the primary key: refused, and the first order stands.
        assert!(ledger.create_order(&order).await.is_err());
        assert_eq!(other.events("b", None).await?.len(), 1);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_deliveries_and_claims_of_one_charge_have_one_winner() -> Result<(), LedgerError>
    {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        for n in 0..20 {
            ledger
                .record_payment(&payment(&format!("c{n}"), None))
                .await?;
        }
        // 20 charges, each with 8 writers storing different content and 8 gateways claiming it,
        // all at once: every writer gets the same stored content, one claim per charge wins.
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..160 {
            let ledger = ledger.clone();
            tasks.spawn(async move {
                let charge = format!("c{}", n % 20);
                let content = ledger
                    .store_delivery("b", &charge, 1, &format!("content {n}"))
                    .await?;
                let won = ledger
                    .claim_delivery("b", &charge, &format!("gateway {n}"), 60_000)
                    .await?;
                Ok::<_, LedgerError>((charge, content, won))
            });
        }
        let mut contents = std::collections::HashMap::<String, Vec<String>>::new();
        let mut wins = std::collections::HashMap::<String, usize>::new();
        while let Some(done) = tasks.join_next().await {
            let (charge, content, won) = done.expect("the task ran")?;
            contents.entry(charge.clone()).or_default().push(content);
            *wins.entry(charge).or_default() += usize::from(won);
        }
        for (charge, seen) in &contents {
            assert!(seen.iter().all(|c| c == &seen[0]), "{charge}: {seen:?}");
            assert_eq!(
                ledger.delivery_content("b", charge).await?.as_ref(),
                Some(&seen[0])
            );
            assert_eq!(
                wins[charge], 1,
                "{charge} was claimed by {} gateways",
                wins[charge]
            );
            let prepared = ledger.events("b", Some(charge)).await?;
            let prepared = prepared.iter().filter(|e| e.kind == "delivery_prepared");
            assert_eq!(prepared.count(), 1);
        }
        Ok(())
    }

    fn payment<'a>(charge: &'a str, review_reason: Option<String>) -> NewPayment<'a> {
        NewPayment {
            bot: "b",
            charge_id: charge,
            order_id: None,
            payload: "p",
            user_id: 1,
            chat_id: 1,
            product: Some("item"),
            amount: 5,
            currency: "XTR",
            provider_charge_id: None,
            plugin_sha256: None,
            update_id: None,
            review_reason,
            is_renewal: false,
            expires_at: None,
        }
    }

    /// The outbox sends a delivery the shop handed over in memory without reading the ledger
    /// again, so the claim is where a payment refunded or held meanwhile stops the send.
    #[tokio::test]
    async fn a_delivery_is_claimed_only_while_its_payment_is_paid() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        ledger.record_payment(&payment("paid", None)).await?;
        ledger
            .record_payment(&payment(
                "held",
                Some("paid 4 XTR, the order is 5 XTR".into()),
            ))
            .await?;
        for charge in ["paid", "held"] {
            ledger.store_delivery("b", charge, 1, "{}").await?;
        }
        assert!(
            !ledger.claim_delivery("b", "held", "g", 60_000).await?,
            "a held payment's delivery must not be claimed"
        );
        assert!(ledger.claim_delivery("b", "paid", "g", 60_000).await?);
        Ok(())
    }
}
