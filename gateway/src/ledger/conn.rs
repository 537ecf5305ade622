//! The writer's connection, and the one statement API every write is written against.
//!
//! Why two drivers: sqlx runs each SQLite connection on a worker thread of its own, so every
//! statement is a hop to that thread and back (two context switches, two futex calls). A batch of
//! writes is a dozen statements, and on the load bench those hops were most of the gateway's CPU
//! per order. The SQLite writer already has a thread of its own, so it opens its connection with
//! `rusqlite` there and runs statements in place, with prepared statements cached by their text.
//! PostgreSQL keeps sqlx: its statements are network round trips either way.
//!
//! Commands build statements with [`query`] exactly as they would with `sqlx::query` (numbered
//! `$N` placeholders, `.bind`, `.execute` / `.fetch_*`, `row.try_get`), so one body serves both
//! ledgers. Reads outside the writer stay on sqlx's pools.

use std::sync::Arc;

use rusqlite::types::{Value as Lite, ValueRef};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor};

use super::LedgerError;

/// Prepared statements the SQLite writer keeps (multi-row statements come in a few sizes per kind).
const STATEMENT_CACHE: usize = 256;

/// Pages the SQLite write-ahead log grows to before the writer copies it into the database file
/// (SQLite's default is 1,000). Each commit appends every page it changed to the log, and a busy
/// ledger changes the same few pages (the tails of the inbox, the events and their indexes) in
/// commit after commit; a checkpoint writes each distinct page once and syncs the file once. Ten
/// times the default (40 MiB of log at 4 KiB pages) writes those hot pages a tenth as often.
const CHECKPOINT_PAGES: u32 = 10_000;

/// How long a point read (see `readers`) waits in SQLite's busy handler before it fails. It runs
/// on a runtime thread, which must not sleep for the writer's 10 s: a WAL reader is only ever kept
/// waiting for moments (a checkpoint resetting the log), and a read that fails is retried by its
/// caller or, at pre-checkout, refuses the payment (fail closed).
const READER_BUSY: std::time::Duration = std::time::Duration::from_millis(250);

/// How a statement failed on either driver.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl From<DbError> for LedgerError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sqlx(e) => Self::Database(e),
            DbError::Sqlite(e) => Self::Sqlite(e),
        }
    }
}

/// A connection statements run on: the one a writer owns, or one of the readers' (for the few
/// lookups a write and a read share, such as reading a payment).
pub(super) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(AnyConnection),
    Read(sqlx::pool::PoolConnection<Any>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "Conn::Sqlite",
            Self::Postgres(_) => "Conn::Postgres",
            Self::Read(_) => "Conn::Read",
        })
    }
}

impl Conn {
    /// Opens the SQLite writer's connection to `file` (already created and migrated), with the
    /// same settings as sqlx's connections: WAL, the chosen `synchronous`, foreign keys on.
    pub fn open_sqlite(file: &str, sync_full: bool) -> Result<Self, DbError> {
        let conn = rusqlite::Connection::open(file)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let sync = if sync_full { "FULL" } else { "NORMAL" };
        // `temp_store = MEMORY`: every savepoint of a batch copies the pages it is about to change
        // into a statement journal, by default a temporary file (a write system call per page).
        // `wal_autocheckpoint`: see [`CHECKPOINT_PAGES`].
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}; {}",
            super::MMAP
        ))?;
        Ok(Self::Sqlite(conn))
    }

    /// Opens a connection for point reads (see `readers`): the file is in WAL mode already, and
    /// `query_only` makes sure nothing writes through it. No memory map: see [`super::MMAP`].
    pub fn open_sqlite_reader(file: &str) -> Result<Self, DbError> {
        let conn = rusqlite::Connection::open(file)?;
        conn.busy_timeout(READER_BUSY)?;
        conn.set_prepared_statement_cache_capacity(16);
        conn.execute_batch("PRAGMA query_only = ON")?;
        Ok(Self::Sqlite(conn))
    }

    /// Runs a statement without parameters (`BEGIN`, `SAVEPOINT`, `COMMIT`, …).
    pub async fn run(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Self::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Self::Postgres(c) => c.execute(sql).await.map(|_| ()).map_err(DbError::from),
            Self::Read(c) => c.execute(sql).await.map(|_| ()).map_err(DbError::from),
        }
    }
}

/// A bound parameter. A null keeps its type, which PostgreSQL needs to plan the statement.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Int(i64),
    Int4(i32),
    Bool(bool),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null(Kind),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Int,
    Int4,
    Bool,
    Real,
    Text,
    Blob,
}

/// A type that can be bound, with the kind its null has.
pub(super) trait Bind {
    const KIND: Kind;
    fn value(self) -> Value;
}

macro_rules! bind {
    ($($t:ty => $kind:ident, $v:ident => $e:expr;)*) => {$(
        impl Bind for $t {
            const KIND: Kind = Kind::$kind;
            fn value(self) -> Value {
                let $v = self;
                $e
            }
        }
    )*};
}

bind! {
    i64 => Int, v => Value::Int(v);
    i32 => Int4, v => Value::Int4(v);
    bool => Bool, v => Value::Bool(v);
    f64 => Real, v => Value::Real(v);
    String => Text, v => Value::Text(v);
    &String => Text, v => Value::Text(v.clone());
    &str => Text, v => Value::Text(v.to_owned());
    &&str => Text, v => Value::Text((*v).to_owned());
    Vec<u8> => Blob, v => Value::Blob(v);
    &[u8] => Blob, v => Value::Blob(v.to_vec());
    &i64 => Int, v => Value::Int(*v);
    &i32 => Int4, v => Value::Int4(*v);
    &bool => Bool, v => Value::Bool(*v);
    &crate::domain::BotId => Text, v => Value::Text(v.as_str().to_owned());
    &crate::domain::ProductId => Text, v => Value::Text(v.as_str().to_owned());
    &crate::domain::ChargeId => Text, v => Value::Text(v.as_str().to_owned());
    &crate::domain::OrderId => Text, v => Value::Text(v.as_str().to_owned());
}

impl<T: Bind> Bind for Option<T> {
    const KIND: Kind = T::KIND;
    fn value(self) -> Value {
        match self {
            Some(v) => v.value(),
            None => Value::Null(T::KIND),
        }
    }
}

impl<T: Bind + Clone> Bind for &Option<T> {
    const KIND: Kind = T::KIND;
    fn value(self) -> Value {
        self.clone().value()
    }
}

/// A statement and its parameters, numbered `$1`, `$2` … in the order they are bound.
#[must_use]
pub(in crate::ledger) struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
}

/// Starts a statement for the writer's connection (see the module docs).
pub(super) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
    }
}

/// The result of a statement that returns no rows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Done(u64);

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// Statement texts whose argument order this thread remembers, at most (a ledger has a few
/// hundred: each kind of write in a few multi-row sizes).
const ARGUMENT_ORDERS: usize = 1024;

/// For each parameter of `stmt` in SQLite's numbering, the `$N` it is named (`N`, counting from
/// 1). Asking SQLite for a parameter's name scans the statement's list of names, so doing it for
/// every parameter of every execution cost a multi-row statement of `P` parameters `P²/2` steps
/// each time (a few percent of the gateway's CPU under load); the answer depends only on the
/// text, so each thread keeps it per text.
fn argument_order(sql: &str, stmt: &rusqlite::Statement<'_>) -> Arc<[usize]> {
    thread_local! {
        static ORDERS: std::cell::RefCell<std::collections::HashMap<String, Arc<[usize]>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    if let Some(order) = ORDERS.with_borrow(|orders| orders.get(sql).cloned()) {
        return order;
    }
    let order: Arc<[usize]> = (1..=stmt.parameter_count())
        .map(|i| {
            stmt.parameter_name(i)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(i)
        })
        .collect();
    ORDERS.with_borrow_mut(|orders| {
        if orders.len() >= ARGUMENT_ORDERS {
            orders.clear();
        }
        orders.insert(sql.to_owned(), order.clone());
    });
    order
}

impl<'q> Query<'q> {
    pub fn bind<T: Bind>(mut self, value: T) -> Self {
        self.args.push(value.value());
        self
    }

    pub async fn execute(self, conn: &mut Conn) -> Result<Done, LedgerError> {
        match conn {
            Conn::Sqlite(c) => Ok(Done(self.lite_execute(c)?)),
            Conn::Postgres(c) => Ok(Done(self.any().execute(c).await?.rows_affected())),
            Conn::Read(c) => Ok(Done(self.any().execute(&mut **c).await?.rows_affected())),
        }
    }

    pub async fn fetch_all(self, conn: &mut Conn) -> Result<Vec<Row>, LedgerError> {
        match conn {
            Conn::Sqlite(c) => Ok(self.lite_fetch(c, usize::MAX)?),
            Conn::Postgres(c) => Ok(self
                .any()
                .fetch_all(c)
                .await?
                .into_iter()
                .map(Row::Any)
                .collect()),
            Conn::Read(c) => Ok(self
                .any()
                .fetch_all(&mut **c)
                .await?
                .into_iter()
                .map(Row::Any)
                .collect()),
        }
    }

    pub async fn fetch_optional(self, conn: &mut Conn) -> Result<Option<Row>, LedgerError> {
        match conn {
            Conn::Sqlite(c) => Ok(self.lite_fetch(c, 1)?.pop()),
            Conn::Postgres(c) => Ok(self.any().fetch_optional(c).await?.map(Row::Any)),
            Conn::Read(c) => Ok(self.any().fetch_optional(&mut **c).await?.map(Row::Any)),
        }
    }

    pub async fn fetch_one(self, conn: &mut Conn) -> Result<Row, LedgerError> {
        self.fetch_optional(conn)
            .await?
            .ok_or(LedgerError::Database(sqlx::Error::RowNotFound))
    }

    fn any(self) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query::<Any>(self.sql);
        for v in self.args {
            q = match v {
                Value::Int(v) => q.bind(v),
                Value::Int4(v) => q.bind(v),
                Value::Bool(v) => q.bind(v),
                Value::Real(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Blob(v) => q.bind(v),
                Value::Null(Kind::Int) => q.bind(None::<i64>),
                Value::Null(Kind::Int4) => q.bind(None::<i32>),
                Value::Null(Kind::Bool) => q.bind(None::<bool>),
                Value::Null(Kind::Real) => q.bind(None::<f64>),
                Value::Null(Kind::Text) => q.bind(None::<String>),
                Value::Null(Kind::Blob) => q.bind(None::<Vec<u8>>),
            };
        }
        q
    }

    /// Prepares (or finds cached) the statement and binds `$N` to the N-th value. SQLite numbers
    /// named parameters in the order they first appear, so each is looked up by its name, once
    /// per statement text (see [`argument_order`]).
    fn lite_prepare<'c>(
        &self,
        c: &'c rusqlite::Connection,
    ) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        let mut stmt = c.prepare_cached(self.sql)?;
        let order = argument_order(self.sql, &stmt);
        for (i, &n) in order.iter().enumerate() {
            let value = n
                .checked_sub(1)
                .and_then(|k| self.args.get(k))
                .ok_or(rusqlite::Error::InvalidParameterCount(n, self.args.len()))?;
            stmt.raw_bind_parameter(i + 1, lite(value))?;
        }
        Ok(stmt)
    }

    fn lite_execute(&self, c: &rusqlite::Connection) -> rusqlite::Result<u64> {
        let mut stmt = self.lite_prepare(c)?;
        let mut rows = stmt.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(c.changes())
    }

    fn lite_fetch(&self, c: &rusqlite::Connection, most: usize) -> rusqlite::Result<Vec<Row>> {
        let mut stmt = self.lite_prepare(c)?;
        let names: Arc<[String]> = stmt
            .column_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let columns = names.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            if out.len() < most {
                let values = (0..columns)
                    .map(|i| row.get_ref(i).map(Lite::from))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                out.push(Row::Lite {
                    names: names.clone(),
                    values,
                });
            }
        }
        Ok(out)
    }
}

fn lite(v: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::ToSqlOutput::Borrowed;
    match v {
        Value::Int(v) => Borrowed(ValueRef::Integer(*v)),
        Value::Int4(v) => Borrowed(ValueRef::Integer(i64::from(*v))),
        Value::Bool(v) => Borrowed(ValueRef::Integer(i64::from(*v))),
        Value::Real(v) => Borrowed(ValueRef::Real(*v)),
        Value::Text(v) => Borrowed(ValueRef::Text(v.as_bytes())),
        Value::Blob(v) => Borrowed(ValueRef::Blob(v)),
        Value::Null(_) => Borrowed(ValueRef::Null),
    }
}

/// A row a write statement returned.
pub(in crate::ledger) enum Row {
    Lite {
        names: Arc<[String]>,
        values: Vec<Lite>,
    },
    Any(AnyRow),
}

/// A column by position or by name.
pub(in crate::ledger) trait Index:
    sqlx::ColumnIndex<AnyRow> + Copy + std::fmt::Display
{
    fn position(self, names: &[String]) -> Option<usize>;
}

impl Index for usize {
    fn position(self, names: &[String]) -> Option<usize> {
        (self < names.len()).then_some(self)
    }
}

impl Index for &str {
    fn position(self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }
}

/// A type a column can be read as, from either driver.
pub(in crate::ledger) trait Column:
    Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>
{
    fn from_lite(v: &Lite) -> Option<Self>;
}

impl Column for i64 {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl Column for i32 {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Integer(i) => i32::try_from(*i).ok(),
            _ => None,
        }
    }
}

impl Column for bool {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Integer(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl Column for f64 {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Real(r) => Some(*r),
            Lite::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl Column for String {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl Column for Vec<u8> {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Blob(b) => Some(b.clone()),
            Lite::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

impl<T: Column> Column for Option<T> {
    fn from_lite(v: &Lite) -> Option<Self> {
        match v {
            Lite::Null => Some(None),
            v => T::from_lite(v).map(Some),
        }
    }
}

/// Reading columns from a row of either kind: helpers that turn rows into domain types take
/// `&impl Fields`, so one helper serves the writer's rows and the readers' `AnyRow`s.
pub(in crate::ledger) trait Fields {
    fn try_get<T: Column, I: Index>(&self, index: I) -> Result<T, LedgerError>;
}

impl Fields for AnyRow {
    fn try_get<T: Column, I: Index>(&self, index: I) -> Result<T, LedgerError> {
        Ok(sqlx::Row::try_get::<T, I>(self, index)?)
    }
}

impl Fields for Row {
    fn try_get<T: Column, I: Index>(&self, index: I) -> Result<T, LedgerError> {
        Row::try_get(self, index)
    }
}

impl Row {
    pub fn try_get<T: Column, I: Index>(&self, index: I) -> Result<T, LedgerError> {
        match self {
            Self::Any(row) => Ok(sqlx::Row::try_get::<T, I>(row, index)?),
            Self::Lite { names, values } => {
                let value = index
                    .position(names)
                    .and_then(|i| values.get(i))
                    .ok_or_else(|| sqlx::Error::ColumnNotFound(index.to_string()))?;
                T::from_lite(value).ok_or_else(|| {
                    LedgerError::Database(sqlx::Error::ColumnDecode {
                        index: index.to_string(),
                        source: format!(
                            "the SQLite value {value:?} is not a {}",
                            std::any::type_name::<T>()
                        )
                        .into(),
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The SQLite side of the statement API against a real file: what sqlx did for the writer
    //! before (numbered placeholders, typed nulls, rows by name or position) it must still do.

    use super::{Conn, Row, query};
    use crate::ledger::LedgerError;

    /// A connection to a fresh file with one table `t`; the directory lives as long as it.
    async fn table() -> Result<(tempfile::TempDir, Conn), LedgerError> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("t.db");
        let mut conn = Conn::open_sqlite(&file.display().to_string(), true)?;
        conn.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, note TEXT, flag INTEGER)")
            .await?;
        Ok((dir, conn))
    }

    #[tokio::test]
    async fn the_writer_checkpoints_at_checkpoint_pages_and_readers_map_nothing()
    -> Result<(), LedgerError> {
        let (dir, mut writer) = table().await?;
        let pages = query("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut writer)
            .await?;
        assert_eq!(
            pages.try_get::<i64, _>(0)?,
            i64::from(super::CHECKPOINT_PAGES)
        );
        let file = dir.path().join("t.db").display().to_string();
        let mut reader = Conn::open_sqlite_reader(&file)?;
        let map = query("PRAGMA mmap_size").fetch_one(&mut reader).await?;
        assert_eq!(
            map.try_get::<i64, _>(0)?,
            0,
            "a reader maps nothing (see MMAP)"
        );
        Ok(())
    }

    #[tokio::test]
    async fn placeholders_bind_by_their_number_not_by_where_they_appear() -> Result<(), LedgerError>
    {
        let (_dir, mut c) = table().await?;
        // $2 appears first and $1 twice: SQLite numbers them 1 and 2 in order of appearance.
        // The second time, the order remembered for the text is used.
        for (id, name) in [(7i64, "seven"), (8, "eight")] {
            query("INSERT INTO t (name, id, note) VALUES ($2, $1, $2 || '-' || $1)")
                .bind(id)
                .bind(name)
                .execute(&mut c)
                .await?;
        }
        let rows = query("SELECT id, name, note FROM t ORDER BY id")
            .fetch_all(&mut c)
            .await?;
        let read = |r: &Row| -> Result<(i64, String, String), LedgerError> {
            Ok((r.try_get("id")?, r.try_get(1)?, r.try_get("note")?))
        };
        assert_eq!(read(&rows[0])?, (7, "seven".into(), "seven-7".into()));
        assert_eq!(read(&rows[1])?, (8, "eight".into(), "eight-8".into()));
        Ok(())
    }

    #[tokio::test]
    async fn nulls_and_flags_read_back_as_they_were_bound() -> Result<(), LedgerError> {
        let (_dir, mut c) = table().await?;
        let done =
            query("INSERT INTO t (id, name, note, flag) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)")
                .bind(1i64)
                .bind(None::<&str>)
                .bind(Some("n"))
                .bind(true)
                .bind(2i64)
                .bind("b")
                .bind(None::<String>)
                .bind(false)
                .execute(&mut c)
                .await?;
        assert_eq!(done.rows_affected(), 2);
        let rows: Vec<Row> = query("SELECT name, note, flag FROM t ORDER BY id")
            .fetch_all(&mut c)
            .await?;
        assert_eq!(rows[0].try_get::<Option<String>, _>("name")?, None);
        assert_eq!(
            rows[0].try_get::<Option<String>, _>("note")?.as_deref(),
            Some("n")
        );
        assert!(rows[0].try_get::<bool, _>("flag")?);
        assert!(!rows[1].try_get::<bool, _>("flag")?);
        Ok(())
    }

    #[tokio::test]
    async fn a_column_read_as_the_wrong_type_is_an_error_not_a_default() -> Result<(), LedgerError>
    {
        let (_dir, mut c) = table().await?;
        query("INSERT INTO t (id, name) VALUES ($1, $2)")
            .bind(1i64)
            .bind("x")
            .execute(&mut c)
            .await?;
        let row = query("SELECT name FROM t").fetch_one(&mut c).await?;
        assert!(row.try_get::<i64, _>("name").is_err());
        assert!(row.try_get::<String, _>("missing").is_err());
        assert!(
            query("SELECT name FROM t WHERE id = $1")
                .bind(2i64)
                .fetch_one(&mut c)
                .await
                .is_err()
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_statement_leaves_the_connection_usable() -> Result<(), LedgerError> {
        let (_dir, mut c) = table().await?;
        let insert = || query("INSERT INTO t (id) VALUES ($1)").bind(1i64);
        insert().execute(&mut c).await?;
        assert!(
            insert().execute(&mut c).await.is_err(),
            "the primary key holds"
        );
        let n = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(&mut c)
            .await?;
        assert_eq!(n.try_get::<i64, _>("n")?, 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_placeholder_without_a_value_is_an_error_not_a_panic() -> Result<(), LedgerError> {
        let (_dir, mut c) = table().await?;
        for sql in [
            "INSERT INTO t (id) VALUES ($0)",
            "INSERT INTO t (id, name) VALUES ($1, $3)",
        ] {
            let bound_one = query(sql).bind(1i64).execute(&mut c).await;
            assert!(bound_one.is_err(), "{sql}");
        }
        Ok(())
    }
}
