//! Sending one part of a delivery: a text message, or a file by the method its kind names.
//! Files go by URL (Telegram fetches it) or by a `file_id` Telegram issued to this bot; either
//! way nothing is uploaded from the gateway, so a retry costs one small request.

use teloxide_core::prelude::*;
use teloxide_core::types::{ChatId, FileId, InputFile};
use teloxide_core::{Bot, RequestError};

use super::message::Part;
use crate::plugins::{Media, MediaKind};

/// Sends `part` to `chat`; Telegram's error as it came, for the outbox's failure policy.
pub async fn send(api: &Bot, chat: ChatId, part: &Part) -> Result<(), RequestError> {
    match part {
        Part::Text { text, markup } => {
            let mut req = api.send_message(chat, text.clone());
            if let Some(m) = markup {
                req = req.reply_markup(m.clone());
            }
            req.await.map(drop)
        }
        Part::File(media) => send_file(api, chat, media).await,
    }
}

async fn send_file(api: &Bot, chat: ChatId, media: &Media) -> Result<(), RequestError> {
    let file = input_file(media);
    macro_rules! with_caption {
        ($req:expr) => {{
            let mut req = $req;
            if let Some(c) = &media.caption {
                req = req.caption(c.clone());
            }
            req.await.map(drop)
        }};
    }
    match media.kind {
        MediaKind::Document => with_caption!(api.send_document(chat, file)),
        MediaKind::Photo => with_caption!(api.send_photo(chat, file)),
        MediaKind::Video => with_caption!(api.send_video(chat, file)),
        MediaKind::Audio => with_caption!(api.send_audio(chat, file)),
    }
}

/// A URL if the stored file parses as one (validated as https before it was stored), else a
/// file id.
fn input_file(media: &Media) -> InputFile {
    match media
        .is_url()
        .then(|| url::Url::parse(&media.file).ok())
        .flatten()
    {
        Some(url) => InputFile::url(url),
        None => InputFile::file_id(FileId(media.file.clone())),
    }
}
