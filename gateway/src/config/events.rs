//! A bot's `[events]`: where its seller events go, signed with which secret, and which types.
//! Checked here so a typo in a URL or an event type is a `check` problem, not a silent loss of
//! every event afterwards.

use std::net::IpAddr;

use serde::Deserialize;

use crate::brief;
use crate::domain::SellerEventType;

/// The shortest signing secret accepted: shorter ones can be guessed.
pub const MIN_SECRET_CHARS: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvents {
    pub url: String,
    pub secret_env: String,
    #[serde(default)]
    pub types: Option<Vec<String>>,
}

/// Where a bot's seller events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    pub url: url::Url,
    /// The environment variable holding the signing secret; read when an event is signed, so a
    /// rotated secret applies from the next send.
    pub secret_env: String,
    /// The types sent; empty: every type.
    pub types: Vec<SellerEventType>,
}

/// Checks `[events]`. `secret` is the value of `secret_env` (`None` when it is not set);
/// `secret_required` says whether a missing one is a problem (`check --without-secrets` lists it
/// as unchecked instead). Problems go to `problem` under `events.<key>`.
pub fn validate(
    raw: &RawEvents,
    secret: Option<&str>,
    secret_required: bool,
    report: &mut impl FnMut(&str, String),
) -> Option<EventsConfig> {
    let mut found: Vec<(&str, String)> = Vec::new();
    let mut problem = |key: &'static str, reason: String| found.push((key, reason));
    let url = match url::Url::parse(raw.url.trim()) {
        Ok(url) => check_url(&url)
            .map_err(|e| problem("events.url", e))
            .ok()
            .map(|()| url),
        Err(e) => {
            problem(
                "events.url",
                format!("{} is not a URL: {e}", brief::value(&raw.url)),
            );
            None
        }
    };
    match secret {
        Some(s) if s.chars().count() < MIN_SECRET_CHARS => problem(
            "events.secret_env",
            format!(
                "${} must hold at least {MIN_SECRET_CHARS} characters (the signing secret)",
                brief::key(&raw.secret_env)
            ),
        ),
        None if secret_required => problem(
            "events.secret_env",
            format!(
                "environment variable {} is not set (it must hold the events signing secret)",
                brief::key(&raw.secret_env)
            ),
        ),
        _ => {}
    }
    let mut types = Vec::new();
    match &raw.types {
        Some(list) if list.is_empty() => problem(
            "events.types",
            "is empty: list the types to send, or leave it out to send every type".into(),
        ),
        Some(list) => {
            for t in list {
                match SellerEventType::parse(t) {
                    Ok(t) if !types.contains(&t) => types.push(t),
                    Ok(_) => {}
                    Err(e) => problem("events.types", e.to_string()),
                }
            }
        }
        None => {}
    }
    let ok = found.is_empty();
    for (key, reason) in found {
        report(key, reason);
    }
    if !ok {
        return None;
    }
    Some(EventsConfig {
        url: url?,
        secret_env: raw.secret_env.clone(),
        types,
    })
}

/// https, or plain http to this machine only (a receiver on loopback for tests and sidecars).
/// No credentials in the URL: they would be printed wherever the URL is.
fn check_url(url: &url::Url) -> Result<(), String> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (the signature authenticates us)".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("must be https (plain http only for a loopback address)".into()),
        other => Err(format!("must be https, not {}", brief::value(other))),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str, types: Option<&[&str]>) -> RawEvents {
        RawEvents {
            url: url.into(),
            secret_env: "SHOP_EVENTS_SECRET".into(),
            types: types.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn problems(raw: &RawEvents, secret: Option<&str>) -> Vec<String> {
        let mut found = Vec::new();
        let ok = validate(raw, secret, true, &mut |k, r| {
            found.push(format!("{k}: {r}"))
        });
        assert_eq!(ok.is_some(), found.is_empty(), "{found:?}");
        found
    }

    const GOOD: Option<&str> = Some("0123456789abcdef");

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for url in [
            "https://shop.example.com/hooks",
            "http://127.0.0.1:9000/hooks",
            "http://localhost/x",
            "http://[::1]:8080/",
        ] {
            assert_eq!(
                problems(&raw(url, None), GOOD),
                Vec::<String>::new(),
                "{url}"
            );
        }
    }

    #[test]
    fn plain_http_elsewhere_credentials_and_non_urls_are_refused() {
        for (url, expect) in [
            ("http://shop.example.com/hooks", "must be https"),
            ("ftp://shop.example.com/", "must be https"),
            ("https://user:pw@shop.example.com/", "credentials"),
            ("shop.example.com", "is not a URL"),
        ] {
            let found = problems(&raw(url, None), GOOD);
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            assert!(found[0].starts_with("events.url: "), "{found:?}");
            assert!(found[0].contains(expect), "{url}: {found:?}");
        }
    }

    #[test]
    fn a_missing_or_short_secret_is_refused() {
        let found = problems(&raw("https://a.example/", None), None);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("SHOP_EVENTS_SECRET is not set"),
            "{found:?}"
        );
        let found = problems(&raw("https://a.example/", None), Some("short"));
        assert!(found[0].contains("at least 16 characters"), "{found:?}");
        let mut none = Vec::new();
        let unchecked = validate(
            &raw("https://a.example/", None),
            None,
            false,
            &mut |k, r| none.push(format!("{k}: {r}")),
        );
        assert!(
            unchecked.is_some() && none.is_empty(),
            "--without-secrets: {none:?}"
        );
    }

    #[test]
    fn unknown_and_empty_type_lists_are_refused() {
        let found = problems(&raw("https://a.example/", Some(&["payment.paid"])), GOOD);
        assert!(
            found[0].starts_with("events.types: unknown event type"),
            "{found:?}"
        );
        let found = problems(&raw("https://a.example/", Some(&[])), GOOD);
        assert!(found[0].contains("is empty"), "{found:?}");
        let ok = validate(
            &raw(
                "https://a.example/",
                Some(&["refund.succeeded", "refund.succeeded", "payment.succeeded"]),
            ),
            GOOD,
            true,
            &mut |_, _| {},
        );
        assert_eq!(
            ok.map(|c| c.types),
            Some(vec![
                SellerEventType::RefundSucceeded,
                SellerEventType::PaymentSucceeded
            ])
        );
    }
}
