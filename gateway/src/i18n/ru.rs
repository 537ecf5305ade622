//! The gateway's messages in Russian.

use super::Msg;

pub(super) fn russian(m: Msg) -> &'static str {
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
        Msg::PromoUnknown => "Кода {code} здесь нет.",
        Msg::PromoNotYet => "Код {code} ещё не действует.",
        Msg::PromoExpired => "Срок действия кода {code} истёк.",
        Msg::PromoUsedUp => "Код {code} закончился.",
        Msg::PromoAlreadyUsed => "Вы уже использовали код {code}.",
        Msg::PromoNotForProduct => "Код {code} не действует на этот товар.",
        Msg::PromoLabel => "{title}, код {code}",
        Msg::FullPriceButton => "Купить по полной цене: {price} ⭐",
        Msg::NotCharged => "Деньги не списаны.",
    }
}
