//! The built-in plugin used when a product names none: it approves every purchase and delivers
//! the product's configured `text`, `url` and files. It is what a seller of a single download
//! needs: `document = "https://…/guide.pdf"` sends the PDF itself, not a link to it.

use super::delivery::{Media, MediaKind, validate_delivery};
use super::{Call, CallContext, Decision, Delivery, Item, OrderView, PaymentView, Plugin};

#[derive(Debug, Clone)]
pub struct StaticText {
    /// Fixed at load: every payment gets the same items.
    delivery: Delivery,
}

impl StaticText {
    /// Reads `text`, `url`, `document`, `photo`, `video`, `audio` and `caption` (the caption of
    /// the files) from `[product.config]`, and checks them as a plugin's output is checked.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let get = |key: &str| -> Result<Option<String>, String> {
            match config.get(key) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{key} must be a string")),
            }
        };
        let caption = get("caption")?;
        let mut items = Vec::new();
        if let Some(text) = get("text")? {
            items.push(Item::Text { text });
        }
        if let Some(url) = get("url")? {
            items.push(Item::Link { url, label: None });
        }
        for kind in MediaKind::ALL {
            if let Some(file) = get(kind.as_str())? {
                items.push(Item::Media(Media {
                    kind,
                    file,
                    caption: caption.clone(),
                }));
            }
        }
        if items.is_empty() {
            return Err(
                "a product without a plugin delivers text, url or a file (document, photo, \
                 video, audio); set at least one"
                    .into(),
            );
        }
        let delivery = Delivery { items };
        validate_delivery(&delivery)?;
        Ok(Self { delivery })
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
        Call::free(Ok(self.delivery.clone()))
    }

    fn refunded(&self, _: &CallContext, _: &OrderView, _: &PaymentView) -> Call<()> {
        Call::free(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_in_the_config_is_delivered_as_a_file_after_the_text() {
        let p = StaticText::from_config(&json!({
            "text": "Thanks!", "document": "https://example.com/guide.pdf", "caption": "The guide"
        }))
        .unwrap();
        assert_eq!(p.delivery.items.len(), 2);
        assert_eq!(
            p.delivery.items[1],
            Item::Media(Media {
                kind: MediaKind::Document,
                file: "https://example.com/guide.pdf".into(),
                caption: Some("The guide".into()),
            })
        );
    }

    #[test]
    fn a_plain_http_document_or_an_empty_config_is_refused() {
        assert!(
            StaticText::from_config(&json!({ "document": "http://example.com/g.pdf" })).is_err()
        );
        assert!(StaticText::from_config(&json!({})).is_err());
        assert!(StaticText::from_config(&json!({ "text": 5 })).is_err());
    }
}
