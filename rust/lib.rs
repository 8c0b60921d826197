//! `tradegw._core`: the hot primitives of tradegw.
//!
//! The primitives are plain Rust (no PyO3) so that `cargo test` and the Rust benches run
//! without a Python interpreter; `py` is the thin binding layer, compiled only with the
//! `python` feature that maturin enables.

pub mod assembler;
pub mod binance_frame;
pub mod book;
pub mod bucket;
pub mod checksum;
pub mod clock;
pub mod coalescer;
pub mod coinbase_frame;
pub mod error;
pub mod fixed;
pub mod frame_field;
pub mod json_exact;
pub mod json_tree;
pub mod kraken_frame;
pub mod reorder;
pub mod timestamp;

#[cfg(feature = "python")]
mod py;

pub use assembler::{BookAssembler, Outcome, SyncState, Venue};
pub use book::OrderBook;
pub use bucket::TokenBucket;
pub use coalescer::Coalescer;
pub use error::CoreError;
pub use reorder::ReorderBuffer;
