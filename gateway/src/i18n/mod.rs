//! The gateway's own buyer-facing messages, in every language it ships (English, the default,
//! and Russian), and how a buyer's `language_code` becomes one of the languages a store speaks.
//! A bot overrides any message per language in `[texts.<lang>]` (see `config::texts`).
//!
//! Messages may hold placeholders such as `{title}`, filled by [`fill`].

mod en;
mod ru;

use en::english;
use ru::russian;

/// The language every message exists in, used when the buyer's is not available.
pub const DEFAULT_LANGUAGE: &str = "en";

/// The languages the catalogue ships.
pub const LANGUAGES: &[&str] = &["en", "ru"];

/// One of the gateway's own messages. `key()` is its name in `[texts.<lang>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Msg {
    /// The pre-checkout refusal when no plugin message applies (at most 200 characters).
    Refusal,
    /// The pre-checkout refusal for a product withdrawn after its invoice went out.
    Withdrawn,
    /// The first line of `/start` when the bot sets no greeting.
    Greeting,
    /// The answer to anything that is not a command, when the bot sets no help.
    Help,
    NothingForSale,
    UnknownProduct,
    StaleButton,
    BuyButton,
    PerPeriod,
    SubscribeButton,
    SubscriptionOffer,
    NoMemberships,
    MembershipsHeader,
    MembershipRenews,
    MembershipStopped,
    MembershipFailed,
    MembershipEnded,
    StopRenewingButton,
    RenewAgainButton,
    RenewalStopped,
    RenewalResumed,
    NotYourMembership,
    MembershipOver,
    TryAgain,
    DeliveryHeader,
    DeliveryHeld,
    DeliveryRefunded,
    MembershipLapsed,
    RenewalFailed,
    CommandStart,
    CommandPaysupport,
    CommandTerms,
    CommandSubscriptions,
    /// Why a promo code was not applied (in chat, and at pre-checkout with [`Msg::NotCharged`]).
    PromoUnknown,
    PromoNotYet,
    PromoExpired,
    PromoUsedUp,
    PromoAlreadyUsed,
    PromoNotForProduct,
    /// The invoice's price label when a code applied.
    PromoLabel,
    /// The full-price offer beside a refused code.
    FullPriceButton,
    NotCharged,
}

/// How long a message may be once filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A chat message: 4096 characters.
    Message,
    /// A pre-checkout `error_message` or a callback alert: 200 characters.
    Short,
    /// A button label or a command description: 64 characters.
    Label,
}

impl Limit {
    pub fn chars(self) -> usize {
        match self {
            Limit::Message => 4096,
            Limit::Short => 200,
            Limit::Label => 64,
        }
    }
}

impl Msg {
    pub const ALL: &'static [Msg] = &[
        Msg::Refusal,
        Msg::Withdrawn,
        Msg::Greeting,
        Msg::Help,
        Msg::NothingForSale,
        Msg::UnknownProduct,
        Msg::StaleButton,
        Msg::BuyButton,
        Msg::PerPeriod,
        Msg::SubscribeButton,
        Msg::SubscriptionOffer,
        Msg::NoMemberships,
        Msg::MembershipsHeader,
        Msg::MembershipRenews,
        Msg::MembershipStopped,
        Msg::MembershipFailed,
        Msg::MembershipEnded,
        Msg::StopRenewingButton,
        Msg::RenewAgainButton,
        Msg::RenewalStopped,
        Msg::RenewalResumed,
        Msg::NotYourMembership,
        Msg::MembershipOver,
        Msg::TryAgain,
        Msg::DeliveryHeader,
        Msg::DeliveryHeld,
        Msg::DeliveryRefunded,
        Msg::MembershipLapsed,
        Msg::RenewalFailed,
        Msg::CommandStart,
        Msg::CommandPaysupport,
        Msg::CommandTerms,
        Msg::CommandSubscriptions,
        Msg::PromoUnknown,
        Msg::PromoNotYet,
        Msg::PromoExpired,
        Msg::PromoUsedUp,
        Msg::PromoAlreadyUsed,
        Msg::PromoNotForProduct,
        Msg::PromoLabel,
        Msg::FullPriceButton,
        Msg::NotCharged,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Msg::Refusal => "refusal",
            Msg::Withdrawn => "withdrawn",
            Msg::Greeting => "greeting",
            Msg::Help => "help",
            Msg::NothingForSale => "nothing_for_sale",
            Msg::UnknownProduct => "unknown_product",
            Msg::StaleButton => "stale_button",
            Msg::BuyButton => "buy_button",
            Msg::PerPeriod => "per_period",
            Msg::SubscribeButton => "subscribe_button",
            Msg::SubscriptionOffer => "subscription_offer",
            Msg::NoMemberships => "no_memberships",
            Msg::MembershipsHeader => "memberships_header",
            Msg::MembershipRenews => "membership_renews",
            Msg::MembershipStopped => "membership_stopped",
            Msg::MembershipFailed => "membership_failed",
            Msg::MembershipEnded => "membership_ended",
            Msg::StopRenewingButton => "stop_renewing_button",
            Msg::RenewAgainButton => "renew_again_button",
            Msg::RenewalStopped => "renewal_stopped",
            Msg::RenewalResumed => "renewal_resumed",
            Msg::NotYourMembership => "not_your_membership",
            Msg::MembershipOver => "membership_over",
            Msg::TryAgain => "try_again",
            Msg::DeliveryHeader => "delivery_header",
            Msg::DeliveryHeld => "delivery_held",
            Msg::DeliveryRefunded => "delivery_refunded",
            Msg::MembershipLapsed => "membership_lapsed",
            Msg::RenewalFailed => "renewal_failed",
            Msg::CommandStart => "command_start",
            Msg::CommandPaysupport => "command_paysupport",
            Msg::CommandTerms => "command_terms",
            Msg::CommandSubscriptions => "command_subscriptions",
            Msg::PromoUnknown => "promo_unknown",
            Msg::PromoNotYet => "promo_not_yet",
            Msg::PromoExpired => "promo_expired",
            Msg::PromoUsedUp => "promo_used_up",
            Msg::PromoAlreadyUsed => "promo_already_used",
            Msg::PromoNotForProduct => "promo_not_for_product",
            Msg::PromoLabel => "promo_label",
            Msg::FullPriceButton => "full_price_button",
            Msg::NotCharged => "not_charged",
        }
    }

    pub fn parse(key: &str) -> Option<Msg> {
        Msg::ALL.iter().copied().find(|m| m.key() == key)
    }

    pub fn limit(self) -> Limit {
        match self {
            Msg::Refusal
            | Msg::Withdrawn
            | Msg::StaleButton
            | Msg::RenewalStopped
            | Msg::RenewalResumed
            | Msg::NotYourMembership
            | Msg::MembershipOver
            | Msg::TryAgain
            | Msg::PromoUnknown
            | Msg::PromoNotYet
            | Msg::PromoExpired
            | Msg::PromoUsedUp
            | Msg::PromoAlreadyUsed
            | Msg::PromoNotForProduct
            | Msg::NotCharged => Limit::Short,
            Msg::BuyButton
            | Msg::SubscribeButton
            | Msg::StopRenewingButton
            | Msg::RenewAgainButton
            | Msg::PerPeriod
            | Msg::CommandStart
            | Msg::CommandPaysupport
            | Msg::CommandTerms
            | Msg::CommandSubscriptions
            | Msg::PromoLabel
            | Msg::FullPriceButton => Limit::Label,
            _ => Limit::Message,
        }
    }

    /// The message in `language`, if the catalogue has that language.
    pub fn text(self, language: &str) -> Option<&'static str> {
        match language {
            "en" => Some(english(self)),
            "ru" => Some(russian(self)),
            _ => None,
        }
    }

    /// The message in `language`, or in English.
    pub fn text_or_default(self, language: &str) -> &'static str {
        self.text(language).unwrap_or_else(|| english(self))
    }
}

/// Whether the catalogue ships `language`.
pub fn ships(language: &str) -> bool {
    LANGUAGES.contains(&language)
}

/// The primary subtag of a BCP 47 `language_code` (`"pt-BR"` → `"pt"`), lower case; `None` if
/// it is not two or three letters.
pub fn primary_subtag(language_code: &str) -> Option<String> {
    let primary = language_code
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    is_language(&primary).then_some(primary)
}

/// A language key in `[texts.<lang>]`: two or three lower-case letters.
pub fn is_language(key: &str) -> bool {
    (2..=3).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_lowercase())
}

/// Replaces each `{name}` in `template` with its value.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_message_fits_its_limit_and_keeps_its_placeholders() {
        for &m in Msg::ALL {
            assert_eq!(Msg::parse(m.key()), Some(m));
            let placeholders = |t: &str| {
                let mut p: Vec<String> = t
                    .split('{')
                    .skip(1)
                    .filter_map(|s| s.split_once('}').map(|(n, _)| n.to_owned()))
                    .collect();
                p.sort();
                p
            };
            for lang in LANGUAGES {
                let text = m.text(lang).expect("shipped");
                assert!(!text.trim().is_empty() && text.chars().count() <= m.limit().chars());
                assert_eq!(
                    placeholders(text),
                    placeholders(english(m)),
                    "{lang} {}",
                    m.key()
                );
            }
        }
    }

    #[test]
    fn the_primary_subtag_picks_the_language() {
        assert_eq!(primary_subtag("ru").as_deref(), Some("ru"));
        assert_eq!(primary_subtag("pt-BR").as_deref(), Some("pt"));
        assert_eq!(primary_subtag("EN_us").as_deref(), Some("en"));
        assert_eq!(primary_subtag(""), None);
        assert_eq!(primary_subtag("1234"), None);
    }
}
