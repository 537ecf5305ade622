//! Refunds, recorded once per charge (guarantee 6) whichever way they arrive: a seller's command,
//! an admin in chat, or a `refunded_payment` message from Telegram.

use crate::domain::{BotId, ChargeId};
use crate::ledger::conn::{Conn, query};

use super::events::{EventKind, Subject, append};
use super::payments::transition;
use super::status::PaymentStatus;
use super::writer::Command;
use super::{Ledger, LedgerError};

impl Ledger {
    /// Records a refund. Returns true the first time for a charge, false for any repeat. A refund
    /// of a charge the ledger does not know is still recorded (nothing Telegram tells us is lost).
    pub async fn record_refund(
        &self,
        bot: &BotId,
        charge_id: &ChargeId,
        source: &str,
    ) -> Result<bool, LedgerError> {
        let bot = bot.as_str();
        let charge_id = charge_id.as_str();
        self.run(Refund {
            bot: bot.to_owned(),
            charge_id: charge_id.to_owned(),
            source: source.to_owned(),
            at: self.stamp(),
        })
        .await
    }
}

/// A refund to record once, moving its payment (if known) to `refunded`.
struct Refund {
    bot: String,
    charge_id: String,
    source: String,
    at: i64,
}

impl Command for Refund {
    type Out = bool;

    fn bot(&self) -> &str {
        &self.bot
    }

    async fn apply(&self, conn: &mut Conn) -> Result<bool, LedgerError> {
        let (bot, charge_id, source) = (&self.bot, &self.charge_id, &self.source);
        let inserted = query(
            "INSERT INTO refunds (bot, charge_id, source, recorded_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bot, charge_id) DO NOTHING",
        )
        .bind(bot)
        .bind(charge_id)
        .bind(source)
        .bind(self.at)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let subject = Subject {
                charge_id: Some(charge_id),
                ..Default::default()
            };
            append(
                conn,
                self.at,
                bot,
                EventKind::RefundRecorded,
                subject,
                source,
            )
            .await?;
            let refunded = PaymentStatus::Refunded;
            match transition(conn, self.at, bot, charge_id, refunded, source).await {
                Ok(_) | Err(LedgerError::UnknownPayment { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(inserted)
    }
}
