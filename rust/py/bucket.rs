//! `TokenBucket` for Python.

use pyo3::prelude::*;

use crate::bucket::TokenBucket;
use crate::clock::monotonic_ns;

/// Token bucket: `rate` tokens per second up to `burst`; starts full.
#[pyclass(name = "TokenBucket", module = "tradegw._core")]
pub struct PyTokenBucket {
    inner: TokenBucket,
}

#[pymethods]
impl PyTokenBucket {
    #[new]
    fn new(rate: f64, burst: f64) -> PyResult<Self> {
        Ok(PyTokenBucket {
            inner: TokenBucket::new(rate, burst)?,
        })
    }

    /// Takes `n` tokens if they are available now; returns whether it did.
    #[pyo3(signature = (n = 1.0, now_ns = None))]
    fn try_acquire(&mut self, n: f64, now_ns: Option<u64>) -> PyResult<bool> {
        Ok(self
            .inner
            .try_acquire(n, now_ns.unwrap_or_else(monotonic_ns))?)
    }

    /// Seconds until `n` tokens are available (0.0 when they are now).
    #[pyo3(signature = (n = 1.0, now_ns = None))]
    fn time_until(&mut self, n: f64, now_ns: Option<u64>) -> PyResult<f64> {
        Ok(self
            .inner
            .time_until(n, now_ns.unwrap_or_else(monotonic_ns))?)
    }

    /// Tokens available now.
    #[pyo3(signature = (now_ns = None))]
    fn tokens(&mut self, now_ns: Option<u64>) -> f64 {
        self.inner.tokens(now_ns.unwrap_or_else(monotonic_ns))
    }

    /// Refill rate in tokens per second.
    #[getter]
    fn rate(&self) -> f64 {
        self.inner.rate()
    }

    /// Capacity.
    #[getter]
    fn burst(&self) -> f64 {
        self.inner.burst()
    }

    fn __repr__(&self) -> String {
        format!(
            "TokenBucket(rate={}, burst={})",
            self.inner.rate(),
            self.inner.burst()
        )
    }
}
