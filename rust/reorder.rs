//! Per-stream reordering with bounded lateness.
//!
//! One buffer serves every stream of a dispatcher. An in-order stream never waits: a
//! contiguous sequence number is released in the same call. Only an item that arrives ahead
//! of a gap is held, and only until the gap is filled, its wait exceeds the lateness bound,
//! or the stream holds more than `max_events` items.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::CoreError;

struct Held<T> {
    item: T,
    since_ns: u64,
}

struct Stream<T> {
    last: u64,
    held: BTreeMap<u64, Held<T>>,
}

/// Counters of a [`ReorderBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReorderStats {
    pub released: u64,
    pub duplicates: u64,
    pub gaps_skipped: u64,
    pub skipped_seqs: u64,
    pub held: u64,
    pub streams: u64,
}

/// Releases items of many streams in strictly increasing `seq` order per stream.
pub struct ReorderBuffer<T> {
    lateness_ns: u64,
    lateness_ms: u64,
    flush_ms: u64,
    max_events: usize,
    streams: HashMap<u64, Stream<T>>,
    // Streams that hold something, so `expire` visits only those, in a stable order.
    holding: BTreeSet<u64>,
    stats: ReorderStats,
}

impl<T> ReorderBuffer<T> {
    pub fn new(lateness_ms: i64, flush_ms: i64, max_events: i64) -> Result<Self, CoreError> {
        if lateness_ms < 0 {
            return Err(CoreError::Value(format!(
                "lateness_ms must be >= 0, got {lateness_ms}"
            )));
        }
        if flush_ms <= 0 {
            return Err(CoreError::Value(format!(
                "flush_ms must be > 0, got {flush_ms}"
            )));
        }
        if max_events <= 0 {
            return Err(CoreError::Value(format!(
                "max_events must be > 0, got {max_events}"
            )));
        }
        Ok(ReorderBuffer {
            lateness_ns: lateness_ms as u64 * 1_000_000,
            lateness_ms: lateness_ms as u64,
            flush_ms: flush_ms as u64,
            max_events: max_events as usize,
            streams: HashMap::new(),
            holding: BTreeSet::new(),
            stats: ReorderStats::default(),
        })
    }

    pub fn lateness_ms(&self) -> u64 {
        self.lateness_ms
    }

    pub fn flush_ms(&self) -> u64 {
        self.flush_ms
    }

    pub fn max_events(&self) -> usize {
        self.max_events
    }

    pub fn stats(&self) -> ReorderStats {
        ReorderStats {
            streams: self.streams.len() as u64,
            ..self.stats
        }
    }

    /// Offers one item; appends to `out` whatever is releasable now, in order.
    pub fn push(&mut self, stream: u64, seq: u64, item: T, now_ns: u64, out: &mut Vec<T>) {
        let st = match self.streams.get_mut(&stream) {
            None => {
                self.streams.insert(
                    stream,
                    Stream {
                        last: seq,
                        held: BTreeMap::new(),
                    },
                );
                self.stats.released += 1;
                out.push(item);
                return;
            }
            Some(st) => st,
        };
        if seq <= st.last || st.held.contains_key(&seq) {
            self.stats.duplicates += 1;
            return;
        }
        if Some(seq) == st.last.checked_add(1) {
            st.last = seq;
            out.push(item);
            self.stats.released += 1;
            if !st.held.is_empty() {
                Self::release_contiguous(st, &mut self.stats, out);
                if st.held.is_empty() {
                    self.holding.remove(&stream);
                }
            }
            return;
        }
        st.held.insert(
            seq,
            Held {
                item,
                since_ns: now_ns,
            },
        );
        self.stats.held += 1;
        self.holding.insert(stream);
        while st.held.len() > self.max_events {
            Self::skip_gap(st, &mut self.stats, out);
        }
        if st.held.is_empty() {
            self.holding.remove(&stream);
        }
    }

    /// Releases what has waited at least the lateness bound, skipping the gaps before it.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<T>) {
        let lateness = self.lateness_ns;
        let mut emptied = Vec::new();
        for stream in &self.holding {
            let Some(st) = self.streams.get_mut(stream) else {
                continue;
            };
            while let Some(oldest) = st.held.values().map(|h| h.since_ns).min() {
                if now_ns.saturating_sub(oldest) < lateness {
                    break;
                }
                Self::skip_gap(st, &mut self.stats, out);
            }
            if st.held.is_empty() {
                emptied.push(*stream);
            }
        }
        for s in emptied {
            self.holding.remove(&s);
        }
    }

    /// Forgets a stream and drops what it held (after a resync its numbering restarts).
    pub fn reset(&mut self, stream: u64) {
        if let Some(st) = self.streams.remove(&stream) {
            self.stats.held -= st.held.len() as u64;
        }
        self.holding.remove(&stream);
    }

    fn skip_gap(st: &mut Stream<T>, stats: &mut ReorderStats, out: &mut Vec<T>) {
        if let Some((&first, _)) = st.held.first_key_value() {
            stats.gaps_skipped += 1;
            stats.skipped_seqs += first - st.last - 1;
            st.last = first - 1;
            Self::release_contiguous(st, stats, out);
        }
    }

    fn release_contiguous(st: &mut Stream<T>, stats: &mut ReorderStats, out: &mut Vec<T>) {
        while let Some(entry) = st.held.first_entry() {
            if Some(*entry.key()) != st.last.checked_add(1) {
                break;
            }
            st.last += 1;
            out.push(entry.remove().item);
            stats.released += 1;
            stats.held -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(rb: &mut ReorderBuffer<u64>, stream: u64, seq: u64, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        rb.push(stream, seq, seq, now, &mut out);
        out
    }

    #[test]
    fn in_order_is_released_at_once() {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        assert_eq!(push(&mut rb, 1, 10, 0), vec![10]);
        assert_eq!(push(&mut rb, 1, 11, 0), vec![11]);
        assert_eq!(rb.stats().held, 0);
    }

    #[test]
    fn holds_until_gap_filled_and_drops_duplicates() {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        push(&mut rb, 7, 1, 0);
        assert!(push(&mut rb, 7, 3, 0).is_empty());
        assert!(push(&mut rb, 7, 3, 0).is_empty());
        assert!(push(&mut rb, 7, 1, 0).is_empty());
        assert_eq!(push(&mut rb, 7, 2, 0), vec![2, 3]);
        let s = rb.stats();
        assert_eq!(
            (s.released, s.duplicates, s.held, s.gaps_skipped),
            (3, 2, 0, 0)
        );
    }

    #[test]
    fn expire_skips_gap_after_lateness() {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        push(&mut rb, 1, 1, 0);
        push(&mut rb, 1, 4, 10_000_000);
        push(&mut rb, 1, 5, 20_000_000);
        let mut out = Vec::new();
        rb.expire(150_000_000, &mut out);
        assert!(out.is_empty(), "4 has waited only 140 ms");
        rb.expire(160_000_000, &mut out);
        assert_eq!(out, vec![4, 5]);
        let s = rb.stats();
        assert_eq!((s.gaps_skipped, s.skipped_seqs, s.held), (1, 2, 0));
        assert!(
            push(&mut rb, 1, 2, 0).is_empty(),
            "late item after the skip is dropped"
        );
    }

    #[test]
    fn max_events_skips_at_once() {
        let mut rb = ReorderBuffer::new(150, 50, 2).unwrap();
        push(&mut rb, 1, 1, 0);
        assert!(push(&mut rb, 1, 3, 0).is_empty());
        assert!(push(&mut rb, 1, 4, 0).is_empty());
        assert_eq!(push(&mut rb, 1, 6, 0), vec![3, 4]);
        assert_eq!(rb.stats().held, 1);
    }

    #[test]
    fn streams_are_independent_and_reset_forgets() {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        push(&mut rb, 1, 5, 0);
        push(&mut rb, 2, 100, 0);
        assert!(push(&mut rb, 1, 7, 0).is_empty());
        rb.reset(1);
        assert_eq!(rb.stats().held, 0);
        assert_eq!(push(&mut rb, 1, 1, 0), vec![1], "restarts after reset");
        assert_eq!(push(&mut rb, 2, 101, 0), vec![101]);
        assert_eq!(rb.stats().streams, 2);
    }

    #[test]
    fn seq_at_the_top_of_the_range_never_overflows() {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        assert_eq!(push(&mut rb, 1, u64::MAX - 1, 0), vec![u64::MAX - 1]);
        assert_eq!(push(&mut rb, 1, u64::MAX, 0), vec![u64::MAX]);
        assert!(push(&mut rb, 1, u64::MAX, 0).is_empty());
        assert_eq!(rb.stats().duplicates, 1);
    }

    #[test]
    fn refuses_bad_arguments() {
        assert!(ReorderBuffer::<u64>::new(-1, 50, 200).is_err());
        assert!(ReorderBuffer::<u64>::new(150, 0, 200).is_err());
        assert!(ReorderBuffer::<u64>::new(150, 50, 0).is_err());
    }
}
