//! Who holds a lease: one gateway process among those sharing a ledger.
//!
//! Why a type: the holder is written into `bot_leases`, into each delivery's claim and into the
//! seller events' claims, compared there for equality, and read back to decide whether a lease
//! that a crash left behind may be taken over at once. One spelling, `host|config dir|pid|nonce`,
//! made here and read here, keeps those places in step.

use std::fmt;
use std::path::Path;

use crate::domain::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The whole spelling, as stored.
    text: String,
    /// `host|config dir`: the same gateway started again has the same one.
    place: String,
    pid: u32,
}

impl Holder {
    /// This process: its host, canonical config directory, pid, and a random nonce (a pid can
    /// be reused; the nonce keeps two runs apart even then).
    pub fn of_this_process(config_dir: &Path) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().replace('|', "-"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        let dir = std::fs::canonicalize(config_dir).unwrap_or_else(|_| config_dir.to_owned());
        let pid = std::process::id();
        let place = format!("{host}|{}", dir.display());
        Self {
            text: format!("{place}|{pid}|{:08x}", rand::random::<u32>()),
            place,
            pid,
        }
    }

    /// Reads a holder as stored.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refused = || {
            Invalid(format!(
                "{} is not a lease holder",
                crate::brief::value(raw)
            ))
        };
        let mut from_right = raw.rsplitn(3, '|');
        let (Some(nonce), Some(pid), Some(place)) =
            (from_right.next(), from_right.next(), from_right.next())
        else {
            return Err(refused());
        };
        let pid = pid.parse::<u32>().map_err(|_| refused())?;
        if u32::from_str_radix(nonce, 16).is_err() || !place.contains('|') {
            return Err(refused());
        }
        Ok(Self {
            text: raw.to_owned(),
            place: place.to_owned(),
            pid,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True if `self` is an earlier run of `me` (same host and config directory) whose process
    /// no longer runs: its leases may be taken at once. A reused pid only makes us wait for the
    /// lease to expire, the safe direction.
    pub fn is_dead_run_of(&self, me: &Holder) -> bool {
        self != me && self.place == me.place && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::Holder;

    fn holder(raw: &str) -> Holder {
        Holder::parse(raw).expect("a holder")
    }

    #[test]
    fn only_a_dead_holder_with_our_host_and_config_is_taken_over() {
        let me = holder("h|/etc/sg|100|aa");
        assert!(
            holder("h|/etc/sg|999999999|bb").is_dead_run_of(&me),
            "same host and config, no such pid"
        );
        let alive = format!("h|/etc/sg|{}|bb", std::process::id());
        assert!(!holder(&alive).is_dead_run_of(&me), "alive");
        assert!(
            !holder("other|/etc/sg|999999999|bb").is_dead_run_of(&me),
            "another host"
        );
        assert!(
            !holder("h|/srv/sg|999999999|bb").is_dead_run_of(&me),
            "another config"
        );
        assert!(!me.is_dead_run_of(&me), "ourselves");
    }

    #[test]
    fn a_holder_reads_back_as_it_was_written_and_anything_else_is_refused() {
        let me = Holder::of_this_process(std::path::Path::new("."));
        assert_eq!(Holder::parse(me.as_str()), Ok(me.clone()));
        assert_eq!(me.to_string(), me.as_str());
        for bad in ["garbage", "h|1|aa", "h|/etc|x|aa", "h|/etc|1|not-hex", ""] {
            assert!(Holder::parse(bad).is_err(), "{bad:?} was read as a holder");
        }
    }

    #[test]
    fn a_config_directory_with_a_bar_in_its_name_still_reads_back() {
        let odd = holder("h|/srv/a|b|42|0000beef");
        assert_eq!((odd.place.as_str(), odd.pid), ("h|/srv/a|b", 42));
        assert_eq!(odd.as_str(), "h|/srv/a|b|42|0000beef");
    }
}
