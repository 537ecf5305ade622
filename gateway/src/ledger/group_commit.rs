//! Group commit for ledger writes (all of them on SQLite, single statements on PostgreSQL).
//!
//! A write must not be reported done before it is durable, and on SQLite every commit is an
//! fsync on the one writer connection: a few milliseconds during which nothing else can commit.
//! With one commit per write the ledger, not the CPU, capped the gateway (about 290 orders/s with
//! ~9 writes per order). So writers share commits instead:
//!
//! - One transaction is open on the writer connection at a time: the *group*. Each write runs
//!   inside it in its own `SAVEPOINT`, holding the group's lock only while its statements run.
//! - A write that fails, or is dropped without committing, is rolled back to its savepoint by
//!   whoever takes the lock next; the other writes in the group are untouched. Savepoints are
//!   never committed (that would cost a statement per write): they nest, the innermost one is
//!   always the last write's, and `COMMIT` ends them all.
//! - [`WriteTx::commit`] joins the group's waiting list and returns
//!   only when a real `COMMIT` that includes it has succeeded. If that `COMMIT` fails, every
//!   write in the group gets the error (none of them is durable, so none may be acknowledged).
//! - Whoever waits for a commit and gets the commit lock first commits the whole waiting list
//!   (a leader; the `COMMIT` itself runs in a task of its own so that a leader that gives up, say
//!   on a timeout, cannot interrupt it). Nothing waits on purpose: a lone write
//!   commits at once; under load a group is whatever ran during the previous commit's fsync.
//!
//! Within a group, later writes see earlier ones' uncommitted rows, which is harmless: they
//! commit together or not at all, and nobody acts outside the ledger before its commit returns.
//! On PostgreSQL, writes of several statements are plain transactions on a pool of connections
//! (PostgreSQL commits in parallel), and only single-statement writes share commits this way:
//! leases, secrets, the reconcile offset, dead letters, and the batches written by `coalesce`
//! (updates, marks, events, orders, payments, deliveries, claims, sent marks). Measured on the
//! 100-bot bench, grouping the first of these recovered the batching of webhook ingest (292-321
//! orders/s against 242-284 with those writes autocommitted one by one), and coalescing took it
//! to 610 (420 before). Row locks taken in a group are held until its commit, a few
//! milliseconds; a lock cycle with another gateway is broken by PostgreSQL's deadlock detector,
//! which fails one statement and so its group, whose writes are then retried.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use super::{Backend, Ledger, LedgerError};

/// The shared write transaction and the writes waiting for it to commit.
#[derive(Default)]
struct Group {
    /// The writer connection, held from the group's `BEGIN` to its `COMMIT`.
    conn: Option<PoolConnection<Any>>,
    /// A transaction is open on `conn`.
    open: bool,
    /// A `BEGIN` on `conn` was interrupted (its caller cancelled): it may have opened a
    /// transaction after all, so the next one ends it first.
    interrupted: bool,
    /// A write was dropped without committing: its savepoint must be undone before anyone else
    /// writes or the group commits.
    dirty: bool,
    /// A write without a savepoint (see [`Ledger::begin_single`]) was dropped without
    /// committing: it cannot be undone alone, so the whole group is abandoned.
    broken: bool,
    /// Writes that asked to commit, each waiting for the `COMMIT` that makes it durable.
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
}

/// The group-commit writer: every write on SQLite, single-statement writes on PostgreSQL.
/// Cheap to clone.
#[derive(Clone, Default)]
pub(super) struct GroupWriter {
    group: Arc<Mutex<Group>>,
    /// Held by the one write that is committing the group.
    committing: Arc<Mutex<()>>,
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupWriter")
    }
}

/// One write transaction: a savepoint in the shared group (SQLite) or a plain transaction
/// (PostgreSQL). Use it as a connection (`&mut *tx`); dropping it without [`WriteTx::commit`]
/// rolls it back.
pub(super) enum WriteTx {
    Plain(Transaction<'static, Any>),
    Grouped(Grouped),
}

pub(super) struct Grouped {
    guard: OwnedMutexGuard<Group>,
    writer: GroupWriter,
    committed: bool,
    /// False for a single-statement write, which has no savepoint of its own.
    savepoint: bool,
}

const SAVEPOINT: &str = "SAVEPOINT starsgate_write";
const UNDO: &str = "ROLLBACK TO SAVEPOINT starsgate_write";
const ABANDONED: &str =
    "a write in the same group was abandoned without a savepoint, so the group was rolled back";

impl Ledger {
    /// Starts a write transaction. On SQLite it joins the current group (see the module docs);
    /// on PostgreSQL it is a transaction of its own.
    pub(super) async fn begin(&self) -> Result<WriteTx, LedgerError> {
        self.begin_write(true).await
    }

    /// Starts a write of exactly one statement. On SQLite it skips the savepoint, a statement
    /// per write saved: a failing statement undoes itself, and a write dropped without
    /// committing (after an error or a cancelled caller) abandons its whole group instead, whose
    /// other writes then fail and are retried by their callers. PostgreSQL groups these writes too
    /// (on one connection, where a failing statement aborts the transaction just the same).
    pub(super) async fn begin_single(&self) -> Result<WriteTx, LedgerError> {
        self.begin_write(false).await
    }

    async fn begin_write(&self, savepoint: bool) -> Result<WriteTx, LedgerError> {
        match self.backend {
            Backend::Postgres if savepoint => Ok(WriteTx::Plain(self.pool.begin().await?)),
            _ => {
                let mut guard = self.writer.group.clone().lock_owned().await;
                if let Err(e) = prepare(&self.pool, self.backend, &mut guard).await {
                    fail_group(&mut guard, &e.to_string()).await;
                    return Err(e.into());
                }
                if savepoint && let Err(e) = connection(&mut guard).execute(SAVEPOINT).await {
                    fail_group(&mut guard, &e.to_string()).await;
                    return Err(e.into());
                }
                Ok(WriteTx::Grouped(Grouped {
                    guard,
                    writer: self.writer.clone(),
                    committed: false,
                    savepoint,
                }))
            }
        }
    }
}

/// Deals with a write dropped without committing: undoes it to its savepoint, or abandons the
/// group when it had none.
async fn undo_dropped(group: &mut Group) -> Result<(), sqlx::Error> {
    if group.broken {
        fail_group(group, ABANDONED).await;
    }
    if group.dirty {
        connection(group).execute(UNDO).await?;
        group.dirty = false;
    }
    Ok(())
}

/// Makes the group ready for another write: undoes a dropped write, or opens a new group.
async fn prepare(pool: &AnyPool, backend: Backend, group: &mut Group) -> Result<(), sqlx::Error> {
    undo_dropped(group).await?;
    if !group.open {
        if group.conn.is_none() {
            group.conn = Some(pool.acquire().await?);
        }
        if group.interrupted {
            let _ = connection(group).execute("ROLLBACK").await;
        }
        group.interrupted = true;
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        connection(group).execute(begin).await?;
        group.interrupted = false;
        group.open = true;
    }
    Ok(())
}

fn connection(group: &mut Group) -> &mut AnyConnection {
    group
        .conn
        .as_deref_mut()
        .expect("a group holds its connection from BEGIN to COMMIT")
}

/// Abandons the group after an error that may have ended its transaction: fails every write
/// waiting on it (none of them is durable), rolls back what is left and closes the connection,
/// so the next group starts on a fresh one whatever state this one was left in.
async fn fail_group(group: &mut Group, error: &str) {
    for waiter in group.waiting.drain(..) {
        let _ = waiter.send(Err(error.to_owned()));
    }
    group.open = false;
    group.dirty = false;
    group.broken = false;
    group.interrupted = false;
    if let Some(mut conn) = group.conn.take() {
        conn.close_on_drop();
        let _ = conn.execute("ROLLBACK").await;
    }
}

/// Commits the open group, if any, and answers everyone waiting on it. Runs in a task of its
/// own, so a waiter that gives up cannot interrupt a `COMMIT` that others depend on.
async fn commit_group(group: &mut Group) {
    if let Err(e) = undo_dropped(group).await {
        return fail_group(group, &e.to_string()).await;
    }
    if !group.open {
        return;
    }
    match connection(group).execute("COMMIT").await {
        Ok(_) => {
            group.open = false;
            // Back to the pool between groups, for the few callers that use it directly.
            group.conn = None;
            for waiter in group.waiting.drain(..) {
                let _ = waiter.send(Ok(()));
            }
        }
        Err(e) => fail_group(group, &e.to_string()).await,
    }
}

impl WriteTx {
    /// Commits this write; the future resolves once it is durable. A grouped write joins the
    /// waiting list and frees the writer connection as soon as this is called, before the
    /// future is first polled, so a caller can queue its commit and go on to the next write.
    pub(super) fn commit(
        self,
    ) -> impl std::future::Future<Output = Result<(), LedgerError>> + Send + 'static {
        let queued = match self {
            WriteTx::Plain(tx) => Err(tx),
            WriteTx::Grouped(mut grouped) => {
                let (reply, answer) = oneshot::channel();
                grouped.committed = true;
                grouped.guard.waiting.push(reply);
                let writer = grouped.writer.clone();
                drop(grouped);
                Ok((answer, writer))
            }
        };
        async move {
            let (mut answer, writer) = match queued {
                Err(tx) => return Ok(tx.commit().await?),
                Ok(queued) => queued,
            };
            loop {
                tokio::select! {
                    biased;
                    outcome = &mut answer => return settle(outcome),
                    _leader = writer.committing.lock() => {
                        if let Ok(outcome) = answer.try_recv() {
                            return settle(Ok(outcome));
                        }
                        let group = writer.group.clone();
                        let committed = tokio::spawn(async move {
                            commit_group(&mut *group.lock_owned().await).await
                        });
                        let _ = committed.await;
                    }
                }
            }
        }
    }
}

fn settle(
    outcome: Result<Result<(), String>, oneshot::error::RecvError>,
) -> Result<(), LedgerError> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(LedgerError::Batch(e)),
        Err(_) => Err(LedgerError::Batch(
            "the commit was interrupted; its outcome is unknown".into(),
        )),
    }
}

impl Drop for Grouped {
    fn drop(&mut self) {
        if !self.committed {
            if self.savepoint {
                self.guard.dirty = true;
            } else {
                self.guard.broken = true;
            }
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            WriteTx::Plain(tx) => tx,
            WriteTx::Grouped(g) => g
                .guard
                .conn
                .as_deref()
                .expect("a group holds its connection from BEGIN to COMMIT"),
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteTx::Plain(tx) => tx,
            WriteTx::Grouped(g) => connection(&mut g.guard),
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::config::LedgerUrl;

    async fn ledger(dir: &tempfile::TempDir) -> Ledger {
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        match Ledger::connect(&LedgerUrl::new(&url)).await {
            Ok(l) => l,
            Err(e) => panic!("cannot open a test ledger: {e}"),
        }
    }

    async fn write_secret(ledger: &Ledger, name: &str, commit: bool) -> Result<(), LedgerError> {
        let mut tx = ledger.begin().await?;
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, 'x')")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if commit { tx.commit().await } else { Ok(()) }
    }

    async fn secrets(ledger: &Ledger) -> Vec<String> {
        sqlx::query("SELECT name FROM secrets WHERE name LIKE 'w%' ORDER BY name")
            .fetch_all(&ledger.reads)
            .await
            .map(|rows| rows.iter().map(|r| r.get::<String, _>("name")).collect())
            .unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_a_dropped_one_is_undone_alone() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let ledger = ledger.clone();
            tasks.spawn(async move {
                let name = format!("w{i:03}");
                // Every third write is abandoned after its insert, as a failing write would be.
                let keep = i % 3 != 0;
                write_secret(&ledger, &name, keep).await?;
                // Once commit returns, a separate connection sees the row: it is durable.
                if keep {
                    let seen = sqlx::query("SELECT 1 FROM secrets WHERE name = $1")
                        .bind(&name)
                        .fetch_optional(&ledger.reads)
                        .await?;
                    assert!(seen.is_some(), "{name} committed but not visible");
                }
                Ok::<_, LedgerError>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("the task ran").expect("the write succeeded");
        }
        let expected: Vec<String> = (0..200)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("w{i:03}"))
            .collect();
        assert_eq!(secrets(&ledger).await, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_fails_in_the_database_leaves_its_group_intact() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        write_secret(&ledger, "w-first", true)
            .await
            .expect("stored");
        let (dup, other) = tokio::join!(
            // A primary-key violation: this write fails, the one beside it does not.
            write_secret(&ledger, "w-first", true),
            write_secret(&ledger, "w-second", true),
        );
        assert!(dup.is_err(), "a duplicate name is refused");
        other.expect("the other write commits");
        write_secret(&ledger, "w-third", true)
            .await
            .expect("stored after the failure");
        assert_eq!(secrets(&ledger).await, ["w-first", "w-second", "w-third"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_given_up_while_the_database_is_locked_does_not_stall_later_writes() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let mut other = sqlx::sqlite::SqliteConnection::connect(&url)
            .await
            .expect("a second connection");
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut other)
            .await
            .expect("the lock");
        // The write waits in BEGIN behind the other process's lock; its caller gives up.
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            write_secret(&ledger, "w-abandoned", true),
        )
        .await;
        assert!(gave_up.is_err(), "the write waited for the lock");
        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("unlocked");
        write_secret(&ledger, "w-after", true)
            .await
            .expect("the next write succeeds");
        assert_eq!(secrets(&ledger).await, ["w-after"]);
    }

    /// Starts a write that commits, on a task of its own (it waits while a test holds the commit).
    fn spawn_write(
        ledger: &Ledger,
        name: &'static str,
    ) -> tokio::task::JoinHandle<Result<(), LedgerError>> {
        let ledger = ledger.clone();
        tokio::spawn(async move { write_secret(&ledger, name, true).await })
    }

    /// Waits until `waiting` writes are queued for the held-back commit: later writes then land
    /// in the same group.
    async fn until_waiting(ledger: &Ledger, waiting: usize) {
        while ledger.writer.group.lock().await.waiting.len() < waiting {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_dropped_between_two_others_in_one_group_undoes_only_itself() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        // Hold the commit back so that all three writes land in one group.
        let hold = ledger.writer.committing.clone().lock_owned().await;
        let first = spawn_write(&ledger, "w1");
        until_waiting(&ledger, 1).await;
        write_secret(&ledger, "w2", false).await.expect("dropped");
        let third = spawn_write(&ledger, "w3");
        until_waiting(&ledger, 2).await;
        assert!(
            secrets(&ledger).await.is_empty(),
            "nothing is visible before the commit"
        );
        drop(hold);
        first.await.expect("ran").expect("the first write commits");
        third.await.expect("ran").expect("the third write commits");
        assert_eq!(secrets(&ledger).await, ["w1", "w3"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_single_statement_write_abandons_its_group_and_nobody_is_told_ok() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let ledger = ledger(&dir).await;
        let hold = ledger.writer.committing.clone().lock_owned().await;
        let first = spawn_write(&ledger, "w1");
        until_waiting(&ledger, 1).await;
        {
            let mut tx = ledger.begin_single().await.expect("begun");
            sqlx::query("INSERT INTO secrets (name, value) VALUES ('w2', 'x')")
                .execute(&mut *tx)
                .await
                .expect("inserted");
            // Dropped here without committing: there is no savepoint to undo it alone.
        }
        drop(hold);
        let first = first.await.expect("ran");
        assert!(
            first.is_err(),
            "a write in an abandoned group is not reported durable"
        );
        write_secret(&ledger, "w3", true)
            .await
            .expect("the next group commits");
        assert_eq!(secrets(&ledger).await, ["w3"]);
    }
}
