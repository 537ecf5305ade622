//! sendDocument, sendPhoto, sendVideo and sendAudio, by URL or by a `file_id` this bot was
//! issued. Telegram fetches a URL itself and answers with a file id the bot may reuse; a file
//! id it never issued to this bot, or a URL it cannot fetch, is a `400 Bad Request`.

use serde_json::{Value, json};

use super::Ctx;
use super::messages::{Outgoing, post, reply_markup};
use crate::error::{ApiError, ApiResult};
use crate::state::{BotState, IssuedFile};
use crate::types::SentMedia;

const MAX_CAPTION_CHARS: usize = 1024;

/// The four file kinds: the method's parameter name, and the prefix of the ids issued for it
/// (Telegram's ids of one kind share their first bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Document,
    Photo,
    Video,
    Audio,
}

impl FileKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Document => "document",
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Audio => "audio",
        }
    }

    /// As Telegram names the kind in "can't use file of type Photo as Video".
    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::Document => "Document",
            Self::Photo => "Photo",
            Self::Video => "Video",
            Self::Audio => "Audio",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Self::Document => "BQACAgIAAxkBAA",
            Self::Photo => "AgACAgIAAxkBAA",
            Self::Video => "BAACAgIAAxkBAA",
            Self::Audio => "CQACAgIAAxkBAA",
        }
    }
}

pub(super) fn send_file(ctx: &Ctx<'_>, kind: FileKind) -> ApiResult {
    let chat_id = ctx.params.chat_id()?;
    let file = ctx
        .params
        .opt_str(kind.as_str())?
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| ApiError::bad(format!("there is no {} in the request", kind.as_str())))?;
    let caption = ctx
        .params
        .opt_str("caption")?
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if caption
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS)
    {
        return Err(ApiError::bad("message caption is too long"));
    }
    let markup = reply_markup(ctx)?;
    let now = ctx.now();
    ctx.with_bot(|bot, reg| {
        // Checked before the file: Telegram does not fetch for a chat it cannot write to.
        bot.writable_chat(chat_id)?;
        let issued = resolve(bot, kind, &file)?;
        let mut fields = file_fields(kind, &issued);
        if let Some(c) = &caption {
            fields["caption"] = json!(c);
        }
        let out = Outgoing {
            fields,
            text: None,
            invoice: None,
            reply_markup: markup,
            media: Some(SentMedia {
                kind: kind.as_str().to_owned(),
                file: file.clone(),
                file_id: issued.file_id.clone(),
                caption: caption.clone(),
            }),
        };
        post(bot, reg, chat_id, now, out)
    })
}

/// The file `file` names: a URL Telegram can fetch (issued an id on first use, the same id
/// after), or an id issued to this bot for this kind of file.
fn resolve(bot: &mut BotState, kind: FileKind, file: &str) -> ApiResult<IssuedFile> {
    if file.contains("://") {
        let url = url::Url::parse(file).map_err(|_| ApiError::bad("wrong HTTP URL specified"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ApiError::bad("wrong HTTP URL specified"));
        }
        // The simulator's stand-in for a server that does not answer or answers an error.
        if url.host_str().is_some_and(|h| h.ends_with(".invalid")) {
            return Err(ApiError::bad("failed to get HTTP URL content"));
        }
        if let Some(known) = bot.files.values().find(|f| f.url.as_deref() == Some(file)) {
            return Ok(known.clone());
        }
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        return Ok(issue(bot, kind, Some(file.to_owned()), name));
    }
    let Some(known) = bot.files.get(file) else {
        return Err(ApiError::bad("wrong file identifier/HTTP URL specified"));
    };
    if known.kind != kind {
        return Err(ApiError::bad(format!(
            "can't use file of type {} as {}",
            known.kind.title(),
            kind.title()
        )));
    }
    Ok(known.clone())
}

/// Gives a new file a `file_id` for this bot.
pub(crate) fn issue(
    bot: &mut BotState,
    kind: FileKind,
    url: Option<String>,
    name: Option<String>,
) -> IssuedFile {
    let n = bot.files.len() + 1;
    let file = IssuedFile {
        kind,
        file_id: format!("{}{n:04}{}", kind.id_prefix(), bot.info.id),
        file_unique_id: format!("AgAD{n:04}"),
        url,
        name,
    };
    bot.files.insert(file.file_id.clone(), file.clone());
    file
}

/// The message fields Telegram adds for a file of `kind`.
fn file_fields(kind: FileKind, f: &IssuedFile) -> Value {
    let meta =
        json!({ "file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": 52_431 });
    let mut media = meta.clone();
    match kind {
        FileKind::Document => {
            if let Some(name) = &f.name {
                media["file_name"] = json!(name);
            }
        }
        FileKind::Photo => {
            media["width"] = json!(1280);
            media["height"] = json!(720);
            return json!({ "photo": [media] });
        }
        FileKind::Video => {
            media["width"] = json!(1280);
            media["height"] = json!(720);
            media["duration"] = json!(12);
        }
        FileKind::Audio => media["duration"] = json!(180),
    }
    json!({ kind.as_str(): media })
}
