//! The `Starsgate-Signature` header: Stripe's scheme, so a seller's existing verification code
//! carries over. `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
//! The timestamp is signed with the body, so a receiver that refuses old `t` refuses replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How old a signature a receiver should accept (the README's examples use it).
pub const TOLERANCE_SECS: i64 = 300;

/// The header value for `body` signed at `t` (unix seconds).
pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Why a receiver refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the signature is {0} s old (more than {TOLERANCE_SECS} s)")]
    TooOld(i64),
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// What a receiver does with a request: checks the header against the raw body at `now` (unix
/// seconds). Several `v1=` entries are accepted (one per secret during a rotation).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let age = now - t;
    if age > TOLERANCE_SECS {
        return Err(VerifyError::TooOld(age));
    }
    let expected = mac(secret, t, body);
    if signatures
        .iter()
        .any(|s| bool::from(s.as_slice().ct_eq(&expected)))
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_0123456789abcdef";

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let h = header(SECRET, 1_700_000_000, body);
        assert_eq!(verify(SECRET, &h, body, 1_700_000_010), Ok(()));
        assert_eq!(
            verify(SECRET, &h, br#"{"id":"evt_2"}"#, 1_700_000_010),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("another-secret-of-16", &h, body, 1_700_000_010),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn an_old_signature_is_refused() {
        let h = header(SECRET, 1_700_000_000, b"{}");
        assert_eq!(
            verify(SECRET, &h, b"{}", 1_700_000_000 + TOLERANCE_SECS + 1),
            Err(VerifyError::TooOld(TOLERANCE_SECS + 1))
        );
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        // HMAC-SHA256("key", "1.body"), computed independently (python3 hmac).
        assert_eq!(
            header("key", 1, b"body"),
            "t=1,v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }

    #[test]
    fn a_malformed_header_is_refused() {
        for h in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "t=1,v2=00"] {
            assert_eq!(
                verify(SECRET, h, b"{}", 1),
                Err(VerifyError::Malformed),
                "{h}"
            );
        }
    }
}
