//! The writes of paid media: a post recorded then finished, a purchase recorded once per update,
//! and a charge linked to its purchase, with its `payment.succeeded` seller event in the same
//! transaction (the charge id is only known from then on, and a seller keys sales by it).

use crate::ledger::conn::{Conn, query};

use super::super::LedgerError;
use super::super::seller_events::stage::{About, Fact, stage};
use super::super::writer::Command;
use super::{ChargeLinked, NewPurchase, PaidMediaCharge, PurchaseRecorded, sale_record};
use crate::domain::SellerEventType;
use crate::paid_media::{PostId, PostState};

pub(super) struct NewPost {
    pub(super) bot: String,
    pub(super) id: PostId,
    pub(super) chat: String,
    pub(super) stars: i64,
    pub(super) caption: Option<String>,
    pub(super) media: String,
    pub(super) source: String,
    pub(super) at: i64,
}

impl Command for NewPost {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        query(
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

pub(super) struct Finish {
    pub(super) bot: String,
    pub(super) id: PostId,
    pub(super) outcome: Result<i64, String>,
    pub(super) at: i64,
}

impl Command for Finish {
    type Out = ();

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        let (state, message_id, error) = match &self.outcome {
            Ok(message_id) => (PostState::Sent, Some(*message_id), None),
            Err(e) => (PostState::Failed, None, Some(e.as_str())),
        };
        query(
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
async fn post_of(conn: &mut Conn, bot: &str, payload: &str) -> Result<Option<PostId>, LedgerError> {
    let Some(id) = PostId::parse(payload) else {
        return Ok(None);
    };
    let row = query("SELECT 1 FROM paid_media_posts WHERE bot = $1 AND post_id = $2")
        .bind(bot)
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|_| id))
}

pub(super) struct Purchase(pub(super) NewPurchase);

impl Command for Purchase {
    type Out = PurchaseRecorded;

    fn bot(&self) -> &str {
        &self.0.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<PurchaseRecorded, LedgerError> {
        let p = &self.0;
        let post = post_of(conn, &p.bot, &p.payload).await?;
        let inserted = query(
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

pub(super) struct Link {
    pub(super) charge: PaidMediaCharge,
    pub(super) at: i64,
}

impl Command for Link {
    type Out = ChargeLinked;

    fn bot(&self) -> &str {
        &self.charge.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<ChargeLinked, LedgerError> {
        let c = &self.charge;
        let seen = query("SELECT 1 FROM paid_media_purchases WHERE bot = $1 AND charge_id = $2")
            .bind(&c.bot)
            .bind(c.charge.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if seen.is_some() {
            return Ok(ChargeLinked::AlreadyLinked);
        }
        let waiting = query(
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
            query(
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
            self.report(conn).await?;
            return Ok(ChargeLinked::Linked { update_id });
        }
        let Some(post) = post_of(conn, &c.bot, &c.payload).await? else {
            return Ok(ChargeLinked::NotOurs);
        };
        query(
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
        self.report(conn).await?;
        Ok(ChargeLinked::Recorded)
    }
}

impl Link {
    /// Stages `payment.succeeded` for the sale now that its charge is known.
    async fn report(&self, conn: &mut Conn) -> Result<(), LedgerError> {
        let c = &self.charge;
        let Some(record) = sale_record(conn, &c.bot, c.charge.as_str()).await? else {
            return Ok(());
        };
        // A record of strings and integers always serializes.
        let data = serde_json::to_value(&record).unwrap_or_default();
        let fact = Fact {
            at: self.at,
            bot: &c.bot,
            event_type: SellerEventType::PaymentSucceeded,
            about: About::Sale {
                charge_id: c.charge.as_str(),
                data: &data,
            },
        };
        stage(conn, &[fact]).await
    }
}
