//! Checksum functions for Python.

use pyo3::prelude::*;

use super::levels::for_each_level;
use crate::checksum::{crc32 as crc32_ieee, push_stripped};

/// Kraken's book CRC32 over the first 10 asks then the first 10 bids, each `(price, qty)`
/// text exactly as given with `.` removed and leading zeros stripped.
#[pyfunction]
pub fn kraken_checksum(asks: &Bound<'_, PyAny>, bids: &Bound<'_, PyAny>) -> PyResult<u32> {
    let mut buf = Vec::with_capacity(512);
    for (side, levels) in [("asks", asks), ("bids", bids)] {
        let mut n = 0;
        for_each_level(levels, side, |p, q| {
            if n < 10 {
                push_stripped(&mut buf, p);
                push_stripped(&mut buf, q);
                n += 1;
            }
            Ok(())
        })?;
    }
    Ok(crc32_ieee(&buf))
}

/// CRC32 (IEEE 802.3 polynomial, the same as `zlib.crc32`) of `data`.
#[pyfunction]
pub fn crc32(data: &[u8]) -> u32 {
    crc32_ieee(data)
}
