//! Paid media posts and their purchases (migration 0013).
//!
//! A post is recorded before it is sent, so a purchase can always find it, then marked sent (with
//! its message id) or failed (with Telegram's refusal): nothing is deleted. A purchase is recorded
//! once per `purchased_paid_media` update, keyed by its update id, so a redelivered update changes
//! nothing. The update carries no charge id: reconciliation links each purchase to its
//! `paid_media_payment` StarTransaction (the buyer's oldest unlinked purchase of that payload), and
//! records a purchase whose update never came from the transaction alone.

mod write;

use crate::domain::BotId;
use crate::ledger::conn::{Conn, query};

use super::promos::Pricing;
use super::report::{ExportRecord, ProductStats, Sold, rfc3339, summarize};
use super::status::PaymentStatus;
use super::{Ledger, LedgerError};
use crate::domain::{ChargeId, StarAmount, XTR};
use crate::paid_media::{ChatTarget, PRODUCT_PREFIX, PostId, PostRequest, PostState};
use write::{Finish, Link, NewPost, Purchase};

/// A post as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidMediaPost {
    pub bot: String,
    pub id: PostId,
    /// The chat id or `@username` it was sent to.
    pub chat: ChatTarget,
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

fn post_from_row(r: &impl crate::ledger::conn::Fields) -> Result<PaidMediaPost, LedgerError> {
    let decode = |what: String| LedgerError::Database(sqlx::Error::Decode(what.into()));
    let id: String = r.try_get("post_id")?;
    let state: String = r.try_get("state")?;
    let media: String = r.try_get("media")?;
    let chat: String = r.try_get("chat")?;
    Ok(PaidMediaPost {
        bot: r.try_get("bot")?,
        id: PostId::parse(&id).ok_or_else(|| decode(format!("post id {id:?}")))?,
        chat: ChatTarget::parse(&chat).map_err(|e| decode(format!("post chat: {e}")))?,
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
        bot: &BotId,
        id: &PostId,
        post: &PostRequest,
        source: &str,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
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
        bot: &BotId,
        id: &PostId,
        outcome: Result<i64, String>,
    ) -> Result<(), LedgerError> {
        let bot = bot.as_str();
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
        bot: &BotId,
        id: &PostId,
    ) -> Result<Option<PaidMediaPost>, LedgerError> {
        let bot = bot.as_str();
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
        bot: Option<&BotId>,
        since_ms: Option<i64>,
    ) -> Result<Vec<PaidMediaPurchase>, LedgerError> {
        let bot = bot.map(BotId::as_str);
        let rows = sqlx::query(&format!(
            "{SALES} WHERE ($1 IS NULL OR u.bot = $1) AND u.purchased_at >= $2 \
             ORDER BY u.purchased_at, u.bot, u.update_id"
        ))
        .bind(bot)
        .bind(since_ms.unwrap_or(i64::MIN))
        .fetch_all(&self.reads)
        .await?;
        rows.iter().map(purchase_from_row).collect()
    }

    /// Paid media sales as `ledger export` records.
    pub(super) async fn paid_media_export(
        &self,
        bot: Option<&BotId>,
        since_ms: Option<i64>,
    ) -> Result<Vec<ExportRecord>, LedgerError> {
        let sales = self.paid_media_purchases(bot, since_ms).await?;
        Ok(sales.into_iter().map(ExportRecord::from).collect())
    }

    /// Paid media sales made in `[from_ms, until_ms)`, as payments (for the dashboard's period).
    pub async fn paid_media_sales(
        &self,
        bot: Option<&BotId>,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<Sold>, LedgerError> {
        Ok(self
            .paid_media_purchases(bot, Some(from_ms))
            .await?
            .into_iter()
            .filter(|p| p.purchased_at < until_ms)
            .map(Sold::from)
            .collect())
    }

    /// Paid media sales per bot and post, as `stats` counts payments.
    pub(super) async fn paid_media_stats(
        &self,
        bot: Option<&BotId>,
    ) -> Result<Vec<ProductStats>, LedgerError> {
        let sales: Vec<Sold> = self
            .paid_media_purchases(bot, None)
            .await?
            .into_iter()
            .map(Sold::from)
            .collect();
        Ok(summarize(&sales))
    }
}

/// A purchase with its post's price.
const SALES: &str = "SELECT u.bot, u.post_id, u.payload, u.user_id, u.update_id, u.charge_id, \
     u.amount, u.nanostar_amount, u.purchased_at, p.stars AS price FROM paid_media_purchases u \
     LEFT JOIN paid_media_posts p ON p.bot = u.bot AND p.post_id = u.post_id";

fn purchase_from_row(
    r: &impl crate::ledger::conn::Fields,
) -> Result<PaidMediaPurchase, LedgerError> {
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
}

/// The sale of `charge_id` as `ledger export` writes it, read inside a write's transaction.
async fn sale_record(
    conn: &mut Conn,
    bot: &str,
    charge_id: &str,
) -> Result<Option<ExportRecord>, LedgerError> {
    let row = query(&format!("{SALES} WHERE u.bot = $1 AND u.charge_id = $2"))
        .bind(bot)
        .bind(charge_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row
        .as_ref()
        .map(purchase_from_row)
        .transpose()?
        .map(ExportRecord::from))
}

impl PaidMediaPurchase {
    /// A sale of one of our posts is `delivered` at once (Telegram unlocks the media when it
    /// charges); one whose payload is none of our posts is `needs_review`, product `paid-media:?`.
    fn product_and_status(&self) -> (String, PaymentStatus) {
        match &self.post_id {
            Some(post) => (post.product(), PaymentStatus::Delivered),
            None => (format!("{PRODUCT_PREFIX}?"), PaymentStatus::NeedsReview),
        }
    }
}

/// As a [`Sold`], a sale is counted and charted by the same code as invoice payments.
impl From<PaidMediaPurchase> for Sold {
    fn from(p: PaidMediaPurchase) -> Self {
        let stars = p.stars();
        let (product, status) = p.product_and_status();
        Sold {
            bot: p.bot,
            product: Some(product),
            status,
            amount: stars,
            is_renewal: false,
            paid_at: p.purchased_at,
            // The post's price; no promo codes or quotes apply to paid media.
            pricing: Pricing::list(p.price.unwrap_or(stars)),
        }
    }
}

/// Exported beside invoice payments. The charge id is empty until reconciliation links it.
impl From<PaidMediaPurchase> for ExportRecord {
    fn from(p: PaidMediaPurchase) -> Self {
        let stars = p.stars();
        let (product, status) = p.product_and_status();
        let at = rfc3339(p.purchased_at);
        ExportRecord {
            charge_id: p.charge_id.map(String::from).unwrap_or_default(),
            user_id: p.user_id,
            product,
            amount: stars,
            currency: XTR.to_owned(),
            status: status.to_string(),
            delivered_at: (status == PaymentStatus::Delivered).then(|| at.clone()),
            paid_at: at,
            refunded_at: None,
            plugin_sha256: None,
            list_price: p.price.unwrap_or(stars),
            promo_code: None,
            bot: p.bot,
        }
    }
}
