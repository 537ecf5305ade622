//! The ledger's one writer. Every write is a typed command ([`Write`]) queued to a task that owns
//! the write connection and applies whatever has queued as one transaction: a batch.
//!
//! Why: a write is not done before it is durable, and on SQLite every commit is an fsync during
//! which nothing else can commit. A commit per batch shares that fsync among every write that
//! queued while the last one ran, so throughput grows with load instead of being capped by the
//! disk's commit rate. Nothing waits on purpose: a lone write is a batch of one.
//!
//! Inside a batch, the commands of one kind run together ([`Write::apply`] gets them all, so
//! small writes such as "store this update" become one multi-row statement). Each such group
//! runs in its own `SAVEPOINT`.
//!
//! The invariants, each with a test at the end of this file:
//! 1. **Nothing is answered before its commit.** A command's outcome is sent only after the
//!    `COMMIT` of the transaction that holds it has succeeded; if that `COMMIT` fails, every
//!    command in the batch gets the error (none of them is durable).
//! 2. **A failing command fails alone.** A group that fails is rolled back to its savepoint and
//!    its commands are applied again one by one, each in its own savepoint: the one that fails
//!    gets its own error, the others and the rest of the batch commit.
//! 3. **A dropped caller changes nothing.** Once queued, a command is applied and committed
//!    whether or not its caller still waits for the answer (exactly as a cancelled write might
//!    have committed anyway); a caller dropped before queueing queued nothing.
//! 4. **Backpressure at a full queue.** The queue is bounded ([`QUEUE`]); a caller waits to queue
//!    when it is full, so overload slows callers down instead of growing memory.
//! 5. **A broken connection is replaced.** When a statement that only the connection could fail
//!    (a savepoint, a rollback, `BEGIN`, `COMMIT`) fails, the batch fails whole and the next one
//!    starts on a fresh connection.
//!
//! SQLite has one writer, on a thread of its own, whose connection is opened there with `rusqlite`
//! (see `conn`): its statements run in place, with no hop to another thread, and a shared runtime
//! could not delay it between two statements while it holds the only write lock. PostgreSQL commits
//! in parallel, so it has [`POSTGRES_SHARDS`] writers on the gateway's runtime, each owning the
//! writes of the bots that hash to it: one bot's writes stay in order, and two writers never touch
//! the same bot's rows.

use std::any::{Any, TypeId};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;

use sqlx::AnyPool;

use super::conn::{Conn, DbError};
use tokio::sync::{mpsc, oneshot};

use super::LedgerError;

/// How many commands may wait for the writer before callers wait to queue (backpressure).
pub(super) const QUEUE: usize = 4096;
/// Most commands in one transaction.
pub(super) const MAX_BATCH: usize = 1024;
/// Most rows in one statement (7 parameters per event row: 896 parameters, well inside both
/// databases' limits). Statements are built for 1, 2, 4 … `MAX_ROWS` rows, so both databases keep
/// a few prepared statements per kind rather than one per batch size.
pub(super) const MAX_ROWS: usize = 128;
/// Writers for a PostgreSQL ledger (SQLite has one).
pub(super) const POSTGRES_SHARDS: usize = 4;

/// One kind of write. The writer hands [`Write::apply`] every command of this kind in a batch
/// (in chunks of at most [`MAX_ROWS`], a power of two), inside the batch's transaction.
pub(super) trait Write: Send + Sync + Sized + 'static {
    /// What the caller learns of its own command.
    type Out: Send + 'static;
    /// The bot whose rows this command writes ("" for gateway-wide rows); PostgreSQL's writers are
    /// chosen by it.
    fn bot(&self) -> &str;
    /// Applies `rows` and returns one outcome per row, in order. An error undoes them all.
    fn apply(
        conn: &mut Conn,
        rows: &[Self],
    ) -> impl Future<Output = Result<Vec<Self::Out>, LedgerError>> + Send;
}

/// A write of several statements that is applied on its own (one savepoint each): a status
/// change, a refund, a subscription's move. Wrapped in [`One`] to be queued.
pub(super) trait Command: Send + Sync + Sized + 'static {
    type Out: Send + 'static;
    fn bot(&self) -> &str;
    fn apply(&self, conn: &mut Conn)
    -> impl Future<Output = Result<Self::Out, LedgerError>> + Send;
}

/// A [`Command`] as a [`Write`]: several of them in a batch run one after the other.
pub(super) struct One<C>(pub C);

impl<C: Command> Write for One<C> {
    type Out = C::Out;

    fn bot(&self) -> &str {
        self.0.bot()
    }

    async fn apply(conn: &mut Conn, rows: &[Self]) -> Result<Vec<C::Out>, LedgerError> {
        let mut outs = Vec::with_capacity(rows.len());
        for row in rows {
            outs.push(row.0.apply(conn).await?);
        }
        Ok(outs)
    }
}

/// Where a writer gets its connection.
#[derive(Clone, Debug)]
pub(super) enum Source {
    /// The ledger file (created and migrated), and whether commits wait for the disk.
    Sqlite {
        file: String,
        sync_full: bool,
    },
    Postgres(AnyPool),
}

impl Source {
    async fn connect(&self) -> Result<Conn, DbError> {
        match self {
            Self::Sqlite { file, sync_full } => Conn::open_sqlite(file, *sync_full),
            Self::Postgres(pool) => Ok(Conn::Postgres(pool.acquire().await?.detach())),
        }
    }

    fn begin(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "BEGIN IMMEDIATE",
            Self::Postgres(_) => "BEGIN",
        }
    }
}

/// The queues of the ledger's writers; cheap to clone. Dropping the last clone ends the writers
/// once they have applied what was queued.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    shards: Arc<[mpsc::Sender<Entry>]>,
}

impl Writer {
    /// Starts the writers of a ledger: SQLite's one writer on a thread of its own, PostgreSQL's
    /// [`POSTGRES_SHARDS`] on the gateway's runtime, with connections from `pool`.
    pub fn start(source: Source) -> std::io::Result<Self> {
        match source {
            Source::Sqlite { .. } => {
                let (queue, incoming) = mpsc::channel(QUEUE);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                std::thread::Builder::new()
                    .name("starsgate-ledger-writer".into())
                    .spawn(move || runtime.block_on(run(source, incoming)))?;
                Ok(Self {
                    shards: Arc::new([queue]),
                })
            }
            Source::Postgres(_) => {
                let shards = (0..POSTGRES_SHARDS)
                    .map(|_| {
                        let (queue, incoming) = mpsc::channel(QUEUE);
                        tokio::spawn(run(source.clone(), incoming));
                        queue
                    })
                    .collect();
                Ok(Self { shards })
            }
        }
    }

    fn shard(&self, bot: &str) -> &mpsc::Sender<Entry> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bot.hash(&mut hasher);
        let n = self.shards.len() as u64;
        &self.shards[(hasher.finish() % n.max(1)) as usize]
    }

    /// Applies `row` in the next batch and returns its outcome once that batch is committed.
    pub async fn submit<W: Write>(&self, row: W) -> Result<W::Out, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let queue = self.shard(row.bot());
        queue
            .send(Entry::new(row, reply))
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        answer.await.map_err(|_| LedgerError::WriterStopped)?
    }

    /// Applies `rows` (all of one bot) in one batch, in order, and returns each one's outcome.
    pub async fn submit_all<W: Write>(
        &self,
        rows: Vec<W>,
    ) -> Result<Vec<Result<W::Out, LedgerError>>, LedgerError> {
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let queue = self.shard(first.bot());
        let mut answers = Vec::with_capacity(rows.len());
        // Queued together (reserved at once), so they land in one batch unless it is full.
        for chunk in rows.chunks(MAX_BATCH).map(<[W]>::len).collect::<Vec<_>>() {
            let permits = queue
                .reserve_many(chunk)
                .await
                .map_err(|_| LedgerError::WriterStopped)?;
            answers.extend(permits.map(|permit| {
                let (reply, answer) = oneshot::channel();
                (permit, reply, answer)
            }));
        }
        let mut outs = Vec::with_capacity(answers.len());
        let mut waiting = Vec::with_capacity(answers.len());
        for ((permit, reply, answer), row) in answers.into_iter().zip(rows) {
            permit.send(Entry::new(row, reply));
            waiting.push(answer);
        }
        for answer in waiting {
            outs.push(answer.await.unwrap_or(Err(LedgerError::WriterStopped)));
        }
        Ok(outs)
    }
}

type Reply<W> = oneshot::Sender<Result<<W as Write>::Out, LedgerError>>;

/// Sends the outcomes of applied commands once their batch has committed (`None`) or failed.
type Settle = Box<dyn FnOnce(Option<&Arc<DbError>>) + Send>;

/// Applies the commands of one kind (each a boxed `(W, Reply<W>)`), queueing their answers in
/// `settle`. An error means the connection can no longer be trusted: every command of the group
/// has been answered with it.
type RunGroup = for<'c> fn(
    &'c mut Conn,
    Vec<Box<dyn Any + Send>>,
    &'c mut Vec<Settle>,
) -> Pin<Box<dyn Future<Output = Result<(), Arc<DbError>>> + Send + 'c>>;

/// A queued command with what the writer needs to apply it without knowing its type.
pub(super) struct Entry {
    kind: TypeId,
    item: Box<dyn Any + Send>,
    run: RunGroup,
    fail: fn(Box<dyn Any + Send>, &Arc<DbError>),
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entry")
    }
}

impl Entry {
    fn new<W: Write>(row: W, reply: Reply<W>) -> Self {
        Self {
            kind: TypeId::of::<W>(),
            item: Box::new((row, reply)),
            run: run_group::<W>,
            fail: fail_one::<W>,
        }
    }
}

fn unbox<W: Write>(items: Vec<Box<dyn Any + Send>>) -> (Vec<W>, Vec<Reply<W>>) {
    // Entries are grouped by `TypeId::of::<W>()`, so every item is a `(W, Reply<W>)`.
    items
        .into_iter()
        .filter_map(|item| item.downcast::<(W, Reply<W>)>().ok())
        .map(|item| *item)
        .unzip()
}

fn fail_one<W: Write>(item: Box<dyn Any + Send>, error: &Arc<DbError>) {
    if let Ok(item) = item.downcast::<(W, Reply<W>)>() {
        let _ = item.1.send(Err(LedgerError::Commit(error.clone())));
    }
}

/// How applying a group of commands went wrong.
enum Failed {
    /// A command failed; its savepoint undid it and the connection is fine.
    Command(LedgerError),
    /// The connection failed (a savepoint or its rollback): the batch cannot go on.
    Connection(Arc<DbError>),
}

const SAVEPOINT: &str = "SAVEPOINT w";
const UNDO: &str = "ROLLBACK TO SAVEPOINT w";

/// Applies `rows` in a savepoint of their own, in chunks of power-of-two sizes. Savepoints are
/// never released (a statement each saved): they nest, and the batch's `COMMIT` ends them all.
async fn attempt<W: Write>(conn: &mut Conn, rows: &[W]) -> Result<Vec<W::Out>, Failed> {
    if let Err(e) = conn.run(SAVEPOINT).await {
        return Err(Failed::Connection(Arc::new(e)));
    }
    match write_in_chunks(conn, rows).await {
        Ok(outs) => Ok(outs),
        Err(e) => match conn.run(UNDO).await {
            Ok(_) => Err(Failed::Command(e)),
            Err(undo) => Err(Failed::Connection(Arc::new(undo))),
        },
    }
}

/// Queues the answers of applied commands for the batch's commit.
fn settle_later<W: Write>(settle: &mut Vec<Settle>, replies: Vec<Reply<W>>, outs: Vec<W::Out>) {
    settle.push(Box::new(move |failed| match failed {
        None => {
            for (reply, out) in replies.into_iter().zip(outs) {
                let _ = reply.send(Ok(out));
            }
        }
        Some(e) => {
            for reply in replies {
                let _ = reply.send(Err(LedgerError::Commit(e.clone())));
            }
        }
    }));
}

fn run_group<'c, W: Write>(
    conn: &'c mut Conn,
    items: Vec<Box<dyn Any + Send>>,
    settle: &'c mut Vec<Settle>,
) -> Pin<Box<dyn Future<Output = Result<(), Arc<DbError>>> + Send + 'c>> {
    Box::pin(async move {
        let (rows, replies) = unbox::<W>(items);
        let failed = match attempt(conn, &rows).await {
            Ok(outs) => {
                settle_later::<W>(settle, replies, outs);
                return Ok(());
            }
            Err(failed) => failed,
        };
        let e = match failed {
            Failed::Connection(e) => e,
            Failed::Command(e) if rows.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
                return Ok(());
            }
            // One of them failed: apply them again one by one, so it fails alone.
            Failed::Command(_) => return one_by_one(conn, rows, replies, settle).await,
        };
        for reply in replies {
            let _ = reply.send(Err(LedgerError::Commit(e.clone())));
        }
        Err(e)
    })
}

async fn one_by_one<W: Write>(
    conn: &mut Conn,
    rows: Vec<W>,
    replies: Vec<Reply<W>>,
    settle: &mut Vec<Settle>,
) -> Result<(), Arc<DbError>> {
    let mut pairs = rows.into_iter().zip(replies);
    while let Some((row, reply)) = pairs.next() {
        match attempt(conn, std::slice::from_ref(&row)).await {
            Ok(outs) => settle_later::<W>(settle, vec![reply], outs),
            Err(Failed::Command(e)) => {
                let _ = reply.send(Err(e));
            }
            Err(Failed::Connection(e)) => {
                let _ = reply.send(Err(LedgerError::Commit(e.clone())));
                for (_, reply) in pairs {
                    let _ = reply.send(Err(LedgerError::Commit(e.clone())));
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Writes `rows` as statements of 1, 2, 4 … [`MAX_ROWS`] rows, largest first.
pub(super) async fn write_in_chunks<W: Write>(
    conn: &mut Conn,
    rows: &[W],
) -> Result<Vec<W::Out>, LedgerError> {
    let mut outs = Vec::with_capacity(rows.len());
    let mut rest = rows;
    while !rest.is_empty() {
        let size = (1usize << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(size);
        outs.extend(W::apply(conn, chunk).await?);
        rest = tail;
    }
    Ok(outs)
}

/// The writer's loop: one batch per turn, from whatever has queued, until every queue handle is
/// gone and the queue is empty.
async fn run(source: Source, mut incoming: mpsc::Receiver<Entry>) {
    let mut conn: Option<Conn> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let entries = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        if let Err(e) = apply_batch(&source, &mut conn, entries).await {
            tracing::warn!(error = %e, "A batch of ledger writes failed; the writer opens a new connection.");
            conn = None;
        }
    }
}

/// Groups entries by kind, each group in the order of its first entry.
fn groups(entries: Vec<Entry>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for entry in entries {
        match groups.iter_mut().find(|g| g.kind == entry.kind) {
            Some(group) => group.items.push(entry.item),
            None => groups.push(Group {
                kind: entry.kind,
                run: entry.run,
                fail: entry.fail,
                items: vec![entry.item],
            }),
        }
    }
    groups
}

struct Group {
    kind: TypeId,
    run: RunGroup,
    fail: fn(Box<dyn Any + Send>, &Arc<DbError>),
    items: Vec<Box<dyn Any + Send>>,
}

/// Applies one batch as one transaction and answers every command in it.
async fn apply_batch(
    source: &Source,
    slot: &mut Option<Conn>,
    entries: Vec<Entry>,
) -> Result<(), Arc<DbError>> {
    let mut groups = groups(entries).into_iter();
    let fail_rest = |groups: std::vec::IntoIter<Group>, e: &Arc<DbError>| {
        for group in groups {
            for item in group.items {
                (group.fail)(item, e);
            }
        }
    };
    let conn = match begin(source, slot).await {
        Ok(conn) => conn,
        Err(e) => {
            fail_rest(groups, &e);
            return Err(e);
        }
    };
    let mut settle = Vec::new();
    while let Some(group) = groups.next() {
        if let Err(e) = (group.run)(conn, group.items, &mut settle).await {
            fail_rest(groups, &e);
            return abandon(conn, settle, e).await;
        }
    }
    match conn.run("COMMIT").await {
        Ok(_) => {
            for answer in settle {
                answer(None);
            }
            Ok(())
        }
        Err(e) => abandon(conn, settle, Arc::new(e)).await,
    }
}

/// Opens the batch's transaction on the writer's connection (connecting first if it has none).
async fn begin<'s>(
    source: &Source,
    slot: &'s mut Option<Conn>,
) -> Result<&'s mut Conn, Arc<DbError>> {
    if slot.is_none() {
        *slot = Some(source.connect().await.map_err(Arc::new)?);
    }
    let Some(conn) = slot.as_mut() else {
        return Err(Arc::new(DbError::Sqlx(sqlx::Error::PoolClosed)));
    };
    conn.run(source.begin()).await.map_err(Arc::new)?;
    Ok(conn)
}

/// Fails every applied command of a batch that cannot commit, and rolls back what is left.
async fn abandon(
    conn: &mut Conn,
    settle: Vec<Settle>,
    e: Arc<DbError>,
) -> Result<(), Arc<DbError>> {
    for answer in settle {
        answer(Some(&e));
    }
    let _ = conn.run("ROLLBACK").await;
    Err(e)
}

#[cfg(test)]
mod tests {
    //! One test per invariant of the module docs, on a real SQLite ledger. A `Gate` command holds
    //! the writer inside a batch until the test opens it, so the test decides what shares a
    //! batch without waiting for time to pass.

    use std::sync::Arc;

    use sqlx::Row;

    use crate::ledger::conn::{Conn, query};
    use tokio::sync::Semaphore;

    use super::{Command, QUEUE, Writer};
    use crate::config::LedgerUrl;
    use crate::ledger::{Ledger, LedgerError};

    async fn ledger(dir: &tempfile::TempDir) -> Ledger {
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        match Ledger::connect(&LedgerUrl::new(&url)).await {
            Ok(l) => l,
            Err(e) => panic!("cannot open a test ledger: {e}"),
        }
    }

    /// Inserts a secret; a name already stored breaks the primary key, so the command fails.
    struct Insert(&'static str);

    impl Command for Insert {
        type Out = ();
        fn bot(&self) -> &str {
            ""
        }
        async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
            query("INSERT INTO secrets (name, value) VALUES ($1, 'x')")
                .bind(self.0)
                .execute(conn)
                .await?;
            Ok(())
        }
    }

    /// Leaves the writer's connection unusable for writes (`query_only`) and its transaction
    /// ended, so the batch's `COMMIT` fails: what a connection broken under the writer looks like.
    struct Poison;

    impl Command for Poison {
        type Out = ();
        fn bot(&self) -> &str {
            ""
        }
        async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
            conn.run("ROLLBACK").await?;
            conn.run("PRAGMA query_only = 1").await?;
            Ok(())
        }
    }

    /// Tells the test it is being applied, then waits until the test lets it finish.
    struct Gate {
        entered: Arc<Semaphore>,
        open: Arc<Semaphore>,
    }

    impl Command for Gate {
        type Out = ();
        fn bot(&self) -> &str {
            ""
        }
        async fn apply(&self, _conn: &mut Conn) -> Result<(), LedgerError> {
            self.entered.add_permits(1);
            if let Ok(permit) = self.open.acquire().await {
                permit.forget();
            }
            Ok(())
        }
    }

    /// A gate queued on `ledger`'s writer: `entered` once the writer is inside it.
    struct Held {
        entered: Arc<Semaphore>,
        open: Arc<Semaphore>,
        done: tokio::task::JoinHandle<Result<(), LedgerError>>,
    }

    impl Held {
        fn queue(ledger: &Ledger) -> Self {
            let (entered, open) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
            let gate = Gate {
                entered: entered.clone(),
                open: open.clone(),
            };
            let l = ledger.clone();
            let done = tokio::spawn(async move { l.run(gate).await });
            Self {
                entered,
                open,
                done,
            }
        }

        async fn entered(&self) {
            if let Ok(p) = self.entered.acquire().await {
                p.forget();
            }
        }

        async fn open(self) {
            self.open.add_permits(1);
            self.done.await.expect("ran").expect("the gate commits");
        }
    }

    fn queued(writer: &Writer) -> usize {
        writer.shards[0].max_capacity() - writer.shards[0].capacity()
    }

    /// Waits until `n` commands wait in the queue (the writer is held, so they share the next batch).
    async fn until_queued(ledger: &Ledger, n: usize) {
        while queued(&ledger.writer) < n {
            tokio::task::yield_now().await;
        }
    }

    fn spawn_insert(
        ledger: &Ledger,
        name: &'static str,
    ) -> tokio::task::JoinHandle<Result<(), LedgerError>> {
        let l = ledger.clone();
        tokio::spawn(async move { l.run(Insert(name)).await })
    }

    async fn secrets(ledger: &Ledger) -> Vec<String> {
        sqlx::query("SELECT name FROM secrets WHERE name LIKE 'w%' ORDER BY name")
            .fetch_all(&ledger.reads)
            .await
            .map(|rows| rows.iter().map(|r| r.get::<String, _>("name")).collect())
            .unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_answered_before_its_commit() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let first = Held::queue(&ledger);
        first.entered().await;
        // Queued behind the held batch: the insert and a second gate share the next batch.
        let insert = spawn_insert(&ledger, "w1");
        until_queued(&ledger, 1).await;
        let second = Held::queue(&ledger);
        until_queued(&ledger, 2).await;
        first.open().await;
        second.entered().await;
        // The insert has been applied (its group ran before the gate's) but not committed.
        assert!(!insert.is_finished(), "answered before its batch committed");
        assert!(
            secrets(&ledger).await.is_empty(),
            "visible before its commit"
        );
        second.open().await;
        insert.await.expect("ran").expect("committed");
        assert_eq!(secrets(&ledger).await, ["w1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_command_fails_alone() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        ledger.run(Insert("w0")).await.expect("stored");
        let held = Held::queue(&ledger);
        held.entered().await;
        let one = spawn_insert(&ledger, "w1");
        until_queued(&ledger, 1).await;
        // A primary-key violation in the middle of a group of three of the same kind.
        let dup = spawn_insert(&ledger, "w0");
        until_queued(&ledger, 2).await;
        let three = spawn_insert(&ledger, "w3");
        until_queued(&ledger, 3).await;
        held.open().await;
        one.await.expect("ran").expect("the first commits");
        assert!(dup.await.expect("ran").is_err(), "the duplicate is refused");
        three.await.expect("ran").expect("the third commits");
        assert_eq!(secrets(&ledger).await, ["w0", "w1", "w3"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_caller_changes_nothing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let held = Held::queue(&ledger);
        held.entered().await;
        let gone = spawn_insert(&ledger, "w1");
        until_queued(&ledger, 1).await;
        gone.abort();
        let stays = spawn_insert(&ledger, "w2");
        until_queued(&ledger, 2).await;
        held.open().await;
        stays.await.expect("ran").expect("the other write commits");
        // The abandoned write was queued: it is applied and committed like any other.
        let all = ledger.run(Insert("w3")).await;
        all.expect("later writes go on");
        assert_eq!(secrets(&ledger).await, ["w1", "w2", "w3"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_makes_callers_wait_instead_of_growing() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let held = Held::queue(&ledger);
        held.entered().await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..QUEUE {
            let l = ledger.clone();
            tasks.spawn(async move { l.secret("shared").await.map(drop) });
        }
        until_queued(&ledger, QUEUE).await;
        let mut extra = Box::pin(ledger.run(Insert("w-extra")));
        assert!(
            futures::poll!(extra.as_mut()).is_pending(),
            "the extra write waits"
        );
        assert_eq!(queued(&ledger.writer), QUEUE, "nothing beyond the bound");
        held.open().await;
        extra
            .await
            .expect("queued and committed once there was room");
        while let Some(done) = tasks.join_next().await {
            done.expect("ran").expect("stored");
        }
        assert_eq!(secrets(&ledger).await, ["w-extra"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broken_connection_is_replaced() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        assert!(
            matches!(ledger.run(Poison).await, Err(LedgerError::Commit(_))),
            "the batch whose connection broke fails whole"
        );
        // On the old connection this would fail ("attempt to write a readonly database").
        ledger
            .run(Insert("w1"))
            .await
            .expect("the next batch runs on a fresh connection");
        assert_eq!(secrets(&ledger).await, ["w1"]);
    }
}
