//! The snapshot + diff state machine of each venue.
//!
//! Every message gets an [`Outcome`]; the assembler never logs and carries on. After a gap, a
//! checksum mismatch or a crossed book it is `Unsynced` and answers `NeedsSnapshot` until a new
//! snapshot arrives, so a caller can never publish a book it cannot vouch for. The book is
//! passed in by the caller (the Python layer shares it as `BookAssembler.book`).

use std::collections::VecDeque;

use crate::book::OrderBook;
use crate::error::CoreError;

/// The venues whose sync rules we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    Binance,
    Coinbase,
    Kraken,
}

impl Venue {
    pub fn parse(name: &str) -> Result<Venue, CoreError> {
        match name {
            "binance" => Ok(Venue::Binance),
            "coinbase" => Ok(Venue::Coinbase),
            "kraken" => Ok(Venue::Kraken),
            other => Err(CoreError::Value(format!(
                "unknown venue {other:?}: expected \"binance\", \"coinbase\" or \"kraken\""
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Coinbase => "coinbase",
            Venue::Kraken => "kraken",
        }
    }
}

/// Where the assembler stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    AwaitingSnapshot,
    Synced,
    Unsynced,
}

impl SyncState {
    pub fn name(self) -> &'static str {
        match self {
            SyncState::AwaitingSnapshot => "awaiting_snapshot",
            SyncState::Synced => "synced",
            SyncState::Unsynced => "unsynced",
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Buffered,
    Stale,
    Gap,
    ChecksumMismatch,
    Crossed,
    NeedsSnapshot,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Buffered => "buffered",
            Outcome::Stale => "stale",
            Outcome::Gap => "gap",
            Outcome::ChecksumMismatch => "checksum_mismatch",
            Outcome::Crossed => "crossed",
            Outcome::NeedsSnapshot => "needs_snapshot",
        }
    }

    pub const ALL: [Outcome; 7] = [
        Outcome::Applied,
        Outcome::Buffered,
        Outcome::Stale,
        Outcome::Gap,
        Outcome::ChecksumMismatch,
        Outcome::Crossed,
        Outcome::NeedsSnapshot,
    ];
}

/// Counters of an assembler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    pub applied: u64,
    pub buffered: u64,
    pub stale: u64,
    pub gaps: u64,
    pub checksum_ok: u64,
    pub checksum_mismatches: u64,
    pub crossed: u64,
    pub snapshots: u64,
}

/// A parsed Binance diff waiting for its snapshot.
#[derive(Debug, Clone)]
struct PendingDiff {
    first_id: u64,
    final_id: u64,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
}

/// Bound on diffs buffered before a Binance snapshot. Dropping the oldest is safe: if the
/// snapshot does not cover them, the first kept diff no longer connects and the snapshot is
/// answered `Stale` (fetch a newer one).
pub const MAX_BUFFERED_DIFFS: usize = 10_000;

/// The sync state machine for one (venue, symbol) book.
#[derive(Debug, Clone)]
pub struct BookAssembler {
    venue: Venue,
    state: SyncState,
    last_id: Option<u64>,
    buffer: VecDeque<PendingDiff>,
    resyncs: u64,
    epoch: u64,
    stats: AssemblerStats,
}

impl BookAssembler {
    pub fn new(venue: Venue) -> Self {
        BookAssembler {
            venue,
            state: SyncState::AwaitingSnapshot,
            last_id: None,
            buffer: VecDeque::new(),
            resyncs: 0,
            epoch: 0,
            stats: AssemblerStats::default(),
        }
    }

    pub fn venue(&self) -> Venue {
        self.venue
    }

    pub fn state(&self) -> SyncState {
        self.state
    }

    pub fn last_update_id(&self) -> Option<u64> {
        self.last_id
    }

    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    fn expect(&self, venue: Venue, method: &str) -> Result<(), CoreError> {
        if self.venue == venue {
            Ok(())
        } else {
            Err(CoreError::Value(format!(
                "{method} is a {} method; this assembler is for {}",
                venue.name(),
                self.venue.name()
            )))
        }
    }

    fn lose_sync(&mut self, outcome: Outcome) -> Outcome {
        self.state = SyncState::Unsynced;
        self.resyncs += 1;
        self.epoch += 1;
        match outcome {
            Outcome::Gap => self.stats.gaps += 1,
            Outcome::ChecksumMismatch => self.stats.checksum_mismatches += 1,
            Outcome::Crossed => self.stats.crossed += 1,
            _ => {}
        }
        outcome
    }

    /// Applied, unless the book is now crossed, which no venue book may be.
    fn after_apply(&mut self, book: &OrderBook) -> Outcome {
        if book.is_crossed() {
            return self.lose_sync(Outcome::Crossed);
        }
        self.stats.applied += 1;
        Outcome::Applied
    }

    fn synced_by_snapshot(&mut self, last_id: Option<u64>) {
        self.state = SyncState::Synced;
        self.last_id = last_id;
        self.stats.snapshots += 1;
    }

    // ---- Binance: REST snapshot `lastUpdateId` + diff events `U`..`u` ----

    /// A diff event with first id `U` and final id `u`.
    pub fn binance_diff(
        &mut self,
        book: &mut OrderBook,
        first_id: u64,
        final_id: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Binance, "on_diff")?;
        if first_id > final_id {
            return Err(CoreError::Value(format!(
                "first_id {first_id} is above final_id {final_id}"
            )));
        }
        if self.state != SyncState::Synced {
            self.buffer_diff(first_id, final_id, bids, asks);
            return Ok(if self.state == SyncState::AwaitingSnapshot {
                self.stats.buffered += 1;
                Outcome::Buffered
            } else {
                Outcome::NeedsSnapshot
            });
        }
        Ok(self.binance_apply(book, first_id, final_id, bids, asks))
    }

    fn buffer_diff(
        &mut self,
        first_id: u64,
        final_id: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) {
        if self.buffer.len() >= MAX_BUFFERED_DIFFS {
            self.buffer.pop_front();
        }
        self.buffer.push_back(PendingDiff {
            first_id,
            final_id,
            bids: bids.to_vec(),
            asks: asks.to_vec(),
        });
    }

    fn binance_apply(
        &mut self,
        book: &mut OrderBook,
        first_id: u64,
        final_id: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Outcome {
        let local = self.last_id.unwrap_or(0);
        if final_id <= local {
            self.stats.stale += 1;
            return Outcome::Stale;
        }
        if first_id > local.saturating_add(1) {
            // The diff that revealed the gap opens the next buffer, so the next snapshot can
            // connect to it.
            let outcome = self.lose_sync(Outcome::Gap);
            self.buffer.clear();
            self.buffer_diff(first_id, final_id, bids, asks);
            return outcome;
        }
        book.apply(bids, asks);
        self.last_id = Some(final_id);
        self.after_apply(book)
    }

    /// The REST depth snapshot. Too old for the buffered diffs → `Stale` (fetch another).
    pub fn binance_snapshot(
        &mut self,
        book: &mut OrderBook,
        last_update_id: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Binance, "on_snapshot")?;
        let too_old = match self.state {
            // A refresh while synced must not move the book backwards.
            SyncState::Synced => last_update_id < self.last_id.unwrap_or(0),
            _ => self
                .buffer
                .front()
                .is_some_and(|d| d.first_id > last_update_id.saturating_add(1)),
        };
        if too_old {
            self.stats.stale += 1;
            return Ok(Outcome::Stale);
        }
        book.apply_snapshot(bids, asks)?;
        self.synced_by_snapshot(Some(last_update_id));
        let pending = std::mem::take(&mut self.buffer);
        for d in pending {
            match self.binance_apply(book, d.first_id, d.final_id, &d.bids, &d.asks) {
                Outcome::Applied | Outcome::Stale => {}
                other => return Ok(other),
            }
        }
        Ok(Outcome::Applied)
    }

    // ---- Coinbase: snapshot with the connection's sequence_num, then strictly +1 ----

    pub fn coinbase_snapshot(
        &mut self,
        book: &mut OrderBook,
        seq: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Coinbase, "on_snapshot")?;
        book.apply_snapshot(bids, asks)?;
        self.synced_by_snapshot(Some(seq));
        Ok(Outcome::Applied)
    }

    pub fn coinbase_update(
        &mut self,
        book: &mut OrderBook,
        seq: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Coinbase, "on_update")?;
        if self.state != SyncState::Synced {
            return Ok(Outcome::NeedsSnapshot);
        }
        let local = self.last_id.unwrap_or(0);
        if seq <= local {
            self.stats.stale += 1;
            return Ok(Outcome::Stale);
        }
        if Some(seq) != local.checked_add(1) {
            return Ok(self.lose_sync(Outcome::Gap));
        }
        book.apply(bids, asks);
        self.last_id = Some(seq);
        Ok(self.after_apply(book))
    }

    // ---- Kraken: snapshot and updates verified by CRC32 over the top 10 ----

    fn kraken_verify(&mut self, book: &OrderBook, checksum: Option<u32>) -> Outcome {
        if let Some(expected) = checksum {
            if book.checksum_kraken() != expected {
                return self.lose_sync(Outcome::ChecksumMismatch);
            }
            self.stats.checksum_ok += 1;
        }
        self.after_apply(book)
    }

    pub fn kraken_snapshot(
        &mut self,
        book: &mut OrderBook,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        checksum: Option<u32>,
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Kraken, "on_snapshot")?;
        book.apply_snapshot(bids, asks)?;
        self.synced_by_snapshot(None);
        Ok(self.kraken_verify(book, checksum))
    }

    pub fn kraken_update(
        &mut self,
        book: &mut OrderBook,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        checksum: Option<u32>,
    ) -> Result<Outcome, CoreError> {
        self.expect(Venue::Kraken, "on_update")?;
        if self.state != SyncState::Synced {
            return Ok(Outcome::NeedsSnapshot);
        }
        book.apply(bids, asks);
        Ok(self.kraken_verify(book, checksum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> OrderBook {
        OrderBook::new(0, 0, None).unwrap()
    }

    #[test]
    fn binance_buffers_then_syncs_and_applies() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Binance);
        assert_eq!(
            a.binance_diff(&mut b, 98, 100, &[(10, 1)], &[]).unwrap(),
            Outcome::Buffered
        );
        assert_eq!(
            a.binance_diff(&mut b, 101, 103, &[(11, 1)], &[]).unwrap(),
            Outcome::Buffered
        );
        let out = a
            .binance_snapshot(&mut b, 101, &[(9, 1)], &[(20, 1)])
            .unwrap();
        assert_eq!(out, Outcome::Applied);
        assert_eq!(a.state(), SyncState::Synced);
        assert_eq!(a.last_update_id(), Some(103));
        assert_eq!(b.best_bid(), Some((11, 1)));
        assert_eq!(
            b.bid_count(),
            2,
            "the diff ending at 100 was dropped as covered"
        );
        assert_eq!(
            a.binance_diff(&mut b, 104, 104, &[(12, 1)], &[]).unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            a.binance_diff(&mut b, 90, 104, &[(1, 1)], &[]).unwrap(),
            Outcome::Stale
        );
    }

    #[test]
    fn binance_old_snapshot_is_stale_and_gap_needs_snapshot() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Binance);
        a.binance_diff(&mut b, 200, 205, &[], &[]).unwrap();
        assert_eq!(
            a.binance_snapshot(&mut b, 150, &[], &[]).unwrap(),
            Outcome::Stale
        );
        assert_eq!(a.state(), SyncState::AwaitingSnapshot);
        assert_eq!(
            a.binance_snapshot(&mut b, 199, &[], &[]).unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            a.binance_diff(&mut b, 210, 212, &[], &[]).unwrap(),
            Outcome::Gap
        );
        assert_eq!(
            (a.state(), a.epoch(), a.resyncs()),
            (SyncState::Unsynced, 1, 1)
        );
        assert_eq!(
            a.binance_diff(&mut b, 213, 214, &[], &[]).unwrap(),
            Outcome::NeedsSnapshot
        );
        assert_eq!(a.buffered_len(), 2);
        assert_eq!(
            a.binance_snapshot(&mut b, 211, &[], &[]).unwrap(),
            Outcome::Applied
        );
        assert_eq!(a.last_update_id(), Some(214));
    }

    #[test]
    fn coinbase_sequence_rules() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Coinbase);
        assert_eq!(
            a.coinbase_update(&mut b, 1, &[], &[]).unwrap(),
            Outcome::NeedsSnapshot
        );
        a.coinbase_snapshot(&mut b, 5, &[(10, 1)], &[(11, 1)])
            .unwrap();
        assert_eq!(
            a.coinbase_update(&mut b, 6, &[(10, 2)], &[]).unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            a.coinbase_update(&mut b, 6, &[], &[]).unwrap(),
            Outcome::Stale
        );
        assert_eq!(
            a.coinbase_update(&mut b, 9, &[], &[]).unwrap(),
            Outcome::Gap
        );
        assert_eq!(
            a.coinbase_update(&mut b, 10, &[], &[]).unwrap(),
            Outcome::NeedsSnapshot
        );
    }

    #[test]
    fn ids_at_the_top_of_the_range_never_overflow() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Binance);
        a.binance_snapshot(&mut b, u64::MAX - 1, &[], &[]).unwrap();
        assert_eq!(
            a.binance_diff(&mut b, u64::MAX, u64::MAX, &[(1, 1)], &[])
                .unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            a.binance_diff(&mut b, u64::MAX, u64::MAX, &[], &[])
                .unwrap(),
            Outcome::Stale
        );
        let mut c = BookAssembler::new(Venue::Coinbase);
        c.coinbase_snapshot(&mut b, u64::MAX, &[], &[]).unwrap();
        assert_eq!(
            c.coinbase_update(&mut b, u64::MAX, &[], &[]).unwrap(),
            Outcome::Stale
        );
    }

    #[test]
    fn crossed_update_loses_sync() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Coinbase);
        a.coinbase_snapshot(&mut b, 1, &[(10, 1)], &[(11, 1)])
            .unwrap();
        assert_eq!(
            a.coinbase_update(&mut b, 2, &[(12, 1)], &[]).unwrap(),
            Outcome::Crossed
        );
        assert_eq!(a.state(), SyncState::Unsynced);
        assert_eq!(a.stats().crossed, 1);
    }

    #[test]
    fn kraken_checksum_verified() {
        let mut b = book();
        let mut a = BookAssembler::new(Venue::Kraken);
        a.kraken_snapshot(&mut b, &[(10, 1)], &[(11, 1)], None)
            .unwrap();
        let good = {
            let mut probe = b.clone();
            probe.apply(&[(10, 3)], &[]);
            probe.checksum_kraken()
        };
        assert_eq!(
            a.kraken_update(&mut b, &[(10, 3)], &[], Some(good))
                .unwrap(),
            Outcome::Applied
        );
        assert_eq!(
            a.kraken_update(&mut b, &[(10, 4)], &[], Some(good))
                .unwrap(),
            Outcome::ChecksumMismatch
        );
        assert_eq!(
            a.kraken_update(&mut b, &[], &[], None).unwrap(),
            Outcome::NeedsSnapshot
        );
        assert_eq!(a.stats().checksum_ok, 1);
        assert!(
            a.binance_diff(&mut b, 1, 1, &[], &[]).is_err(),
            "wrong venue method"
        );
    }
}
