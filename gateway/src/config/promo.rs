//! A bot's `[[promo]]` codes. Checked here against the bot's own products, so a code that could
//! price something at 0 Stars, or that names a product the bot does not sell, is a `check`
//! problem rather than a surprise at the till.

use std::collections::HashSet;

use serde::Deserialize;

use super::Product;
use crate::brief;
use crate::domain::ProductId;
use crate::pricing::{Discount, Promo, PromoCode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPromo {
    pub code: String,
    #[serde(default)]
    pub percent_off: Option<i64>,
    #[serde(default)]
    pub stars_off: Option<i64>,
    #[serde(default)]
    pub products: Option<Vec<String>>,
    #[serde(default)]
    pub starts: Option<RawTime>,
    #[serde(default)]
    pub ends: Option<RawTime>,
    #[serde(default)]
    pub max_uses: Option<i64>,
    #[serde(default = "yes")]
    pub once_per_buyer: bool,
    #[serde(default)]
    pub subscriptions: bool,
}

fn yes() -> bool {
    true
}

/// A time as TOML writes it (`2026-12-01T00:00:00Z`, a TOML datetime) or as a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTime {
    Toml(toml::value::Datetime),
    Text(String),
}

impl RawTime {
    /// Unix milliseconds; a time needs its offset (`Z` or `+02:00`), since "midnight" differs by
    /// zone and a promo must start at one instant for every buyer.
    fn unix_ms(&self) -> Result<i64, String> {
        let text = match self {
            RawTime::Toml(t) => t.to_string(),
            RawTime::Text(s) => s.clone(),
        };
        chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.timestamp_millis())
            .map_err(|_| {
                format!(
                    "{} is not a date and time with its offset, such as 2026-12-01T00:00:00Z",
                    brief::value(&text)
                )
            })
    }
}

/// Checks every `[[promo]]` against `products`; problems go to `problem` under `promo[i].<key>`.
/// Returns the promos that are valid (the bot is dropped anyway when any problem was reported).
pub fn validate(
    raw: &[RawPromo],
    products: &[Product],
    problem: &mut impl FnMut(&str, String),
) -> Vec<Promo> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let key = |k: &str| format!("promo[{i}].{k}");
        let before = out.len();
        let mut bad = false;
        let mut report = |k: &str, reason: String| {
            bad = true;
            problem(&key(k), reason);
        };
        let code = PromoCode::parse_config(&p.code)
            .map_err(|e| report("code", e.0))
            .ok();
        if let Some(c) = &code
            && !seen.insert(c.clone())
        {
            report("code", format!("duplicate code {c} in this bot"));
        }
        let discount = match (p.percent_off, p.stars_off) {
            (Some(_), Some(_)) | (None, None) => {
                report(
                    "percent_off",
                    "set exactly one of percent_off and stars_off".into(),
                );
                None
            }
            (Some(pct), None) if !(1..=99).contains(&pct) => {
                report(
                    "percent_off",
                    format!("must be 1-99 (a percentage off the price), got {pct}"),
                );
                None
            }
            (Some(pct), None) => Some(Discount::PercentOff(pct as u32)),
            (None, Some(s)) if !(1..=25_000).contains(&s) => {
                report("stars_off", format!("must be 1-25000 Stars, got {s}"));
                None
            }
            (None, Some(s)) => Some(Discount::StarsOff(s as u32)),
        };
        let mut listed = None;
        if let Some(ids) = &p.products {
            if ids.is_empty() {
                report(
                    "products",
                    "is empty: list products, or leave it out for every one-time product".into(),
                );
            }
            let mut list = Vec::new();
            for id in ids {
                match ProductId::parse(id)
                    .ok()
                    .and_then(|id| products.iter().find(|p| p.id == id))
                {
                    Some(product) if product.subscription && !p.subscriptions => report(
                        "products",
                        format!(
                            "{} is a subscription: Telegram charges every renewal the discounted price, so allow it with subscriptions = true",
                            product.id
                        ),
                    ),
                    Some(product) => list.push(product.id.clone()),
                    None => report(
                        "products",
                        format!("{} is not a product of this bot", brief::value(id)),
                    ),
                }
            }
            listed = Some(list);
        }
        let time = |t: &Option<RawTime>, k: &str, report: &mut dyn FnMut(&str, String)| match t {
            Some(t) => t.unix_ms().map_err(|e| report(k, e)).ok(),
            None => None,
        };
        let starts = time(&p.starts, "starts", &mut report);
        let ends = time(&p.ends, "ends", &mut report);
        if let (Some(s), Some(e)) = (starts, ends)
            && e <= s
        {
            report("ends", "must be after starts".into());
        }
        let max_uses = match p.max_uses {
            Some(n) if !(1..=i64::from(u32::MAX)).contains(&n) => {
                report("max_uses", format!("must be at least 1, got {n}"));
                None
            }
            n => n.map(|n| n as u32),
        };
        let (Some(code), Some(discount)) = (code, discount) else {
            continue;
        };
        let promo = Promo {
            code,
            discount,
            products: listed,
            starts,
            ends,
            max_uses,
            once_per_buyer: p.once_per_buyer,
            subscriptions: p.subscriptions,
        };
        // The discount must leave at least 1 Star on every product it applies to.
        for product in products
            .iter()
            .filter(|x| promo.covers(&x.id, x.subscription))
        {
            if discount.apply(product.price.get()).is_none() {
                report(
                    "stars_off",
                    format!(
                        "leaves less than 1 Star of {} (price {})",
                        product.id,
                        product.price.get()
                    ),
                );
            }
        }
        if !bad && out.len() == before {
            out.push(promo);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        promo: Vec<RawPromo>,
    }

    fn parse(toml: &str) -> Vec<RawPromo> {
        use figment::Figment;
        use figment::providers::{Format, Toml};
        let f: File = Figment::new()
            .merge(Toml::string(toml))
            .extract()
            .expect("parses");
        f.promo
    }

    #[test]
    fn toml_datetimes_and_strings_are_both_read_with_their_offset() {
        let raw = parse(
            "[[promo]]\ncode = \"A1B\"\npercent_off = 5\nstarts = 2026-12-01T00:00:00Z\nends = \"2026-12-31T23:59:59+01:00\"\n",
        );
        let starts = raw[0].starts.as_ref().unwrap().unix_ms().unwrap();
        let ends = raw[0].ends.as_ref().unwrap().unix_ms().unwrap();
        assert_eq!(starts, 1_796_083_200_000);
        assert_eq!(ends, 1_798_757_999_000);
        assert!(raw[0].once_per_buyer);
        let local =
            parse("[[promo]]\ncode = \"A1B\"\npercent_off = 5\nstarts = 2026-12-01T00:00:00\n");
        assert!(local[0].starts.as_ref().unwrap().unix_ms().is_err());
    }
}
