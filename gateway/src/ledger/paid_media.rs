//! Paid media posts and their purchases (migration 0013).
//!
//! A post is recorded before it is sent, so a purchase can always find it, then marked sent (with
//! its message id) or failed (with Telegram's refusal): nothing is deleted. A purchase is recorded
//! once per `purchased_paid_media` update, keyed by its update id, so a redelivered update changes
//! nothing. The update carries no charge id: reconciliation links each purchase to its
//! `paid_media_payment` StarTransaction (the buyer's oldest unlinked purchase of that payload), and
//! records a purchase whose update never came from the transaction alone.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::writer::Command;
use super::{Ledger, LedgerError};
use crate::domain::{ChargeId, StarAmount};
use crate::paid_media::{PostId, PostRequest, PostState};

/// A post as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidMediaPost {
    pub bot: String,
    pub id: PostId,
    /// The chat id or `@username` it was sent to.
    pub chat: String,
    pub stars: i64,
    pub caption: Option<String>,
    pub media_count: usize,
    pub state: PostState,
    pub message_id: Option<i64>,
    pub error: Option<String>,
    /// Unix ms.
    pub created_at: i64,
}

/// A `purchased_paid_media` update, to record against its post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPurchase {
    pub bot: String,
    /// The payload as Telegram gave it (any text; ours are post ids).
    pub payload: String,
    pub user_id: i64,
    pub update_id: i64,
    /// When the update arrived (unix ms).
    pub purchased_at: i64,
}

/// What recording a purchase did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseRecorded {
    /// Recorded against this post.
    Post(PostId),
    /// Recorded, but the payload is none of this bot's posts.
    UnknownPayload,
    /// This update was recorded before (Telegram delivered it again).
    Repeat,
}

/// A `paid_media_payment` StarTransaction, as reconciliation read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidMediaCharge {
    pub bot: String,
    pub payload: String,
    pub user_id: i64,
    pub charge: ChargeId,
    pub amount: StarAmount,
    /// The transaction's date (unix ms).
    pub date_ms: i64,
}

/// What linking a transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeLinked {
    /// The buyer's purchase recorded from this update now has its charge.
    Linked { update_id: i64 },
    /// No update had come for it: the purchase is recorded from the transaction.
    Recorded,
    /// This charge was linked before.
    AlreadyLinked,
    /// The payload is none of this bot's posts and no update named it: nothing to link.
    NotOurs,
}

/// One purchase, with its post's price for as long as Telegram's amount is not linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidMediaPurchase {
    pub bot: String,
    pub post_id: Option<PostId>,
    pub payload: String,
    pub user_id: i64,
    pub update_id: Option<i64>,
    pub charge_id: Option<ChargeId>,
    /// Telegram's amount, once linked.
    pub amount: Option<StarAmount>,
    /// The post's price, when the payload is one of our posts.
    pub price: Option<i64>,
    /// Unix ms.
    pub purchased_at: i64,
}

impl PaidMediaPurchase {
    /// The whole Stars of the sale: Telegram's once linked, else the post's price.
    pub fn stars(&self) -> i64 {
        self.amount.map(|a| a.stars).or(self.price).unwrap_or(0)
    }
}

const POST_COLUMNS: &str =
    "bot, post_id, chat, stars, caption, media, state, message_id, error, created_at";

fn post_from_row(r: &AnyRow) -> Result<PaidMediaPost, LedgerError> {
    let decode = |what: String| LedgerError::Database(sqlx::Error::Decode(what.into()));
    let id: String = r.try_get("post_id")?;
    let state: String = r.try_get("state")?;
    let media: String = r.try_get("media")?;
    Ok(PaidMediaPost {
        bot: r.try_get("bot")?,
        id: PostId::parse(&id).ok_or_else(|| decode(format!("post id {id:?}")))?,
        chat: r.try_get("chat")?,
        stars: r.try_get("stars")?,
        caption: r.try_get("caption")?,
        media_count: serde_json::from_str::<Vec<serde_json::Value>>(&media)
            .map(|m| m.len())
            .unwrap_or(0),
        state: PostState::parse(&state).ok_or_else(|| decode(format!("post state {state:?}")))?,
        message_id: r.try_get("message_id")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Ledger {
    /// Records a post about to be sent (state `sending`).
    pub async fn record_paid_media_post(
        &self,
        bot: &str,
        id: &PostId,
        post: &PostRequest,
        source: &str,
    ) -> Result<(), LedgerError> {
        let media: Vec<_> = post.media.iter().map(|m| m.to_input()).collect();
        self.run(NewPost {
            bot: bot.to_owned(),
            id: id.clone(),
            chat: post.chat.to_string(),
            stars: i64::from(post.stars.get()),
            caption: post.caption.clone(),
            media: serde_json::Value::Array(media).to_string(),
            source: source.to_owned(),
            at: self.stamp(),
        })
        .await
    }

    /// Marks a post sent (with its message id) or failed (with Telegram's refusal).
    pub async fn finish_paid_media_post(
        &self,
        bot: &str,
        id: &PostId,
        outcome: Result<i64, String>,
    ) -> Result<(), LedgerError> {
        self.run(Finish {
            bot: bot.to_owned(),
            id: id.clone(),
            outcome,
            at: self.stamp(),
        })
        .await
    }

    pub async fn paid_media_post(
        &self,
        bot: &str,
        id: &PostId,
    ) -> Result<Option<PaidMediaPost>, LedgerError> {
        let row = sqlx::query(&format!(
            "SELECT {POST_COLUMNS} FROM paid_media_posts WHERE bot = $1 AND post_id = $2"
        ))
        .bind(bot)
        .bind(id.as_str())
        .fetch_optional(&self.reads)
        .await?;
        row.as_ref().map(post_from_row).transpose()
    }

    /// Records a `purchased_paid_media` update once.
    pub async fn record_paid_media_purchase(
        &self,
        purchase: NewPurchase,
    ) -> Result<PurchaseRecorded, LedgerError> {
        self.run(Purchase(purchase)).await
    }

    /// Links a `paid_media_payment` transaction to its purchase (see the module docs).
    pub async fn link_paid_media_charge(
        &self,
        charge: PaidMediaCharge,
    ) -> Result<ChargeLinked, LedgerError> {
        let at = self.stamp();
        self.run(Link { charge, at }).await
    }

    /// Purchases of one bot or all, oldest first, optionally only those at or after `since_ms`.
    pub async fn paid_media_purchases(
        &self,
        bot: Option<&str>,
        since_ms: Option<i64>,
    ) -> Result<Vec<PaidMediaPurchase>, LedgerError> {
        let rows = sqlx::query(
            "SELECT u.bot, u.post_id, u.payload, u.user_id, u.update_id, u.charge_id, u.amount, \
             u.nanostar_amount, u.purchased_at, p.stars AS price FROM paid_media_purchases u \
             LEFT JOIN paid_media_posts p ON p.bot = u.bot AND p.post_id = u.post_id \
             WHERE ($1 IS NULL OR u.bot = $1) AND u.purchased_at >= $2 \
             ORDER BY u.purchased_at, u.bot, u.update_id",
        )
        .bind(bot)
        .bind(since_ms.unwrap_or(i64::MIN))
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                let post_id: Option<String> = r.try_get("post_id")?;
                let charge_id: Option<String> = r.try_get("charge_id")?;
                let stars: Option<i64> = r.try_get("amount")?;
                let nanos: Option<i64> = r.try_get("nanostar_amount")?;
                Ok(PaidMediaPurchase {
                    bot: r.try_get("bot")?,
                    post_id: post_id.as_deref().and_then(PostId::parse),
                    payload: r.try_get("payload")?,
                    user_id: r.try_get("user_id")?,
                    update_id: r.try_get("update_id")?,
                    charge_id: charge_id.as_deref().and_then(|c| ChargeId::parse(c).ok()),
                    amount: stars.map(|stars| StarAmount {
                        stars,
                        nanostars: nanos.unwrap_or(0),
                    }),
                    price: r.try_get("price")?,
                    purchased_at: r.try_get("purchased_at")?,
                })
            })
            .collect()
    }
}

struct NewPost {
    bot: String,
    id: PostId,
    chat: String,
    stars: i64,
    caption: Option<String>,
    media: String,
    source: String,
    at: i64,
}

impl Command for NewPost {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut AnyConnection) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO paid_media_posts (bot, post_id, chat, stars, caption, media, state, \
             source, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&self.bot)
        .bind(self.id.as_str())
        .bind(&self.chat)
        .bind(self.stars)
        .bind(self.caption.as_deref())
        .bind(&self.media)
        .bind(PostState::Sending.as_str())
        .bind(&self.source)
        .bind(self.at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

struct Finish {
    bot: String,
    id: PostId,
    outcome: Result<i64, String>,
    at: i64,
}

impl Command for Finish {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut AnyConnection) -> Result<(), LedgerError> {
        let (state, message_id, error) = match &self.outcome {
            Ok(message_id) => (PostState::Sent, Some(*message_id), None),
            Err(e) => (PostState::Failed, None, Some(e.as_str())),
        };
        sqlx::query(
            "UPDATE paid_media_posts SET state = $1, message_id = $2, error = $3, updated_at = $4 \
             WHERE bot = $5 AND post_id = $6 AND state = $7",
        )
        .bind(state.as_str())
        .bind(message_id)
        .bind(error)
        .bind(self.at)
        .bind(&self.bot)
        .bind(self.id.as_str())
        .bind(PostState::Sending.as_str())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The post a payload names, if it is one of this bot's.
async fn post_of(
    conn: &mut AnyConnection,
    bot: &str,
    payload: &str,
) -> Result<Option<PostId>, LedgerError> {
    let Some(id) = PostId::parse(payload) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT 1 FROM paid_media_posts WHERE bot = $1 AND post_id = $2")
        .bind(bot)
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|_| id))
}

struct Purchase(NewPurchase);

impl Command for Purchase {
    type Out = PurchaseRecorded;

    fn bot(&self) -> &str {
        &self.0.bot
    }

    async fn apply(&self, conn: &mut AnyConnection) -> Result<PurchaseRecorded, LedgerError> {
        let p = &self.0;
        let post = post_of(conn, &p.bot, &p.payload).await?;
        let inserted = sqlx::query(
            "INSERT INTO paid_media_purchases (bot, post_id, payload, user_id, update_id, \
             purchased_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bot, update_id) DO NOTHING",
        )
        .bind(&p.bot)
        .bind(post.as_ref().map(PostId::as_str))
        .bind(&p.payload)
        .bind(p.user_id)
        .bind(p.update_id)
        .bind(p.purchased_at)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(match (inserted, post) {
            (0, _) => PurchaseRecorded::Repeat,
            (_, Some(post)) => PurchaseRecorded::Post(post),
            (_, None) => PurchaseRecorded::UnknownPayload,
        })
    }
}

struct Link {
    charge: PaidMediaCharge,
    at: i64,
}

impl Command for Link {
    type Out = ChargeLinked;

    fn bot(&self) -> &str {
        &self.charge.bot
    }

    async fn apply(&self, conn: &mut AnyConnection) -> Result<ChargeLinked, LedgerError> {
        let c = &self.charge;
        let seen =
            sqlx::query("SELECT 1 FROM paid_media_purchases WHERE bot = $1 AND charge_id = $2")
                .bind(&c.bot)
                .bind(c.charge.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if seen.is_some() {
            return Ok(ChargeLinked::AlreadyLinked);
        }
        let waiting = sqlx::query(
            "SELECT update_id FROM paid_media_purchases WHERE bot = $1 AND payload = $2 \
             AND user_id = $3 AND charge_id IS NULL AND update_id IS NOT NULL \
             ORDER BY purchased_at, update_id LIMIT 1",
        )
        .bind(&c.bot)
        .bind(&c.payload)
        .bind(c.user_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = waiting {
            let update_id: i64 = row.try_get(0)?;
            sqlx::query(
                "UPDATE paid_media_purchases SET charge_id = $1, amount = $2, \
                 nanostar_amount = $3, linked_at = $4 WHERE bot = $5 AND update_id = $6",
            )
            .bind(c.charge.as_str())
            .bind(c.amount.stars)
            .bind(c.amount.nanostars)
            .bind(self.at)
            .bind(&c.bot)
            .bind(update_id)
            .execute(&mut *conn)
            .await?;
            return Ok(ChargeLinked::Linked { update_id });
        }
        let Some(post) = post_of(conn, &c.bot, &c.payload).await? else {
            return Ok(ChargeLinked::NotOurs);
        };
        sqlx::query(
            "INSERT INTO paid_media_purchases (bot, post_id, payload, user_id, charge_id, amount, \
             nanostar_amount, purchased_at, linked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.bot)
        .bind(post.as_str())
        .bind(&c.payload)
        .bind(c.user_id)
        .bind(c.charge.as_str())
        .bind(c.amount.stars)
        .bind(c.amount.nanostars)
        .bind(c.date_ms)
        .bind(self.at)
        .execute(&mut *conn)
        .await?;
        Ok(ChargeLinked::Recorded)
    }
}
