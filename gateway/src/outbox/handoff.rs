//! How the shop hands a delivery it has just stored to the outbox in memory, so the outbox sends
//! it without first reading it back from the ledger (a read per paid order under load).
//!
//! The ledger stays the record: a handed delivery was committed before it was handed, the
//! outbox still claims it before sending (the claim refuses one already sent, given up, held by
//! another gateway, or whose payment is no longer `paid`), and the outbox keeps reading the
//! ledger for everything else: retries, deliveries stored by another gateway, and whatever did
//! not fit here.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::ledger::DueDelivery;

/// Most deliveries waiting in memory for one bot. Past this the outbox is behind anyway; the
/// rest wait in the ledger and the outbox reads them from there.
pub const HANDOFF_CAPACITY: usize = 256;

/// One bot's outbox wake-up and in-memory queue.
#[derive(Default)]
pub struct Handoff {
    queue: Mutex<Queue>,
    wake: Notify,
}

#[derive(Default)]
struct Queue {
    deliveries: VecDeque<DueDelivery>,
    /// Something was left out (full queue) or woke the outbox without a delivery: the outbox
    /// must read the ledger.
    look_at_ledger: bool,
}

/// What the outbox should send next.
pub enum Next {
    /// Deliveries handed over in memory.
    Handed(Vec<DueDelivery>),
    /// Read the ledger for due deliveries.
    Ledger,
}

impl Handoff {
    /// A stored delivery for the outbox to send now.
    pub fn hand(&self, delivery: DueDelivery) {
        if let Ok(mut q) = self.queue.lock() {
            if q.deliveries.len() < HANDOFF_CAPACITY {
                q.deliveries.push_back(delivery);
            } else {
                q.look_at_ledger = true;
            }
        }
        self.wake.notify_one();
    }

    /// Wakes the outbox to read the ledger (work it can only find there).
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

    /// What the outbox should do after a wake-up: send what was handed over, or read the ledger
    /// when asked to or when there is nothing in memory.
    pub fn take(&self) -> Next {
        let Ok(mut q) = self.queue.lock() else {
            return Next::Ledger;
        };
        if q.look_at_ledger || q.deliveries.is_empty() {
            return Next::Ledger;
        }
        Next::Handed(q.deliveries.drain(..).collect())
    }

    /// Called when the outbox reads the ledger: what was handed over so far was committed
    /// before, so the read finds it. A delivery handed over after this is sent from memory; if
    /// the read found it too, the second claim on it fails and it is not sent twice.
    pub fn reading_ledger(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.deliveries.clear();
            q.look_at_ledger = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(n: usize) -> DueDelivery {
        DueDelivery {
            charge_id: format!("c{n}"),
            chat_id: 1,
            content: "{}".into(),
            attempts: 0,
        }
    }

    fn handed(next: Next) -> Vec<String> {
        match next {
            Next::Handed(d) => d.into_iter().map(|d| d.charge_id).collect(),
            Next::Ledger => Vec::new(),
        }
    }

    #[test]
    fn handed_deliveries_come_out_in_order() {
        let h = Handoff::default();
        h.hand(delivery(1));
        h.hand(delivery(2));
        assert_eq!(handed(h.take()), ["c1", "c2"]);
        assert!(matches!(h.take(), Next::Ledger), "nothing left in memory");
    }

    #[test]
    fn a_plain_wake_up_sends_the_outbox_to_the_ledger() {
        let h = Handoff::default();
        h.hand(delivery(1));
        h.notify_one();
        assert!(matches!(h.take(), Next::Ledger));
        h.reading_ledger();
        h.hand(delivery(2));
        assert_eq!(handed(h.take()), ["c2"]);
    }

    #[test]
    fn past_capacity_the_outbox_reads_the_ledger_instead() {
        let h = Handoff::default();
        for n in 0..=HANDOFF_CAPACITY {
            h.hand(delivery(n));
        }
        assert!(matches!(h.take(), Next::Ledger));
        h.reading_ledger();
        assert!(
            matches!(h.take(), Next::Ledger),
            "the read covers what was dropped; memory is empty"
        );
    }
}
