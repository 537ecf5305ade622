//! The gateway's own buyer-facing messages, in every language it ships (English, the default,
//! and Russian), and how a buyer's `language_code` becomes one of the languages a store speaks.
//! A bot overrides any message per language in `[texts.<lang>]` (see `config::texts`).
//!
//! Messages may hold placeholders such as `{title}`, filled by [`fill`].

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
            | Msg::TryAgain => Limit::Short,
            Msg::BuyButton
            | Msg::SubscribeButton
            | Msg::StopRenewingButton
            | Msg::RenewAgainButton
            | Msg::PerPeriod
            | Msg::CommandStart
            | Msg::CommandPaysupport
            | Msg::CommandTerms
            | Msg::CommandSubscriptions => Limit::Label,
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

fn english(m: Msg) -> &'static str {
    match m {
        Msg::Refusal => "This item can't be bought right now. You have not been charged.",
        Msg::Withdrawn => "This product is no longer sold. You have not been charged.",
        Msg::Greeting => "Welcome! Here is what you can buy:",
        Msg::Help => {
            "/start shows what is for sale, /buy <product> buys it, /subscriptions shows your memberships.\n\
             /paysupport helps with a payment, /terms shows the terms of sale."
        }
        Msg::NothingForSale => "Nothing is for sale right now. Please come back later.",
        Msg::UnknownProduct => {
            "There is no product \"{product}\" for sale here. /start shows what is."
        }
        Msg::StaleButton => "That product is no longer for sale.",
        Msg::BuyButton => "Buy {title} for {price} ⭐",
        Msg::PerPeriod => " / 30 days",
        Msg::SubscribeButton => "Subscribe for {price} ⭐ a month",
        Msg::SubscriptionOffer => "{title} — {price} ⭐ every 30 days.",
        Msg::NoMemberships => "You have no memberships here. /start shows what is for sale.",
        Msg::MembershipsHeader => "Your memberships:",
        Msg::MembershipRenews => "renews on {until}",
        Msg::MembershipStopped => "renewal stopped; runs until {until}",
        Msg::MembershipFailed => {
            "the last renewal failed; yours until {until}. /start {product} buys it again"
        }
        Msg::MembershipEnded => "ended; /start {product} buys it again",
        Msg::StopRenewingButton => "Stop renewing {title}",
        Msg::RenewAgainButton => "Renew {title} again",
        Msg::RenewalStopped => "Renewal stopped. {title} stays yours until {until}.",
        Msg::RenewalResumed => "{title} will renew again on {until}.",
        Msg::NotYourMembership => "That membership is not yours or no longer exists.",
        Msg::MembershipOver => "{title} has ended; /start {product} buys it again.",
        Msg::TryAgain => "Telegram did not accept that just now; please try again.",
        Msg::DeliveryHeader => "Thank you for your purchase! Here is what you bought:",
        Msg::DeliveryHeld => {
            "We received your payment, but delivering your purchase failed. Nothing is lost: the \
             seller has been told and will deliver or refund it. /paysupport reaches them."
        }
        Msg::DeliveryRefunded => {
            "We could not deliver your purchase, so your Stars have been refunded. Sorry about that."
        }
        Msg::MembershipLapsed => "Your membership {title} has ended. /start {product} joins again.",
        Msg::RenewalFailed => {
            "Your renewal of {title} did not go through. It stays yours until {until}; after that, \
             /start {product} buys it again."
        }
        Msg::CommandStart => "What is for sale",
        Msg::CommandPaysupport => "Help with a payment",
        Msg::CommandTerms => "Terms of sale",
        Msg::CommandSubscriptions => "Your memberships",
    }
}

fn russian(m: Msg) -> &'static str {
    match m {
        Msg::Refusal => "Этот товар сейчас нельзя купить. Деньги не списаны.",
        Msg::Withdrawn => "Этот товар больше не продаётся. Деньги не списаны.",
        Msg::Greeting => "Добро пожаловать! Вот что можно купить:",
        Msg::Help => {
            "/start — что продаётся, /buy <товар> — купить, /subscriptions — ваши подписки.\n\
             /paysupport — помощь с оплатой, /terms — условия продажи."
        }
        Msg::NothingForSale => "Сейчас ничего не продаётся. Загляните позже.",
        Msg::UnknownProduct => "Товара «{product}» здесь нет. /start покажет, что есть.",
        Msg::StaleButton => "Этот товар больше не продаётся.",
        Msg::BuyButton => "Купить {title} за {price} ⭐",
        Msg::PerPeriod => " / 30 дней",
        Msg::SubscribeButton => "Подписаться за {price} ⭐ в месяц",
        Msg::SubscriptionOffer => "{title} — {price} ⭐ каждые 30 дней.",
        Msg::NoMemberships => "У вас здесь нет подписок. /start покажет, что продаётся.",
        Msg::MembershipsHeader => "Ваши подписки:",
        Msg::MembershipRenews => "продлится {until}",
        Msg::MembershipStopped => "продление остановлено; действует до {until}",
        Msg::MembershipFailed => {
            "последнее продление не прошло; действует до {until}. /start {product} — купить снова"
        }
        Msg::MembershipEnded => "закончилась; /start {product} — купить снова",
        Msg::StopRenewingButton => "Не продлевать {title}",
        Msg::RenewAgainButton => "Снова продлевать {title}",
        Msg::RenewalStopped => "Продление остановлено. {title} действует до {until}.",
        Msg::RenewalResumed => "{title} снова продлится {until}.",
        Msg::NotYourMembership => "Эта подписка не ваша или больше не существует.",
        Msg::MembershipOver => "{title} закончилась; /start {product} — купить снова.",
        Msg::TryAgain => "Telegram сейчас не принял запрос; попробуйте ещё раз.",
        Msg::DeliveryHeader => "Спасибо за покупку! Вот что вы купили:",
        Msg::DeliveryHeld => {
            "Оплата получена, но доставить покупку не удалось. Ничего не потеряно: продавец \
             уведомлён и доставит покупку или вернёт деньги. /paysupport — связь с ним."
        }
        Msg::DeliveryRefunded => {
            "Мы не смогли доставить покупку, поэтому звёзды возвращены. Приносим извинения."
        }
        Msg::MembershipLapsed => {
            "Ваша подписка {title} закончилась. /start {product} — оформить снова."
        }
        Msg::RenewalFailed => {
            "Продление {title} не прошло. Подписка действует до {until}; потом \
             /start {product} — купить снова."
        }
        Msg::CommandStart => "Что продаётся",
        Msg::CommandPaysupport => "Помощь с оплатой",
        Msg::CommandTerms => "Условия продажи",
        Msg::CommandSubscriptions => "Ваши подписки",
    }
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
