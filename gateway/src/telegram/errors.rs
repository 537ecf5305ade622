//! What a failed Bot API call means for the caller. teloxide reports Telegram errors by their
//! description text; this maps them onto the decisions the gateway makes: wait and retry, retry
//! later, or stop trying for this chat.

use std::time::Duration;

use teloxide_core::{ApiError, RequestError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429: wait exactly this long, for this bot only.
    RetryAfter(Duration),
    /// Network trouble, a 5xx, a garbled answer: worth retrying with backoff.
    Transient(String),
    /// The buyer blocked the bot or deleted the account: retrying cannot help.
    Unreachable(String),
    /// The token is revoked or wrong.
    Unauthorized,
    /// Telegram refused the request itself (400): retrying the same request cannot help.
    Rejected(String),
}

pub fn classify(err: &RequestError) -> Failure {
    match err {
        RequestError::RetryAfter(s) => Failure::RetryAfter(s.duration()),
        RequestError::Network(e) => Failure::Transient(redact(&format!("network: {e}"))),
        RequestError::Io(e) => Failure::Transient(redact(&format!("i/o: {e}"))),
        RequestError::InvalidJson { .. } => {
            Failure::Transient("Telegram answered with something that is not JSON".into())
        }
        RequestError::MigrateToChatId(_) => Failure::Rejected("the chat moved".into()),
        RequestError::Api(api) => classify_api(api),
    }
}

fn classify_api(api: &ApiError) -> Failure {
    match api {
        ApiError::BotBlocked
        | ApiError::UserDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::ChatNotFound
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup => Failure::Unreachable(api.to_string()),
        ApiError::InvalidToken => Failure::Unauthorized,
        ApiError::Unknown(text) => {
            let lower = text.to_ascii_lowercase();
            if lower.starts_with("forbidden") {
                Failure::Unreachable(text.clone())
            } else if lower.starts_with("unauthorized") {
                Failure::Unauthorized
            } else if lower.starts_with("internal server error")
                || lower.starts_with("bad gateway")
                || lower.starts_with("service unavailable")
                || lower.starts_with("gateway timeout")
            {
                Failure::Transient(text.clone())
            } else {
                Failure::Rejected(text.clone())
            }
        }
        other => Failure::Rejected(other.to_string()),
    }
}

/// True when Telegram says a refund was already made: for us that is success (guarantee 6).
pub fn is_already_refunded(err: &RequestError) -> bool {
    matches!(err, RequestError::Api(ApiError::Unknown(t)) if t.contains("CHARGE_ALREADY_REFUNDED"))
}

/// An API error as text that is safe to log or store. reqwest's network errors include the
/// request URL, and the Bot API puts the token in the path (`/bot<token>/`), so the secret half
/// of every token-shaped run is masked.
pub fn describe(err: &RequestError) -> String {
    redact(&err.to_string())
}

/// Masks the secret part of anything shaped like a bot token (`<digits>:<secret>`).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A token starts with digits right after "bot" and continues after a colon.
        if text[i..].starts_with("bot") {
            let digits_start = i + 3;
            let mut j = digits_start;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > digits_start && j < bytes.len() && bytes[j] == b':' {
                let mut k = j + 1;
                while k < bytes.len()
                    && (bytes[k].is_ascii_alphanumeric() || bytes[k] == b'_' || bytes[k] == b'-')
                {
                    k += 1;
                }
                if k > j + 1 {
                    out.push_str(&text[i..=j]);
                    out.push_str("[redacted]");
                    i = k;
                    continue;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn tokens_in_urls_are_masked() {
        let s = "error sending request for url (http://127.0.0.1:9/bot123456:AAH-x_y/GetMe)";
        let r = redact(s);
        assert!(!r.contains("AAH-x_y"), "{r}");
        assert!(r.contains("bot123456:[redacted]/GetMe"), "{r}");
    }

    #[test]
    fn text_without_tokens_is_unchanged() {
        assert_eq!(
            redact("Bad Request: chat not found ⭐"),
            "Bad Request: chat not found ⭐"
        );
        assert_eq!(redact("robot 12:"), "robot 12:");
    }
}
