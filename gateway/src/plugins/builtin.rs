//! The built-in plugin used when a product names none: it approves every purchase and delivers
//! the product's configured `text` and/or `url`. It is what a seller of a single download needs.

use super::{Call, CallContext, Decision, Delivery, Item, OrderView, PaymentView, Plugin};

#[derive(Debug, Clone)]
pub struct StaticText {
    text: Option<String>,
    url: Option<String>,
}

impl StaticText {
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let text = config
            .get("text")
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        let url = config
            .get("url")
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        if text.is_none() && url.is_none() {
            return Err("[product.config] needs text and/or url for the built-in delivery".into());
        }
        Ok(Self { text, url })
    }
}

impl Plugin for StaticText {
    fn sha256(&self) -> Option<&str> {
        None
    }

    fn pre_checkout(&self, _: &CallContext, _: &OrderView) -> Call<Decision> {
        Call::free(Ok(Decision::Approve))
    }

    fn deliver(&self, _: &CallContext, _: &OrderView, _: &PaymentView) -> Call<Delivery> {
        let mut items = Vec::new();
        if let Some(text) = &self.text {
            items.push(Item::Text { text: text.clone() });
        }
        if let Some(url) = &self.url {
            items.push(Item::Link {
                url: url.clone(),
                label: None,
            });
        }
        Call::free(Ok(Delivery { items }))
    }

    fn refunded(&self, _: &CallContext, _: &OrderView, _: &PaymentView) -> Call<()> {
        Call::free(Ok(()))
    }
}
