//! The output limits from the contract (`plugin.wit`). The gateway enforces them; these
//! constants and checks let a plugin test itself against the same rules.

use crate::{Decision, Delivery, Error, Item};

/// A reject message is 1 to this many printable characters.
pub const REJECT_MAX_CHARS: usize = 200;
/// A delivery has 1 to this many items.
pub const DELIVERY_MAX_ITEMS: usize = 10;
/// A text item is 1 to this many characters.
pub const TEXT_MAX_CHARS: usize = 4096;
/// A link URL is at most this many bytes, and starts with `https://`.
pub const URL_MAX_BYTES: usize = 2048;
/// The product config the plugin receives is at most this many bytes of JSON.
pub const CONFIG_MAX_BYTES: usize = 16 * 1024;

/// Checks a decision: a reject message must be 1-200 printable characters.
pub fn check_decision(decision: &Decision) -> Result<(), Error> {
    match decision {
        Decision::Approve => Ok(()),
        Decision::Reject(msg) => {
            let n = msg.chars().count();
            if n == 0 || n > REJECT_MAX_CHARS {
                return Err(Error::fatal(format!(
                    "reject message must be 1-{REJECT_MAX_CHARS} characters, got {n}"
                )));
            }
            if msg.chars().any(char::is_control) {
                return Err(Error::fatal("reject message has control characters"));
            }
            Ok(())
        }
    }
}

/// Checks a delivery: 1-10 items, texts of 1-4096 characters, https links of at most 2048 bytes.
pub fn check_delivery(delivery: &Delivery) -> Result<(), Error> {
    let n = delivery.items.len();
    if n == 0 || n > DELIVERY_MAX_ITEMS {
        return Err(Error::fatal(format!(
            "a delivery has 1-{DELIVERY_MAX_ITEMS} items, got {n}"
        )));
    }
    for item in &delivery.items {
        match item {
            Item::Text(text) => {
                let n = text.chars().count();
                if n == 0 || n > TEXT_MAX_CHARS {
                    return Err(Error::fatal(format!(
                        "a text item has 1-{TEXT_MAX_CHARS} characters, got {n}"
                    )));
                }
            }
            Item::Link(link) => check_url(&link.url)?,
        }
    }
    Ok(())
}

/// Checks a link URL: `https://` and at most 2048 bytes.
pub fn check_url(url: &str) -> Result<(), Error> {
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err(Error::fatal(format!(
            "a link must be an https:// URL, got {url:?}"
        )));
    }
    if url.len() > URL_MAX_BYTES {
        return Err(Error::fatal(format!(
            "a link is at most {URL_MAX_BYTES} bytes, got {}",
            url.len()
        )));
    }
    Ok(())
}
