//! Turning stored delivery content into the one Telegram message the buyer receives: the texts,
//! then each link both as a button and spelled out (buttons are easy to miss in some clients).

use teloxide_core::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::plugins::{Delivery, Item};

/// The message for stored delivery `content`, under `header` (the catalogue's delivery header).
pub fn render(header: &str, content: &str) -> (String, Option<InlineKeyboardMarkup>) {
    let Ok(delivery) = serde_json::from_str::<Delivery>(content) else {
        // Content is validated before it is stored; this only guards against a hand-edited ledger.
        return (format!("{header}\n\n{content}"), None);
    };
    let mut text = String::from(header);
    let mut rows = Vec::new();
    for item in &delivery.items {
        match item {
            Item::Text { text: t } => {
                text.push_str("\n\n");
                text.push_str(t);
            }
            Item::Link { url, label } => {
                text.push_str("\n\n");
                text.push_str(url);
                if let Ok(parsed) = reqwest::Url::parse(url) {
                    let label = label.clone().unwrap_or_else(|| "Open".into());
                    rows.push(vec![InlineKeyboardButton::url(label, parsed)]);
                }
            }
        }
    }
    let text: String = text.chars().take(4096).collect();
    let markup = (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows));
    (text, markup)
}
