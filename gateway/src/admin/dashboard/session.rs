//! Dashboard logins: a browser that presented the admin token gets a random session id in an
//! `HttpOnly`, `SameSite=Strict` cookie (`Secure` when `admin.cookie_secure`), valid for
//! `admin.session_secs` or until logout. Sessions live in this process only (a restart logs
//! everyone out), so the cookie carries no secret of its own and nothing about the token.
//!
//! Every state-changing form carries a CSRF token: an HMAC of the session id under a key drawn
//! at random when the process starts (never the admin token), so it needs no storage and dies
//! with the session. Wrong tokens at the login form are slowed down per client address: after
//! [`FREE_TRIES`] misses, each further miss locks the address out for twice as long as the last
//! (up to [`MAX_LOCK`]), and a locked-out address is answered 429 without its token being read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "starsgate_session";
/// Wrong tokens an address may send before it is slowed down.
pub const FREE_TRIES: u32 = 5;
/// The longest lock-out after repeated wrong tokens.
pub const MAX_LOCK: Duration = Duration::from_secs(300);
/// Most sessions kept at once; beyond it the one closest to expiry is dropped.
const MAX_SESSIONS: usize = 1024;
/// Most client addresses whose misses are remembered; a miss record is forgotten an hour after
/// the address's last miss.
const MAX_ADDRESSES: usize = 10_000;
const FORGET_MISSES: Duration = Duration::from_secs(3600);

pub struct Sessions {
    /// Per-process key for CSRF tokens.
    key: [u8; 32],
    ttl: Duration,
    cookie_secure: bool,
    /// sha256(session id) → when it expires.
    live: Mutex<HashMap<[u8; 32], Instant>>,
    misses: Mutex<HashMap<IpAddr, Misses>>,
}

#[derive(Clone, Copy)]
struct Misses {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// What the login form's token check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A new session: the cookie's value.
    Started(String),
    Refused,
    /// Too many wrong tokens from this address: try again after this long.
    Locked(Duration),
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub fn new(ttl: Duration, cookie_secure: bool) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            key,
            ttl,
            cookie_secure,
            live: Mutex::new(HashMap::new()),
            misses: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a login attempt from `from` (`token_ok`: whether it presented the admin token).
    /// `token_ok` is only consulted when the address is not locked out.
    pub fn login(&self, from: Option<IpAddr>, token_ok: impl FnOnce() -> bool) -> Login {
        let now = Instant::now();
        if let Some(ip) = from {
            let misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(until) = misses.get(&ip).and_then(|m| m.locked_until)
                && until > now
            {
                return Login::Locked(until - now);
            }
        }
        if !token_ok() {
            if let Some(ip) = from {
                self.missed(ip, now);
            }
            return Login::Refused;
        }
        if let Some(ip) = from {
            self.misses
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&ip);
        }
        Login::Started(self.start(now))
    }

    fn missed(&self, ip: IpAddr, now: Instant) {
        let mut misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        if misses.len() >= MAX_ADDRESSES {
            misses.retain(|_, m| now.duration_since(m.last) < FORGET_MISSES);
        }
        let m = misses.entry(ip).or_insert(Misses {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(m.last) >= FORGET_MISSES {
            m.count = 0;
        }
        m.count += 1;
        m.last = now;
        if m.count >= FREE_TRIES {
            let doublings = (m.count - FREE_TRIES).min(16);
            let lock = Duration::from_secs(1u64 << doublings).min(MAX_LOCK);
            m.locked_until = Some(now + lock);
        }
    }

    fn start(&self, now: Instant) -> String {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let id = hex::encode(raw);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|_, until| *until > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, u)| **u).map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(digest(&id), now + self.ttl);
        id
    }

    /// Whether `id` is a live session.
    pub fn is_live(&self, id: &str) -> bool {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(&digest(id))
            .is_some_and(|until| *until > Instant::now())
    }

    pub fn end(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest(id));
    }

    /// The CSRF token of session `id`.
    pub fn csrf(&self, id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(b"csrf:");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn csrf_ok(&self, id: &str, given: &str) -> bool {
        bool::from(self.csrf(id).as_bytes().ct_eq(given.as_bytes()))
    }

    /// The `Set-Cookie` value that starts session `id`.
    pub fn cookie(&self, id: &str) -> String {
        format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.ttl.as_secs(),
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.cookie_secure { "; Secure" } else { "" }
        )
    }
}

/// The session id in a `Cookie` header, if any.
pub fn session_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, 1]))
    }

    #[test]
    fn a_session_lives_until_it_is_ended() {
        let s = Sessions::new(Duration::from_secs(60), false);
        let Login::Started(id) = s.login(ip(), || true) else {
            panic!("the right token starts a session")
        };
        assert!(s.is_live(&id));
        assert!(!s.is_live("not-a-session"));
        s.end(&id);
        assert!(!s.is_live(&id));
    }

    #[test]
    fn csrf_tokens_belong_to_their_session_and_process() {
        let s = Sessions::new(Duration::from_secs(60), false);
        let other = Sessions::new(Duration::from_secs(60), false);
        assert!(s.csrf_ok("a", &s.csrf("a")));
        assert!(!s.csrf_ok("b", &s.csrf("a")));
        assert!(!s.csrf_ok("a", &other.csrf("a")));
        assert!(!s.csrf_ok("a", ""));
    }

    #[test]
    fn repeated_wrong_tokens_lock_the_address_out_without_reading_the_token() {
        let s = Sessions::new(Duration::from_secs(60), false);
        for _ in 0..FREE_TRIES {
            assert_eq!(s.login(ip(), || false), Login::Refused);
        }
        let checked = std::cell::Cell::new(false);
        let answer = s.login(ip(), || {
            checked.set(true);
            true
        });
        assert!(matches!(answer, Login::Locked(_)), "{answer:?}");
        assert!(!checked.get(), "a locked-out address's token is not read");
        let elsewhere = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(matches!(s.login(elsewhere, || true), Login::Started(_)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let plain = Sessions::new(Duration::from_secs(60), false).cookie("x");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure;") && !plain.ends_with("Secure"));
        assert!(
            Sessions::new(Duration::from_secs(60), true)
                .cookie("x")
                .ends_with("; Secure")
        );
    }
}
