//! `loads_exact`: JSON to Python objects with every number kept as its exact text.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

use crate::json_exact::{parse, Sink};

struct PySink<'py> {
    py: Python<'py>,
}

impl<'py> Sink<'_> for PySink<'py> {
    type Value = Bound<'py, PyAny>;
    type Error = PyErr;

    fn null(&mut self) -> PyResult<Self::Value> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn boolean(&mut self, v: bool) -> PyResult<Self::Value> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn number(&mut self, text: &str) -> PyResult<Self::Value> {
        Ok(PyString::new(self.py, text).into_any())
    }

    fn string(&mut self, s: &str) -> PyResult<Self::Value> {
        Ok(PyString::new(self.py, s).into_any())
    }

    fn array(&mut self, items: Vec<Self::Value>) -> PyResult<Self::Value> {
        Ok(PyList::new(self.py, items)?.into_any())
    }

    fn object(&mut self, items: Vec<(Self::Value, Self::Value)>) -> PyResult<Self::Value> {
        let d = PyDict::new(self.py);
        for (k, v) in items {
            d.set_item(k, v)?;
        }
        Ok(d.into_any())
    }
}

/// Parses a JSON document like ``json.loads``, except that every number is returned as the
/// ``str`` of its exact text (``0.5660`` → ``"0.5660"``); NaN/Infinity, invalid UTF-8 and
/// nesting deeper than 128 raise ``ValueError``.
#[pyfunction]
pub fn loads_exact<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    parse(data, &mut PySink { py })
}
