//! `decimal_ok`: the plain-decimal check of every trade and ticker field, at native speed.

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::fixed::is_plain_decimal;

/// Whether ``raw`` is a ``str`` holding a plain unsigned decimal (see
/// ``fixed::is_plain_decimal``): ``places`` < 0 means any number of decimals.
#[pyfunction]
#[pyo3(signature = (raw, places = -1, positive = false), text_signature = "(raw, places=-1, positive=False)")]
pub fn decimal_ok(raw: &Bound<'_, PyAny>, places: i64, positive: bool) -> bool {
    let Ok(text) = raw.cast::<PyString>() else {
        return false;
    };
    let Ok(s) = text.to_str() else {
        return false; // lone surrogates: not a number either
    };
    let places = u8::try_from(places).ok();
    is_plain_decimal(s.as_bytes(), places, positive)
}
