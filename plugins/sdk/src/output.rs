//! Constructors for what a plugin returns.

use crate::limits;
use crate::{Decision, Delivery, Error, Item, Link};

impl Error {
    /// A failure that will recur with the same input (bad config, impossible order). The
    /// gateway does not retry it: a pre-checkout is declined, a delivery is escalated (refund
    /// or manual review).
    pub fn fatal(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure that may go away if the same call is made again later. Use sparingly: with
    /// no I/O, few things are transient.
    pub fn retry(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: true,
        }
    }
}

impl Decision {
    /// Declines the checkout; `message` is shown to the buyer by Telegram (1-200 printable
    /// characters, see [`limits::REJECT_MAX_CHARS`]).
    pub fn reject(message: impl Into<String>) -> Self {
        Decision::Reject(message.into())
    }
}

impl Delivery {
    /// An empty delivery; add items with [`Delivery::and_text`] and [`Delivery::link`]. At least
    /// one item is required when it is returned.
    pub fn new() -> Self {
        Delivery { items: Vec::new() }
    }

    /// A delivery that starts with one text item.
    pub fn text(text: impl Into<String>) -> Self {
        Delivery::new().and_text(text)
    }

    /// Appends a text item (1-4096 characters).
    pub fn and_text(mut self, text: impl Into<String>) -> Self {
        self.items.push(Item::Text(text.into()));
        self
    }

    /// Appends a link (an `https://` URL of at most 2048 bytes). An empty `label` sends the
    /// bare URL.
    pub fn link(mut self, url: impl Into<String>, label: impl Into<String>) -> Self {
        let label = label.into();
        let label = if label.is_empty() { None } else { Some(label) };
        self.items.push(Item::Link(Link {
            url: url.into(),
            label,
        }));
        self
    }

    /// Checks the delivery against the contract's limits, as the gateway will. Optional: useful
    /// in unit tests, or to turn an oversized result into a clear [`Error`].
    pub fn validate(&self) -> Result<(), Error> {
        limits::check_delivery(self)
    }
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery::new()
    }
}
