//! Kraken v2 market-data frames (`book`, `trade`, `ticker`, `ohlc`) read and checked in one
//! native pass.
//!
//! The frame is parsed with the exact-number reader ([`crate::json_exact`]: every number keeps
//! the text it was written with), then each item of its `data` list is checked field by field
//! the way the Python adapter did it before this fast path existed:
//!
//! - the symbol must be in the precision table (the books the adapter tracks);
//! - prices and quantities are plain decimals ([`crate::fixed::is_plain_decimal`]) within the symbol's
//!   price or quantity decimals where the adapter says so, and not zero where it says
//!   `positive`; a JSON string holding such a decimal passes too (the exact reader hands
//!   numbers and strings over alike, and the Python path never told them apart);
//! - integers (`trade_id`, `interval`, `trades`, `checksum`) are `-?[0-9]+` texts, in range
//!   where a range applies;
//! - timestamps are RFC 3339 text, handed over as ns since the epoch ([`crate::timestamp::rfc3339_ns`]).
//!
//! A malformed *item* is reported in its slot ([`Err`] or [`BookEntry::Bad`]) so that the
//! adapter can keep the rule "one bad item is that item's loss"; a malformed *frame* (not
//! JSON, not an object, `data` not a list, a book frame of no known `type`) is an error of the
//! whole call. Frames of other channels (status, heartbeat, instrument, method replies) are
//! `Ok(None)`: the adapter's general path reads those.
//!
//! Book levels are returned as their exact texts; whether a level's price and quantity fit
//! the book is the assembler's check, as before.

use crate::error::CoreError;
use crate::frame_field::{
    clip_num, decimal, int_text, optional, optional_signed, required, timestamp, ItemResult,
    PrecisionTable,
};
pub use crate::json_tree::{parse_tree, Json};

/// One `book` item: the exact level texts, ready for the assembler.
#[derive(Debug, Clone, PartialEq)]
pub struct BookItem<'t> {
    pub symbol: &'t str,
    pub bids: Vec<(&'t str, &'t str)>,
    pub asks: Vec<(&'t str, &'t str)>,
    pub checksum: Option<u32>,
    pub timestamp: Option<i64>,
}

/// One slot of a book frame.
#[derive(Debug, Clone, PartialEq)]
pub enum BookEntry<'t> {
    Ok(BookItem<'t>),
    /// A malformed item of a tracked book: that book can no longer be trusted.
    Bad {
        symbol: String,
        error: String,
    },
    /// An item that names no tracked book (or is not an object): the frame is not ours.
    Unknown(String),
}

/// One `trade` item.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeItem<'t> {
    pub symbol: &'t str,
    pub trade_id: i64,
    pub price: &'t str,
    pub qty: &'t str,
    pub side: &'static str,
    pub ord_type: Option<&'t str>,
    pub timestamp: Option<i64>,
}

/// One `ticker` item.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerItem<'t> {
    pub symbol: &'t str,
    pub timestamp: Option<i64>,
    pub bid: &'t str,
    pub bid_qty: &'t str,
    pub ask: &'t str,
    pub ask_qty: &'t str,
    pub last: Option<&'t str>,
    pub volume: Option<&'t str>,
    pub vwap: Option<&'t str>,
    pub low: Option<&'t str>,
    pub high: Option<&'t str>,
    pub change: Option<&'t str>,
    pub change_pct: Option<&'t str>,
}

/// One `ohlc` item. `interval` and `trades` are checked integer texts (`-?[0-9]+`, any size).
#[derive(Debug, Clone, PartialEq)]
pub struct OhlcItem<'t> {
    pub symbol: &'t str,
    pub timestamp: Option<i64>,
    pub interval_begin: i64,
    pub interval: &'t str,
    pub open: &'t str,
    pub high: &'t str,
    pub low: &'t str,
    pub close: &'t str,
    pub volume: &'t str,
    pub vwap: Option<&'t str>,
    pub trades: Option<&'t str>,
}

/// The items of a frame, one slot each, in frame order.
#[derive(Debug, Clone, PartialEq)]
pub enum Items<'t> {
    Book(Vec<BookEntry<'t>>),
    Trade(Vec<Result<TradeItem<'t>, String>>),
    Ticker(Vec<Result<TickerItem<'t>, String>>),
    Ohlc(Vec<Result<OhlcItem<'t>, String>>),
}

/// A decoded market-data frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'t> {
    /// `type` is `"snapshot"`.
    pub snapshot: bool,
    pub items: Items<'t>,
    /// The top-level `sim_send_ns` text the simulators add for latency benches, if any.
    pub stamp: Option<&'t str>,
}

/// Trade ids are 64-bit counters at the venue: anything from 2^63 on is not one.
const MAX_TRADE_ID: i128 = 1 << 63;
/// The longest `ord_type` taken (in characters).
const MAX_ORD_TYPE: usize = 16;

/// Decodes Kraken v2 market-data frames against the precisions of the tracked symbols.
#[derive(Debug, Default)]
pub struct KrakenFrameDecoder {
    precision: PrecisionTable,
}

impl KrakenFrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tracks `symbol` with its price and quantity decimals (replacing earlier ones).
    pub fn set_precision(
        &mut self,
        symbol: &str,
        price_precision: i64,
        qty_precision: i64,
    ) -> Result<(), CoreError> {
        self.precision.set(symbol, price_precision, qty_precision)
    }

    /// The decimals of a tracked symbol.
    pub fn precision(&self, symbol: &str) -> Option<(u8, u8)> {
        self.precision.get(symbol)
    }

    /// Reads one frame parsed with [`parse_tree`]: `Ok(None)` when it is not a market-data
    /// frame. The items borrow their texts from `msg`.
    pub fn decode<'t>(&self, msg: &'t Json<'_>) -> Result<Option<Frame<'t>>, CoreError> {
        if !matches!(msg, Json::Obj(_)) {
            return Err(CoreError::Value("frame is not a JSON object".to_owned()));
        }
        let channel = match msg.get("channel") {
            Some(Json::Str(c)) => c.as_ref(),
            _ => return Ok(None),
        };
        let kind = msg.get("type").and_then(Json::text);
        let snapshot = kind == Some("snapshot");
        let data = match msg.get("data") {
            Some(Json::Arr(data)) => Some(data.as_slice()),
            _ => None,
        };
        let items = match channel {
            "book" => {
                let data = match (kind, data) {
                    (Some("snapshot" | "update"), Some(data)) => data,
                    _ => {
                        return Err(CoreError::Value(
                            "book frame without type snapshot/update and a data list".to_owned(),
                        ))
                    }
                };
                Items::Book(data.iter().map(|i| self.book_item(i)).collect())
            }
            "trade" => Items::Trade(
                need_data(channel, data)?
                    .iter()
                    .map(|i| self.trade_item(i))
                    .collect(),
            ),
            "ticker" => Items::Ticker(
                need_data(channel, data)?
                    .iter()
                    .map(|i| self.ticker_item(i))
                    .collect(),
            ),
            "ohlc" => Items::Ohlc(
                need_data(channel, data)?
                    .iter()
                    .map(|i| self.ohlc_item(i))
                    .collect(),
            ),
            _ => return Ok(None),
        };
        let stamp = msg.get("sim_send_ns").and_then(Json::text);
        Ok(Some(Frame {
            snapshot,
            items,
            stamp,
        }))
    }

    /// The symbol of an item and its decimals, or why the item names no tracked book.
    fn symbol_of<'t>(&self, item: &'t Json, what: &str) -> ItemResult<(&'t str, u8, u8)> {
        if !matches!(item, Json::Obj(_)) {
            return Err(format!("{what} item is not an object"));
        }
        let raw = item.get("symbol");
        if let Some(symbol) = raw.and_then(Json::text) {
            if let Some((p, q)) = self.precision.get(symbol) {
                return Ok((symbol, p, q));
            }
        }
        let shown = raw.map_or_else(|| "None".to_owned(), Json::describe);
        Err(format!("{what} for an unsubscribed symbol {shown}"))
    }

    fn book_item<'t>(&self, item: &'t Json) -> BookEntry<'t> {
        let symbol = match self.symbol_of(item, "book") {
            Ok((symbol, _, _)) => symbol,
            Err(e) => return BookEntry::Unknown(e),
        };
        let checked = || -> ItemResult<BookItem<'t>> {
            let bids = levels(item.get("bids"), "bids")?;
            let asks = levels(item.get("asks"), "asks")?;
            let checksum = match item.get("checksum") {
                None => None,
                Some(v) => Some(checksum(v)?),
            };
            Ok(BookItem {
                symbol,
                bids,
                asks,
                checksum,
                timestamp: timestamp(item.get("timestamp"), "timestamp")?,
            })
        };
        match checked() {
            Ok(book) => BookEntry::Ok(book),
            Err(error) => BookEntry::Bad {
                symbol: symbol.to_owned(),
                error,
            },
        }
    }

    fn trade_item<'t>(&self, t: &'t Json) -> ItemResult<TradeItem<'t>> {
        let (symbol, pp, qp) = self.symbol_of(t, "trade")?;
        let id_text = required(t, "trade_id")?;
        let trade_id = match int_text(id_text, "trade_id")? {
            Some(id) if (0..MAX_TRADE_ID).contains(&id) => id as i64,
            _ => return Err(format!("trade_id out of range: {}", clip_num(id_text))),
        };
        let side = match required(t, "side")? {
            Json::Str(s) if s == "buy" => "buy",
            Json::Str(s) if s == "sell" => "sell",
            other => return Err(format!("trade side {}", other.describe())),
        };
        let ord_type = match t.get("ord_type") {
            None | Some(Json::Null) => None,
            Some(v) => match v.text() {
                Some(s) if s.chars().count() <= MAX_ORD_TYPE => Some(s),
                _ => return Err(format!("trade ord_type {}", v.describe())),
            },
        };
        Ok(TradeItem {
            symbol,
            trade_id,
            price: decimal(required(t, "price")?, "price", Some(pp), true)?,
            qty: decimal(required(t, "qty")?, "qty", Some(qp), true)?,
            side,
            ord_type,
            timestamp: timestamp(t.get("timestamp"), "timestamp")?,
        })
    }

    fn ticker_item<'t>(&self, t: &'t Json) -> ItemResult<TickerItem<'t>> {
        let (symbol, pp, qp) = self.symbol_of(t, "ticker")?;
        let req = |key: &str, places: Option<u8>, positive: bool| {
            decimal(required(t, key)?, key, places, positive)
        };
        let opt = |key: &str, places: Option<u8>| optional(t.get(key), key, places);
        Ok(TickerItem {
            symbol,
            timestamp: timestamp(t.get("timestamp"), "timestamp")?,
            bid: req("bid", Some(pp), true)?,
            bid_qty: req("bid_qty", Some(qp), false)?,
            ask: req("ask", Some(pp), true)?,
            ask_qty: req("ask_qty", Some(qp), false)?,
            last: opt("last", Some(pp))?,
            volume: opt("volume", None)?,
            vwap: opt("vwap", None)?,
            low: opt("low", Some(pp))?,
            high: opt("high", Some(pp))?,
            change: optional_signed(t.get("change"), "change")?,
            change_pct: optional_signed(t.get("change_pct"), "change_pct")?,
        })
    }

    fn ohlc_item<'t>(&self, c: &'t Json) -> ItemResult<OhlcItem<'t>> {
        let (symbol, pp, _) = self.symbol_of(c, "ohlc")?;
        let interval_begin =
            match timestamp(Some(required(c, "interval_begin")?), "interval_begin")? {
                Some(ns) => ns,
                None => return Err("ohlc without interval_begin".to_owned()),
            };
        let timestamp = timestamp(c.get("timestamp"), "timestamp")?;
        let interval = required(c, "interval")?;
        int_text(interval, "interval")?;
        let price = |key: &str| decimal(required(c, key)?, key, Some(pp), false);
        let trades = match c.get("trades") {
            None => None,
            Some(v) => {
                int_text(v, "trades")?;
                v.text()
            }
        };
        Ok(OhlcItem {
            symbol,
            timestamp,
            interval_begin,
            interval: interval.text().unwrap_or_default(),
            open: price("open")?,
            high: price("high")?,
            low: price("low")?,
            close: price("close")?,
            volume: decimal(required(c, "volume")?, "volume", None, false)?,
            vwap: optional(c.get("vwap"), "vwap", None)?,
            trades,
        })
    }
}

fn need_data<'t, 'a>(
    channel: &str,
    data: Option<&'t [Json<'a>]>,
) -> Result<&'t [Json<'a>], CoreError> {
    data.ok_or_else(|| CoreError::Value(format!("{channel:?} frame without a data list")))
}

/// A book checksum: an integer that fits an unsigned 32-bit.
fn checksum(v: &Json) -> ItemResult<u32> {
    int_text(v, "checksum")?
        .and_then(|c| u32::try_from(c).ok())
        .ok_or_else(|| {
            format!(
                "checksum must be an unsigned 32-bit int, got {}",
                clip_num(v)
            )
        })
}

/// `[{"price": n, "qty": n}, ...]` → `[("n", "n"), ...]`; an absent side is empty.
fn levels<'t>(raw: Option<&'t Json>, side: &str) -> ItemResult<Vec<(&'t str, &'t str)>> {
    let list = match raw {
        None => return Ok(Vec::new()),
        Some(Json::Arr(list)) => list,
        Some(_) => return Err(format!("{side} is not a list")),
    };
    list.iter()
        .map(|lv| {
            let (Some(p), Some(q)) = (lv.get("price"), lv.get("qty")) else {
                return Err(format!("{side} level without price/qty"));
            };
            match (p.text(), q.text()) {
                (Some(p), Some(q)) => Ok((p, q)),
                _ => Err(format!("{side} level price/qty are not numbers")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> KrakenFrameDecoder {
        let mut d = KrakenFrameDecoder::new();
        d.set_precision("BTC/USD", 1, 8).unwrap();
        d.set_precision("MATIC/USD", 4, 8).unwrap();
        d
    }

    /// Parses and decodes with `d`; the document and its tree live as long as the test
    /// (leaked: a few kilobytes per test run).
    fn decode_with(d: &KrakenFrameDecoder, s: &str) -> Result<Option<Frame<'static>>, CoreError> {
        let doc: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let tree: &'static Json<'static> = Box::leak(Box::new(parse_tree(doc.as_bytes())?));
        d.decode(tree)
    }

    fn frame(s: &str) -> Frame<'static> {
        decode_with(&decoder(), s).unwrap().unwrap()
    }

    fn trades(s: &str) -> Vec<Result<TradeItem<'static>, String>> {
        match frame(s).items {
            Items::Trade(items) => items,
            other => panic!("not trades: {other:?}"),
        }
    }

    /// One trade item with `field` replaced by the raw JSON `value` (or removed when None).
    fn trade_with(field: &str, value: Option<&str>) -> Result<TradeItem<'static>, String> {
        let mut fields = vec![
            ("symbol", r#""BTC/USD""#),
            ("side", r#""buy""#),
            ("price", "45000.5"),
            ("qty", "0.25000000"),
            ("ord_type", r#""limit""#),
            ("trade_id", "4665846"),
            ("timestamp", r#""2023-09-25T07:48:36.925533Z""#),
        ];
        fields.retain(|(k, _)| *k != field);
        if let Some(v) = value {
            fields.push((field, v));
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let s = format!(
            r#"{{"channel":"trade","type":"update","data":[{{{}}}]}}"#,
            body.join(",")
        );
        trades(&s).remove(0)
    }

    const HOSTILE: [&str; 11] = [
        "-1",
        "0",
        "1e5",
        "10000000000000000000000000000000000000000",
        "0.111111111111111111111111111111",
        "null",
        r#"{"a":1}"#,
        "[1]",
        "true",
        r#""NaN""#,
        r#""1.2.3""#,
    ];

    #[test]
    fn trade_items_keep_their_digits() {
        let t = trade_with("none", None).unwrap();
        assert_eq!(
            t,
            TradeItem {
                symbol: "BTC/USD",
                trade_id: 4665846,
                price: "45000.5",
                qty: "0.25000000",
                side: "buy",
                ord_type: Some("limit"),
                timestamp: Some(1_695_628_116_925_533_000),
            }
        );
        assert_eq!(trade_with("ord_type", None).unwrap().ord_type, None);
        assert_eq!(trade_with("ord_type", Some("null")).unwrap().ord_type, None);
        assert_eq!(trade_with("timestamp", None).unwrap().timestamp, None);
        assert_eq!(trade_with("side", Some(r#""sell""#)).unwrap().side, "sell");
        // The exact reader never told a quoted decimal from a number: neither does this.
        assert_eq!(
            trade_with("price", Some(r#""45000.5""#)).unwrap().price,
            "45000.5"
        );
        assert_eq!(
            trade_with("trade_id", Some(&(i64::MAX).to_string()))
                .unwrap()
                .trade_id,
            i64::MAX
        );
        assert_eq!(trade_with("trade_id", Some("0")).unwrap().trade_id, 0);
    }

    #[test]
    fn malformed_trade_items_are_refused_one_by_one() {
        let too_big = (1u64 << 63).to_string();
        for (field, value, why) in [
            ("symbol", Some(r#""DOGE/USD""#), "unsubscribed symbol"),
            ("symbol", None, "unsubscribed symbol"),
            ("symbol", Some("null"), "unsubscribed symbol"),
            ("trade_id", None, "trade_id is missing"),
            ("trade_id", Some("-1"), "out of range"),
            ("trade_id", Some(too_big.as_str()), "out of range"),
            (
                "trade_id",
                Some("1000000000000000000000000000000"),
                "out of range",
            ),
            ("trade_id", Some("1.5"), "not an integer"),
            ("trade_id", Some("1e3"), "not an integer"),
            ("trade_id", Some("null"), "not an integer"),
            ("side", Some(r#""sideways""#), "trade side"),
            ("side", Some("1"), "trade side"),
            ("side", None, "side is missing"),
            ("ord_type", Some(r#""a-very-long-order-type""#), "ord_type"),
            ("ord_type", Some("true"), "ord_type"),
            ("ord_type", Some("[]"), "ord_type"),
            ("price", Some("45000.55"), "more than 1 decimals"),
            ("qty", Some("0.000000001"), "more than 8 decimals"),
            ("price", None, "price is missing"),
            ("timestamp", Some("true"), "timestamp is not a string"),
        ] {
            let err = trade_with(field, value).unwrap_err();
            assert!(err.contains(why), "{field}={value:?}: {err}");
        }
        for bad in HOSTILE.iter().chain([&r#""\uff11""#]) {
            for field in ["price", "qty"] {
                let err = trade_with(field, Some(bad)).unwrap_err();
                assert!(err.starts_with(field), "{field}={bad}: {err}");
            }
        }
        assert_eq!(trade_with("qty", Some("0.00")).unwrap_err(), "qty is zero");
        assert!(trade_with("price", Some("1e5"))
            .unwrap_err()
            .contains("not a decimal"));
        assert!(trade_with("price", Some("10000000000000000"))
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn one_bad_trade_leaves_its_neighbours_alone() {
        let items = trades(
            r#"{"channel":"trade","type":"snapshot","data":[
            {"symbol":"BTC/USD","side":"buy","price":1.5,"qty":1,"trade_id":1},
            {"symbol":"BTC/USD","side":"buy","price":-1.5,"qty":1,"trade_id":2},
            7,
            {"symbol":"MATIC/USD","side":"sell","price":0.5147,"qty":6423.46326,"trade_id":3}]}"#,
        );
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].as_ref().unwrap().trade_id, 1);
        assert!(items[1].as_ref().unwrap_err().contains("price"));
        assert_eq!(
            items[2].as_ref().unwrap_err(),
            "trade item is not an object"
        );
        assert_eq!(items[3].as_ref().unwrap().price, "0.5147");
    }

    fn tickers(body: &str) -> Result<TickerItem<'static>, String> {
        let s = format!(r#"{{"channel":"ticker","type":"update","data":[{body}]}}"#);
        match frame(&s).items {
            Items::Ticker(mut items) => items.remove(0),
            other => panic!("not tickers: {other:?}"),
        }
    }

    const TICKER: &str = r#""symbol":"BTC/USD","bid":62807.0,"bid_qty":0.00000000,"ask":62807.1,
        "ask_qty":1.5,"last":62807.0,"volume":1234.56789012,"vwap":62000.123456,"low":61000.0,
        "high":63000.0,"change":-807.5,"change_pct":-1.27,"timestamp":"2023-10-06T17:35:55.440295Z""#;

    #[test]
    fn ticker_items() {
        let t = tickers(&format!("{{{TICKER}}}")).unwrap();
        assert_eq!(t.bid, "62807.0");
        assert_eq!(t.bid_qty, "0.00000000"); // not required positive
        assert_eq!(t.vwap, Some("62000.123456")); // no places check
        assert_eq!(t.change, Some("-807.5"));
        assert_eq!(t.change_pct, Some("-1.27"));
        let bare = tickers(
            r#"{"symbol":"BTC/USD","bid":1.0,"bid_qty":1,"ask":2.0,"ask_qty":1,"last":null}"#,
        )
        .unwrap();
        assert_eq!((bare.last, bare.volume, bare.change), (None, None, None));
        assert_eq!(bare.timestamp, None);
    }

    #[test]
    fn malformed_ticker_items() {
        for (replace, why) in [
            (r#""bid":62807.0"#, "bid is missing"),
            (r#""bid":0"#, "bid is zero"),
            (r#""ask":62807.15"#, "ask has more than 1 decimals"),
            (
                r#""ask_qty":1.000000001"#,
                "ask_qty has more than 8 decimals",
            ),
            (r#""last":"x""#, "last is not a decimal"),
            (r#""low":61000.05"#, "low has more than 1 decimals"),
            (r#""change":"--1""#, "change is not a decimal"),
            (r#""change_pct":"-1e5""#, "change_pct is not a decimal"),
            (r#""symbol":"BTC/USD""#, "unsubscribed symbol"),
            (r#""timestamp":"2023-10-06T17:35:55.440295Z""#, ""),
        ] {
            let (key, _) = replace.split_once(':').unwrap();
            let shown = match why {
                "bid is missing" | "unsubscribed symbol" | "" => String::new(),
                _ => replace.to_owned(),
            };
            // Drop the field (for "missing"), or swap in the bad value.
            let body: Vec<&str> = TICKER
                .split(',')
                .filter(|f| !f.trim().starts_with(key))
                .collect();
            let mut body = body.join(",");
            if !shown.is_empty() {
                body = format!("{body},{shown}");
            }
            let got = tickers(&format!("{{{body}}}"));
            if why.is_empty() {
                assert!(got.is_ok(), "{replace}: {got:?}");
            } else {
                assert!(
                    got.as_ref().unwrap_err().contains(why),
                    "{replace}: {got:?}"
                );
            }
        }
        for bad in HOSTILE {
            let body = TICKER.replace("\"bid\":62807.0", &format!("\"bid\":{bad}"));
            let err = tickers(&format!("{{{body}}}")).unwrap_err();
            assert!(err.starts_with("bid"), "{bad}: {err}");
        }
        assert_eq!(tickers("[]").unwrap_err(), "ticker item is not an object");
    }

    fn candle(body: &str) -> Result<OhlcItem<'static>, String> {
        let s = format!(r#"{{"channel":"ohlc","type":"update","data":[{body}],"timestamp":"x"}}"#);
        match frame(&s).items {
            Items::Ohlc(mut items) => items.remove(0),
            other => panic!("not candles: {other:?}"),
        }
    }

    #[test]
    fn ohlc_items() {
        let c = candle(
            r#"{"symbol":"BTC/USD","open":62807.0,"high":62900.5,"low":62800.0,"close":62850.0,
            "trades":17,"volume":1.23456789012,"vwap":62850.123,"interval_begin":
            "2023-10-06T17:35:00.000000Z","interval":1,"timestamp":"2023-10-06T17:36:00.000000Z"}"#,
        )
        .unwrap();
        assert_eq!(c.open, "62807.0");
        assert_eq!(c.volume, "1.23456789012"); // no places check on volume
        assert_eq!(c.interval, "1");
        assert_eq!(c.trades, Some("17"));
        assert_eq!(c.interval_begin, 1_696_613_700_000_000_000);
        for (bad, why) in [
            (r#""open":62807.05"#, "open has more than 1 decimals"),
            (r#""close":null"#, "close is not a decimal"),
            (r#""interval":"1m""#, "interval is not an integer"),
            (r#""trades":null"#, "trades is not an integer"),
            (r#""interval_begin":null"#, "ohlc without interval_begin"),
            (
                r#""interval_begin":false"#,
                "interval_begin is not a string",
            ),
        ] {
            let (key, _) = bad.split_once(':').unwrap();
            let body = format!(
                r#"{{"symbol":"BTC/USD","open":1.0,"high":1.0,"low":1.0,"close":1.0,"volume":1,
                "interval_begin":"2023-10-06T17:35:00.000000Z","interval":1,{bad}}}"#
            );
            let err = candle(&body).unwrap_err();
            assert!(err.contains(why), "{key}: {err}");
        }
        let err = candle(r#"{"symbol":"BTC/USD","open":1.0}"#).unwrap_err();
        assert_eq!(err, "interval_begin is missing");
        let big = candle(
            r#"{"symbol":"BTC/USD","open":1.0,"high":1.0,"low":1.0,"close":1.0,"volume":1,
            "interval_begin":"2023-10-06T17:35:00Z","interval":123456789012345678901234567890}"#,
        )
        .unwrap();
        assert_eq!(big.interval, "123456789012345678901234567890");
        assert_eq!(big.trades, None);
    }

    fn book(s: &str) -> (bool, Vec<BookEntry<'static>>) {
        let f = frame(s);
        match f.items {
            Items::Book(items) => (f.snapshot, items),
            other => panic!("not a book: {other:?}"),
        }
    }

    #[test]
    fn book_levels_keep_their_exact_text() {
        let (snapshot, items) = book(
            r#"{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD",
            "bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739}],
            "asks":[{"price":0.5668,"qty":4410.79769741}],
            "checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}"#,
        );
        assert!(snapshot);
        assert_eq!(
            items,
            vec![BookEntry::Ok(BookItem {
                symbol: "MATIC/USD",
                bids: vec![("0.5666", "4831.75496356"), ("0.5665", "6658.22734739")],
                asks: vec![("0.5668", "4410.79769741")],
                checksum: Some(2439117997),
                timestamp: Some(1_696_613_755_440_295_000),
            })]
        );
        // Absent sides are empty, no checksum is None; level texts are the assembler's to
        // check (exponents, more decimals than the pair's: not refused here).
        let (snapshot, items) = book(
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD",
            "bids":[{"price":1e-05,"qty":0.123456789,"extra":1}]}]}"#,
        );
        assert!(!snapshot);
        let BookEntry::Ok(b) = &items[0] else {
            panic!("{items:?}")
        };
        assert_eq!(b.bids, vec![("1e-05", "0.123456789")]);
        assert_eq!((b.asks.len(), b.checksum, &b.timestamp), (0, None, &None));
    }

    #[test]
    fn malformed_book_items() {
        for (item, why) in [
            (r#""bids":{"price":1,"qty":2}"#, "bids is not a list"),
            (r#""bids":null"#, "bids is not a list"),
            (r#""bids":[{"price":1}]"#, "bids level without price/qty"),
            (r#""asks":[{"qty":1}]"#, "asks level without price/qty"),
            (r#""bids":["1"]"#, "bids level without price/qty"),
            (r#""bids":[null]"#, "bids level without price/qty"),
            (r#""bids":[[1,2]]"#, "bids level without price/qty"),
            (r#""bids":[{"price":null,"qty":1}]"#, "not numbers"),
            (r#""bids":[{"price":1,"qty":true}]"#, "not numbers"),
            (r#""bids":[{"price":{"x":1},"qty":1}]"#, "not numbers"),
            (r#""checksum":-1"#, "unsigned 32-bit"),
            (r#""checksum":4294967296"#, "unsigned 32-bit"),
            (r#""checksum":null"#, "checksum is not an integer"),
            (r#""checksum":1.5"#, "checksum is not an integer"),
            (r#""timestamp":7"#, "timestamp is not a string"),
            (r#""timestamp":[]"#, "timestamp is not a string"),
            (r#""timestamp":"2023-02-30T00:00:00Z""#, "bad timestamp"),
        ] {
            let s = format!(
                r#"{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD",{item}}}]}}"#
            );
            let (_, items) = book(&s);
            match (&items[0], why) {
                (BookEntry::Ok(_), "") => {}
                (BookEntry::Bad { symbol, error }, why) if !why.is_empty() => {
                    assert_eq!(symbol, "BTC/USD");
                    assert!(error.contains(why), "{item}: {error}");
                }
                (other, _) => panic!("{item}: {other:?}"),
            }
        }
        let (_, items) = book(
            r#"{"channel":"book","type":"update","data":[{"symbol":"DOGE/USD"},[],
            {"symbol":"BTC/USD","checksum":"0"}]}"#,
        );
        assert!(matches!(&items[0], BookEntry::Unknown(e) if e.contains("unsubscribed")));
        assert!(matches!(&items[1], BookEntry::Unknown(e) if e.contains("not an object")));
        assert!(matches!(&items[2], BookEntry::Ok(b) if b.checksum == Some(0)));
    }

    #[test]
    fn malformed_frames_and_other_channels() {
        let d = decoder();
        for bad in [
            "{not json",
            "[1,2]",
            "7",
            r#"{"channel":"book","type":"nope","data":[]}"#,
            r#"{"channel":"book","data":[]}"#,
            r#"{"channel":"book","type":"update","data":{}}"#,
            r#"{"channel":"trade","type":"update"}"#,
            r#"{"channel":"ticker","data":null}"#,
            r#"{"channel":"ohlc","data":"x"}"#,
        ] {
            assert!(decode_with(&d, bad).is_err(), "{bad}");
        }
        for other in [
            r#"{"channel":"heartbeat"}"#,
            r#"{"channel":"status","type":"update","data":[{"system":"online"}]}"#,
            r#"{"channel":"instrument","type":"snapshot","data":{"pairs":[]}}"#,
            r#"{"method":"pong","req_id":1}"#,
            r#"{"channel":"nope"}"#,
            r#"{"channel":5,"data":[]}"#,
            r#"{"hello":1}"#,
        ] {
            assert_eq!(decode_with(&d, other).unwrap(), None, "{other}");
        }
        // Trades, tickers and candles take any type (snapshot or not).
        let f = frame(r#"{"channel":"ticker","data":[],"sim_send_ns":123456789}"#);
        assert_eq!((f.snapshot, f.stamp), (false, Some("123456789")));
        assert_eq!(f.items, Items::Ticker(vec![]));
    }

    #[test]
    fn precisions_are_checked_and_replaced() {
        let mut d = decoder();
        assert!(d.set_precision("X/Y", -1, 2).is_err());
        assert!(d.set_precision("X/Y", 1, 19).is_err());
        assert_eq!(d.precision("X/Y"), None);
        d.set_precision("BTC/USD", 2, 8).unwrap();
        assert_eq!(d.precision("BTC/USD"), Some((2, 8)));
        let f = decode_with(
            &d,
            r#"{"channel":"trade","data":[{"symbol":"BTC/USD","side":"buy","price":1.25,"qty":1,"trade_id":1}]}"#,
        )
        .unwrap()
        .unwrap();
        assert!(matches!(f.items, Items::Trade(ref t) if t[0].is_ok()));
    }

    #[test]
    fn duplicate_keys_keep_the_last_like_a_dict() {
        let t = trades(
            r#"{"channel":"trade","data":[{"symbol":"BTC/USD","side":"sell","side":"buy",
            "price":1,"qty":1,"trade_id":1}]}"#,
        );
        assert_eq!(t[0].as_ref().unwrap().side, "buy");
        // Escaped strings are unescaped (and owned) before they are looked up.
        let t = trades(
            r#"{"channel":"trade","data":[{"symbol":"BTC\/USD","side":"s\u0065ll",
            "price":"1\u002e5","qty":1,"trade_id":1}]}"#,
        );
        let t = t[0].as_ref().unwrap();
        assert_eq!((t.symbol, t.side, t.price), ("BTC/USD", "sell", "1.5"));
    }
}
