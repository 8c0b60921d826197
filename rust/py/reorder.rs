//! `ReorderBuffer` for Python: opaque items, integer streams and sequence numbers.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::clock::monotonic_ns;
use crate::reorder::ReorderBuffer;

/// Per-stream reorder buffer with bounded lateness (see the stub for the contract).
#[pyclass(name = "ReorderBuffer", module = "tradegw._core")]
pub struct PyReorderBuffer {
    inner: ReorderBuffer<Py<PyAny>>,
    out: Vec<Py<PyAny>>,
}

impl PyReorderBuffer {
    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.out.drain(..))
    }
}

#[pymethods]
impl PyReorderBuffer {
    #[new]
    #[pyo3(signature = (lateness_ms = 150, flush_ms = 50, max_events = 200))]
    fn new(lateness_ms: i64, flush_ms: i64, max_events: i64) -> PyResult<Self> {
        Ok(PyReorderBuffer {
            inner: ReorderBuffer::new(lateness_ms, flush_ms, max_events)?,
            out: Vec::new(),
        })
    }

    /// Offers `item` as number `seq` of `stream`; returns the items releasable now, in order.
    #[pyo3(signature = (stream, seq, item, now_ns = None))]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        stream: u64,
        seq: u64,
        item: Py<PyAny>,
        now_ns: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let now = now_ns.unwrap_or_else(monotonic_ns);
        self.inner.push(stream, seq, item, now, &mut self.out);
        self.drain(py)
    }

    /// Releases, per stream, what has been held at least `lateness_ms`, skipping the gaps.
    #[pyo3(signature = (now_ns = None))]
    fn expire<'py>(
        &mut self,
        py: Python<'py>,
        now_ns: Option<u64>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.inner
            .expire(now_ns.unwrap_or_else(monotonic_ns), &mut self.out);
        self.drain(py)
    }

    /// Forgets a stream and whatever it held (its numbering restarts after a resync).
    fn reset(&mut self, stream: u64) {
        self.inner.reset(stream);
    }

    /// Counters: released, duplicates, gaps_skipped, skipped_seqs, held, streams.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("released", s.released)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("gaps_skipped", s.gaps_skipped)?;
        d.set_item("skipped_seqs", s.skipped_seqs)?;
        d.set_item("held", s.held)?;
        d.set_item("streams", s.streams)?;
        Ok(d)
    }

    /// How long a held item may wait for its gap to fill.
    #[getter]
    fn lateness_ms(&self) -> u64 {
        self.inner.lateness_ms()
    }

    /// The cadence at which the caller should run `expire`.
    #[getter]
    fn flush_ms(&self) -> u64 {
        self.inner.flush_ms()
    }

    /// Items one stream may hold before its gap is skipped at once.
    #[getter]
    fn max_events(&self) -> usize {
        self.inner.max_events()
    }
}
