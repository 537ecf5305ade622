//! Handing work that is already committed to the ledger from one task to another in memory, so
//! the receiver can act on it without first reading it back (a read per update or per paid order
//! under load). Two hand-overs use it: the webhook handler hands each update it has stored to the
//! bot's inbox loop (`ingest`), and the shop hands each delivery it has stored to the bot's
//! outbox (`outbox`).
//!
//! The ledger stays the record. Everything handed over was committed before it was handed, so
//! whenever the receiver reads the ledger instead it finds the same work there; the receiver
//! keeps reading the ledger for whatever can only be found there: work stored by another
//! gateway, retries, and whatever did not fit in memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Most items waiting in memory for one receiver. Past this the receiver is behind anyway; the
/// rest wait in the ledger and the receiver reads them from there.
pub const HANDOFF_CAPACITY: usize = 256;

/// One receiver's wake-up and in-memory queue.
pub struct Handoff<T> {
    queue: Mutex<Queue<T>>,
    wake: Notify,
}

impl<T> Default for Handoff<T> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                look_at_ledger: false,
            }),
            wake: Notify::new(),
        }
    }
}

struct Queue<T> {
    items: VecDeque<T>,
    /// Something was left out (full queue) or woke the receiver without an item: the receiver
    /// must read the ledger.
    look_at_ledger: bool,
}

/// What the receiver should do next.
pub enum Next<T> {
    /// Work handed over in memory, in the order it was handed.
    Handed(Vec<T>),
    /// Read the ledger.
    Ledger,
}

impl<T> Handoff<T> {
    /// Work committed to the ledger, for the receiver to act on now.
    pub fn hand(&self, item: T) {
        if let Ok(mut q) = self.queue.lock() {
            if q.items.len() < HANDOFF_CAPACITY {
                q.items.push_back(item);
            } else {
                q.look_at_ledger = true;
            }
        }
        self.wake.notify_one();
    }

    /// Wakes the receiver to read the ledger (work it can only find there).
    pub fn notify_one(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.look_at_ledger = true;
        }
        self.wake.notify_one();
    }

    /// Waits for a hand-over or a wake-up.
    pub async fn notified(&self) {
        self.wake.notified().await
    }

    /// What the receiver should do after a wake-up: act on what was handed over, or read the
    /// ledger when asked to or when there is nothing in memory.
    pub fn take(&self) -> Next<T> {
        let Ok(mut q) = self.queue.lock() else {
            return Next::Ledger;
        };
        if q.look_at_ledger || q.items.is_empty() {
            return Next::Ledger;
        }
        Next::Handed(q.items.drain(..).collect())
    }

    /// Called when the receiver reads the ledger: what was handed over so far was committed
    /// before, so the read finds it. An item handed over after this is taken from memory; the
    /// receiver must tolerate finding it both ways (the outbox's claim refuses a second send,
    /// the inbox loop skips update ids it has already handled).
    pub fn reading_ledger(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.items.clear();
            q.look_at_ledger = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handed(next: Next<u32>) -> Vec<u32> {
        match next {
            Next::Handed(items) => items,
            Next::Ledger => Vec::new(),
        }
    }

    #[test]
    fn handed_items_come_out_in_order() {
        let h = Handoff::default();
        h.hand(1);
        h.hand(2);
        assert_eq!(handed(h.take()), [1, 2]);
        assert!(matches!(h.take(), Next::Ledger), "nothing left in memory");
    }

    #[test]
    fn a_plain_wake_up_sends_the_receiver_to_the_ledger() {
        let h = Handoff::default();
        h.hand(1);
        h.notify_one();
        assert!(matches!(h.take(), Next::Ledger));
        h.reading_ledger();
        h.hand(2);
        assert_eq!(handed(h.take()), [2]);
    }

    #[test]
    fn past_capacity_the_receiver_reads_the_ledger_instead() {
        let h = Handoff::default();
        for n in 0..=HANDOFF_CAPACITY as u32 {
            h.hand(n);
        }
        assert!(matches!(h.take(), Next::Ledger));
        h.reading_ledger();
        assert!(
            matches!(h.take(), Next::Ledger),
            "the read covers what was dropped; memory is empty"
        );
    }
}
