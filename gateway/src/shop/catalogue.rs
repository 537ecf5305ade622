//! Commands and buttons: the catalogue, deep links, `/buy` (with a promo code: `/buy <product>
//! <CODE>` or the deep link `start=<product>__<CODE>`), `/paysupport`, `/terms`, and the admin
//! commands `/refund` and `/stats`.

use teloxide_core::prelude::*;
use teloxide_core::types::{CallbackQuery, ChatId, InlineKeyboardButton, Message};

use super::pricing::{self, BUY_PREFIX};
use super::reply::{say, say_with_buttons};
use super::{Current, ShopError, Store, invoice, refund, tg};
use crate::config::{Product, Texts};
use crate::domain::{ChargeId, ProductId};
use crate::i18n::Msg;
use crate::telegram::with_retry;
use teloxide_core::requests::Request;

/// Splits `/cmd@botname arg` into (`cmd`, `arg`).
fn parse_command(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('/')?;
    let (head, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let cmd = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
    Some((cmd, arg.trim()))
}

/// The product and the promo code of `/buy <product-id> <CODE>` or of a deep link
/// `<product-id>__<CODE>` (a double underscore cannot occur in a product id).
fn product_and_code(arg: &str) -> (&str, Option<&str>) {
    let split = arg
        .split_once("__")
        .or_else(|| arg.split_once(char::is_whitespace));
    match split {
        Some((product, code)) => (product.trim(), Some(code.trim()).filter(|c| !c.is_empty())),
        None => (arg, None),
    }
}

/// Sends the invoice for `product` at its price for this buyer, or says why the code they typed
/// cannot be used.
async fn buy(
    store: &Store,
    current: &Current,
    product: &Product,
    code: Option<&str>,
    (user, language, chat): (i64, Option<String>, ChatId),
    texts: &Texts<'_>,
) -> Result<String, ShopError> {
    match pricing::offer(store, current, product, (user, language), code, texts).await? {
        Ok(offer) => {
            invoice::send(store, current, product, &offer, user, chat, texts).await?;
            Ok(format!("invoice sent: {}", product.id))
        }
        Err(no) => pricing::refuse(store, product, chat, texts, &no).await,
    }
}

pub(super) async fn on_message(
    store: &Store,
    current: &Current,
    msg: &Message,
) -> Result<String, ShopError> {
    let Some(text) = msg.text() else {
        return Ok("ignored: a message without text".into());
    };
    let chat = msg.chat.id;
    let user = msg.from.as_ref().map(|u| u.id.0 as i64).unwrap_or(chat.0);
    let bot = &current.config;
    let texts = bot.texts(msg.from.as_ref().and_then(|u| u.language_code.as_deref()));
    let Some((cmd, arg)) = parse_command(text) else {
        say(store, chat, &help(current, &texts)).await?;
        return Ok("answered: help".into());
    };
    match cmd.as_str() {
        "start" | "buy" if !arg.is_empty() => {
            let (wanted, code) = product_and_code(arg);
            match ProductId::parse(wanted)
                .ok()
                .and_then(|id| bot.product(&id).cloned())
            {
                Some(product) if product.on_sale => {
                    let language = msg.from.as_ref().and_then(|u| u.language_code.clone());
                    buy(
                        store,
                        current,
                        &product,
                        code,
                        (user, language, chat),
                        &texts,
                    )
                    .await
                }
                _ => {
                    let shown = crate::brief::cut(wanted, 40);
                    let reply = texts.fill(Msg::UnknownProduct, &[("product", &shown)]);
                    say(store, chat, &reply).await?;
                    Ok("answered: unknown product".into())
                }
            }
        }
        "start" | "buy" => {
            send_catalogue(store, current, chat, &texts).await?;
            Ok("answered: catalogue".into())
        }
        "subscriptions" => {
            super::memberships::list(store, current, user, chat, &texts).await?;
            Ok("answered: subscriptions".into())
        }
        "paysupport" => {
            say(store, chat, texts.support()).await?;
            Ok("answered: paysupport".into())
        }
        "terms" => {
            say(store, chat, texts.terms()).await?;
            Ok("answered: terms".into())
        }
        "refund" if bot.is_admin(user) => {
            let reply = if arg.is_empty() {
                "Usage: /refund <charge-id>".to_owned()
            } else {
                let refunded = match ChargeId::parse(arg) {
                    Ok(charge) => refund::refund(store, &charge, &format!("admin {user} in chat"))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match refunded {
                    Ok(outcome) => outcome.to_string(),
                    Err(e) => format!("Refund failed: {e}"),
                }
            };
            say(store, chat, &reply).await?;
            Ok("answered: admin refund".into())
        }
        "stats" if bot.is_admin(user) => {
            let stats = store.ledger.stats(Some(&store.id)).await?;
            let mut reply = String::from("Sales so far:\n");
            for s in &stats {
                reply.push_str(&format!(
                    "• {}: {} paid ({} renewals), {} delivered, {} refunded, {} to review, {} ⭐ net\n",
                    s.product,
                    s.payments,
                    s.renewals,
                    s.delivered,
                    s.refunded,
                    s.needs_review,
                    s.net_revenue
                ));
            }
            if stats.is_empty() {
                reply.push_str("no payments yet.");
            }
            for p in store.ledger.promo_stats(Some(&store.id)).await? {
                reply.push_str(&format!(
                    "\n• code {}: {} uses, {} ⭐ off, {} ⭐ revenue",
                    p.code, p.uses, p.discounted, p.revenue
                ));
            }
            say(store, chat, &reply).await?;
            Ok("answered: admin stats".into())
        }
        _ => {
            say(store, chat, &help(current, &texts)).await?;
            Ok("answered: help".into())
        }
    }
}

pub(super) async fn on_callback(
    store: &Store,
    current: &Current,
    q: &CallbackQuery,
) -> Result<String, ShopError> {
    let user = q.from.id.0 as i64;
    let chat = q
        .regular_message()
        .map(|m| m.chat.id)
        .unwrap_or(ChatId(user));
    if let Some(outcome) = super::memberships::on_button(store, current, q).await? {
        return Ok(outcome);
    }
    let product = q
        .data
        .as_deref()
        .and_then(|d| d.strip_prefix(BUY_PREFIX))
        .and_then(|id| ProductId::parse(id).ok())
        .and_then(|id| current.config.product(&id).cloned());
    let texts = current.config.texts(q.from.language_code.as_deref());
    let answer = store.clients.api.answer_callback_query(q.id.clone());
    match product {
        Some(product) if product.on_sale => {
            with_retry(|| answer.send_ref())
                .await
                .map_err(tg("answerCallbackQuery"))?;
            let buyer = (user, q.from.language_code.clone(), chat);
            buy(store, current, &product, None, buyer, &texts).await
        }
        _ => {
            let answer = answer.text(texts.msg(Msg::StaleButton));
            with_retry(|| answer.send_ref())
                .await
                .map_err(tg("answerCallbackQuery"))?;
            Ok("answered: stale button".into())
        }
    }
}

fn help(current: &Current, texts: &Texts<'_>) -> String {
    let mut text = texts.help();
    if !current.config.admins.is_empty() {
        text.push_str("\nAdmins: /stats, /refund <charge-id>.");
    }
    text
}

async fn send_catalogue(
    store: &Store,
    current: &Current,
    chat: ChatId,
    texts: &Texts<'_>,
) -> Result<(), ShopError> {
    let bot = &current.config;
    let mut text = texts.greeting();
    let mut rows = Vec::new();
    for p in bot.products.iter().filter(|p| p.on_sale) {
        let period = if p.subscription {
            texts.msg(Msg::PerPeriod)
        } else {
            String::new()
        };
        let title = texts.title(p);
        text.push_str(&format!(
            "\n\n• {title} — {}{period}\n{}",
            p.price,
            texts.description(p)
        ));
        let price = p.price.get().to_string();
        rows.push(vec![InlineKeyboardButton::callback(
            texts.fill(
                Msg::BuyButton,
                &[("title", title), ("price", price.as_str())],
            ),
            format!("{BUY_PREFIX}{}", p.id),
        )]);
    }
    if rows.is_empty() {
        text = texts.msg(Msg::NothingForSale);
    }
    say_with_buttons(store, chat, text, rows).await
}

/// A message with inline buttons (one row each), retried briefly like every buyer-facing reply.
#[cfg(test)]
mod tests {
    use super::{parse_command, product_and_code};

    #[test]
    fn a_promo_code_follows_the_product_after_a_space_or_two_underscores() {
        assert_eq!(product_and_code("guide"), ("guide", None));
        assert_eq!(
            product_and_code("guide SPRING25"),
            ("guide", Some("SPRING25"))
        );
        assert_eq!(
            product_and_code("guide__spring25"),
            ("guide", Some("spring25"))
        );
        assert_eq!(product_and_code("pro-monthly__"), ("pro-monthly", None));
    }

    #[test]
    fn commands_are_split_from_their_argument_and_bot_name() {
        assert_eq!(
            parse_command("/start premium-guide"),
            Some(("start".into(), "premium-guide"))
        );
        assert_eq!(
            parse_command("/Buy@guides_bot  x "),
            Some(("buy".into(), "x"))
        );
        assert_eq!(parse_command("/terms"), Some(("terms".into(), "")));
        assert_eq!(parse_command("hello"), None);
    }
}
