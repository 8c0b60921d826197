//! `BinanceFrameDecoder` for Python: a Binance market-data frame in, its checked event as a
//! tuple out.

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use super::frame_items::{int, levels, SURELY_CONVERTIBLE};
use crate::binance_frame::{
    parse_tree_finite, Bbo, BinanceFrameDecoder, Deferred, DepthEntry, Event, Frame,
};
use crate::frame_field::canonical_int;

/// Decodes Binance spot market-data frames (see the stub).
#[pyclass(name = "BinanceFrameDecoder", module = "tradegw._core")]
pub struct PyBinanceFrameDecoder {
    inner: BinanceFrameDecoder,
}

/// ms in ns.
const MS: i64 = 1_000_000;

/// A checked integer text times `factor` as a Python `int` (ms to ns, an interval's count
/// to seconds).
fn scaled<'py>(py: Python<'py>, text: &str, factor: i64) -> PyResult<Bound<'py, PyAny>> {
    match text.parse::<i64>().ok().and_then(|v| v.checked_mul(factor)) {
        Some(v) if text.len() <= SURELY_CONVERTIBLE => v.into_bound_py_any(py),
        _ => int(py, text)?.mul(factor),
    }
}

/// A time in ms as ns since the epoch, or None.
fn time_ns<'py>(py: Python<'py>, ms: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
    match ms {
        Some(ms) => scaled(py, ms, MS),
        None => Ok(py.None().into_bound(py)),
    }
}

/// A time the adapter reads after acting on its event: ns, None, or why it is refused
/// (`int()`'s digit limit included).
fn deferred_ns<'py>(py: Python<'py>, ms: Deferred<Option<&str>>) -> Bound<'py, PyAny> {
    match ms.map(|ms| time_ns(py, ms)) {
        Ok(Ok(ns)) => ns,
        Ok(Err(e)) => PyString::new(py, &e.to_string()).into_any(),
        Err(why) => PyString::new(py, &why).into_any(),
    }
}

fn bbo_strs<'py>(py: Python<'py>, b: &Bbo<'_>) -> [Bound<'py, PyAny>; 4] {
    [b.bid, b.bid_qty, b.ask, b.ask_qty].map(|s| PyString::new(py, s).into_any())
}

fn event<'py>(py: Python<'py>, event: Event<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let s = |text: &str| PyString::new(py, text).into_any();
    Ok(match event {
        Event::Depth(DepthEntry::Ok(d)) => {
            let ids = || -> PyResult<_> { Ok((int(py, d.first_id)?, int(py, d.final_id)?)) };
            match ids() {
                Ok((first, last)) => PyTuple::new(
                    py,
                    [
                        s(d.symbol),
                        first,
                        last,
                        levels(py, d.bids)?.into_any(),
                        levels(py, d.asks)?.into_any(),
                        deferred_ns(py, d.event_time),
                    ],
                )?,
                // An id past `int()`'s digit limit: the diff could not be read.
                Err(e) => (d.symbol, e.to_string()).into_pyobject(py)?,
            }
        }
        Event::Depth(DepthEntry::Bad { symbol, error }) => (symbol, error).into_pyobject(py)?,
        Event::Trade { item: t, .. } => {
            // The adapter published `str(int(id))`.
            let id = if t.trade_id.len() <= SURELY_CONVERTIBLE {
                s(&canonical_int(t.trade_id))
            } else {
                int(py, t.trade_id)?.str()?.into_any()
            };
            let side = if t.side == "sell" {
                pyo3::intern!(py, "sell")
            } else {
                pyo3::intern!(py, "buy")
            };
            PyTuple::new(
                py,
                [
                    s(t.symbol),
                    id,
                    s(t.price),
                    s(t.qty),
                    side.clone().into_any(),
                    time_ns(py, t.trade_time)?,
                ],
            )?
        }
        Event::BookTicker(t) => {
            let [bid, bid_qty, ask, ask_qty] = bbo_strs(py, &t.bbo);
            PyTuple::new(
                py,
                [
                    s(t.symbol),
                    int(py, t.update_id)?,
                    bid,
                    bid_qty,
                    ask,
                    ask_qty,
                ],
            )?
        }
        Event::Ticker(t) => {
            let [bid, bid_qty, ask, ask_qty] = bbo_strs(py, &t.bbo);
            PyTuple::new(
                py,
                [
                    s(t.symbol),
                    bid,
                    bid_qty,
                    ask,
                    ask_qty,
                    s(t.last),
                    s(t.volume),
                    s(t.vwap),
                    s(t.low),
                    s(t.high),
                    s(t.change),
                    s(t.change_pct),
                    deferred_ns(py, t.event_time),
                ],
            )?
        }
        Event::Kline(k) => PyTuple::new(
            py,
            [
                s(k.symbol),
                time_ns(py, k.event_time)?,
                scaled(py, k.interval, i64::from(k.unit_s))?,
                scaled(py, k.open_time, MS)?,
                s(k.open),
                s(k.high),
                s(k.low),
                s(k.close),
                s(k.volume),
                int(py, k.trades)?,
                k.closed.into_bound_py_any(py)?,
            ],
        )?,
    })
}

/// The event's name as an interned constant.
fn kind_name<'py>(py: Python<'py>, event: &Event<'_>) -> Bound<'py, PyString> {
    match event {
        Event::Depth(_) => pyo3::intern!(py, "depthUpdate"),
        Event::Trade {
            aggregate: false, ..
        } => pyo3::intern!(py, "trade"),
        Event::Trade {
            aggregate: true, ..
        } => pyo3::intern!(py, "aggTrade"),
        Event::BookTicker(_) => pyo3::intern!(py, "bookTicker"),
        Event::Ticker(_) => pyo3::intern!(py, "24hrTicker"),
        Event::Kline(_) => pyo3::intern!(py, "kline"),
    }
    .clone()
}

#[pymethods]
impl PyBinanceFrameDecoder {
    #[new]
    fn new() -> Self {
        PyBinanceFrameDecoder {
            inner: BinanceFrameDecoder::new(),
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

    /// `(event, item, stamp)` of a market-data frame, None for other frames.
    fn decode<'py>(
        &self,
        py: Python<'py>,
        payload: &[u8],
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let tree = parse_tree_finite(payload)?;
        let Some(Frame {
            event: decoded,
            stamp,
        }) = self.inner.decode(&tree)?
        else {
            return Ok(None);
        };
        let kind = kind_name(py, &decoded);
        let item = event(py, decoded)?;
        Ok(Some((kind, item, stamp).into_pyobject(py)?))
    }

    fn __repr__(&self) -> String {
        "BinanceFrameDecoder()".to_owned()
    }
}
