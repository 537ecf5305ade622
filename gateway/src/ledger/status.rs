//! The life of a payment, as SPEC §6 names its states. Every change goes through
//! [`PaymentStatus::can_become`], so an impossible move (say, delivering a refunded payment) is an
//! error in the ledger rather than a silent update.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Recorded; the delivery is not yet confirmed sent.
    Paid,
    Delivered,
    /// Delivery was given up (e.g. the buyer blocked the bot); the content is kept.
    DeliveryFailed,
    /// Money does not match its order, or a human must decide. Never delivered silently.
    NeedsReview,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 5] = [
        Self::Paid,
        Self::Delivered,
        Self::DeliveryFailed,
        Self::NeedsReview,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Delivered => "delivered",
            Self::DeliveryFailed => "delivery_failed",
            Self::NeedsReview => "needs_review",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether a payment in this state counts as a sale in the facts plugins are given: paid for
    /// and not taken back (refunded) or held (under review). `facts::SOLD` spells the same in
    /// SQL, and the `payments_sold` index's condition spells it again.
    pub const fn is_sold(self) -> bool {
        matches!(self, Self::Paid | Self::Delivered | Self::DeliveryFailed)
    }

    /// The allowed moves. A refund ends everything; delivery can still succeed after it was
    /// marked failed (a retry by an operator), and a flagged payment can be released or refunded.
    pub const fn can_become(self, next: Self) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (Paid, Delivered | DeliveryFailed | NeedsReview | Refunded)
                | (DeliveryFailed, Delivered | NeedsReview | Refunded)
                | (NeedsReview, Delivered | Refunded)
                | (Delivered, Refunded)
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::*;
    use super::*;

    #[test]
    fn a_refund_is_final() {
        for s in PaymentStatus::ALL {
            assert!(!Refunded.can_become(s), "refunded -> {s}");
        }
    }

    #[test]
    fn a_delivered_payment_can_only_be_refunded() {
        for s in PaymentStatus::ALL {
            assert_eq!(Delivered.can_become(s), s == Refunded, "delivered -> {s}");
        }
    }

    #[test]
    fn a_flagged_payment_is_never_marked_failed_delivery() {
        assert!(!NeedsReview.can_become(DeliveryFailed));
        assert!(!NeedsReview.can_become(Paid));
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentStatus::parse("shipped"), None);
    }
}
