//! What a buyer receives, and the checks every plugin's output must pass before it is stored.
//! Limits follow Telegram's: a message is at most 4096 characters.

use serde::{Deserialize, Serialize};

pub const MAX_ITEMS: usize = 10;
pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_URL_BYTES: usize = 2048;
/// Telegram documents no maximum for a pre-checkout error message; 200 keeps it on screen.
pub const MAX_REJECT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Text { text: String },
    Link { url: String, label: Option<String> },
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
