//! Playing a buyer: what a person does in a Telegram client, turned into the updates Telegram
//! would queue for the bot.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use crate::handle::SimHandle;
use crate::methods::payments::{self, PRE_CHECKOUT_DEADLINE_MS, Paying, Refusal};
use crate::queue::{Kind, Lane};
use crate::shapes;
use crate::state::{BotState, PendingPreCheckout, random_numeric_id};
use crate::types::{InvoiceRef, PayOutcome, SentInvoice, SimError};

/// Where a checkout stands when the buyer looks at it.
enum Checkout {
    Waiting { remaining_ms: i64 },
    Done(PayOutcome),
}

impl SimHandle {
    /// The user writes `text` to the bot in their private chat (creating the user if needed).
    /// Returns the update id.
    ///
    /// # Panics
    /// If the bot token was never added; use [`SimHandle::try_send_text`] to get an error instead.
    pub fn send_text(&self, token: &str, user_id: i64, text: &str) -> i64 {
        match self.try_send_text(token, user_id, text) {
            Ok(update_id) => update_id,
            Err(e) => panic!("starsgate-sim send_text: {e}"),
        }
    }

    /// Like [`SimHandle::send_text`], but an unknown bot is an error.
    pub fn try_send_text(&self, token: &str, user_id: i64, text: &str) -> Result<i64, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let name = reg
            .users
            .entry(user_id)
            .or_insert_with(|| format!("User {user_id}"))
            .clone();
        let chat = bot.chat_mut(user_id);
        chat.started = true;
        // Writing to a bot you blocked unblocks it, as in the real clients.
        chat.blocked = false;
        let message_id = chat.take_message_id();
        let message = shapes::message(
            message_id,
            shapes::user(user_id, &name, &reg.language(user_id)),
            shapes::private_chat(user_id, &name),
            now,
            shapes::text_fields(text),
        );
        Ok(bot
            .push_update(now, Kind::Message, Lane::Chat(user_id), message)
            .update_id)
    }

    /// Queues an arbitrary update body (e.g. `{"message": {...}}`), written by hand and possibly
    /// malformed on purpose, under the next update_id, which is returned. It goes through
    /// `allowed_updates` like any update.
    ///
    /// # Panics
    /// If the bot token was never added; use [`SimHandle::try_inject_update`] to get an error.
    pub fn inject_update(&self, token: &str, update: serde_json::Value) -> i64 {
        match self.try_inject_update(token, update) {
            Ok(update_id) => update_id,
            Err(e) => panic!("starsgate-sim inject_update: {e}"),
        }
    }

    /// Like [`SimHandle::inject_update`], but an unknown bot is an error.
    pub fn try_inject_update(
        &self,
        token: &str,
        update: serde_json::Value,
    ) -> Result<i64, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, _) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        Ok(bot.inject(now, update).update_id)
    }

    /// The user presses an inline button carrying `data` on a message the bot sent them.
    pub fn press_button(
        &self,
        token: &str,
        user_id: i64,
        message_id: i64,
        data: &str,
    ) -> Result<i64, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let name = reg
            .user_name(user_id)
            .ok_or(SimError::UnknownUser(user_id))?;
        let unknown = || SimError::UnknownMessage {
            chat_id: user_id,
            message_id,
        };
        let chat = bot.chats.get(&user_id).ok_or_else(unknown)?;
        let message = chat
            .messages
            .iter()
            .find(|m| m.sent.message_id == message_id && !m.deleted)
            .ok_or_else(unknown)?;
        let has_button = message.json["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row.as_array())
            .flatten()
            .any(|button| button["callback_data"].as_str() == Some(data));
        if !has_button {
            return Err(SimError::UnknownButton {
                message_id,
                data: data.to_owned(),
            });
        }
        let query_id = random_numeric_id();
        let query = json!({
            "id": query_id,
            "from": shapes::user(user_id, &name, &reg.language(user_id)),
            "message": message.json,
            "chat_instance": chat.chat_instance,
            "data": data,
        });
        bot.callbacks.insert(query_id, false);
        Ok(bot
            .push_update(now, Kind::CallbackQuery, Lane::Chat(user_id), query)
            .update_id)
    }

    /// The user pays an invoice: Telegram sends `pre_checkout_query`, waits up to 10 s
    /// (simulated) for answerPreCheckoutQuery, and on ok=true charges the user and sends
    /// `successful_payment`.
    pub async fn pay(
        &self,
        token: &str,
        user_id: i64,
        invoice: &InvoiceRef,
    ) -> Result<PayOutcome, SimError> {
        let Some((query_id, wake)) = self.open_checkout(token, user_id, invoice)? else {
            return Ok(PayOutcome::NoAnswer);
        };
        loop {
            let clock_moved = self.shared.clock.changed.notified();
            tokio::pin!(clock_moved);
            clock_moved.as_mut().enable();
            match self.look_at_checkout(token, user_id, &query_id)? {
                Checkout::Done(outcome) => return Ok(outcome),
                Checkout::Waiting { remaining_ms } => {
                    let remaining = Duration::from_millis(remaining_ms.max(1).unsigned_abs());
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = &mut clock_moved => {}
                        _ = tokio::time::sleep(remaining) => {}
                        _ = self.shared.cancel.cancelled() => return Err(SimError::ShuttingDown),
                    }
                }
            }
        }
    }

    /// Queues the pre-checkout query. None when `allowed_updates` discarded it: nobody can
    /// answer, so the checkout is known to time out and the simulator does not make tests wait.
    fn open_checkout(
        &self,
        token: &str,
        user_id: i64,
        invoice: &InvoiceRef,
    ) -> Result<Option<(String, Arc<Notify>)>, SimError> {
        let now = self.shared.clock.unix();
        let created_ms = self.shared.clock.mono_ms();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let name = reg
            .user_name(user_id)
            .ok_or(SimError::UnknownUser(user_id))?;
        let invoice = find_invoice(bot, user_id, invoice)?;
        let query_id = random_numeric_id();
        let wake = Arc::new(Notify::new());
        let query = json!({
            "id": query_id,
            "from": shapes::user(user_id, &name, &reg.language(user_id)),
            "currency": invoice.currency,
            "total_amount": invoice.amount,
            "invoice_payload": invoice.payload,
        });
        let created = bot.push_update(
            now,
            Kind::PreCheckoutQuery,
            Lane::PreCheckout(user_id),
            query,
        );
        bot.pre_checkouts.insert(
            query_id.clone(),
            PendingPreCheckout {
                invoice,
                created_ms,
                answer: None,
                expired: !created.kept,
                wake: wake.clone(),
            },
        );
        Ok(created.kept.then_some((query_id, wake)))
    }

    /// Settles the checkout if the bot answered, expires it if the deadline passed.
    fn look_at_checkout(
        &self,
        token: &str,
        user_id: i64,
        query_id: &str,
    ) -> Result<Checkout, SimError> {
        let now = self.shared.clock.unix();
        let now_ms = self.shared.clock.mono_ms();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        let query = bot
            .pre_checkouts
            .get_mut(query_id)
            .ok_or_else(|| SimError::UnknownInvoice(format!("pre-checkout query {query_id}")))?;
        let answer = query.answer.clone();
        let invoice = query.invoice.clone();
        let elapsed = now_ms - query.created_ms;
        match answer {
            Some((true, _)) => {
                let paying = Paying::Invoice {
                    period: invoice.subscription_period,
                };
                let settled = payments::settle(
                    bot,
                    reg,
                    now,
                    user_id,
                    invoice.amount,
                    &invoice.payload,
                    paying,
                );
                // An answered query is kept so that a second answer is refused, not unknown.
                Ok(Checkout::Done(PayOutcome::Paid {
                    charge_id: settled.charge_id,
                    update_id: settled.update_id,
                }))
            }
            Some((false, message)) => Ok(Checkout::Done(PayOutcome::Rejected {
                error_message: message.unwrap_or_default(),
            })),
            None if elapsed >= PRE_CHECKOUT_DEADLINE_MS => {
                query.expired = true;
                Ok(Checkout::Done(PayOutcome::NoAnswer))
            }
            None => Ok(Checkout::Waiting {
                remaining_ms: PRE_CHECKOUT_DEADLINE_MS - elapsed,
            }),
        }
    }

    /// Telegram delivers a copy of an update the bot already got: with the same update_id
    /// (a redelivery) or a new one (a duplicate event). Returns the copy's update_id.
    pub fn repeat_update(
        &self,
        token: &str,
        update_id: i64,
        same_id: bool,
    ) -> Result<i64, SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, _) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        bot.repeat_update(now, update_id, same_id)
            .ok_or(SimError::UnknownUpdate(update_id))
    }

    /// A refund the bot did not ask for (support, a chargeback): the transaction is recorded
    /// and `refunded_payment` is queued, exactly as for refundStarPayment.
    pub fn refund_externally(&self, token: &str, charge_id: &str) -> Result<(), SimError> {
        let now = self.shared.clock.unix();
        let mut world = self.shared.world();
        let (bot, reg) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        match payments::refund(bot, reg, now, charge_id, None) {
            Ok(_) => Ok(()),
            Err(Refusal::AlreadyRefunded) => Err(SimError::AlreadyRefunded(charge_id.to_owned())),
            Err(Refusal::NotFound | Refusal::WrongUser | Refusal::BalanceTooLow) => {
                Err(SimError::UnknownCharge(charge_id.to_owned()))
            }
        }
    }

    /// Adds a transaction as getStarTransactions will list it (any partner, any kind, even one
    /// Telegram has not invented yet), moving the balance by its `amount`: an affiliate's
    /// commission, a withdrawal to Fragment, an ads payment, a chargeback.
    pub fn add_star_transaction(
        &self,
        token: &str,
        transaction: serde_json::Value,
    ) -> Result<(), SimError> {
        let mut world = self.shared.world();
        let (bot, _) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        bot.transactions.push(transaction);
        Ok(())
    }

    /// What getMyStarBalance answers: incoming minus outgoing Stars.
    /// The seller uploads a file to the bot (in a real chat with it, say) and gets its
    /// `file_id`: what a delivery may then name instead of a URL. `kind` is `document`,
    /// `photo`, `video` or `audio`.
    pub fn upload_file(&self, token: &str, kind: &str, name: &str) -> Result<String, SimError> {
        use crate::methods::files::{FileKind, issue};
        let kind = [
            FileKind::Document,
            FileKind::Photo,
            FileKind::Video,
            FileKind::Audio,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| SimError::UnknownFileKind(kind.to_owned()))?;
        let mut world = self.shared.world();
        let (bot, _) = world
            .bot(token)
            .ok_or_else(|| SimError::UnknownBot(token.to_owned()))?;
        Ok(issue(bot, kind, None, Some(name.to_owned())).file_id)
    }

    pub fn star_balance(&self, token: &str) -> i64 {
        self.read(token, |bot| bot.balance())
    }
}

fn find_invoice(
    bot: &BotState,
    user_id: i64,
    wanted: &InvoiceRef,
) -> Result<SentInvoice, SimError> {
    match wanted {
        InvoiceRef::Message { message_id } => {
            let message = bot
                .chats
                .get(&user_id)
                .and_then(|chat| {
                    chat.messages
                        .iter()
                        .find(|m| m.sent.message_id == *message_id && !m.deleted)
                })
                .ok_or(SimError::UnknownMessage {
                    chat_id: user_id,
                    message_id: *message_id,
                })?;
            message
                .sent
                .invoice
                .clone()
                .ok_or(SimError::NotAnInvoice(*message_id))
        }
        InvoiceRef::Link(link) => bot
            .invoices
            .iter()
            .rev()
            .find(|i| i.link.as_deref() == Some(link.as_str()))
            .cloned()
            .ok_or_else(|| SimError::UnknownInvoice(link.clone())),
        InvoiceRef::Latest => bot
            .invoices
            .iter()
            .rev()
            .find(|i| i.chat_id == Some(user_id) || i.link.is_some())
            .cloned()
            .ok_or_else(|| SimError::UnknownInvoice(format!("nothing sent to user {user_id}"))),
    }
}
