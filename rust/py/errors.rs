//! The one place where core errors become Python exceptions.

use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

use crate::error::CoreError;

pyo3::import_exception!(tradegw.errors, InvalidDecimal);
pyo3::import_exception!(tradegw.errors, CrossedBook);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        let msg = err.to_string();
        match err {
            CoreError::InvalidDecimal { .. } => InvalidDecimal::new_err(msg),
            CoreError::CrossedBook { .. } => CrossedBook::new_err(msg),
            CoreError::Value(_) => PyValueError::new_err(msg),
        }
    }
}
