//! `KrakenFrameDecoder` for Python: a Kraken v2 market-data frame in, checked item tuples out.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use super::frame_items::{int, levels, opt};
use crate::kraken_frame::{parse_tree, BookEntry, Frame, Items, KrakenFrameDecoder};

/// Decodes Kraken v2 `book`, `trade`, `ticker` and `ohlc` frames (see the stub).
#[pyclass(name = "KrakenFrameDecoder", module = "tradegw._core")]
pub struct PyKrakenFrameDecoder {
    inner: KrakenFrameDecoder,
}

fn items<'py>(
    py: Python<'py>,
    items: Items<'_>,
) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyList>)> {
    let list = PyList::empty(py);
    let channel = match items {
        Items::Book(entries) => {
            for e in entries {
                let v = match e {
                    BookEntry::Ok(b) => (
                        b.symbol,
                        levels(py, b.bids)?,
                        levels(py, b.asks)?,
                        b.checksum,
                        b.timestamp,
                    )
                        .into_bound_py_any(py)?,
                    BookEntry::Bad { symbol, error } => (symbol, error).into_bound_py_any(py)?,
                    BookEntry::Unknown(error) => error.into_bound_py_any(py)?,
                };
                list.append(v)?;
            }
            pyo3::intern!(py, "book")
        }
        Items::Trade(entries) => {
            for e in entries {
                let v = match e {
                    Ok(t) => (
                        t.symbol,
                        t.trade_id,
                        t.price,
                        t.qty,
                        PyString::intern(py, t.side),
                        t.ord_type,
                        t.timestamp,
                    )
                        .into_bound_py_any(py)?,
                    Err(error) => error.into_bound_py_any(py)?,
                };
                list.append(v)?;
            }
            pyo3::intern!(py, "trade")
        }
        Items::Ticker(entries) => {
            for e in entries {
                let v = match e {
                    Ok(t) => PyTuple::new(
                        py,
                        [
                            PyString::new(py, t.symbol).into_any(),
                            t.timestamp.into_bound_py_any(py)?,
                            PyString::new(py, t.bid).into_any(),
                            PyString::new(py, t.bid_qty).into_any(),
                            PyString::new(py, t.ask).into_any(),
                            PyString::new(py, t.ask_qty).into_any(),
                            opt(py, t.last)?,
                            opt(py, t.volume)?,
                            opt(py, t.vwap)?,
                            opt(py, t.low)?,
                            opt(py, t.high)?,
                            opt(py, t.change)?,
                            opt(py, t.change_pct)?,
                        ],
                    )?
                    .into_any(),
                    Err(error) => error.into_bound_py_any(py)?,
                };
                list.append(v)?;
            }
            pyo3::intern!(py, "ticker")
        }
        Items::Ohlc(entries) => {
            for e in entries {
                let v = match e {
                    Ok(c) => PyTuple::new(
                        py,
                        [
                            PyString::new(py, c.symbol).into_any(),
                            c.timestamp.into_bound_py_any(py)?,
                            c.interval_begin.into_bound_py_any(py)?,
                            int(py, c.interval)?,
                            PyString::new(py, c.open).into_any(),
                            PyString::new(py, c.high).into_any(),
                            PyString::new(py, c.low).into_any(),
                            PyString::new(py, c.close).into_any(),
                            PyString::new(py, c.volume).into_any(),
                            opt(py, c.vwap)?,
                            match c.trades {
                                Some(t) => int(py, t)?,
                                None => py.None().into_bound(py),
                            },
                        ],
                    )?
                    .into_any(),
                    Err(error) => error.into_bound_py_any(py)?,
                };
                list.append(v)?;
            }
            pyo3::intern!(py, "ohlc")
        }
    };
    Ok((channel.clone(), list))
}

#[pymethods]
impl PyKrakenFrameDecoder {
    #[new]
    fn new() -> Self {
        PyKrakenFrameDecoder {
            inner: KrakenFrameDecoder::new(),
        }
    }

    /// Tracks `symbol` with its price and quantity decimals (0..18), replacing earlier ones.
    fn set_precision(
        &mut self,
        symbol: &str,
        price_precision: i64,
        qty_precision: i64,
    ) -> PyResult<()> {
        Ok(self
            .inner
            .set_precision(symbol, price_precision, qty_precision)?)
    }

    /// The `(price_precision, qty_precision)` of a tracked symbol, or None.
    fn precision(&self, symbol: &str) -> Option<(u8, u8)> {
        self.inner.precision(symbol)
    }

    /// `(channel, snapshot, items, stamp)` of a market-data frame, None for other frames.
    fn decode<'py>(
        &self,
        py: Python<'py>,
        payload: &[u8],
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let tree = parse_tree(payload)?;
        let Some(Frame {
            snapshot,
            items: decoded,
            stamp,
        }) = self.inner.decode(&tree)?
        else {
            return Ok(None);
        };
        let (channel, list) = items(py, decoded)?;
        Ok(Some((channel, snapshot, list, stamp).into_pyobject(py)?))
    }

    fn __repr__(&self) -> String {
        "KrakenFrameDecoder()".to_owned()
    }
}
