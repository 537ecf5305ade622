//! The Bot API methods the simulator implements, one module per area.

mod bot;
pub(crate) mod files;
mod invoices;
mod messages;
mod paid_media;
pub(crate) mod payments;
mod updates;
mod webhook;

pub(crate) use bot::menu_for;

use std::sync::Arc;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::{BotState, Registry, Shared};

/// Every implemented method's canonical name. Telegram matches names case-insensitively, and
/// calls are recorded under this spelling so tests need not care how a client cased them.
const METHODS: &[&str] = &[
    "getMe",
    "logOut",
    "close",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendDocument",
    "sendPhoto",
    "sendVideo",
    "sendAudio",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "sendInvoice",
    "createInvoiceLink",
    "answerPreCheckoutQuery",
    "refundStarPayment",
    "getStarTransactions",
    "editUserStarSubscription",
    "getMyStarBalance",
    "sendPaidMedia",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
];

pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// A successful answer; a few methods (setWebhook) add a human `description` next to `result`.
pub(crate) struct Reply {
    pub result: Value,
    pub description: Option<&'static str>,
}

impl From<Value> for Reply {
    fn from(result: Value) -> Self {
        Reply {
            result,
            description: None,
        }
    }
}

/// One call's context: which bot, with what parameters.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub token: &'a str,
    pub params: &'a Params,
}

impl Ctx<'_> {
    pub(crate) fn now(&self) -> i64 {
        self.shared.clock.unix()
    }

    /// Runs `f` under the world lock with this bot's state.
    pub(crate) fn with_bot<R>(
        &self,
        f: impl FnOnce(&mut BotState, &mut Registry) -> ApiResult<R>,
    ) -> ApiResult<R> {
        let mut world = self.shared.world();
        let (bot, reg) = world.bot(self.token).ok_or_else(ApiError::unauthorized)?;
        f(bot, reg)
    }
}

/// Runs a method by canonical name.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, method: &str) -> ApiResult<Reply> {
    let result = match method {
        "getMe" => bot::get_me(ctx),
        "logOut" | "close" => Ok(Value::Bool(true)),
        "setMyCommands" => bot::set_my_commands(ctx),
        "getMyCommands" => bot::get_my_commands(ctx),
        "deleteMyCommands" => bot::delete_my_commands(ctx),
        "setMyDescription" | "setMyShortDescription" | "setMyName" | "setChatMenuButton" => {
            Ok(Value::Bool(true))
        }
        "getUpdates" => updates::get_updates(ctx).await,
        "setWebhook" => return webhook::set_webhook(ctx),
        "deleteWebhook" => return webhook::delete_webhook(ctx),
        "getWebhookInfo" => webhook::get_webhook_info(ctx),
        "sendMessage" => messages::send_message(ctx),
        "sendDocument" => files::send_file(ctx, files::FileKind::Document),
        "sendPhoto" => files::send_file(ctx, files::FileKind::Photo),
        "sendVideo" => files::send_file(ctx, files::FileKind::Video),
        "sendAudio" => files::send_file(ctx, files::FileKind::Audio),
        "editMessageText" => messages::edit_message_text(ctx),
        "editMessageReplyMarkup" => messages::edit_message_reply_markup(ctx),
        "deleteMessage" => messages::delete_message(ctx),
        "sendChatAction" => messages::send_chat_action(ctx),
        "answerCallbackQuery" => messages::answer_callback_query(ctx),
        "sendInvoice" => invoices::send_invoice(ctx),
        "createInvoiceLink" => invoices::create_invoice_link(ctx),
        "answerPreCheckoutQuery" => payments::answer_pre_checkout_query(ctx),
        "refundStarPayment" => payments::refund_star_payment(ctx),
        "getStarTransactions" => payments::get_star_transactions(ctx),
        "editUserStarSubscription" => payments::edit_user_star_subscription(ctx),
        "getMyStarBalance" => payments::get_my_star_balance(ctx),
        "sendPaidMedia" => paid_media::send_paid_media(ctx),
        _ => Err(ApiError::method_not_found()),
    };
    result.map(Reply::from)
}
