//! A store's texts in the buyer's language: per bot `[texts.<lang>]` (greeting, support, terms,
//! help, and overrides of the gateway's own messages) and per product `[product.i18n.<lang>]`
//! (title, description), chosen by the primary subtag of the buyer's `language_code`, falling
//! back to the bot's defaults and the catalogue's English.

use std::collections::BTreeMap;

use super::{BotConfig, Product};
use crate::domain::{Description, Title};
use crate::i18n::{self, Msg};

/// One language's texts of a bot; `None` falls back to the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotTexts {
    pub greeting: Option<String>,
    pub support: Option<String>,
    pub terms: Option<String>,
    pub help: Option<String>,
    /// Overrides of the gateway's own messages.
    pub messages: BTreeMap<Msg, String>,
}

/// One language's title and description of a product.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductTexts {
    pub title: Option<Title>,
    pub description: Option<Description>,
}

/// A bot's texts as one buyer reads them.
pub struct Texts<'a> {
    bot: &'a BotConfig,
    language: String,
}

impl BotConfig {
    /// The texts for a buyer whose Telegram reports `language_code` (`None`: the defaults).
    pub fn texts(&self, language_code: Option<&str>) -> Texts<'_> {
        let language = language_code
            .and_then(i18n::primary_subtag)
            .filter(|l| self.texts.contains_key(l) || i18n::ships(l))
            .unwrap_or_else(|| i18n::DEFAULT_LANGUAGE.to_owned());
        Texts {
            bot: self,
            language,
        }
    }

    /// The languages this bot speaks: the catalogue's and those of its `[texts.<lang>]`.
    pub fn languages(&self) -> Vec<String> {
        let mut all: Vec<String> = i18n::LANGUAGES.iter().map(|l| (*l).to_owned()).collect();
        all.extend(self.texts.keys().cloned());
        all.sort();
        all.dedup();
        all
    }
}

impl Texts<'_> {
    /// The language chosen (a key of `[texts.<lang>]`, or one the catalogue ships).
    pub fn language(&self) -> &str {
        &self.language
    }

    fn own(&self) -> Option<&BotTexts> {
        self.bot.texts.get(&self.language)
    }

    /// One of the gateway's messages: the bot's override, else the catalogue's.
    pub fn msg(&self, m: Msg) -> String {
        self.own()
            .and_then(|t| t.messages.get(&m).cloned())
            .unwrap_or_else(|| m.text_or_default(&self.language).to_owned())
    }

    /// A message with its placeholders filled.
    pub fn fill(&self, m: Msg, args: &[(&str, &str)]) -> String {
        i18n::fill(&self.msg(m), args)
    }

    pub fn greeting(&self) -> String {
        self.own()
            .and_then(|t| t.greeting.clone())
            .or_else(|| self.bot.greeting.clone())
            .unwrap_or_else(|| self.msg(Msg::Greeting))
    }

    pub fn support(&self) -> &str {
        self.own()
            .and_then(|t| t.support.as_deref())
            .unwrap_or(&self.bot.support)
    }

    pub fn terms(&self) -> &str {
        self.own()
            .and_then(|t| t.terms.as_deref())
            .unwrap_or(&self.bot.terms)
    }

    pub fn help(&self) -> String {
        self.own()
            .and_then(|t| t.help.clone())
            .or_else(|| self.bot.help.clone())
            .unwrap_or_else(|| self.msg(Msg::Help))
    }

    pub fn title<'p>(&self, product: &'p Product) -> &'p str {
        product
            .i18n
            .get(&self.language)
            .and_then(|t| t.title.as_ref())
            .unwrap_or(&product.title)
            .as_str()
    }

    pub fn description<'p>(&self, product: &'p Product) -> &'p str {
        product
            .i18n
            .get(&self.language)
            .and_then(|t| t.description.as_ref())
            .unwrap_or(&product.description)
            .as_str()
    }
}
