//! `Coalescer` for Python.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::coalescer::Coalescer;

/// Per-consumer FIFO with latest-wins replacement of coalescable items by key.
#[pyclass(name = "Coalescer", module = "tradegw._core")]
pub struct PyCoalescer {
    inner: Coalescer<Py<PyAny>>,
    out: Vec<Py<PyAny>>,
}

#[pymethods]
impl PyCoalescer {
    #[new]
    fn new() -> Self {
        PyCoalescer {
            inner: Coalescer::new(),
            out: Vec::new(),
        }
    }

    /// Queues `item`; True when it replaced the pending coalescable item of `key` in place.
    fn push(&mut self, key: u64, item: Py<PyAny>, coalescable: bool) -> bool {
        self.inner.push(key, item, coalescable).0
    }

    /// Removes and returns up to `max_items` items in queue order.
    fn pop<'py>(&mut self, py: Python<'py>, max_items: usize) -> PyResult<Bound<'py, PyList>> {
        self.inner.pop(max_items, &mut self.out);
        PyList::new(py, self.out.drain(..))
    }

    /// Counters: pushed, replaced, popped.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("pushed", s.pushed)?;
        d.set_item("replaced", s.replaced)?;
        d.set_item("popped", s.popped)?;
        Ok(d)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}
