//! Conversions the frame decoders' bindings share: optional texts, integer texts, levels.

use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

/// An optional text as `str` or `None`.
pub fn opt<'py>(py: Python<'py>, v: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Some(s) => Ok(PyString::new(py, s).into_any()),
        None => Ok(py.None().into_bound(py)),
    }
}

/// CPython's `int(text)` refuses more digits than `sys.get_int_max_str_digits()`, which is
/// never below 640 (or 0, no limit): a text longer than this goes through `int()` itself,
/// so that what the Python path's `int()` refused (leading zeros included) stays refused.
pub const SURELY_CONVERTIBLE: usize = 640;

/// A checked integer text (`-?[0-9]+`) as a Python `int` of any size.
pub fn int<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    match text.parse::<i64>() {
        Ok(v) if text.len() <= SURELY_CONVERTIBLE => v.into_bound_py_any(py),
        // Beyond 64 bits (absurd, but the Python path took it): Python's own int().
        _ => py.get_type::<PyInt>().call1((text,)),
    }
}

/// `[(price, qty), ...]` as a list of `(str, str)` tuples.
pub fn levels<'py>(py: Python<'py>, levels: Vec<(&str, &str)>) -> PyResult<Bound<'py, PyList>> {
    let tuples = levels
        .into_iter()
        .map(|(p, q)| PyTuple::new(py, [PyString::new(py, p), PyString::new(py, q)]))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, tuples)
}
