//! `OrderBook` for Python: decimal text in and out, fixed-point inside.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::levels::parse_levels;
use crate::book::{view_changes, OrderBook};
use crate::fixed::render;

/// L2 order book on fixed-point integers (see the stub for the full contract).
#[pyclass(name = "OrderBook", module = "tradegw._core")]
pub struct PyOrderBook {
    pub book: OrderBook,
    // The best levels of each side as last handed out by `top_changes` or `mark_top`.
    view_bids: Vec<(i64, i64)>,
    view_asks: Vec<(i64, i64)>,
    // Reused parse buffers: levels are parsed in full before any is applied, so a bad level
    // leaves the book untouched, without allocating on every call.
    pub scratch_bids: Vec<(i64, i64)>,
    pub scratch_asks: Vec<(i64, i64)>,
}

impl PyOrderBook {
    pub fn from_book(book: OrderBook) -> Self {
        PyOrderBook {
            book,
            view_bids: Vec::new(),
            view_asks: Vec::new(),
            scratch_bids: Vec::new(),
            scratch_asks: Vec::new(),
        }
    }

    /// Parses both sides into the scratch buffers, then runs `f` on the book with them.
    pub fn with_parsed<R>(
        &mut self,
        bids: &Bound<'_, PyAny>,
        asks: &Bound<'_, PyAny>,
        f: impl FnOnce(&mut OrderBook, &[(i64, i64)], &[(i64, i64)]) -> PyResult<R>,
    ) -> PyResult<R> {
        let mut sb = std::mem::take(&mut self.scratch_bids);
        let mut sa = std::mem::take(&mut self.scratch_asks);
        let result = parse_levels(&self.book, bids, "bids", &mut sb)
            .and_then(|_| parse_levels(&self.book, asks, "asks", &mut sa))
            .and_then(|_| f(&mut self.book, &sb, &sa));
        self.scratch_bids = sb;
        self.scratch_asks = sa;
        result
    }

    /// Levels as `(price, qty)` text; a removal's quantity is `"0"`, as in a venue's diff.
    fn changes_list<'py>(
        &self,
        py: Python<'py>,
        levels: &[(i64, i64)],
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for &(price, qty) in levels {
            if qty == 0 {
                let price = render(price, self.book.price_precision());
                out.append(PyTuple::new(py, [price, "0".to_owned()])?)?;
            } else {
                out.append(self.level_tuple(py, (price, qty))?)?;
            }
        }
        Ok(out)
    }

    fn level_tuple<'py>(
        &self,
        py: Python<'py>,
        level: (i64, i64),
    ) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                render(level.0, self.book.price_precision()),
                render(level.1, self.book.qty_precision()),
            ],
        )
    }
}

#[pymethods]
impl PyOrderBook {
    #[new]
    #[pyo3(signature = (price_precision, qty_precision, depth = None))]
    fn new(price_precision: i64, qty_precision: i64, depth: Option<i64>) -> PyResult<Self> {
        Ok(PyOrderBook::from_book(OrderBook::new(
            price_precision,
            qty_precision,
            depth,
        )?))
    }

    /// Replaces the whole book with `bids` and `asks` (any order; zero quantities skipped).
    fn apply_snapshot(&mut self, bids: &Bound<'_, PyAny>, asks: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with_parsed(bids, asks, |book, b, a| Ok(book.apply_snapshot(b, a)?))
    }

    /// Sets absolute quantities (zero deletes), then truncates each side to the depth.
    fn apply(&mut self, bids: &Bound<'_, PyAny>, asks: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with_parsed(bids, asks, |book, b, a| {
            book.apply(b, a);
            Ok(())
        })
    }

    /// The best bid as `(price, qty)` text, or None.
    fn best_bid<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.book
            .best_bid()
            .map(|l| self.level_tuple(py, l))
            .transpose()
    }

    /// The best ask as `(price, qty)` text, or None.
    fn best_ask<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.book
            .best_ask()
            .map(|l| self.level_tuple(py, l))
            .transpose()
    }

    /// The best `n` levels of each side: `(bids descending, asks ascending)`.
    fn top<'py>(
        &self,
        py: Python<'py>,
        n: usize,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let bids = PyList::empty(py);
        for l in self.book.bids_best_first().take(n) {
            bids.append(self.level_tuple(py, l)?)?;
        }
        let asks = PyList::empty(py);
        for l in self.book.asks_best_first().take(n) {
            asks.append(self.level_tuple(py, l)?)?;
        }
        Ok((bids, asks))
    }

    /// Remembers the best `n` levels of each side as the view consumers hold (after a
    /// snapshot was published from `top(n)`), for the next `top_changes(n)`.
    fn mark_top(&mut self, n: usize) {
        self.view_bids = self.book.bids_best_first().take(n).collect();
        self.view_asks = self.book.asks_best_first().take(n).collect();
    }

    /// The levels that changed within the best `n` of each side since the last `mark_top`
    /// or `top_changes`: levels that left the best `n` with quantity `"0"`, then new or
    /// changed levels — what a consumer holding that view applies (and truncates to `n`) to
    /// hold the current one. Remembers the current best `n` as the new view. Two empty lists
    /// when nothing within the best `n` changed.
    fn top_changes<'py>(
        &mut self,
        py: Python<'py>,
        n: usize,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let bids_now: Vec<(i64, i64)> = self.book.bids_best_first().take(n).collect();
        let asks_now: Vec<(i64, i64)> = self.book.asks_best_first().take(n).collect();
        let mut changed = Vec::new();
        view_changes(&self.view_bids, &bids_now, &mut changed);
        let bids = self.changes_list(py, &changed)?;
        view_changes(&self.view_asks, &asks_now, &mut changed);
        let asks = self.changes_list(py, &changed)?;
        self.view_bids = bids_now;
        self.view_asks = asks_now;
        Ok((bids, asks))
    }

    /// True when the best bid is at or above the best ask.
    fn is_crossed(&self) -> bool {
        self.book.is_crossed()
    }

    /// Kraken's CRC32 over the top 10 levels rendered at the book's precision.
    fn checksum_kraken(&self) -> u32 {
        self.book.checksum_kraken()
    }

    /// Removes every level.
    fn clear(&mut self) {
        self.book.clear();
    }

    /// Number of bid levels.
    #[getter]
    fn bid_count(&self) -> usize {
        self.book.bid_count()
    }

    /// Number of ask levels.
    #[getter]
    fn ask_count(&self) -> usize {
        self.book.ask_count()
    }

    /// Decimals of prices.
    #[getter]
    fn price_precision(&self) -> u8 {
        self.book.price_precision()
    }

    /// Decimals of quantities.
    #[getter]
    fn qty_precision(&self) -> u8 {
        self.book.qty_precision()
    }

    /// Levels kept per side, or None for unlimited.
    #[getter]
    fn depth(&self) -> Option<usize> {
        self.book.depth()
    }

    fn __repr__(&self) -> String {
        let fmt = |l: Option<(i64, i64)>| match l {
            Some((p, q)) => format!(
                "{}@{}",
                render(q, self.book.qty_precision()),
                render(p, self.book.price_precision())
            ),
            None => "-".to_owned(),
        };
        format!(
            "OrderBook(bids={}, asks={}, best_bid={}, best_ask={})",
            self.book.bid_count(),
            self.book.ask_count(),
            fmt(self.book.best_bid()),
            fmt(self.book.best_ask())
        )
    }
}
