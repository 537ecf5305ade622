//! Turning stored delivery content into the messages the buyer receives: one text message with
//! the texts and links (each link both as a button and spelled out, since buttons are easy to
//! miss in some clients), then one message per file. A delivery is sent part by part and the
//! ledger counts the parts Telegram accepted, so a retry resends only what is missing.

use teloxide_core::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::plugins::delivery::MAX_CAPTION_CHARS;
use crate::plugins::{Delivery, Item, Media};

/// One message of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text {
        text: String,
        markup: Option<InlineKeyboardMarkup>,
    },
    /// A file, with its caption as sent.
    File(Media),
}

/// The messages for stored delivery `content`, under `header` (the catalogue's delivery header).
/// Always at least one. A delivery of files only carries the header in the first file's caption.
pub fn render(header: &str, content: &str) -> Vec<Part> {
    let Ok(delivery) = serde_json::from_str::<Delivery>(content) else {
        // Content is validated before it is stored; this only guards against a hand-edited ledger.
        return vec![Part::Text {
            text: format!("{header}\n\n{content}"),
            markup: None,
        }];
    };
    let mut text = String::from(header);
    let mut has_text = false;
    let mut rows = Vec::new();
    let mut files = Vec::new();
    for item in delivery.items {
        match item {
            Item::Text { text: t } => {
                has_text = true;
                text.push_str("\n\n");
                text.push_str(&t);
            }
            Item::Link { url, label } => {
                has_text = true;
                text.push_str("\n\n");
                text.push_str(&url);
                if let Ok(parsed) = reqwest::Url::parse(&url) {
                    let label = label.unwrap_or_else(|| "Open".into());
                    rows.push(vec![InlineKeyboardButton::url(label, parsed)]);
                }
            }
            Item::Media(m) => files.push(m),
        }
    }
    let mut parts = Vec::with_capacity(files.len() + 1);
    if has_text || files.is_empty() {
        parts.push(Part::Text {
            text: text.chars().take(4096).collect(),
            markup: (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows)),
        });
    } else if let Some(first) = files.first_mut() {
        let caption = match &first.caption {
            Some(c) => format!("{header}\n\n{c}"),
            None => header.to_owned(),
        };
        first.caption = Some(caption.chars().take(MAX_CAPTION_CHARS).collect());
    }
    parts.extend(files.into_iter().map(Part::File));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::MediaKind;

    fn doc(caption: Option<&str>) -> Item {
        Item::Media(Media {
            kind: MediaKind::Document,
            file: "https://example.com/g.pdf".into(),
            caption: caption.map(str::to_owned),
        })
    }

    fn content(items: Vec<Item>) -> String {
        serde_json::to_string(&Delivery { items }).unwrap()
    }

    #[test]
    fn texts_and_links_are_one_message_and_each_file_its_own() {
        let parts = render(
            "Thanks",
            &content(vec![
                Item::Text { text: "Hi".into() },
                doc(None),
                doc(Some("B")),
            ]),
        );
        assert_eq!(parts.len(), 3);
        assert!(matches!(&parts[0], Part::Text { text, .. } if text == "Thanks\n\nHi"));
        assert!(matches!(&parts[1], Part::File(m) if m.caption.is_none()));
    }

    #[test]
    fn a_delivery_of_files_only_carries_the_header_in_the_first_caption() {
        let parts = render("Thanks", &content(vec![doc(Some("The guide"))]));
        assert_eq!(parts.len(), 1);
        assert!(
            matches!(&parts[0], Part::File(m) if m.caption.as_deref() == Some("Thanks\n\nThe guide"))
        );
    }

    #[test]
    fn content_stored_before_files_existed_is_one_text_message() {
        let parts = render("Thanks", r#"{"items":[{"type":"text","text":"Hi"}]}"#);
        assert_eq!(parts.len(), 1);
    }
}
