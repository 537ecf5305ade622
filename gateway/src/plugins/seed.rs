//! Seeds for plugins: HMAC-SHA256 of the call's identity under a secret kept in the ledger. The
//! same order (pre-checkout) or payment (delivery) always gets the same seed, on every gateway
//! sharing the ledger, so a retried delivery produces the same licence key; without the secret a
//! buyer cannot predict anyone's key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct SeedKey(Vec<u8>);

impl std::fmt::Debug for SeedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeedKey([redacted])")
    }
}

impl SeedKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(secret.to_vec())
    }

    /// The seed for the parts that identify a call (bot, product, order, charge…).
    pub fn seed(&self, parts: &[&str]) -> u64 {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return 0;
        };
        for p in parts {
            mac.update(&(p.len() as u64).to_le_bytes());
            mac.update(p.as_bytes());
        }
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::SeedKey;

    #[test]
    fn a_seed_is_stable_for_its_parts_and_differs_otherwise() {
        let k = SeedKey::new(b"secret");
        assert_eq!(k.seed(&["bot", "order-1"]), k.seed(&["bot", "order-1"]));
        assert_ne!(k.seed(&["bot", "order-1"]), k.seed(&["bot", "order-2"]));
        // Parts are length-prefixed, so moving a boundary changes the seed.
        assert_ne!(k.seed(&["ab", "c"]), k.seed(&["a", "bc"]));
        assert_ne!(
            k.seed(&["bot", "order-1"]),
            SeedKey::new(b"other").seed(&["bot", "order-1"])
        );
    }
}
