//! A per-consumer FIFO that collapses market data it has not yet delivered.
//!
//! A coalescable item replaces the pending item of its key *where that item stands in the
//! queue*, so a slow consumer sees the latest value without losing its place relative to the
//! items around it. Non-coalescable items (trades, execution reports) are only ever appended.

use std::collections::{HashMap, VecDeque};

struct Slot<T> {
    key: u64,
    coalescable: bool,
    item: T,
}

/// Counters of a [`Coalescer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoalescerStats {
    pub pushed: u64,
    pub replaced: u64,
    pub popped: u64,
}

/// FIFO with latest-wins replacement of coalescable items by key.
pub struct Coalescer<T> {
    queue: VecDeque<Slot<T>>,
    // Absolute position of queue[0]; positions never repeat, so an index stored in `pending`
    // stays valid while its item is queued.
    head: u64,
    pending: HashMap<u64, u64>,
    stats: CoalescerStats,
}

impl<T> Default for Coalescer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Coalescer<T> {
    pub fn new() -> Self {
        Coalescer {
            queue: VecDeque::new(),
            head: 0,
            pending: HashMap::new(),
            stats: CoalescerStats::default(),
        }
    }

    /// Queues an item; returns true when it replaced a pending item of the same key. The
    /// replaced item is handed back so the caller decides how to dispose of it.
    pub fn push(&mut self, key: u64, item: T, coalescable: bool) -> (bool, Option<T>) {
        self.stats.pushed += 1;
        if coalescable {
            if let Some(&pos) = self.pending.get(&key) {
                let slot = &mut self.queue[(pos - self.head) as usize];
                let old = std::mem::replace(&mut slot.item, item);
                self.stats.replaced += 1;
                return (true, Some(old));
            }
            self.pending
                .insert(key, self.head + self.queue.len() as u64);
        }
        self.queue.push_back(Slot {
            key,
            coalescable,
            item,
        });
        (false, None)
    }

    /// Removes up to `max_items` from the front, in queue order.
    pub fn pop(&mut self, max_items: usize, out: &mut Vec<T>) {
        let n = max_items.min(self.queue.len());
        for _ in 0..n {
            if let Some(slot) = self.queue.pop_front() {
                if slot.coalescable && self.pending.get(&slot.key) == Some(&self.head) {
                    self.pending.remove(&slot.key);
                }
                self.head += 1;
                out.push(slot.item);
            }
        }
        self.stats.popped += n as u64;
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn stats(&self) -> CoalescerStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_in_position_and_never_touches_non_coalescable() {
        let mut c = Coalescer::new();
        assert!(!c.push(1, "tick1", true).0);
        assert!(!c.push(9, "trade", false).0);
        assert!(!c.push(9, "trade2", false).0);
        let (replaced, old) = c.push(1, "tick2", true);
        assert!(replaced);
        assert_eq!(old, Some("tick1"));
        assert_eq!(c.len(), 3);
        let mut out = Vec::new();
        c.pop(10, &mut out);
        assert_eq!(out, vec!["tick2", "trade", "trade2"]);
        assert_eq!(
            c.stats(),
            CoalescerStats {
                pushed: 4,
                replaced: 1,
                popped: 3
            }
        );
    }

    #[test]
    fn popped_key_starts_a_new_slot() {
        let mut c = Coalescer::new();
        c.push(1, 1, true);
        let mut out = Vec::new();
        c.pop(1, &mut out);
        assert!(!c.push(1, 2, true).0);
        c.push(2, 3, true);
        assert!(c.push(1, 4, true).0);
        out.clear();
        c.pop(5, &mut out);
        assert_eq!(out, vec![4, 3]);
        assert!(c.is_empty());
    }
}
