//! The ledger: one database holding the inbox of updates, orders, payments, the delivery outbox,
//! refunds and an append-only event history. SQLite (a file, the default) and PostgreSQL (shared
//! by several gateways) run the same SQL: reads through sqlx's `Any` driver (the purchase path's
//! point reads through `readers`, in place on SQLite), writes through the writer's statement API
//! (`conn`: rusqlite in the SQLite writer's thread, sqlx for PostgreSQL); the few places where the
//! two must differ are named `Backend` branches.

mod conn;
mod events;
mod facts;
mod ids;
mod inbox;
mod leases;
mod multirow;
mod orders;
mod outbox;
mod paid_media;
mod payments;
mod probes;
mod promos;
mod readers;
mod refunds;
pub mod report;
mod sales;
mod seller_events;
mod star_transactions;
pub mod status;
mod subscriptions;
#[cfg(test)]
mod tests;
mod views;
mod watch;
mod writer;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

pub use events::{Event, EventKind, Subject};
pub use inbox::StoredUpdate;
pub use orders::{NewOrder, Order};
pub use outbox::DueDelivery;
pub use paid_media::{
    ChargeLinked, NewPurchase, PaidMediaCharge, PaidMediaPost, PaidMediaPurchase, PurchaseRecorded,
};
pub use payments::{NewPayment, Payment, Recorded};
pub use promos::{HOLD_MS, Pricing, PromoStats};
pub use report::{ExportFilter, ExportRecord, ProductStats, Sold, summarize_promos};
pub use seller_events::{
    EventRoute, SellerEvent, SellerEventFilter, SellerEventStatus, SendOutcome,
};
pub use star_transactions::{
    BotMoney, ClassTotal, KnownBalance, StarAmount, StarTransaction, TxClass, TxDirection,
    money_by_bot,
};
pub use status::PaymentStatus;
pub use subscriptions::{Subscription, SubscriptionState};
pub use views::{Funnel, Membership, Page, PaymentQuery, StoredDelivery};

use crate::clock::Clock;
use crate::config::LedgerUrl;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the ledger database is unavailable or refused a query: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the ledger could not be migrated: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the SQLite ledger must be a file: an in-memory database is not kept")]
    InMemory,
    #[error("cannot create the ledger's directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start the ledger's writer thread: {0}")]
    Thread(std::io::Error),
    #[error("payment {charge_id} cannot go from {from} to {to}")]
    Transition {
        charge_id: String,
        from: PaymentStatus,
        to: PaymentStatus,
    },
    #[error("payment {charge_id} kept changing under us; try again")]
    Contended { charge_id: String },
    /// The batch holding a write could not be committed (the error is shared by every write in
    /// the batch, none of which is durable).
    #[error("the ledger could not commit a batch of writes: {0}")]
    Commit(std::sync::Arc<conn::DbError>),
    #[error("the ledger database refused a write: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The writer stopped (the gateway is shutting down) before it answered: the write may or
    /// may not have been committed.
    #[error("the ledger's writer stopped before it answered; the write may not be stored")]
    WriterStopped,
    /// A row holds a value no id can be (see `ids`).
    #[error("the ledger's {column} column holds a value the gateway cannot read: {why}")]
    Unreadable {
        column: &'static str,
        why: crate::domain::Invalid,
    },
    #[error("no payment {charge_id} for bot {bot} in the ledger")]
    UnknownPayment { bot: String, charge_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle to the ledger; cheap to clone (connection pools and the writer's queue inside).
#[derive(Clone, Debug)]
pub struct Ledger {
    /// Migrations and health checks; the writer takes its connections from here. One connection
    /// for SQLite.
    pool: AnyPool,
    /// Plain reads. For SQLite a few more connections: in WAL mode readers never wait for the
    /// writer, so looking up an order or the inbox does not queue behind a commit's fsync. For
    /// PostgreSQL (and an in-memory SQLite database) the same pool as `pool`.
    reads: AnyPool,
    /// Point reads on the purchase path (see [`readers`]): in place on SQLite.
    lookups: std::sync::Arc<readers::Readers>,
    backend: Backend,
    /// Every write goes through here (see [`writer`]).
    writer: writer::Writer,
    /// Orders never change, so recent ones are kept (see [`orders::OrderCache`]).
    orders: std::sync::Arc<orders::OrderCache>,
    /// Stamps every recorded row (see [`crate::clock`]).
    clock: Clock,
    /// Work in hand, for tests to wait on (see [`probes`]).
    probes: std::sync::Arc<probes::Probes>,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("../../../migrations/sqlite/0001_ledger.sql"),
    ),
    (
        2,
        "secrets",
        include_str!("../../../migrations/sqlite/0002_secrets.sql"),
    ),
    (
        3,
        "order config",
        include_str!("../../../migrations/sqlite/0003_order_config.sql"),
    ),
    (
        4,
        "claims and reconcile",
        include_str!("../../../migrations/sqlite/0004_claims_and_reconcile.sql"),
    ),
    (
        5,
        "dead letters",
        include_str!("../../../migrations/sqlite/0005_dead_letters.sql"),
    ),
    (
        6,
        "subscriptions",
        include_str!("../../../migrations/sqlite/0006_subscriptions.sql"),
    ),
    (
        7,
        "subscription expiry",
        include_str!("../../../migrations/sqlite/0007_subscription_expiry.sql"),
    ),
    (
        8,
        "sales index",
        include_str!("../../../migrations/sqlite/0008_sales_index.sql"),
    ),
    (
        9,
        "checks",
        include_str!("../../../migrations/sqlite/0009_checks.sql"),
    ),
    (
        10,
        "seller events",
        include_str!("../../../migrations/sqlite/0010_seller_events.sql"),
    ),
    (
        11,
        "star transactions",
        include_str!("../../../migrations/sqlite/0011_star_transactions.sql"),
    ),
    (
        12,
        "pricing",
        include_str!("../../../migrations/sqlite/0012_pricing.sql"),
    ),
    (
        13,
        "paid media",
        include_str!("../../../migrations/sqlite/0013_paid_media.sql"),
    ),
    (
        14,
        "seller events by url",
        include_str!("../../../migrations/sqlite/0014_seller_events_by_url.sql"),
    ),
    (
        15,
        "delivery parts",
        include_str!("../../../migrations/sqlite/0015_delivery_parts.sql"),
    ),
    (
        16,
        "sales counts",
        include_str!("../../../migrations/sqlite/0016_sales_counts.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("../../../migrations/postgres/0001_ledger.sql"),
    ),
    (
        2,
        "secrets",
        include_str!("../../../migrations/postgres/0002_secrets.sql"),
    ),
    (
        3,
        "order config",
        include_str!("../../../migrations/postgres/0003_order_config.sql"),
    ),
    (
        4,
        "claims and reconcile",
        include_str!("../../../migrations/postgres/0004_claims_and_reconcile.sql"),
    ),
    (
        5,
        "dead letters",
        include_str!("../../../migrations/postgres/0005_dead_letters.sql"),
    ),
    (
        6,
        "subscriptions",
        include_str!("../../../migrations/postgres/0006_subscriptions.sql"),
    ),
    (
        7,
        "subscription expiry",
        include_str!("../../../migrations/postgres/0007_subscription_expiry.sql"),
    ),
    (
        8,
        "sales index",
        include_str!("../../../migrations/postgres/0008_sales_index.sql"),
    ),
    (
        9,
        "checks",
        include_str!("../../../migrations/postgres/0009_checks.sql"),
    ),
    (
        10,
        "seller events",
        include_str!("../../../migrations/postgres/0010_seller_events.sql"),
    ),
    (
        11,
        "star transactions",
        include_str!("../../../migrations/postgres/0011_star_transactions.sql"),
    ),
    (
        12,
        "pricing",
        include_str!("../../../migrations/postgres/0012_pricing.sql"),
    ),
    (
        13,
        "paid media",
        include_str!("../../../migrations/postgres/0013_paid_media.sql"),
    ),
    (
        14,
        "seller events by url",
        include_str!("../../../migrations/postgres/0014_seller_events_by_url.sql"),
    ),
    (
        15,
        "delivery parts",
        include_str!("../../../migrations/postgres/0015_delivery_parts.sql"),
    ),
    (
        16,
        "sales counts",
        include_str!("../../../migrations/postgres/0016_sales_counts.sql"),
    ),
];

impl Ledger {
    /// Connects and applies any pending migrations. A SQLite file (and its directory) is created
    /// if missing, in WAL mode with `synchronous = FULL`: a committed update survives a crash of
    /// the process or the machine, which is what "durably stored" means for guarantee 1.
    pub async fn connect(url: &LedgerUrl) -> Result<Self, LedgerError> {
        Self::connect_with(url, true).await
    }

    /// Like [`Ledger::connect`]; `sync_full = false` gives SQLite `synchronous = NORMAL`: a commit
    /// survives a crash of the process but not a power cut, for deployments that accept that.
    pub async fn connect_with(url: &LedgerUrl, sync_full: bool) -> Result<Self, LedgerError> {
        sqlx::any::install_default_drivers();
        let backend = if url.is_postgres() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let mut url = url.expose().to_owned();
        if backend == Backend::Sqlite {
            url = prepare_sqlite_url(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)?;
        // SQLite commits one writer at a time, and a second writing connection would wait in
        // SQLite's busy handler, which sleeps in growing steps: the one writer takes the one
        // connection. PostgreSQL commits in parallel, one connection per writer shard.
        let writers = if backend == Backend::Sqlite { 1 } else { 16 };
        let pool = connect_pool(&options, backend, sync_full, writers).await?;
        let reads = if backend == Backend::Sqlite {
            connect_pool(&options, backend, sync_full, SQLITE_READERS).await?
        } else {
            pool.clone()
        };
        migrate(&pool, backend).await?;
        let source = match backend {
            Backend::Sqlite => writer::Source::Sqlite {
                file: sqlite_file(&url).to_owned(),
                sync_full,
            },
            Backend::Postgres => writer::Source::Postgres(pool.clone()),
        };
        let lookups = match backend {
            Backend::Sqlite => readers::Readers::sqlite(sqlite_file(&url).to_owned()),
            Backend::Postgres => readers::Readers::Pool(reads.clone()),
        };
        let writer = writer::Writer::start(source).map_err(LedgerError::Thread)?;
        Ok(Self {
            pool,
            reads,
            lookups: std::sync::Arc::new(lookups),
            backend,
            writer,
            orders: Default::default(),
            clock: Clock::default(),
            probes: Default::default(),
        })
    }
}

async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), LedgerError> {
    {
        let files = match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations: Vec<Migration> = files
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator.run(pool).await?;
        Ok(())
    }
}

impl Ledger {
    /// Applies one write in the writer's next batch; returns once that batch is committed.
    async fn write<W: writer::Write>(&self, row: W) -> Result<W::Out, LedgerError> {
        self.writer.submit(row).await
    }

    /// Applies one write of several statements (see [`writer::Command`]).
    async fn run<C: writer::Command>(&self, command: C) -> Result<C::Out, LedgerError> {
        self.writer.submit(writer::One(command)).await
    }

    /// Stamps recorded rows from `clock` (the gateway's, so tests that move it move the history).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time to stamp a row recorded now.
    fn stamp(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reads).await.is_ok()
    }

    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }
}

/// The writer reads the SQLite file through a memory map: pages it reads are used in place,
/// not copied. Readers do not. In WAL mode a connection that finds the log changed since its last
/// read transaction (every read after another connection's commit, which under load is every
/// read) unmaps the whole file and maps it again, taking a TLB shootdown and a page fault per
/// page it then touches; on the load bench that made one indexed lookup cost more than the hop
/// to sqlx's thread. The writer never finds the log changed by anyone else.
const MMAP: &str = "PRAGMA mmap_size = 1073741824";

/// Reader connections for a SQLite ledger (WAL lets them read while the one writer commits).
const SQLITE_READERS: u32 = 4;

async fn connect_pool(
    options: &AnyConnectOptions,
    backend: Backend,
    sync_full: bool,
    connections: u32,
) -> Result<AnyPool, LedgerError> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    let sync = if sync_full {
                        "PRAGMA synchronous = FULL"
                    } else {
                        "PRAGMA synchronous = NORMAL"
                    };
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        sync,
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        conn.execute(pragma).await?;
                    }
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await?)
}

/// The file a SQLite URL names (`sqlite://data/ledger.db?mode=rwc` → `data/ledger.db`).
fn sqlite_file(url: &str) -> &str {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("")
}

/// Checks that a SQLite URL names a file, creates its directory, and opens it read-write-create.
/// An in-memory database is refused: it would be a different database on each connection (the
/// writer's and the readers'), and lost on exit.
fn prepare_sqlite_url(url: &str) -> Result<String, LedgerError> {
    let file = sqlite_file(url);
    if file.is_empty() || file.contains(":memory:") || url.contains("mode=memory") {
        return Err(LedgerError::InMemory);
    }
    if let Some(parent) = std::path::Path::new(file).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| LedgerError::Directory {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Real time for schedules (leases, claims, retries); recorded rows are stamped by
/// [`Ledger::clock`] instead (see [`crate::clock`]).
pub use crate::clock::system_now_ms as now_ms;
