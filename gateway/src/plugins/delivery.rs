//! What a buyer receives, and the checks every plugin's output must pass before it is stored.
//! Limits follow Telegram's: a message is at most 4096 characters, a caption 1024.

use serde::{Deserialize, Serialize};

pub const MAX_ITEMS: usize = 10;
pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_URL_BYTES: usize = 2048;
/// Telegram's limit on a media caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Telegram's file ids are URL-safe base64 of a few dozen bytes; this bounds what we pass on.
pub const MAX_FILE_ID_BYTES: usize = 256;
/// Telegram documents no maximum for a pre-checkout error message; 200 keeps it on screen.
pub const MAX_REJECT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Text {
        text: String,
    },
    Link {
        url: String,
        label: Option<String>,
    },
    /// A file sent as its own message (sendDocument, sendPhoto, sendVideo or sendAudio).
    Media(Media),
}

/// A document, photo, video or audio file, by https URL (Telegram fetches it) or by a
/// `file_id` Telegram issued to this bot earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    /// An https URL or a Telegram `file_id`.
    pub file: String,
    pub caption: Option<String>,
}

/// Which Bot API method sends a [`Media`] item, and how the buyer's app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Document,
    Photo,
    Video,
    Audio,
}

impl MediaKind {
    pub const ALL: [MediaKind; 4] = [Self::Document, Self::Photo, Self::Video, Self::Audio];

    /// The spelling in `[product.config]`, in stored content and in the plugin contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Document => "document",
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Audio => "audio",
        }
    }
}

impl Media {
    /// Whether `file` is a URL (else it is a file id).
    pub fn is_url(&self) -> bool {
        self.file.contains("://")
    }
}

/// Checks a media item's file (an https URL or a plausible file id) and caption.
fn validate_media(i: usize, m: &Media) -> Result<(), String> {
    if m.is_url() {
        let parsed = url::Url::parse(&m.file).map_err(|e| format!("item {i}: {e}"))?;
        if parsed.scheme() != "https" || m.file.len() > MAX_URL_BYTES {
            return Err(format!(
                "item {i}: a {} URL must be https:// and at most {MAX_URL_BYTES} bytes",
                m.kind.as_str()
            ));
        }
    } else if m.file.is_empty()
        || m.file.len() > MAX_FILE_ID_BYTES
        || !m
            .file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "item {i}: a {} must be an https:// URL or a Telegram file_id",
            m.kind.as_str()
        ));
    }
    if let Some(c) = &m.caption {
        let n = c.chars().count();
        if c.trim().is_empty() || n > MAX_CAPTION_CHARS {
            return Err(format!(
                "item {i}: a caption must be 1-{MAX_CAPTION_CHARS} characters, got {n}"
            ));
        }
    }
    Ok(())
}

/// Checks a delivery; a violation is the plugin's fault and is treated as a plugin error.
pub fn validate_delivery(d: &Delivery) -> Result<(), String> {
    if d.items.is_empty() {
        return Err("a delivery needs at least one item".into());
    }
    if d.items.len() > MAX_ITEMS {
        return Err(format!("{} items; at most {MAX_ITEMS}", d.items.len()));
    }
    for (i, item) in d.items.iter().enumerate() {
        match item {
            Item::Text { text } => {
                let n = text.chars().count();
                if text.trim().is_empty() || n > MAX_TEXT_CHARS {
                    return Err(format!(
                        "item {i}: text must be 1-{MAX_TEXT_CHARS} characters, got {n}"
                    ));
                }
            }
            Item::Link { url, label } => {
                let parsed = url::Url::parse(url).map_err(|e| format!("item {i}: {e}"))?;
                if parsed.scheme() != "https" || url.len() > MAX_URL_BYTES {
                    return Err(format!(
                        "item {i}: a link must be https:// and at most {MAX_URL_BYTES} bytes"
                    ));
                }
                if let Some(l) = label
                    && (l.trim().is_empty() || l.chars().count() > 64)
                {
                    return Err(format!("item {i}: a link label must be 1-64 characters"));
                }
            }
            Item::Media(m) => validate_media(i, m)?,
        }
    }
    Ok(())
}

/// Checks a reject message before it is shown to a buyer.
pub fn validate_reject_message(msg: &str) -> Result<(), String> {
    let n = msg.chars().count();
    if msg.trim().is_empty() || n > MAX_REJECT_CHARS {
        return Err(format!(
            "reject message must be 1-{MAX_REJECT_CHARS} characters, got {n}"
        ));
    }
    if msg.chars().any(|c| c.is_control() && c != '\n') {
        return Err("reject message contains control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_link_is_refused() {
        let d = Delivery {
            items: vec![Item::Link {
                url: "http://example.com".into(),
                label: None,
            }],
        };
        assert!(validate_delivery(&d).is_err());
    }

    #[test]
    fn too_many_items_are_refused() {
        let d = Delivery {
            items: vec![Item::Text { text: "x".into() }; MAX_ITEMS + 1],
        };
        assert!(validate_delivery(&d).is_err());
    }

    fn media(file: &str, caption: Option<&str>) -> Delivery {
        Delivery {
            items: vec![Item::Media(Media {
                kind: MediaKind::Document,
                file: file.into(),
                caption: caption.map(str::to_owned),
            })],
        }
    }

    #[test]
    fn a_document_by_https_url_or_file_id_is_accepted() {
        assert!(validate_delivery(&media("https://example.com/guide.pdf", Some("Guide"))).is_ok());
        assert!(validate_delivery(&media("BQACAgIAAxkBAAIBOWZ-abc_DEF", None)).is_ok());
    }

    #[test]
    fn a_document_by_plain_http_or_a_mangled_file_id_is_refused() {
        assert!(validate_delivery(&media("http://example.com/guide.pdf", None)).is_err());
        assert!(validate_delivery(&media("not a file id", None)).is_err());
        assert!(validate_delivery(&media("", None)).is_err());
    }

    #[test]
    fn a_caption_over_telegrams_limit_is_refused() {
        let long = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert!(validate_delivery(&media("https://example.com/a.pdf", Some(&long))).is_err());
    }

    #[test]
    fn stored_media_content_keeps_one_spelling() {
        let json = serde_json::to_string(&media("https://example.com/a.pdf", None)).unwrap();
        assert_eq!(
            json,
            r#"{"items":[{"type":"media","kind":"document","file":"https://example.com/a.pdf","caption":null}]}"#
        );
    }

    #[test]
    fn an_empty_delivery_is_refused() {
        assert!(validate_delivery(&Delivery { items: vec![] }).is_err());
    }

    #[test]
    fn reject_messages_are_bounded_and_printable() {
        assert!(validate_reject_message("Sold out").is_ok());
        assert!(validate_reject_message("").is_err());
        assert!(validate_reject_message(&"x".repeat(MAX_REJECT_CHARS + 1)).is_err());
        assert!(validate_reject_message("bell\u{7}").is_err());
    }
}
