//! Domain types that are parsed once, at the edge (config files, updates, CLI arguments), so the
//! rest of the gateway never re-checks a bot id, a price or a title.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused. The text is written to be shown after `file: key: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// `[a-z0-9-]{1,32}`: the shape shared by bot ids (file stems) and product ids.
fn parse_slug(kind: &str, raw: &str) -> Result<String, Invalid> {
    let ok_chars = raw
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if raw.is_empty() || raw.len() > 32 || !ok_chars {
        return Err(invalid(format!(
            "{kind} {} must be 1-32 characters of a-z, 0-9 and '-'",
            crate::brief::value(raw)
        )));
    }
    Ok(raw.to_owned())
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                parse_slug($kind, raw).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(raw: String) -> Result<Self, Invalid> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        same_text!($name);
    };
}

/// An id reads as its text: it compares equal to a literal (`payment.bot == "guides"`) and
/// dereferences to `str`. Only the other way round needs `parse`, so nothing unchecked becomes an
/// id.
macro_rules! same_text {
    ($name:ident) => {
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        /// Read as text anywhere (a log field, a bound parameter); made only by parsing.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

slug_type!(
    /// A store's id: the stem of its file in `config/bots/`.
    BotId,
    "bot id"
);
slug_type!(
    /// A product id, unique within one bot (two bots may both sell `premium-guide`).
    ProductId,
    "product id"
);

/// An amount of Telegram Stars. Stars have no fractional unit, so this is a whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stars(u32);

impl Stars {
    /// The highest price we accept for one invoice. The Bot API documents no per-invoice maximum
    /// (reference §2), so we use the largest documented Stars cap (paid media, Bot API 9.3).
    pub const MAX_INVOICE: u32 = 25_000;
    /// Telegram's cap for a Stars subscription (Bot API 9.0).
    pub const MAX_SUBSCRIPTION: u32 = 10_000;

    pub fn parse(raw: i64, subscription: bool) -> Result<Self, Invalid> {
        let max = if subscription {
            Self::MAX_SUBSCRIPTION
        } else {
            Self::MAX_INVOICE
        };
        if raw < 1 {
            return Err(invalid(format!("price must be at least 1 Star, got {raw}")));
        }
        if raw > i64::from(max) {
            let what = if subscription {
                "a subscription"
            } else {
                "an invoice"
            };
            return Err(invalid(format!(
                "price {raw} is above the {max} Stars limit for {what}"
            )));
        }
        Ok(Self(raw as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Stars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ⭐", self.0)
    }
}

/// Text with a length limit in characters, such as an invoice title (1-32) or description (1-255).
fn parse_text(what: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let n = raw.chars().count();
    if raw.trim().is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    if n > max {
        return Err(invalid(format!(
            "{what} is {n} characters; Telegram allows at most {max}"
        )));
    }
    Ok(raw.to_owned())
}

/// An invoice title: 1-32 characters, Telegram's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Title(String);
impl Title {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("title", raw, 32).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An invoice description: 1-255 characters, Telegram's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Description(String);
impl Description {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("description", raw, 255).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The gateway's own order id. It is the invoice payload, so it must fit Telegram's 128 bytes;
/// ours are 20 characters of base-32, random, so they cannot be guessed or collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderId(String);

impl OrderId {
    const LEN: usize = 20;
    const ALPHABET: &'static [u8] = b"abcdefghijklmnopqrstuvwxyz234567";

    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let id = (0..Self::LEN)
            .map(|_| Self::ALPHABET[rng.random_range(0..Self::ALPHABET.len())] as char)
            .collect();
        Self(id)
    }

    /// Reads a payload that Telegram hands back. Anything that is not one of our ids is `None`:
    /// a payload is data from outside and may be anything.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == Self::LEN && raw.bytes().all(|b| Self::ALPHABET.contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
same_text!(OrderId);

/// Telegram's `telegram_payment_charge_id`: the one idempotency key for a payment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChargeId(String);

impl TryFrom<String> for ChargeId {
    type Error = Invalid;
    fn try_from(raw: String) -> Result<Self, Invalid> {
        Self::parse(&raw)
    }
}

impl From<ChargeId> for String {
    fn from(id: ChargeId) -> String {
        id.0
    }
}

impl ChargeId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let ok = !raw.is_empty() && raw.len() <= 256 && raw.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(invalid(format!(
                "{} is not a Telegram charge id",
                crate::brief::value(raw)
            )));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
same_text!(ChargeId);

/// The only currency this gateway sells in.
pub const XTR: &str = "XTR";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_ids_follow_the_file_stem_rule() {
        assert!(BotId::parse("guides").is_ok());
        assert!(BotId::parse("a-1").is_ok());
        assert!(BotId::parse("").is_err());
        assert!(BotId::parse("Guides").is_err());
        assert!(BotId::parse("under_score").is_err());
        assert!(BotId::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn prices_are_whole_stars_within_telegram_limits() {
        assert!(Stars::parse(0, false).is_err());
        assert!(Stars::parse(-5, false).is_err());
        assert_eq!(Stars::parse(50, false).map(Stars::get), Ok(50));
        assert!(Stars::parse(10_000, true).is_ok());
        assert!(Stars::parse(10_001, true).is_err());
        assert!(Stars::parse(25_001, false).is_err());
    }

    #[test]
    fn titles_and_descriptions_are_counted_in_characters() {
        assert!(Title::parse(&"⭐".repeat(32)).is_ok());
        assert!(Title::parse(&"⭐".repeat(33)).is_err());
        assert!(Title::parse("  ").is_err());
        assert!(Description::parse(&"x".repeat(255)).is_ok());
        assert!(Description::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn order_ids_fit_the_payload_and_reject_foreign_payloads() {
        let id = OrderId::generate();
        assert!(id.as_str().len() <= 128);
        assert_eq!(OrderId::parse(id.as_str()), Some(id));
        assert_eq!(OrderId::parse("not-ours"), None);
        assert_eq!(OrderId::parse(&"A".repeat(20)), None);
    }
}

/// What a seller event reports: the `type` of each event sent to a bot's `[events] url`, and the
/// names `[events] types` filters by. One spelling, here; the ledger's CHECK constraint lists the
/// same names (a test keeps them in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SellerEventType {
    PaymentSucceeded,
    PaymentNeedsReview,
    DeliverySucceeded,
    DeliveryFailed,
    RefundSucceeded,
    SubscriptionRenewed,
    SubscriptionCancelled,
    SubscriptionFailed,
    SubscriptionExpired,
}

impl SellerEventType {
    pub const ALL: [SellerEventType; 9] = [
        Self::PaymentSucceeded,
        Self::PaymentNeedsReview,
        Self::DeliverySucceeded,
        Self::DeliveryFailed,
        Self::RefundSucceeded,
        Self::SubscriptionRenewed,
        Self::SubscriptionCancelled,
        Self::SubscriptionFailed,
        Self::SubscriptionExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentSucceeded => "payment.succeeded",
            Self::PaymentNeedsReview => "payment.needs_review",
            Self::DeliverySucceeded => "delivery.succeeded",
            Self::DeliveryFailed => "delivery.failed",
            Self::RefundSucceeded => "refund.succeeded",
            Self::SubscriptionRenewed => "subscription.renewed",
            Self::SubscriptionCancelled => "subscription.cancelled",
            Self::SubscriptionFailed => "subscription.failed",
            Self::SubscriptionExpired => "subscription.expired",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                invalid(format!(
                    "unknown event type {} (known: {})",
                    crate::brief::value(raw),
                    known.join(", ")
                ))
            })
    }
}

impl fmt::Display for SellerEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact amount of Stars: whole Stars and nanostars (one billionth), as Telegram gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StarAmount {
    pub stars: i64,
    pub nanostars: i64,
}

impl StarAmount {
    pub const NANO: i128 = 1_000_000_000;

    /// In nanostars, exactly.
    pub fn total_nanos(self) -> i128 {
        i128::from(self.stars) * Self::NANO + i128::from(self.nanostars)
    }

    pub fn from_nanos(nanos: i128) -> Self {
        let stars = nanos / Self::NANO;
        Self {
            stars: i64::try_from(stars).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }),
            nanostars: i64::try_from(nanos % Self::NANO).unwrap_or(0),
        }
    }
}

/// As a decimal string (`"12.5"`): exact, where a JSON number could be read as a float.
impl Serialize for StarAmount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl std::fmt::Display for StarAmount {
    /// `12`, or `12.5` with nanostars (no float on the way).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nanos = self.total_nanos();
        let sign = if nanos < 0 { "-" } else { "" };
        let abs = nanos.unsigned_abs();
        let (whole, frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod star_amount_tests {
    use super::StarAmount;

    #[test]
    fn amounts_print_exactly_without_floats() {
        let a = StarAmount {
            stars: 12,
            nanostars: 500_000_000,
        };
        assert_eq!(a.to_string(), "12.5");
        assert_eq!(
            StarAmount {
                stars: 3,
                nanostars: 0
            }
            .to_string(),
            "3"
        );
        assert_eq!(
            StarAmount {
                stars: 0,
                nanostars: 1
            }
            .to_string(),
            "0.000000001"
        );
        assert_eq!(
            StarAmount {
                stars: -2,
                nanostars: 0
            }
            .to_string(),
            "-2"
        );
        let sum = a.total_nanos()
            + StarAmount {
                stars: 0,
                nanostars: 700_000_000,
            }
            .total_nanos();
        assert_eq!(
            StarAmount::from_nanos(sum),
            StarAmount {
                stars: 13,
                nanostars: 200_000_000
            }
        );
    }
}
