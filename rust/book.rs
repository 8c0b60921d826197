//! An L2 order book on fixed-point integers.
//!
//! Each side is a sorted `Vec` with the best level at the *end*: venue updates cluster at the
//! top of the book, so inserts and deletes there move only a few elements, and reading the top
//! N is a reverse walk with no allocation. Asks are stored under the key `-price` so that one
//! `Side` type serves both sides with the same "best is last" layout.

use crate::checksum;
use crate::error::CoreError;
use crate::fixed::{check_precision, parse_fixed, render};

/// One side of a book: `(key, qty)` sorted ascending by key, best level last.
#[derive(Debug, Clone, Default)]
struct Side {
    levels: Vec<(i64, i64)>,
    is_ask: bool,
}

impl Side {
    fn new(is_ask: bool) -> Self {
        Side {
            levels: Vec::new(),
            is_ask,
        }
    }

    #[inline]
    fn key(&self, price: i64) -> i64 {
        if self.is_ask {
            -price
        } else {
            price
        }
    }

    #[inline]
    fn price(&self, key: i64) -> i64 {
        if self.is_ask {
            -key
        } else {
            key
        }
    }

    #[inline]
    fn position(&self, key: i64) -> Result<usize, usize> {
        // Most updates touch the last few levels (the top of book): check there before the
        // binary search so the common case costs one or two comparisons.
        let len = self.levels.len();
        if len == 0 || key > self.levels[len - 1].0 {
            return Err(len);
        }
        if key == self.levels[len - 1].0 {
            return Ok(len - 1);
        }
        self.levels.binary_search_by(|probe| probe.0.cmp(&key))
    }

    #[inline]
    fn set(&mut self, price: i64, qty: i64) {
        let key = self.key(price);
        match self.position(key) {
            Ok(i) => {
                if qty == 0 {
                    self.levels.remove(i);
                } else {
                    self.levels[i].1 = qty;
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.levels.insert(i, (key, qty));
                }
            }
        }
    }

    fn truncate(&mut self, depth: Option<usize>) {
        if let Some(depth) = depth {
            let len = self.levels.len();
            if len > depth {
                self.levels.drain(..len - depth);
            }
        }
    }

    fn best(&self) -> Option<(i64, i64)> {
        self.levels.last().map(|&(k, q)| (self.price(k), q))
    }

    /// Levels best first, as real prices.
    fn iter_best(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.levels.iter().rev().map(|&(k, q)| (self.price(k), q))
    }

    /// Builds a side from unsorted snapshot levels: zero quantities are skipped, a price given
    /// twice is refused because the venue's intent is ambiguous.
    fn from_snapshot(
        is_ask: bool,
        levels: &[(i64, i64)],
        precision: u8,
    ) -> Result<Side, CoreError> {
        let mut side = Side::new(is_ask);
        side.levels.reserve(levels.len());
        for &(price, qty) in levels {
            if qty != 0 {
                side.levels.push((side.key(price), qty));
            }
        }
        side.levels.sort_unstable_by_key(|l| l.0);
        if let Some(w) = side.levels.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(CoreError::Value(format!(
                "snapshot lists the {} price {} twice",
                if is_ask { "ask" } else { "bid" },
                render(side.price(w[0].0), precision)
            )));
        }
        Ok(side)
    }
}

/// An L2 order book with fixed price and quantity precision and an optional depth limit.
#[derive(Debug, Clone)]
pub struct OrderBook {
    price_precision: u8,
    qty_precision: u8,
    depth: Option<usize>,
    bids: Side,
    asks: Side,
}

impl OrderBook {
    /// A new empty book. Precisions are 0..=18 decimals; `depth`, when set, must be positive.
    pub fn new(
        price_precision: i64,
        qty_precision: i64,
        depth: Option<i64>,
    ) -> Result<Self, CoreError> {
        let price_precision = check_precision("price_precision", price_precision)?;
        let qty_precision = check_precision("qty_precision", qty_precision)?;
        let depth = match depth {
            None => None,
            Some(d) if d > 0 => Some(d as usize),
            Some(d) => return Err(CoreError::Value(format!("depth must be positive, got {d}"))),
        };
        Ok(OrderBook {
            price_precision,
            qty_precision,
            depth,
            bids: Side::new(false),
            asks: Side::new(true),
        })
    }

    pub fn price_precision(&self) -> u8 {
        self.price_precision
    }

    pub fn qty_precision(&self) -> u8 {
        self.qty_precision
    }

    pub fn depth(&self) -> Option<usize> {
        self.depth
    }

    /// Parses one level's text at this book's precision. Prices must be positive.
    pub fn parse_level(&self, price: &str, qty: &str) -> Result<(i64, i64), CoreError> {
        let p = parse_fixed(price, self.price_precision)?;
        if p == 0 {
            return Err(CoreError::InvalidDecimal {
                text: price.to_owned(),
                reason: "price must be positive".to_owned(),
            });
        }
        let q = parse_fixed(qty, self.qty_precision)?;
        Ok((p, q))
    }

    /// Replaces the whole book. Refuses a crossed snapshot or a repeated price, leaving the
    /// book as it was.
    pub fn apply_snapshot(
        &mut self,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Result<(), CoreError> {
        let mut new_bids = Side::from_snapshot(false, bids, self.price_precision)?;
        let mut new_asks = Side::from_snapshot(true, asks, self.price_precision)?;
        if let (Some((bid, _)), Some((ask, _))) = (new_bids.best(), new_asks.best()) {
            if bid >= ask {
                return Err(CoreError::CrossedBook {
                    best_bid: render(bid, self.price_precision),
                    best_ask: render(ask, self.price_precision),
                });
            }
        }
        new_bids.truncate(self.depth);
        new_asks.truncate(self.depth);
        self.bids = new_bids;
        self.asks = new_asks;
        Ok(())
    }

    /// Sets absolute quantities level by level in the order given (zero deletes), then
    /// truncates each side to the depth: venues such as Kraken do not send deletes for levels
    /// that an update pushes out of the subscribed depth.
    pub fn apply(&mut self, bids: &[(i64, i64)], asks: &[(i64, i64)]) {
        for &(p, q) in bids {
            self.bids.set(p, q);
        }
        for &(p, q) in asks {
            self.asks.set(p, q);
        }
        self.bids.truncate(self.depth);
        self.asks.truncate(self.depth);
    }

    pub fn set_bid(&mut self, price: i64, qty: i64) {
        self.bids.set(price, qty);
    }

    pub fn set_ask(&mut self, price: i64, qty: i64) {
        self.asks.set(price, qty);
    }

    pub fn truncate(&mut self) {
        self.bids.truncate(self.depth);
        self.asks.truncate(self.depth);
    }

    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best()
    }

    pub fn bid_count(&self) -> usize {
        self.bids.levels.len()
    }

    pub fn ask_count(&self) -> usize {
        self.asks.levels.len()
    }

    /// True when the best bid is at or above the best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.best(), self.asks.best()), (Some((b, _)), Some((a, _))) if b >= a)
    }

    /// Bids best (highest) first.
    pub fn bids_best_first(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.bids.iter_best()
    }

    /// Asks best (lowest) first.
    pub fn asks_best_first(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.asks.iter_best()
    }

    /// Kraken's CRC32 over the top 10 asks then the top 10 bids at this book's precision.
    pub fn checksum_kraken(&self) -> u32 {
        checksum::kraken_fixed(
            self.asks.iter_best().take(10),
            self.bids.iter_best().take(10),
        )
    }

    pub fn clear(&mut self) {
        self.bids.levels.clear();
        self.asks.levels.clear();
    }
}

/// The levels that turn one view of a side (its best levels, best first, as last published)
/// into another: each price of `before` that is gone from `after` with quantity 0, then each
/// level of `after` that is new or whose quantity changed. Removals come first so that even a
/// consumer applying level by level and truncating after each never drops a level it needs.
/// A consumer that applies them to its copy of `before` and keeps the best `after.len()`
/// levels holds `after`.
pub fn view_changes(before: &[(i64, i64)], after: &[(i64, i64)], out: &mut Vec<(i64, i64)>) {
    out.clear();
    for &(price, _) in before {
        if !after.iter().any(|&(p, _)| p == price) {
            out.push((price, 0));
        }
    }
    for &(price, qty) in after {
        if !before.iter().any(|&(p, q)| p == price && q == qty) {
            out.push((price, qty));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_changes_carry_what_turns_one_view_into_the_next() {
        let before = [(105, 1), (104, 2), (103, 3)];
        let after = [(106, 5), (105, 1), (104, 7)];
        let mut out = Vec::new();
        view_changes(&before, &after, &mut out);
        assert_eq!(out, vec![(103, 0), (106, 5), (104, 7)]);
        view_changes(&after, &after, &mut out);
        assert!(out.is_empty());
        view_changes(&[], &after, &mut out);
        assert_eq!(out, after.to_vec());
        view_changes(&after, &[], &mut out);
        assert_eq!(out, vec![(106, 0), (105, 0), (104, 0)]);
    }

    fn book(depth: Option<i64>) -> OrderBook {
        OrderBook::new(2, 3, depth).unwrap()
    }

    fn lv(book: &OrderBook, levels: &[(&str, &str)]) -> Vec<(i64, i64)> {
        levels
            .iter()
            .map(|(p, q)| book.parse_level(p, q).unwrap())
            .collect()
    }

    #[test]
    fn snapshot_sorts_and_skips_zero() {
        let mut b = book(None);
        let bids = lv(&b, &[("10.00", "1"), ("10.50", "2"), ("9", "0")]);
        let asks = lv(&b, &[("12", "1"), ("11", "3")]);
        b.apply_snapshot(&bids, &asks).unwrap();
        assert_eq!(b.best_bid(), Some((1050, 2000)));
        assert_eq!(b.best_ask(), Some((1100, 3000)));
        assert_eq!((b.bid_count(), b.ask_count()), (2, 2));
        let asks: Vec<_> = b.asks_best_first().collect();
        assert_eq!(asks, vec![(1100, 3000), (1200, 1000)]);
    }

    #[test]
    fn crossed_or_duplicate_snapshot_is_refused_and_book_kept() {
        let mut b = book(None);
        let bids = lv(&b, &[("10", "1")]);
        let asks = lv(&b, &[("11", "1")]);
        b.apply_snapshot(&bids, &asks).unwrap();
        let crossed = lv(&b, &[("11", "1")]);
        let err = b.apply_snapshot(&crossed, &asks).unwrap_err();
        assert!(matches!(err, CoreError::CrossedBook { .. }), "{err}");
        let dup = lv(&b, &[("9", "1"), ("9", "2")]);
        assert!(b.apply_snapshot(&dup, &asks).is_err());
        assert_eq!(b.best_bid(), Some((1000, 1000)));
    }

    #[test]
    fn apply_inserts_updates_deletes_and_truncates() {
        let mut b = book(Some(2));
        let bids = lv(&b, &[("10", "1"), ("9", "1")]);
        b.apply_snapshot(&bids, &[]).unwrap();
        let up = lv(&b, &[("10.5", "2"), ("9", "0"), ("10", "5")]);
        b.apply(&up, &[]);
        let got: Vec<_> = b.bids_best_first().collect();
        assert_eq!(got, vec![(1050, 2000), (1000, 5000)]);
        let more = lv(&b, &[("11", "1")]);
        b.apply(&more, &[]);
        let got: Vec<_> = b.bids_best_first().collect();
        assert_eq!(
            got,
            vec![(1100, 1000), (1050, 2000)],
            "worst level truncated"
        );
        let del_absent = lv(&b, &[("3", "0")]);
        b.apply(&del_absent, &[]);
        assert_eq!(b.bid_count(), 2);
    }

    #[test]
    fn crossed_detection_and_clear() {
        let mut b = book(None);
        b.set_bid(100, 1);
        b.set_ask(100, 1);
        assert!(b.is_crossed());
        b.set_ask(100, 0);
        b.set_ask(101, 1);
        assert!(!b.is_crossed());
        b.clear();
        assert_eq!(b.best_bid(), None);
        assert!(!b.is_crossed());
    }

    #[test]
    fn zero_price_and_bad_args_are_refused() {
        let b = book(None);
        assert!(b.parse_level("0", "1").is_err());
        assert!(b.parse_level("1", "-1").is_err());
        assert!(OrderBook::new(19, 2, None).is_err());
        assert!(OrderBook::new(2, 2, Some(0)).is_err());
    }

    #[test]
    fn kraken_v2_btc_usd_worked_example() {
        // protocols.md §4.4: precision 1 / 8, checksum 3310070434.
        let mut b = OrderBook::new(1, 8, Some(10)).unwrap();
        let bids = lv(
            &b,
            &[
                ("45283.5", "0.1"),
                ("45283.4", "1.54582015"),
                ("45282.1", "0.1"),
                ("45281.0", "0.1"),
                ("45280.3", "1.54592586"),
                ("45279.0", "0.0799"),
                ("45277.6", "0.03310103"),
                ("45277.5", "0.3"),
                ("45277.3", "1.54602737"),
                ("45276.6", "0.15445238"),
            ],
        );
        let asks = lv(
            &b,
            &[
                ("45285.2", "0.001"),
                ("45286.4", "1.54571953"),
                ("45286.6", "1.54571109"),
                ("45289.6", "1.54560911"),
                ("45290.2", "0.1589066"),
                ("45291.8", "1.54553491"),
                ("45294.7", "0.04454749"),
                ("45296.1", "0.3538"),
                ("45297.5", "0.09945542"),
                ("45299.5", "0.18772827"),
            ],
        );
        b.apply_snapshot(&bids, &asks).unwrap();
        assert_eq!(b.checksum_kraken(), 3_310_070_434);
    }
}
