//! The thin PyO3 layer over the pure-Rust primitives: argument conversion, error mapping and
//! Python protocol methods only. No book, ordering or rate logic lives here.

use pyo3::prelude::*;

mod assembler;
mod binance_frame;
mod book;
mod bucket;
mod checksum;
mod coalescer;
mod coinbase_frame;
mod decimal;
mod errors;
mod frame_items;
mod json;
mod kraken_frame;
mod levels;
mod reorder;

/// The native core of tradegw (see DESIGN.md "The native core").
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bucket::PyTokenBucket>()?;
    m.add_class::<reorder::PyReorderBuffer>()?;
    m.add_class::<coalescer::PyCoalescer>()?;
    m.add_class::<book::PyOrderBook>()?;
    m.add_class::<assembler::PyBookAssembler>()?;
    m.add_class::<kraken_frame::PyKrakenFrameDecoder>()?;
    m.add_class::<coinbase_frame::PyCoinbaseFrameDecoder>()?;
    m.add_class::<binance_frame::PyBinanceFrameDecoder>()?;
    m.add_function(wrap_pyfunction!(checksum::kraken_checksum, m)?)?;
    m.add_function(wrap_pyfunction!(checksum::crc32, m)?)?;
    m.add_function(wrap_pyfunction!(json::loads_exact, m)?)?;
    m.add_function(wrap_pyfunction!(decimal::decimal_ok, m)?)?;
    m.add("MAX_INTEGER_DIGITS", crate::fixed::MAX_INTEGER_DIGITS)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
