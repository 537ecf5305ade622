//! The vocabulary of paid media posts (sendPaidMedia): media a buyer unlocks for Stars in a chat
//! or channel, with no invoice and no pre-checkout. Parsed once, at the edge (the command line,
//! the admin API), so the shop and the ledger never re-check a price, a media item or a post id.
//!
//! A post's payload is the gateway's own [`PostId`]: Telegram hands it back in
//! `purchased_paid_media` and in the `paid_media_payment` StarTransaction, which is how a
//! purchase and its charge find their post.

use std::fmt;

use crate::domain::Invalid;

/// The gateway's own id for a paid media post: `pm` and 18 base-32 characters, random. It is the
/// post's payload (Telegram allows 0-128 bytes), and its sales are exported as product
/// `paid-media:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostId(String);

impl PostId {
    const PREFIX: &'static str = "pm";
    const RANDOM: usize = 18;
    const ALPHABET: &'static [u8] = b"abcdefghijklmnopqrstuvwxyz234567";

    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let random: String = (0..Self::RANDOM)
            .map(|_| Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())] as char)
            .collect();
        Self(format!("{}{random}", Self::PREFIX))
    }

    /// Reads a payload Telegram hands back; anything that is not one of our ids is `None` (a
    /// payload is data from outside and may be anything).
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix(Self::PREFIX)?;
        let ok = rest.len() == Self::RANDOM && rest.bytes().all(|b| Self::ALPHABET.contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The product name its sales have in `ledger export` and `stats`.
    pub fn product(&self) -> String {
        format!("{PRODUCT_PREFIX}{}", self.0)
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The product prefix of paid media sales in exports and stats.
pub const PRODUCT_PREFIX: &str = "paid-media:";

/// A post's price: 1-25000 Stars (Bot API 9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostStars(u32);

impl PostStars {
    pub const MAX: u32 = 25_000;

    pub fn parse(raw: i64) -> Result<Self, Invalid> {
        if !(1..=i64::from(Self::MAX)).contains(&raw) {
            return Err(Invalid(format!(
                "must be 1-{} Stars for paid media, got {raw}",
                Self::MAX
            )));
        }
        Ok(Self(raw as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Photo or video: what sendPaidMedia's InputPaidMedia says the media is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Photo,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
        }
    }
}

/// File name endings read as video when a MEDIA has no `photo:`/`video:` prefix.
const VIDEO_ENDINGS: [&str; 6] = [".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"];

/// One media item of a post: an https URL Telegram fetches, or a `file_id` Telegram gave this bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaItem {
    pub kind: MediaKind,
    /// The URL or file_id, as Telegram receives it in `media`.
    pub media: String,
}

impl MediaItem {
    /// Reads one MEDIA argument. The rule: a `photo:` or `video:` prefix says the kind;
    /// without one, a URL whose path ends in a video extension (.mp4 .mov .m4v .webm .mkv .avi)
    /// is a video and anything else, a bare file_id included, is a photo.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        let (given, rest) = match raw.split_once(':') {
            Some(("photo", rest)) => (Some(MediaKind::Photo), rest),
            Some(("video", rest)) => (Some(MediaKind::Video), rest),
            _ => (None, raw),
        };
        let shown = || crate::brief::value(raw);
        if rest.contains("://") {
            let url = url::Url::parse(rest)
                .ok()
                .filter(|u| u.scheme() == "https" && u.host().is_some())
                .ok_or_else(|| Invalid(format!("{} is not an https URL", shown())))?;
            let path = url.path().to_ascii_lowercase();
            let kind = given.unwrap_or(if VIDEO_ENDINGS.iter().any(|e| path.ends_with(e)) {
                MediaKind::Video
            } else {
                MediaKind::Photo
            });
            return Ok(Self {
                kind,
                media: url.to_string(),
            });
        }
        let is_file_id = !rest.is_empty()
            && rest.len() <= 256
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !is_file_id {
            return Err(Invalid(format!(
                "{} is neither an https URL nor a Telegram file_id",
                shown()
            )));
        }
        Ok(Self {
            kind: given.unwrap_or(MediaKind::Photo),
            media: rest.to_owned(),
        })
    }

    /// The InputPaidMedia sent to Telegram.
    pub fn to_input(&self) -> serde_json::Value {
        serde_json::json!({ "type": self.kind.as_str(), "media": self.media })
    }
}

/// Where a post goes: a chat id, or a public channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    Id(i64),
    Username(String),
}

impl ChatTarget {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>()
            && id != 0
        {
            return Ok(Self::Id(id));
        }
        let name = raw.strip_prefix('@').unwrap_or("");
        let ok = (4..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            return Ok(Self::Username(raw.to_owned()));
        }
        Err(Invalid(format!(
            "{} is neither a chat id nor a @channelusername",
            crate::brief::value(raw)
        )))
    }

    /// `chat_id` as the Bot API takes it.
    pub fn to_param(&self) -> serde_json::Value {
        match self {
            Self::Id(id) => serde_json::json!(id),
            Self::Username(name) => serde_json::json!(name),
        }
    }
}

impl fmt::Display for ChatTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Username(name) => f.write_str(name),
        }
    }
}

/// Telegram's limits on one post.
pub const MAX_MEDIA: usize = 10;
pub const MAX_CAPTION_CHARS: usize = 1024;

/// A paid media post to send, checked against Telegram's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRequest {
    pub chat: ChatTarget,
    pub stars: PostStars,
    pub caption: Option<String>,
    pub media: Vec<MediaItem>,
}

impl PostRequest {
    /// Every problem is one short sentence naming the argument at fault.
    pub fn parse(
        chat: &str,
        stars: i64,
        caption: Option<&str>,
        media: &[String],
    ) -> Result<Self, Invalid> {
        let chat = ChatTarget::parse(chat).map_err(|e| Invalid(format!("chat: {e}")))?;
        let stars = PostStars::parse(stars).map_err(|e| Invalid(format!("stars: {e}")))?;
        let caption = caption.filter(|c| !c.trim().is_empty());
        if let Some(n) = caption
            .map(|c| c.chars().count())
            .filter(|n| *n > MAX_CAPTION_CHARS)
        {
            return Err(Invalid(format!(
                "caption: {n} characters; Telegram allows at most {MAX_CAPTION_CHARS}"
            )));
        }
        if media.is_empty() {
            return Err(Invalid("media: name at least one photo or video".into()));
        }
        if media.len() > MAX_MEDIA {
            return Err(Invalid(format!(
                "media: {} given; Telegram allows at most {MAX_MEDIA} in one post",
                media.len()
            )));
        }
        let media = media
            .iter()
            .map(|m| MediaItem::parse(m).map_err(|e| Invalid(format!("media: {e}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            chat,
            stars,
            caption: caption.map(str::to_owned),
            media,
        })
    }
}

/// Where a post stands: recorded before it is sent (so a purchase can always find it), then
/// sent, or refused by Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostState {
    Sending,
    Sent,
    Failed,
}

impl PostState {
    pub const ALL: [PostState; 3] = [Self::Sending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for PostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_ids_round_trip_and_foreign_payloads_are_not_ours() {
        let id = PostId::generate();
        assert_eq!(id.as_str().len(), 20);
        assert_eq!(PostId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.product(), format!("paid-media:{id}"));
        for foreign in [
            "",
            "pm",
            "order-1",
            "PMaaaaaaaaaaaaaaaaaa",
            "pmaaaaaaaaaaaaaaaaa1",
        ] {
            assert_eq!(PostId::parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn the_kind_comes_from_the_prefix_then_the_extension() {
        let kind = |raw: &str| MediaItem::parse(raw).map(|m| m.kind);
        assert_eq!(kind("https://x.io/a.jpg"), Ok(MediaKind::Photo));
        assert_eq!(kind("https://x.io/clip.MP4?s=1"), Ok(MediaKind::Video));
        assert_eq!(kind("video:https://x.io/stream"), Ok(MediaKind::Video));
        assert_eq!(kind("photo:https://x.io/a.mp4"), Ok(MediaKind::Photo));
        assert_eq!(kind("AgACAgIAAxkBAAIB"), Ok(MediaKind::Photo));
        assert_eq!(kind("video:BAACAgIAAxkBAAIB"), Ok(MediaKind::Video));
        assert!(MediaItem::parse("http://x.io/a.jpg").is_err());
        assert!(MediaItem::parse("ftp://x.io/a.jpg").is_err());
        assert!(MediaItem::parse("not a file id").is_err());
        assert!(MediaItem::parse("video:").is_err());
    }

    #[test]
    fn a_request_outside_telegrams_limits_is_refused_with_the_argument_named() {
        let one = vec!["https://x.io/a.jpg".to_owned()];
        let ok = PostRequest::parse("-1001234", 25_000, Some("hi"), &one).unwrap();
        assert_eq!(ok.chat, ChatTarget::Id(-1001234));
        assert!(PostRequest::parse("@my_channel", 1, None, &one).is_ok());
        let err = |chat: &str, stars: i64, media: &[String]| {
            PostRequest::parse(chat, stars, None, media).unwrap_err().0
        };
        assert!(err("5", 0, &one).starts_with("stars:"));
        assert!(err("5", 25_001, &one).starts_with("stars:"));
        assert!(err("five", 5, &one).starts_with("chat:"));
        assert!(err("5", 5, &[]).starts_with("media:"));
        assert!(err("5", 5, &vec![one[0].clone(); 11]).starts_with("media:"));
        let long = "c".repeat(1025);
        assert!(
            PostRequest::parse("5", 5, Some(&long), &one)
                .unwrap_err()
                .0
                .starts_with("caption:")
        );
    }

    #[test]
    fn every_state_reads_back_and_the_migrations_allow_it() {
        for s in PostState::ALL {
            assert_eq!(PostState::parse(s.as_str()), Some(s));
            for sql in [
                include_str!("../../migrations/sqlite/0013_paid_media.sql"),
                include_str!("../../migrations/postgres/0013_paid_media.sql"),
            ] {
                assert!(sql.contains(&format!("'{}'", s.as_str())));
            }
        }
    }
}
