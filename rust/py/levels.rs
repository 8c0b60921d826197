//! Reading `(price, qty)` levels from Python sequences without building intermediate objects.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// Calls `f(price, qty)` for each level of `levels` (a list/tuple or any iterable of
/// 2..4-element tuples or lists whose first two items are `str`). Extra items are ignored so
/// that Kraken v1 levels (`[price, volume, timestamp]`, `[..., "r"]`) can be passed as-is.
pub fn for_each_level<F>(levels: &Bound<'_, PyAny>, side: &str, mut f: F) -> PyResult<()>
where
    F: FnMut(&str, &str) -> PyResult<()>,
{
    if levels.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{side} must be a sequence of (price, qty) levels, got a str"
        )));
    }
    let mut one = |level: &Bound<'_, PyAny>| -> PyResult<()> {
        if let Ok(t) = level.cast::<PyTuple>() {
            check_len(t.len(), level, side)?;
            let p = t.get_borrowed_item(0)?;
            let q = t.get_borrowed_item(1)?;
            f(text(&p, "price", side)?, text(&q, "qty", side)?)
        } else if let Ok(l) = level.cast::<PyList>() {
            check_len(l.len(), level, side)?;
            let p = l.get_item(0)?;
            let q = l.get_item(1)?;
            f(text(&p, "price", side)?, text(&q, "qty", side)?)
        } else {
            Err(PyTypeError::new_err(format!(
                "each {side} level must be a (price, qty) tuple or list, got {}",
                describe(level)
            )))
        }
    };
    if let Ok(list) = levels.cast::<PyList>() {
        for level in list.iter() {
            one(&level)?;
        }
    } else if let Ok(tuple) = levels.cast::<PyTuple>() {
        for level in tuple.iter() {
            one(&level)?;
        }
    } else {
        let iter = levels.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "{side} must be a sequence of (price, qty) levels, got {}",
                describe(levels)
            ))
        })?;
        for level in iter {
            one(&level?)?;
        }
    }
    Ok(())
}

fn check_len(len: usize, level: &Bound<'_, PyAny>, side: &str) -> PyResult<()> {
    if (2..=4).contains(&len) {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "each {side} level must be (price, qty), got {len} items: {}",
            describe(level)
        )))
    }
}

fn text<'a>(obj: &'a Bound<'_, PyAny>, what: &str, side: &str) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(s) => s.to_str(),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{side} {what} must be a decimal str, got {}",
            describe(obj)
        ))),
    }
}

pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned());
    match obj.repr() {
        Ok(r) => format!("{type_name} {}", r.to_string_lossy()),
        Err(_) => type_name,
    }
}

/// Parses levels into `out` (cleared first) at a book's precision.
pub fn parse_levels(
    book: &crate::book::OrderBook,
    levels: &Bound<'_, PyAny>,
    side: &str,
    out: &mut Vec<(i64, i64)>,
) -> PyResult<()> {
    out.clear();
    for_each_level(levels, side, |p, q| {
        out.push(book.parse_level(p, q)?);
        Ok(())
    })
}
