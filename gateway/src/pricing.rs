//! Prices other than the list price: promo codes from a bot's `[[promo]]` and where a discount
//! came from. A leaf module (it knows only domain types), so the config, the ledger and the shop
//! share one meaning of "a code is valid for this buyer now" and one rounding rule.
//!
//! Rounding: a percentage discount is rounded down to whole Stars, so the buyer pays the list
//! price minus `floor(list × percent / 100)` and never less than the stated percentage implies;
//! a price is never below 1 Star (`check` refuses a promo that could go lower).

use std::fmt;

use serde::Serialize;

use crate::domain::{Invalid, ProductId};

/// A promo code: `[A-Z0-9]{3,16}`. Buyers may type it in any case; it is kept upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct PromoCode(String);

impl PromoCode {
    /// A code as written in a bot file: upper case only, so two spellings of one code cannot
    /// both be configured.
    pub fn parse_config(raw: &str) -> Result<Self, Invalid> {
        let ok = (3..=16).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(Invalid(format!(
                "{} must be 3-16 characters of A-Z and 0-9",
                crate::brief::value(raw)
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A code as a buyer typed it: any case.
    pub fn parse_typed(raw: &str) -> Result<Self, Invalid> {
        Self::parse_config(&raw.trim().to_ascii_uppercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<PromoCode> for String {
    fn from(c: PromoCode) -> String {
        c.0
    }
}

impl fmt::Display for PromoCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an order's price below its list price came from. Stored as `promo` / `plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountSource {
    /// A `[[promo]]` code of the bot.
    Promo,
    /// The product's plugin priced the order (its `quote` hook).
    Plugin,
}

impl DiscountSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountSource::Promo => "promo",
            DiscountSource::Plugin => "plugin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "promo" => Some(DiscountSource::Promo),
            "plugin" => Some(DiscountSource::Plugin),
            _ => None,
        }
    }
}

impl fmt::Display for DiscountSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a code takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// 1-99 percent, rounded down to whole Stars.
    PercentOff(u32),
    /// A fixed number of Stars.
    StarsOff(u32),
}

impl Discount {
    /// The price after the discount; `None` if it would be below 1 Star.
    pub fn apply(self, list: u32) -> Option<u32> {
        let off = match self {
            Discount::PercentOff(p) => (u64::from(list) * u64::from(p) / 100) as u32,
            Discount::StarsOff(s) => s,
        };
        list.checked_sub(off).filter(|p| *p >= 1)
    }
}

impl fmt::Display for Discount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discount::PercentOff(p) => write!(f, "−{p}%"),
            Discount::StarsOff(s) => write!(f, "−{s} ⭐"),
        }
    }
}

/// One `[[promo]]` of a bot, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promo {
    pub code: PromoCode,
    pub discount: Discount,
    /// The products it applies to; `None`: every one-time product of the bot (and its
    /// subscriptions too when `subscriptions` is set).
    pub products: Option<Vec<ProductId>>,
    /// Valid from (unix ms, inclusive).
    pub starts: Option<i64>,
    /// Valid until (unix ms, inclusive).
    pub ends: Option<i64>,
    /// Paid uses in total.
    pub max_uses: Option<u32>,
    pub once_per_buyer: bool,
    /// Whether it may discount a subscription (every renewal is then charged the discounted
    /// price: Telegram charges the price of the link).
    pub subscriptions: bool,
}

/// How often a code was used, counted on paid orders (refunded ones and renewals do not count)
/// plus the uses held by orders approved at pre-checkout and not yet paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromoUses {
    pub total: u32,
    pub by_buyer: u32,
}

/// Why a code is not applied. Each has its own message for the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoRefusal {
    /// No such code in this bot.
    Unknown,
    /// Its window has not started.
    NotYet,
    /// Its window has ended.
    Expired,
    /// `max_uses` reached.
    UsedUp,
    /// `once_per_buyer` and this buyer used it already.
    AlreadyUsed,
    /// The code exists but not for this product.
    NotForProduct,
}

impl PromoRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PromoRefusal::Unknown => "unknown",
            PromoRefusal::NotYet => "not yet valid",
            PromoRefusal::Expired => "expired",
            PromoRefusal::UsedUp => "used up",
            PromoRefusal::AlreadyUsed => "already used by this buyer",
            PromoRefusal::NotForProduct => "not for this product",
        }
    }
}

impl Promo {
    /// Whether the code applies to `product` (a subscription only when the promo allows it).
    pub fn covers(&self, product: &ProductId, subscription: bool) -> bool {
        if subscription && !self.subscriptions {
            return false;
        }
        match &self.products {
            Some(list) => list.contains(product),
            None => true,
        }
    }

    /// Everything but the use counts: the product and the window at `now_ms`.
    pub fn check_window(
        &self,
        product: &ProductId,
        subscription: bool,
        now_ms: i64,
    ) -> Result<(), PromoRefusal> {
        if !self.covers(product, subscription) {
            return Err(PromoRefusal::NotForProduct);
        }
        if self.starts.is_some_and(|s| now_ms < s) {
            return Err(PromoRefusal::NotYet);
        }
        if self.ends.is_some_and(|e| now_ms > e) {
            return Err(PromoRefusal::Expired);
        }
        Ok(())
    }

    /// The use limits against `uses`.
    pub fn check_uses(&self, uses: PromoUses) -> Result<(), PromoRefusal> {
        if self.once_per_buyer && uses.by_buyer > 0 {
            return Err(PromoRefusal::AlreadyUsed);
        }
        if self.max_uses.is_some_and(|m| uses.total >= m) {
            return Err(PromoRefusal::UsedUp);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_rounds_the_discount_down_and_never_goes_below_one_star() {
        assert_eq!(Discount::PercentOff(25).apply(50), Some(38));
        assert_eq!(Discount::PercentOff(99).apply(1), Some(1));
        assert_eq!(Discount::PercentOff(50).apply(3), Some(2));
        assert_eq!(Discount::StarsOff(10).apply(50), Some(40));
        assert_eq!(Discount::StarsOff(50).apply(50), None);
    }

    #[test]
    fn codes_are_typed_in_any_case_but_configured_in_upper_case() {
        assert_eq!(
            PromoCode::parse_typed(" spring25 ").unwrap().as_str(),
            "SPRING25"
        );
        assert!(PromoCode::parse_config("spring25").is_err());
        assert!(PromoCode::parse_config("AB").is_err());
        assert!(PromoCode::parse_config("A_B_C").is_err());
        assert!(PromoCode::parse_config(&"A".repeat(17)).is_err());
    }

    #[test]
    fn limits_are_checked_per_buyer_first() {
        let promo = Promo {
            code: PromoCode::parse_config("ONCE").unwrap(),
            discount: Discount::StarsOff(1),
            products: None,
            starts: Some(10),
            ends: Some(20),
            max_uses: Some(2),
            once_per_buyer: true,
            subscriptions: false,
        };
        let p = ProductId::parse("x").unwrap();
        assert_eq!(promo.check_window(&p, false, 5), Err(PromoRefusal::NotYet));
        assert_eq!(
            promo.check_window(&p, false, 21),
            Err(PromoRefusal::Expired)
        );
        assert_eq!(
            promo.check_window(&p, true, 15),
            Err(PromoRefusal::NotForProduct)
        );
        assert_eq!(promo.check_window(&p, false, 20), Ok(()));
        let uses = |total, by_buyer| PromoUses { total, by_buyer };
        assert_eq!(promo.check_uses(uses(2, 1)), Err(PromoRefusal::AlreadyUsed));
        assert_eq!(promo.check_uses(uses(2, 0)), Err(PromoRefusal::UsedUp));
        assert_eq!(promo.check_uses(uses(1, 0)), Ok(()));
    }
}
