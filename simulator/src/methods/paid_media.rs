//! sendPaidMedia: media a buyer unlocks for Stars, with no invoice and no pre-checkout.
//!
//! What a gateway can get wrong is enforced with an error in Telegram's shape: `star_count`
//! outside 1-25000 (Bot API 9.3), no media or more than 10, a media type other than photo or
//! video, a URL that is not http(s), a file_id this bot was never given (or one of the wrong
//! kind), a caption over 1024 characters, a payload over 128 bytes. The texts of the first
//! four are not documented by Telegram; the simulator's are assumptions (README).
//!
//! Chats: a positive id is a private chat the user must have opened (as for sendMessage); a
//! negative id is a group, and one at or below -1000000000000 a channel (Telegram's `-100…`
//! ids). The simulator does not model membership, so the bot may post in any group or channel.

use serde_json::{Value, json};

use super::Ctx;
use super::messages::{Outgoing, post};
use crate::error::{ApiError, ApiResult};
use crate::paid_media::{ChatType, FileKind, PaidPost};
use crate::shapes;
use crate::state::{BotState, StoredMessage};
use crate::types::{SentMessage, SentPaidMedia};

pub(crate) const MIN_STARS: i64 = 1;
pub(crate) const MAX_STARS: i64 = 25_000;
const MAX_MEDIA: usize = 10;
const MAX_CAPTION_CHARS: usize = 1024;
const MAX_PAYLOAD_BYTES: usize = 128;

pub(super) fn send_paid_media(ctx: &Ctx<'_>) -> ApiResult {
    let p = ctx.params;
    let chat_id = p.chat_id()?;
    let star_count = p.req_i64("star_count")?;
    if !(MIN_STARS..=MAX_STARS).contains(&star_count) {
        return Err(ApiError::bad("STARS_AMOUNT_INVALID"));
    }
    let media = media_list(p.opt_json("media")?)?;
    let caption = p.opt_str("caption")?.filter(|c| !c.is_empty());
    if caption
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS)
    {
        return Err(ApiError::bad("message caption is too long"));
    }
    let payload = p.opt_str("payload")?.unwrap_or_default();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::bad("paid media payload is too long"));
    }
    let now = ctx.now();
    ctx.with_bot(|bot, reg| {
        let mut issued = Vec::with_capacity(media.len());
        for (kind, source) in &media {
            issued.push(resolve(bot, *kind, source)?);
        }
        let shown: Vec<Value> = issued
            .iter()
            .map(|(kind, id)| paid_media_object(*kind, id))
            .collect();
        let mut fields = json!({
            "paid_media": { "star_count": star_count, "paid_media": shown.clone() }
        });
        if let Some(caption) = &caption {
            fields["caption"] = json!(caption);
        }
        let chat_type = ChatType::of(chat_id);
        let message = match chat_type {
            ChatType::Private => {
                let out = Outgoing {
                    fields,
                    text: None,
                    invoice: None,
                    reply_markup: None,
                    media: None,
                };
                post(bot, reg, chat_id, now, out)?
            }
            ChatType::Group | ChatType::Channel => {
                post_in_group(bot, chat_id, chat_type, now, fields)
            }
        };
        let message_id = message["message_id"].as_i64().unwrap_or_default();
        let sent = SentPaidMedia {
            message_id,
            chat_id,
            chat_type: chat_type.as_str().to_owned(),
            star_count,
            payload: payload.clone(),
            caption: caption.clone(),
            media: issued
                .iter()
                .map(|(kind, id)| (kind.as_str().to_owned(), id.clone()))
                .collect(),
            date: now,
        };
        bot.paid_posts.push(PaidPost::new(sent, shown));
        Ok(message)
    })
}

/// `media`: a JSON array of InputPaidMedia, each `{type, media}`.
fn media_list(raw: Option<Value>) -> ApiResult<Vec<(FileKind, String)>> {
    let raw = raw.ok_or_else(|| ApiError::required("media"))?;
    let items = raw
        .as_array()
        .ok_or_else(|| ApiError::bad("can't parse InputPaidMedia JSON array"))?;
    if items.is_empty() {
        return Err(ApiError::bad("paid media must be non-empty"));
    }
    if items.len() > MAX_MEDIA {
        return Err(ApiError::bad("too many paid media: at most 10 are allowed"));
    }
    items
        .iter()
        .map(|item| {
            let kind = match item["type"].as_str() {
                Some("photo") => FileKind::Photo,
                Some("video") => FileKind::Video,
                _ => return Err(ApiError::bad("unsupported paid media type")),
            };
            let media = item["media"]
                .as_str()
                .filter(|m| !m.is_empty())
                .ok_or_else(|| ApiError::bad("can't find field \"media\" in InputPaidMedia"))?;
            Ok((kind, media.to_owned()))
        })
        .collect()
}

/// The file_id a media item ends up as: a new one for a URL Telegram can fetch, the same one
/// for a file_id this bot was given for a file of the same kind.
fn resolve(bot: &mut BotState, kind: FileKind, source: &str) -> ApiResult<(FileKind, String)> {
    let wrong = || ApiError::bad("wrong file identifier/HTTP URL specified");
    if source.contains("://") {
        let fetchable = url::Url::parse(source)
            .ok()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !fetchable {
            return Err(wrong());
        }
        let id = super::files::issue(bot, kind, Some(source.to_owned()), None).file_id;
        return Ok((kind, id));
    }
    match bot.files.get(source) {
        Some(f) if f.kind == kind => Ok((kind, source.to_owned())),
        Some(f) => Err(ApiError::bad(format!(
            "can't use file of type {} as {}",
            f.kind.title(),
            kind.title()
        ))),
        None => Err(wrong()),
    }
}

/// PaidMedia as the bot sees its own post: the full photo or video.
pub(crate) fn paid_media_object(kind: FileKind, file_id: &str) -> Value {
    let unique = file_id.chars().rev().take(16).collect::<String>();
    match kind {
        // Paid media are photos and videos; `media_list` refuses every other type.
        FileKind::Photo | FileKind::Document | FileKind::Audio => json!({
            "type": "photo",
            "photo": [{ "file_id": file_id, "file_unique_id": unique, "width": 1280, "height": 720 }],
        }),
        FileKind::Video => json!({
            "type": "video",
            "video": { "file_id": file_id, "file_unique_id": unique, "width": 1280, "height": 720, "duration": 30 },
        }),
    }
}

/// A post in a group or channel: a channel post has no `from`, only `sender_chat`.
fn post_in_group(
    bot: &mut BotState,
    chat_id: i64,
    chat_type: ChatType,
    now: i64,
    fields: Value,
) -> Value {
    let chat_json =
        json!({ "id": chat_id, "title": format!("Chat {chat_id}"), "type": chat_type.as_str() });
    let from = shapes::bot_user(&bot.info);
    let chat = bot.chat_mut(chat_id);
    let message_id = chat.take_message_id();
    let mut message = shapes::message(message_id, from, chat_json.clone(), now, fields);
    if chat_type == ChatType::Channel
        && let Some(obj) = message.as_object_mut()
    {
        obj.remove("from");
        obj.insert("sender_chat".into(), chat_json);
    }
    chat.messages.push(StoredMessage {
        sent: SentMessage {
            message_id,
            chat_id,
            text: None,
            invoice: None,
            reply_markup: None,
            media: None,
            date: now,
        },
        json: message.clone(),
        deleted: false,
    });
    bot.messages_notify.notify_waiters();
    message
}
