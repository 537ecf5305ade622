//! Seller events in the ledger: where each bot's events go (`event_routes`), the events written
//! with the changes they report ([`stage`]), and the sender's claims and outcomes.
//!
//! Delivery is at least once and in order per subject: an event is claimed by one gateway for a
//! while before it is sent (two gateways on one ledger never send it at the same time), and an
//! event is not due while an earlier one about the same payment or membership is still pending.

pub(super) mod stage;

use crate::domain::BotId;
use crate::holder::Holder;
use crate::ledger::conn::{Conn, query};
use sqlx::Row;

use crate::domain::SellerEventType;

use super::writer::Command;
use super::{Ledger, LedgerError};

/// Where a seller event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SellerEventStatus {
    /// Not yet acknowledged by the seller's endpoint.
    Pending,
    /// Acknowledged with a 2xx.
    Sent,
    /// Given up after the retry window.
    Failed,
}

impl SellerEventStatus {
    pub const ALL: [SellerEventStatus; 3] = [Self::Pending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl std::fmt::Display for SellerEventStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bot's `[events]` as the ledger keeps it: one destination for the listed types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRoute {
    pub url: String,
    pub secret_env: String,
    pub types: Vec<SellerEventType>,
}

/// A stored seller event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerEvent {
    /// The ledger's sequence number (the order events were written in).
    pub seq: i64,
    /// The event's id, as sent (`Starsgate-Event-Id`).
    pub id: String,
    pub bot: String,
    pub event_type: SellerEventType,
    /// The JSON body, fixed when the event was written.
    pub body: String,
    pub url: String,
    pub secret_env: String,
    pub created_at: i64,
    /// When it was last queued (written, or replayed); retries give up a while after this.
    pub queued_at: i64,
    pub status: SellerEventStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// Which events `starsgate events list` shows.
#[derive(Debug, Clone, Default)]
pub struct SellerEventFilter {
    pub bot: Option<String>,
    pub status: Option<SellerEventStatus>,
    /// Written at or after (unix ms).
    pub since_ms: Option<i64>,
}

/// What became of one attempt at sending an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    /// Try again at `next_attempt_at` (unix ms).
    Retry {
        next_attempt_at: i64,
        error: String,
    },
    /// Give up: the retry window is over.
    Failed {
        error: String,
    },
}

const COLUMNS: &str = "seq, id, bot, event_type, body, url, secret_env, created_at, queued_at, status, \
     attempts, next_attempt_at, last_error, sent_at";

fn from_row(r: &impl crate::ledger::conn::Fields) -> Result<SellerEvent, LedgerError> {
    let decode = |what: &str, raw: &str| {
        sqlx::Error::Decode(format!("unknown seller event {what} {raw:?}").into())
    };
    let event_type: String = r.try_get("event_type")?;
    let status: String = r.try_get("status")?;
    Ok(SellerEvent {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        bot: r.try_get("bot")?,
        event_type: SellerEventType::parse(&event_type).map_err(|_| decode("type", &event_type))?,
        body: r.try_get("body")?,
        url: r.try_get("url")?,
        secret_env: r.try_get("secret_env")?,
        created_at: r.try_get("created_at")?,
        queued_at: r.try_get("queued_at")?,
        status: SellerEventStatus::parse(&status).ok_or_else(|| decode("status", &status))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Ledger {
    /// Sets where `bot`'s events go from now on (`None`: nowhere). Events already written keep
    /// their destination.
    pub async fn set_event_route(
        &self,
        bot: &BotId,
        route: Option<EventRoute>,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
        self.run(SetRoute {
            bot: bot.to_owned(),
            route,
        })
        .await
    }

    /// The endpoint URLs that have pending events. One index probe per URL (a skip scan), so
    /// the cost does not grow with the number of events piled up behind a dead endpoint.
    pub async fn pending_event_urls(&self) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query(
            "WITH RECURSIVE u(url) AS ( \
                 SELECT MIN(url) FROM seller_events WHERE status = 'pending' \
                 UNION ALL \
                 SELECT (SELECT MIN(url) FROM seller_events WHERE status = 'pending' AND url > u.url) \
                 FROM u WHERE u.url IS NOT NULL) \
             SELECT url FROM u WHERE url IS NOT NULL",
        )
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(LedgerError::from))
            .collect()
    }

    /// At most `limit` events for `url` due for a send at `now`: pending, not claimed by a live
    /// claim, and the first pending one of their subject. Earliest due first.
    ///
    /// Only due rows are walked: an event waiting for a retry is not due, and an event queued
    /// behind one of its subject that waits for a retry waits as long (see [`Settle`] and
    /// `stage`), so the walk stops after about `limit` rows whatever is piled up.
    pub async fn due_seller_events(
        &self,
        url: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SellerEvent>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM seller_events e \
             WHERE e.status = 'pending' AND e.url = $1 AND e.next_attempt_at <= $2 \
             AND (e.claimed_until IS NULL OR e.claimed_until < $2) \
             AND NOT EXISTS (SELECT 1 FROM seller_events p WHERE p.bot = e.bot \
                 AND p.subject = e.subject AND p.seq < e.seq AND p.status = 'pending') \
             ORDER BY e.next_attempt_at, e.seq LIMIT $3"
        ))
        .bind(url)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Claims due events for `holder` until `until` (unix ms), in one write; returns the ones
    /// this gateway may send (another gateway may have claimed the rest first).
    pub async fn claim_seller_events(
        &self,
        events: Vec<SellerEvent>,
        holder: &Holder,
        until: i64,
    ) -> Result<Vec<SellerEvent>, LedgerError> {
        if events.is_empty() {
            return Ok(events);
        }
        let won = self
            .run(Claim {
                seqs: events.iter().map(|e| e.seq).collect(),
                holder: holder.to_string(),
                until,
                now: self.stamp(),
            })
            .await?;
        Ok(events
            .into_iter()
            .zip(won)
            .filter_map(|(e, won)| won.then_some(e))
            .collect())
    }

    /// Records what an attempt at sending `event` came to, and releases its claim.
    pub async fn settle_seller_event(
        &self,
        event: &SellerEvent,
        outcome: SendOutcome,
    ) -> Result<(), LedgerError> {
        self.run(Settle {
            bot: event.bot.clone(),
            seq: event.seq,
            outcome,
            at: self.stamp(),
        })
        .await
    }

    /// Stored events, oldest first.
    pub async fn seller_events(
        &self,
        filter: &SellerEventFilter,
    ) -> Result<Vec<SellerEvent>, LedgerError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM seller_events \
             WHERE ($1 IS NULL OR bot = $1) AND ($2 IS NULL OR status = $2) AND created_at >= $3 \
             ORDER BY seq"
        ))
        .bind(filter.bot.as_deref())
        .bind(filter.status.map(SellerEventStatus::as_str))
        .bind(filter.since_ms.unwrap_or(i64::MIN))
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Sends `bot`'s events written since `since_ms` again (same ids, same bodies, same
    /// destinations): they become pending and due now. Returns how many.
    pub async fn replay_seller_events(
        &self,
        bot: &BotId,
        since_ms: i64,
    ) -> Result<u64, LedgerError> {
        let bot = bot.as_str();
        self.run(Replay {
            bot: bot.to_owned(),
            since_ms,
            now: self.stamp(),
        })
        .await
    }

    /// When the oldest pending event was written (unix ms), if any is pending.
    pub async fn oldest_pending_seller_event(&self) -> Result<Option<i64>, LedgerError> {
        let row = sqlx::query("SELECT MIN(created_at) FROM seller_events WHERE status = 'pending'")
            .fetch_one(&self.reads)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?)
    }
}

struct SetRoute {
    bot: String,
    route: Option<EventRoute>,
}

impl Command for SetRoute {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query("DELETE FROM event_routes WHERE bot = $1")
            .bind(&self.bot)
            .execute(&mut *conn)
            .await?;
        let Some(route) = &self.route else {
            return Ok(());
        };
        let types: &[SellerEventType] = if route.types.is_empty() {
            &SellerEventType::ALL
        } else {
            &route.types
        };
        for t in types {
            query(
                "INSERT INTO event_routes (bot, event_type, url, secret_env) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (bot, event_type) DO NOTHING",
            )
            .bind(&self.bot)
            .bind(t.as_str())
            .bind(&route.url)
            .bind(&route.secret_env)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

struct Claim {
    seqs: Vec<i64>,
    holder: String,
    until: i64,
    now: i64,
}

impl Command for Claim {
    /// One flag per event, in order: claimed by this holder.
    type Out = Vec<bool>;

    fn bot(&self) -> &str {
        // Claims are gateway-wide: they span bots.
        ""
    }

    async fn apply(&self, conn: &mut Conn) -> Result<Vec<bool>, LedgerError> {
        let mut won = Vec::with_capacity(self.seqs.len());
        for seq in &self.seqs {
            let done = query(
                "UPDATE seller_events SET claimed_by = $1, claimed_until = $2 \
                 WHERE seq = $3 AND status = 'pending' \
                 AND (claimed_until IS NULL OR claimed_until < $4)",
            )
            .bind(&self.holder)
            .bind(self.until)
            .bind(*seq)
            .bind(self.now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            won.push(done == 1);
        }
        Ok(won)
    }
}

struct Settle {
    bot: String,
    seq: i64,
    outcome: SendOutcome,
    at: i64,
}

impl Command for Settle {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        let settle = match &self.outcome {
            SendOutcome::Sent => query(
                "UPDATE seller_events SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
                 claimed_by = NULL, claimed_until = NULL WHERE seq = $2",
            )
            .bind(self.at)
            .bind(self.seq),
            SendOutcome::Retry {
                next_attempt_at,
                error,
            } => query(
                "UPDATE seller_events SET attempts = attempts + 1, next_attempt_at = $1, \
                 last_error = $2, claimed_by = NULL, claimed_until = NULL \
                 WHERE seq = $3 AND status = 'pending'",
            )
            .bind(*next_attempt_at)
            .bind(error.as_str())
            .bind(self.seq),
            SendOutcome::Failed { error } => query(
                "UPDATE seller_events SET status = 'failed', failed_at = $1, \
                 attempts = attempts + 1, last_error = $2, claimed_by = NULL, claimed_until = NULL \
                 WHERE seq = $3 AND status = 'pending'",
            )
            .bind(self.at)
            .bind(error.as_str())
            .bind(self.seq),
        };
        settle.execute(&mut *conn).await?;
        if let SendOutcome::Retry {
            next_attempt_at, ..
        } = &self.outcome
        {
            // The events queued behind this one (same subject) cannot go before it, so they are
            // not due before it either: the sender's walk over due events then never meets them.
            query(
                "UPDATE seller_events SET next_attempt_at = $1 \
                 WHERE bot = $2 AND subject = (SELECT subject FROM seller_events WHERE seq = $3) \
                 AND seq > $3 AND status = 'pending' AND next_attempt_at < $1",
            )
            .bind(*next_attempt_at)
            .bind(&self.bot)
            .bind(self.seq)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

struct Replay {
    bot: String,
    since_ms: i64,
    now: i64,
}

impl Command for Replay {
    type Out = u64;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<u64, LedgerError> {
        let done = query(
            "UPDATE seller_events SET status = 'pending', next_attempt_at = $1, queued_at = $1, failed_at = NULL, \
             claimed_by = NULL, claimed_until = NULL WHERE bot = $2 AND created_at >= $3",
        )
        .bind(self.now)
        .bind(&self.bot)
        .bind(self.since_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(done)
    }
}
