//! `CoinbaseFrameDecoder` for Python: a Coinbase Advanced Trade market-data frame in, its
//! sequence number and checked event tuples out.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::IntoPyObjectExt;

use super::frame_items::{int, levels, opt};
use crate::coinbase_frame::{
    parse_tree_finite, Body, Candle, Channel, CoinbaseFrameDecoder, Events, Frame, Level2Entry,
    Side, Ticker, Trade,
};
use crate::frame_field::ItemResult;

/// Decodes Coinbase Advanced Trade `l2_data`, `market_trades`, `ticker` and `candles`
/// frames (see the stub).
#[pyclass(name = "CoinbaseFrameDecoder", module = "tradegw._core")]
pub struct PyCoinbaseFrameDecoder {
    inner: CoinbaseFrameDecoder,
}

/// A slot: the item's tuple, or why it was refused (a `str`).
fn slot<'py, T>(
    py: Python<'py>,
    item: ItemResult<T>,
    ok: impl FnOnce(T) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match item {
        Ok(v) => ok(v),
        Err(why) => why.into_bound_py_any(py),
    }
}

fn trade<'py>(py: Python<'py>, t: Trade<'_>) -> PyResult<Bound<'py, PyAny>> {
    (
        t.product_id,
        t.trade_id,
        t.price,
        t.size,
        match t.side {
            Side::Buy => pyo3::intern!(py, "BUY"),
            Side::Sell => pyo3::intern!(py, "SELL"),
        },
        t.time,
    )
        .into_bound_py_any(py)
}

fn ticker<'py>(py: Python<'py>, t: Ticker<'_>) -> PyResult<Bound<'py, PyAny>> {
    (
        t.product_id,
        t.best_bid,
        t.best_bid_quantity,
        t.best_ask,
        t.best_ask_quantity,
        opt(py, t.price)?,
        opt(py, t.volume_24_h)?,
        opt(py, t.low_24_h)?,
        opt(py, t.high_24_h)?,
        opt(py, t.price_percent_chg_24_h)?,
    )
        .into_bound_py_any(py)
}

fn candle<'py>(py: Python<'py>, c: Candle<'_>) -> PyResult<Bound<'py, PyAny>> {
    (
        c.product_id,
        int(py, c.start)?,
        c.open,
        c.high,
        c.low,
        c.close,
        c.volume,
    )
        .into_bound_py_any(py)
}

/// An event's items, each a slot.
fn item_list<'py, T>(
    py: Python<'py>,
    items: Vec<ItemResult<T>>,
    each: impl Fn(Python<'py>, T) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::empty(py);
    for item in items {
        list.append(slot(py, item, |v| each(py, v))?)?;
    }
    Ok(list.into_any())
}

fn events<'py>(py: Python<'py>, events: Events<'_>) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    match events {
        Events::Level2(entries) => {
            for e in entries {
                list.append(match e {
                    Level2Entry::Ok(ev) => (
                        ev.product_id,
                        ev.snapshot,
                        levels(py, ev.bids)?,
                        levels(py, ev.asks)?,
                    )
                        .into_bound_py_any(py)?,
                    Level2Entry::Bad { product_id, error } => {
                        (product_id, error).into_bound_py_any(py)?
                    }
                    Level2Entry::Lost(error) => error.into_bound_py_any(py)?,
                })?;
            }
        }
        Events::MarketTrades(evs) => {
            for ev in evs {
                list.append(slot(py, ev, |ev| {
                    (ev.snapshot, item_list(py, ev.trades, trade)?).into_bound_py_any(py)
                })?)?;
            }
        }
        Events::Ticker(evs) => {
            for ev in evs {
                list.append(slot(py, ev, |items| item_list(py, items, ticker))?)?;
            }
        }
        Events::Candles(evs) => {
            for ev in evs {
                list.append(slot(py, ev, |items| item_list(py, items, candle))?)?;
            }
        }
    }
    Ok(list)
}

#[pymethods]
impl PyCoinbaseFrameDecoder {
    #[new]
    fn new() -> Self {
        PyCoinbaseFrameDecoder {
            inner: CoinbaseFrameDecoder::new(),
        }
    }

    /// Tracks `product_id` with its price and quantity decimals (0..18), replacing earlier
    /// ones.
    fn set_precision(
        &mut self,
        product_id: &str,
        price_precision: i64,
        qty_precision: i64,
    ) -> PyResult<()> {
        Ok(self
            .inner
            .set_precision(product_id, price_precision, qty_precision)?)
    }

    /// The `(price_precision, qty_precision)` of a tracked product, or None.
    fn precision(&self, product_id: &str) -> Option<(u8, u8)> {
        self.inner.precision(product_id)
    }

    /// `(channel, sequence_num, timestamp, events, stamp)` of a market-data frame, None for
    /// other frames.
    fn decode<'py>(
        &self,
        py: Python<'py>,
        payload: &[u8],
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let tree = parse_tree_finite(payload)?;
        let Some(Frame {
            channel,
            sequence_num,
            body,
            stamp,
        }) = self.inner.decode(&tree)?
        else {
            return Ok(None);
        };
        let sequence_num = match sequence_num {
            Some(text) => int(py, text)?,
            None => py.None().into_bound(py),
        };
        let (timestamp, events) = match body {
            Ok(Body {
                timestamp,
                events: e,
            }) => (timestamp, events(py, e)?.into_any()),
            Err(why) => (None, why.into_bound_py_any(py)?),
        };
        // Interned once per process: every frame names one of four channels.
        let channel = match channel {
            Channel::Level2 => pyo3::intern!(py, "l2_data"),
            Channel::MarketTrades => pyo3::intern!(py, "market_trades"),
            Channel::Ticker => pyo3::intern!(py, "ticker"),
            Channel::Candles => pyo3::intern!(py, "candles"),
        };
        Ok(Some(
            (channel, sequence_num, timestamp, events, stamp).into_pyobject(py)?,
        ))
    }

    fn __repr__(&self) -> String {
        "CoinbaseFrameDecoder()".to_owned()
    }
}
