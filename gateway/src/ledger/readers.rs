//! Point reads on the purchase path, run in place.
//!
//! Why: a read through sqlx's SQLite pool is a hop to that connection's worker thread and back,
//! with a pool checkout around it. The sales facts a plugin is given are read twice per purchase,
//! and on the load bench those two lookups cost the gateway more CPU (about 90 µs each, most of
//! it waking threads) than running them: an indexed lookup of a few pages, read from the OS's
//! page cache, takes a few microseconds. So on SQLite these reads borrow a `rusqlite` connection
//! from a small idle list and run on the calling thread, like the writer's statements do on its
//! own.
//!
//! A read in WAL mode never waits for the writer; it only waits, in SQLite's busy handler, in
//! the rare moments a checkpoint resets the log, and never longer than `conn::READER_BUSY`.
//! Only lookups that read a few index entries belong here; a count that grows with history
//! (a promo code's uses), a report or a page of the dashboard stays on sqlx's pool, off the
//! runtime's threads. PostgreSQL reads take a connection from sqlx's pool as before (a network
//! round trip either way).

use std::sync::Mutex;

use sqlx::AnyPool;

use super::LedgerError;
use super::conn::Conn;

/// Idle connections kept for reuse: one per runtime thread is plenty, since a read holds its
/// connection only while it runs and never across a wait.
const KEEP_IDLE: usize = 8;

/// Where point reads get their connection.
#[derive(Debug)]
pub(super) enum Readers {
    /// In-place reads on the SQLite file, read-only connections kept for reuse.
    Sqlite {
        file: String,
        idle: Mutex<Vec<Conn>>,
    },
    /// PostgreSQL: sqlx's pool.
    Pool(AnyPool),
}

impl Readers {
    pub fn sqlite(file: String) -> Self {
        Self::Sqlite {
            file,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection to read with, returned to the idle list when dropped.
    pub async fn lend(&self) -> Result<Lent<'_>, LedgerError> {
        let conn = match self {
            Self::Sqlite { file, idle } => {
                let reused = idle.lock().ok().and_then(|mut idle| idle.pop());
                match reused {
                    Some(conn) => conn,
                    None => Conn::open_sqlite_reader(file)?,
                }
            }
            Self::Pool(pool) => Conn::Read(pool.acquire().await?),
        };
        Ok(Lent {
            conn: Some(conn),
            readers: self,
        })
    }
}

/// A borrowed reading connection (see [`Readers::lend`]).
pub(super) struct Lent<'r> {
    conn: Option<Conn>,
    readers: &'r Readers,
}

impl std::ops::Deref for Lent<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a lent connection is present until dropped")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a lent connection is present until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let (Some(conn @ Conn::Sqlite(_)), Readers::Sqlite { idle, .. }) =
            (self.conn.take(), self.readers)
            && let Ok(mut idle) = idle.lock()
            && idle.len() < KEEP_IDLE
        {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::LedgerUrl;
    use crate::ledger::conn::query;
    use crate::ledger::{Ledger, LedgerError};

    #[tokio::test]
    async fn a_point_read_sees_every_commit_and_cannot_write() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let ledger = Ledger::connect(&LedgerUrl::new(&url)).await?;
        let secret = ledger.secret("s").await?;
        for round in 0..3 {
            // The same connection comes back from the idle list, and still sees the newest
            // commit: a read transaction starts afresh each time.
            ledger
                .set_reconcile_offset(&crate::domain::BotId::parse("b").expect("an id"), round)
                .await?;
            let mut conn = ledger.lookups.lend().await?;
            let row = query("SELECT next_offset FROM reconcile_state WHERE bot = $1")
                .bind("b")
                .fetch_one(&mut conn)
                .await?;
            assert_eq!(row.try_get::<i64, _>("next_offset")?, round);
        }
        let mut conn = ledger.lookups.lend().await?;
        let write = query("UPDATE secrets SET value = 'x' WHERE name = 's'")
            .execute(&mut conn)
            .await;
        assert!(write.is_err(), "a reading connection refuses writes");
        assert_eq!(ledger.secret("s").await?, secret);
        Ok(())
    }
}
