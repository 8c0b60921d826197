//! The one error type of the core. The binding layer maps it to Python exceptions in one place
//! (`py::errors`), so every refusal reaches Python as a typed, catchable error, never a panic.

use std::fmt;

/// Why the core refused an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// Price or quantity text that is not a decimal the book can hold exactly.
    InvalidDecimal { text: String, reason: String },
    /// A snapshot whose best bid is at or above its best ask.
    CrossedBook { best_bid: String, best_ask: String },
    /// Any other bad argument value.
    Value(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::InvalidDecimal { text, reason } => {
                write!(f, "invalid decimal {text:?}: {reason}")
            }
            CoreError::CrossedBook { best_bid, best_ask } => write!(
                f,
                "crossed snapshot: best bid {best_bid} is not below best ask {best_ask}"
            ),
            CoreError::Value(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CoreError {}
