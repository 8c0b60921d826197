//! `BookAssembler` for Python: one object per (venue, symbol), sharing its `OrderBook`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use super::book::PyOrderBook;
use crate::assembler::{BookAssembler, Outcome, Venue};
use crate::book::OrderBook;

/// Snapshot + diff state machine of one venue's book (see the stub for the contract).
#[pyclass(name = "BookAssembler", module = "tradegw._core")]
pub struct PyBookAssembler {
    asm: BookAssembler,
    book: Py<PyOrderBook>,
}

fn outcome<'py>(py: Python<'py>, o: Outcome) -> Bound<'py, PyString> {
    // Interned: the outcome of every venue message is one of seven strings.
    match o {
        Outcome::Applied => pyo3::intern!(py, "applied").clone(),
        Outcome::Buffered => pyo3::intern!(py, "buffered").clone(),
        Outcome::Stale => pyo3::intern!(py, "stale").clone(),
        Outcome::Gap => pyo3::intern!(py, "gap").clone(),
        Outcome::ChecksumMismatch => pyo3::intern!(py, "checksum_mismatch").clone(),
        Outcome::Crossed => pyo3::intern!(py, "crossed").clone(),
        Outcome::NeedsSnapshot => pyo3::intern!(py, "needs_snapshot").clone(),
    }
}

impl PyBookAssembler {
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
        f: impl FnOnce(
            &mut BookAssembler,
            &mut OrderBook,
            &[(i64, i64)],
            &[(i64, i64)],
        ) -> PyResult<Outcome>,
    ) -> PyResult<Bound<'py, PyString>> {
        let mut book = self.book.bind(py).borrow_mut();
        let asm = &mut self.asm;
        let o = book.with_parsed(bids, asks, |b, sb, sa| f(asm, b, sb, sa))?;
        Ok(outcome(py, o))
    }
}

fn arg<'py>(args: &Bound<'py, PyTuple>, i: usize) -> PyResult<Bound<'py, PyAny>> {
    args.get_item(i)
}

#[pymethods]
impl PyBookAssembler {
    #[new]
    #[pyo3(signature = (venue, price_precision, qty_precision, depth = None))]
    fn new(
        py: Python<'_>,
        venue: &str,
        price_precision: i64,
        qty_precision: i64,
        depth: Option<i64>,
    ) -> PyResult<Self> {
        let venue = Venue::parse(venue)?;
        let book = OrderBook::new(price_precision, qty_precision, depth)?;
        Ok(PyBookAssembler {
            asm: BookAssembler::new(venue),
            book: Py::new(py, PyOrderBook::from_book(book))?,
        })
    }

    /// binance: a diff event with first update id `U` and final update id `u`.
    fn on_diff<'py>(
        &mut self,
        py: Python<'py>,
        first_id: u64,
        final_id: u64,
        bids: &Bound<'py, PyAny>,
        asks: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyString>> {
        self.run(py, bids, asks, |asm, book, b, a| {
            Ok(asm.binance_diff(book, first_id, final_id, b, a)?)
        })
    }

    /// binance `(last_update_id, bids, asks)`, coinbase `(seq, bids, asks)`,
    /// kraken `(bids, asks, checksum=None)`.
    #[pyo3(signature = (*args, **kwargs))]
    fn on_snapshot<'py>(
        &mut self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyString>> {
        let checksum = checksum_kwarg(kwargs)?;
        let checksum = checksum.as_ref();
        match self.asm.venue() {
            Venue::Binance | Venue::Coinbase => {
                check_arity(args, 3, 3, "on_snapshot(id, bids, asks)")?;
                no_checksum(checksum)?;
                let id: u64 = arg(args, 0)?.extract()?;
                let venue = self.asm.venue();
                self.run(py, &arg(args, 1)?, &arg(args, 2)?, |asm, book, b, a| {
                    Ok(match venue {
                        Venue::Binance => asm.binance_snapshot(book, id, b, a)?,
                        _ => asm.coinbase_snapshot(book, id, b, a)?,
                    })
                })
            }
            Venue::Kraken => {
                check_arity(args, 2, 3, "on_snapshot(bids, asks, checksum=None)")?;
                let checksum = kraken_checksum_arg(args, checksum)?;
                self.run(py, &arg(args, 0)?, &arg(args, 1)?, |asm, book, b, a| {
                    Ok(asm.kraken_snapshot(book, b, a, checksum)?)
                })
            }
        }
    }

    /// coinbase `(seq, bids, asks)`, kraken `(bids, asks, checksum=None)`.
    #[pyo3(signature = (*args, **kwargs))]
    fn on_update<'py>(
        &mut self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyString>> {
        let checksum = checksum_kwarg(kwargs)?;
        let checksum = checksum.as_ref();
        match self.asm.venue() {
            Venue::Coinbase => {
                check_arity(args, 3, 3, "on_update(seq, bids, asks)")?;
                no_checksum(checksum)?;
                let seq: u64 = arg(args, 0)?.extract()?;
                self.run(py, &arg(args, 1)?, &arg(args, 2)?, |asm, book, b, a| {
                    Ok(asm.coinbase_update(book, seq, b, a)?)
                })
            }
            Venue::Kraken => {
                check_arity(args, 2, 3, "on_update(bids, asks, checksum=None)")?;
                let checksum = kraken_checksum_arg(args, checksum)?;
                self.run(py, &arg(args, 0)?, &arg(args, 1)?, |asm, book, b, a| {
                    Ok(asm.kraken_update(book, b, a, checksum)?)
                })
            }
            Venue::Binance => Err(pyo3::exceptions::PyValueError::new_err(
                "on_update is a coinbase/kraken method; binance diffs go to on_diff",
            )),
        }
    }

    /// The assembled book (the same object on every access).
    #[getter]
    fn book(&self, py: Python<'_>) -> Py<PyOrderBook> {
        self.book.clone_ref(py)
    }

    /// "binance", "coinbase" or "kraken".
    #[getter]
    fn venue(&self) -> &'static str {
        self.asm.venue().name()
    }

    /// "awaiting_snapshot", "synced" or "unsynced".
    #[getter]
    fn state(&self) -> &'static str {
        self.asm.state().name()
    }

    /// How many times sync was lost (gap, checksum mismatch, crossed book).
    #[getter]
    fn resyncs(&self) -> u64 {
        self.asm.resyncs()
    }

    /// Incremented whenever sync is lost: tag snapshot requests with it and drop answers to
    /// requests made in an earlier epoch.
    #[getter]
    fn epoch(&self) -> u64 {
        self.asm.epoch()
    }

    /// Binance final update id or Coinbase sequence of the last applied message.
    #[getter]
    fn last_update_id(&self) -> Option<u64> {
        self.asm.last_update_id()
    }

    /// Counters: applied, buffered, stale, gaps, checksum_ok, checksum_mismatches, crossed,
    /// snapshots.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.asm.stats();
        let d = PyDict::new(py);
        d.set_item("applied", s.applied)?;
        d.set_item("buffered", s.buffered)?;
        d.set_item("stale", s.stale)?;
        d.set_item("gaps", s.gaps)?;
        d.set_item("checksum_ok", s.checksum_ok)?;
        d.set_item("checksum_mismatches", s.checksum_mismatches)?;
        d.set_item("crossed", s.crossed)?;
        d.set_item("snapshots", s.snapshots)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "BookAssembler(venue={:?}, state={:?}, resyncs={})",
            self.asm.venue().name(),
            self.asm.state().name(),
            self.asm.resyncs()
        )
    }
}

fn check_arity(args: &Bound<'_, PyTuple>, min: usize, max: usize, sig: &str) -> PyResult<()> {
    let n = args.len();
    if n < min || n > max {
        return Err(PyTypeError::new_err(format!(
            "expected {sig}, got {n} arguments"
        )));
    }
    Ok(())
}

/// `checksum=` is the only keyword these methods take.
fn checksum_kwarg<'py>(kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(kwargs) = kwargs else {
        return Ok(None);
    };
    let mut checksum = None;
    for (k, v) in kwargs.iter() {
        if k.extract::<&str>().ok() == Some("checksum") {
            checksum = Some(v);
        } else {
            return Err(PyTypeError::new_err(format!(
                "unexpected keyword argument {}",
                super::levels::describe(&k)
            )));
        }
    }
    Ok(checksum)
}

fn no_checksum(checksum: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    match checksum {
        Some(v) if !v.is_none() => Err(PyTypeError::new_err(
            "checksum is a kraken argument; binance and coinbase books carry none",
        )),
        _ => Ok(()),
    }
}

/// The checksum passed third or as `checksum=`; both at once is an error.
fn kraken_checksum_arg(
    args: &Bound<'_, PyTuple>,
    kw: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<u32>> {
    let v = match (args.len() > 2, kw) {
        (true, Some(_)) => return Err(PyTypeError::new_err("checksum given twice")),
        (true, None) => args.get_item(2)?,
        (false, Some(v)) => v.clone(),
        (false, None) => return Ok(None),
    };
    if v.is_none() {
        Ok(None)
    } else {
        v.extract::<u32>().map(Some).map_err(|_| {
            let is_int = v.is_instance_of::<pyo3::types::PyInt>();
            let make = if is_int {
                pyo3::exceptions::PyValueError::new_err
            } else {
                PyTypeError::new_err
            };
            make(format!(
                "checksum must be an unsigned 32-bit int or None, got {}",
                super::levels::describe(&v)
            ))
        })
    }
}
