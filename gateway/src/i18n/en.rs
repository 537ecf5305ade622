//! The gateway's messages in English, the default language: every message exists here.

use super::Msg;

pub(super) fn english(m: Msg) -> &'static str {
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
        Msg::PromoUnknown => "There is no code {code} here.",
        Msg::PromoNotYet => "Code {code} is not valid yet.",
        Msg::PromoExpired => "Code {code} has expired.",
        Msg::PromoUsedUp => "Code {code} has been used up.",
        Msg::PromoAlreadyUsed => "You have already used code {code}.",
        Msg::PromoNotForProduct => "Code {code} does not apply to this product.",
        Msg::PromoLabel => "{title}, code {code}",
        Msg::FullPriceButton => "Buy at the full price: {price} ⭐",
        Msg::NotCharged => "You have not been charged.",
    }
}
