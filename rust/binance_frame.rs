//! Binance spot market-data frames (`depthUpdate`, `trade`/`aggTrade`, `bookTicker`,
//! `24hrTicker`, `kline`) read and checked in one native pass.
//!
//! The adapter read these frames with orjson and checked each field in Python before this
//! fast path existed; the checks here are those, one for one:
//!
//! - the frame is `{"stream":..., "data":{...}}` (combined stream) or the bare event, and
//!   the event names a symbol in the precision table (the books the adapter tracks);
//! - prices and quantities are JSON *strings* holding plain decimals
//!   ([`crate::fixed::is_plain_decimal`]), within the symbol's decimals and not zero where
//!   the adapter said so. A JSON number is refused: orjson made a float of it, which no
//!   decimal check took;
//! - ids and times are JSON integers within 64 bits (beyond, orjson made a float) or strings
//!   holding `-?[0-9]+` of any length ([`orjson_int`]), handed over as their text;
//! - a number beyond the range of a double makes the frame "not JSON", as it did for orjson
//!   ([`parse_tree_finite`]).
//!
//! A malformed event is an error of the whole frame, except a depth diff of a tracked book
//! whose ids or levels are malformed ([`DepthEntry::Bad`]): that book can no longer be
//! trusted and resyncs. Where the adapter read the event time only after acting on the event
//! (a diff applied, 24-hour figures kept), a malformed one is handed over in its slot
//! ([`Deferred`]) so that the adapter can keep doing that first. Other frames
//! (`serverShutdown`, control replies, errors, unknown events) are `Ok(None)`: the adapter's
//! general path reads those.
//!
//! Depth levels are returned as their exact texts; whether a level fits the book is the
//! assembler's check, as before.

use crate::error::CoreError;
use crate::frame_field::{
    orjson_int, quoted_decimal, quoted_signed, required, ItemResult, PrecisionTable,
};
pub use crate::json_tree::{parse_tree_finite, Json};

/// A field the adapter read after acting on its event: its value, or why it was refused.
pub type Deferred<T> = Result<T, String>;

/// One depth diff, its level texts ready for the assembler.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthItem<'t> {
    pub symbol: &'t str,
    /// `U`; its range is the assembler's to check, as before.
    pub first_id: &'t str,
    /// `u`.
    pub final_id: &'t str,
    pub bids: Vec<(&'t str, &'t str)>,
    pub asks: Vec<(&'t str, &'t str)>,
    /// `E`, ms since the epoch.
    pub event_time: Deferred<Option<&'t str>>,
}

/// A depth diff of a tracked book.
#[derive(Debug, Clone, PartialEq)]
pub enum DepthEntry<'t> {
    Ok(DepthItem<'t>),
    /// Ids or levels malformed: the book can no longer be trusted.
    Bad {
        symbol: &'t str,
        error: String,
    },
}

/// One `trade` or `aggTrade`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeItem<'t> {
    pub symbol: &'t str,
    /// `t` (`a` of an `aggTrade`); [`crate::frame_field::canonical_int`] writes it as the
    /// adapter did.
    pub trade_id: &'t str,
    pub price: &'t str,
    pub qty: &'t str,
    /// The aggressor's side: `m` (the buyer is the maker) means a sell.
    pub side: &'static str,
    /// `T`, ms since the epoch.
    pub trade_time: Option<&'t str>,
}

/// Best bid, its quantity, best ask, its quantity (`b`, `B`, `a`, `A`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bbo<'t> {
    pub bid: &'t str,
    pub bid_qty: &'t str,
    pub ask: &'t str,
    pub ask_qty: &'t str,
}

/// One `bookTicker` (no event type: it is known by `u`, `b` and `a`).
#[derive(Debug, Clone, PartialEq)]
pub struct BookTickerItem<'t> {
    pub symbol: &'t str,
    /// `u`, in the depth diffs' id space.
    pub update_id: &'t str,
    pub bbo: Bbo<'t>,
}

/// One `24hrTicker`.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerItem<'t> {
    pub symbol: &'t str,
    pub bbo: Bbo<'t>,
    pub last: &'t str,
    pub volume: &'t str,
    pub vwap: &'t str,
    pub low: &'t str,
    pub high: &'t str,
    pub change: &'t str,
    pub change_pct: &'t str,
    /// `E`, ms since the epoch.
    pub event_time: Deferred<Option<&'t str>>,
}

/// One `kline`.
#[derive(Debug, Clone, PartialEq)]
pub struct KlineItem<'t> {
    pub symbol: &'t str,
    /// `E`, ms since the epoch.
    pub event_time: Option<&'t str>,
    /// The count of `i` (`15` of `15m`); times [`KlineItem::unit_s`] it is the interval.
    pub interval: &'t str,
    /// Seconds in the unit of `i` (`s`, `m`, `h`, `d`, `w`).
    pub unit_s: u32,
    /// `t`, ms since the epoch.
    pub open_time: &'t str,
    pub open: &'t str,
    pub high: &'t str,
    pub low: &'t str,
    pub close: &'t str,
    pub volume: &'t str,
    /// `n`.
    pub trades: &'t str,
    /// `x`.
    pub closed: bool,
}

/// The event of a market-data frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'t> {
    Depth(DepthEntry<'t>),
    /// `aggregate`: an `aggTrade` (its id is `a`).
    Trade {
        aggregate: bool,
        item: TradeItem<'t>,
    },
    BookTicker(BookTickerItem<'t>),
    Ticker(TickerItem<'t>),
    Kline(KlineItem<'t>),
}

impl Event<'_> {
    /// The event's name: its `e`, or `bookTicker` for the one without.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Depth(_) => "depthUpdate",
            Event::Trade {
                aggregate: false, ..
            } => "trade",
            Event::Trade {
                aggregate: true, ..
            } => "aggTrade",
            Event::BookTicker(_) => "bookTicker",
            Event::Ticker(_) => "24hrTicker",
            Event::Kline(_) => "kline",
        }
    }
}

/// A decoded market-data frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'t> {
    pub event: Event<'t>,
    /// The top-level `sim_send_ns` text the simulators add for latency benches, if any.
    pub stamp: Option<&'t str>,
}

/// Seconds in a kline interval's unit.
fn kline_unit(unit: u8) -> Option<u32> {
    match unit {
        b's' => Some(1),
        b'm' => Some(60),
        b'h' => Some(3600),
        b'd' => Some(86_400),
        b'w' => Some(604_800),
        _ => None,
    }
}

/// Decodes Binance spot market-data frames against the precisions of the tracked symbols.
#[derive(Debug, Default)]
pub struct BinanceFrameDecoder {
    precision: PrecisionTable,
}

fn frame_error(msg: String) -> CoreError {
    CoreError::Value(msg)
}

impl BinanceFrameDecoder {
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

    /// Reads one frame parsed with [`parse_tree_finite`]: `Ok(None)` when it is not a
    /// market-data event. The event borrows its texts from `msg`.
    pub fn decode<'t>(&self, msg: &'t Json<'_>) -> Result<Option<Frame<'t>>, CoreError> {
        if !matches!(msg, Json::Obj(_)) {
            return Err(frame_error("frame is not a JSON object".to_owned()));
        }
        // The adapter's rule: with a `stream` member the event is `data` (the frame itself
        // when there is none); without, the frame is the event (a raw stream).
        let data = match msg.get("stream").and(msg.get("data")) {
            None => msg,
            Some(data @ Json::Obj(_)) => data,
            Some(_) => return Err(frame_error("stream data is not an object".to_owned())),
        };
        let event = match data.get("e") {
            Some(Json::Str(e)) => match e.as_ref() {
                "depthUpdate" => Event::Depth(self.depth(data)?),
                "trade" => Event::Trade {
                    aggregate: false,
                    item: self.trade(data, "t")?,
                },
                "aggTrade" => Event::Trade {
                    aggregate: true,
                    item: self.trade(data, "a")?,
                },
                "24hrTicker" => Event::Ticker(self.ticker(data)?),
                "kline" => Event::Kline(self.kline(data)?),
                _ => return Ok(None),
            },
            None | Some(Json::Null) if ["u", "b", "a"].iter().all(|k| data.get(k).is_some()) => {
                Event::BookTicker(self.book_ticker(data)?)
            }
            _ => return Ok(None),
        };
        let stamp = msg.get("sim_send_ns").and_then(Json::text);
        Ok(Some(Frame { event, stamp }))
    }

    /// The event's symbol and its decimals; a frame error when it names no tracked book.
    fn symbol_of<'t>(&self, d: &'t Json) -> Result<(&'t str, u8, u8), CoreError> {
        let raw = d.get("s");
        if let Some(Json::Str(symbol)) = raw {
            if let Some((p, q)) = self.precision.get(symbol.as_ref()) {
                return Ok((symbol, p, q));
            }
        }
        let shown = raw.map_or_else(|| "None".to_owned(), Json::describe);
        Err(frame_error(format!(
            "event for an unsubscribed symbol {shown}"
        )))
    }

    fn depth<'t>(&self, d: &'t Json) -> Result<DepthEntry<'t>, CoreError> {
        let (symbol, _, _) = self.symbol_of(d)?;
        let checked = || -> ItemResult<DepthItem<'t>> {
            Ok(DepthItem {
                symbol,
                first_id: orjson_int(required(d, "U")?, "U")?,
                final_id: orjson_int(required(d, "u")?, "u")?,
                bids: levels(required(d, "b")?, "b")?,
                asks: levels(required(d, "a")?, "a")?,
                event_time: optional_time(d.get("E"), "time"),
            })
        };
        Ok(match checked() {
            Ok(item) => DepthEntry::Ok(item),
            Err(error) => DepthEntry::Bad { symbol, error },
        })
    }

    fn trade<'t>(&self, d: &'t Json, id_key: &str) -> Result<TradeItem<'t>, CoreError> {
        let (symbol, pp, qp) = self.symbol_of(d)?;
        let checked = || -> ItemResult<TradeItem<'t>> {
            let maker_buys = match required(d, "m")? {
                Json::Bool(b) => *b,
                other => return Err(format!("trade 'm' is not a boolean: {}", other.describe())),
            };
            let id = orjson_int(required(d, id_key)?, "trade id")?;
            let trade_time = optional_time(d.get("T"), "time")?;
            Ok(TradeItem {
                symbol,
                trade_id: id,
                price: quoted_decimal(required(d, "p")?, "p", Some(pp), true)?,
                qty: quoted_decimal(required(d, "q")?, "q", Some(qp), true)?,
                side: if maker_buys { "sell" } else { "buy" },
                trade_time,
            })
        };
        checked().map_err(frame_error)
    }

    fn book_ticker<'t>(&self, d: &'t Json) -> Result<BookTickerItem<'t>, CoreError> {
        let (symbol, pp, qp) = self.symbol_of(d)?;
        let checked = || -> ItemResult<BookTickerItem<'t>> {
            let bbo = bbo(d, pp, qp)?;
            Ok(BookTickerItem {
                symbol,
                update_id: orjson_int(required(d, "u")?, "u")?,
                bbo,
            })
        };
        checked().map_err(frame_error)
    }

    fn ticker<'t>(&self, d: &'t Json) -> Result<TickerItem<'t>, CoreError> {
        let (symbol, pp, qp) = self.symbol_of(d)?;
        let checked = || -> ItemResult<TickerItem<'t>> {
            let bbo = bbo(d, pp, qp)?;
            let dec = |key: &str, places: Option<u8>, positive: bool| {
                quoted_decimal(required(d, key)?, key, places, positive)
            };
            let signed = |key: &str| quoted_signed(required(d, key)?, key);
            Ok(TickerItem {
                symbol,
                bbo,
                last: dec("c", Some(pp), true)?,
                volume: dec("v", None, false)?,
                vwap: dec("w", None, false)?,
                low: dec("l", Some(pp), false)?,
                high: dec("h", Some(pp), false)?,
                change: signed("p")?,
                change_pct: signed("P")?,
                event_time: optional_time(d.get("E"), "time"),
            })
        };
        checked().map_err(frame_error)
    }

    fn kline<'t>(&self, d: &'t Json) -> Result<KlineItem<'t>, CoreError> {
        let (symbol, _, _) = self.symbol_of(d)?;
        let checked = || -> ItemResult<KlineItem<'t>> {
            let k = required(d, "k")?;
            if !matches!(k, Json::Obj(_)) {
                return Err("kline 'k' is not an object".to_owned());
            }
            let (interval, unit_s) = kline_interval(required(k, "i")?)?;
            let closed = match required(k, "x")? {
                Json::Bool(b) => *b,
                _ => return Err("kline 'x' is not a boolean".to_owned()),
            };
            let event_time = optional_time(d.get("E"), "time")?;
            let dec = |key: &str| quoted_decimal(required(k, key)?, key, None, false);
            Ok(KlineItem {
                symbol,
                event_time,
                interval,
                unit_s,
                open_time: orjson_int(required(k, "t")?, "kline t")?,
                open: dec("o")?,
                high: dec("h")?,
                low: dec("l")?,
                close: dec("c")?,
                volume: dec("v")?,
                trades: orjson_int(required(k, "n")?, "kline n")?,
                closed,
            })
        };
        checked().map_err(frame_error)
    }
}

/// `b`, `B`, `a`, `A` of a bookTicker or 24hrTicker: prices positive within the symbol's
/// price decimals, quantities (zero allowed) within its quantity decimals.
fn bbo<'t>(d: &'t Json, pp: u8, qp: u8) -> ItemResult<Bbo<'t>> {
    Ok(Bbo {
        bid: quoted_decimal(required(d, "b")?, "b", Some(pp), true)?,
        bid_qty: quoted_decimal(required(d, "B")?, "B", Some(qp), false)?,
        ask: quoted_decimal(required(d, "a")?, "a", Some(pp), true)?,
        ask_qty: quoted_decimal(required(d, "A")?, "A", Some(qp), false)?,
    })
}

/// A time in ms: absent or `null` is `None`.
fn optional_time<'t>(v: Option<&'t Json>, what: &str) -> ItemResult<Option<&'t str>> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(v) => orjson_int(v, what).map(Some),
    }
}

/// `[["0.0024", "10"], ...]` → `[("0.0024", "10"), ...]`; items past the second of a level
/// are ignored, as the adapter did.
fn levels<'t>(raw: &'t Json, side: &str) -> ItemResult<Vec<(&'t str, &'t str)>> {
    let Json::Arr(list) = raw else {
        return Err(format!("{side} is not a list"));
    };
    list.iter()
        .map(|lv| match lv {
            Json::Arr(pq) if pq.len() >= 2 => match (&pq[0], &pq[1]) {
                (Json::Str(p), Json::Str(q)) => Ok((p.as_ref(), q.as_ref())),
                _ => Err(format!(
                    "{side} price/qty are not strings: {}",
                    lv.describe()
                )),
            },
            _ => Err(format!(
                "{side} level is not [price, qty]: {}",
                lv.describe()
            )),
        })
        .collect()
}

/// A kline's `i` (`1s`, `15m`, `4h`, `1d`, `1w`): its count and the seconds of its unit.
/// Digits are ASCII only (no venue writes others).
fn kline_interval<'t>(v: &'t Json) -> ItemResult<(&'t str, u32)> {
    if let Json::Str(text) = v {
        let text: &'t str = text;
        // The unit is one ASCII byte, so the digits before it end on a char boundary.
        if let Some(unit_s) = text.bytes().last().and_then(kline_unit) {
            let digits = &text[..text.len() - 1];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return Ok((digits, unit_s));
            }
        }
    }
    Err(format!("kline interval {}", v.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> BinanceFrameDecoder {
        let mut d = BinanceFrameDecoder::new();
        d.set_precision("BTCUSDT", 2, 5).unwrap();
        d.set_precision("NKNUSDT", 4, 0).unwrap();
        d
    }

    /// Parses and decodes with `d`; the document and its tree live as long as the test
    /// (leaked: a few kilobytes per test run).
    fn decode_with(d: &BinanceFrameDecoder, s: &str) -> Result<Option<Frame<'static>>, CoreError> {
        let doc: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let tree: &'static Json<'static> = Box::leak(Box::new(parse_tree_finite(doc.as_bytes())?));
        d.decode(tree)
    }

    fn decode(s: &str) -> Result<Option<Frame<'static>>, CoreError> {
        decode_with(&decoder(), s)
    }

    fn event(s: &str) -> Event<'static> {
        decode(s).unwrap().unwrap().event
    }

    fn err(s: &str) -> String {
        match decode(s) {
            Err(e) => e.to_string(),
            other => panic!("{s}: not refused: {other:?}"),
        }
    }

    /// A JSON object with `key` set to the raw JSON `value` (None: without `key`).
    fn with_field(fields: &[(&str, &str)], key: &str, value: Option<&str>) -> String {
        let mut out: Vec<String> = fields
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        if let Some(v) = value {
            out.push(format!("\"{key}\":{v}"));
        }
        format!("{{{}}}", out.join(","))
    }

    /// Values no price, quantity or id field may take, as they would be written.
    const HOSTILE: &[&str] = &[
        r#""-1""#,
        r#""1e5""#,
        r#""10000000000000000000000000000000000000000""#,
        "null",
        r#"{"a":1}"#,
        "[1]",
        "true",
        r#""NaN""#,
        r#""1.2.3""#,
        r#""１""#,
        r#""""#,
        r#"" 1""#,
        "12.5",
        "1",
        "0",
        "-1",
        "1e5",
    ];

    const DEPTH: &[(&str, &str)] = &[
        ("e", r#""depthUpdate""#),
        ("E", "1700000000123"),
        ("s", r#""BTCUSDT""#),
        ("U", "157"),
        ("u", "160"),
        (
            "b",
            r#"[["0.0024","10"],["0.0023","0.00000000","ignored"]]"#,
        ),
        ("a", r#"[["0.0026","100"]]"#),
    ];

    fn depth(key: &str, value: Option<&str>) -> DepthEntry<'static> {
        let s = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{}}}"#,
            with_field(DEPTH, key, value)
        );
        match event(&s) {
            Event::Depth(entry) => entry,
            other => panic!("not a diff: {other:?}"),
        }
    }

    #[test]
    fn depth_diffs_keep_their_level_texts() {
        let DepthEntry::Ok(item) = depth("", None) else {
            panic!()
        };
        assert_eq!(
            item,
            DepthItem {
                symbol: "BTCUSDT",
                first_id: "157",
                final_id: "160",
                bids: vec![("0.0024", "10"), ("0.0023", "0.00000000")],
                asks: vec![("0.0026", "100")],
                event_time: Ok(Some("1700000000123")),
            }
        );
        // Level texts are the assembler's to check; ids may be quoted; E may be absent.
        let DepthEntry::Ok(item) = depth("b", Some(r#"[["1e5","-1"],["x","NaN"]]"#)) else {
            panic!()
        };
        assert_eq!(item.bids, vec![("1e5", "-1"), ("x", "NaN")]);
        let DepthEntry::Ok(item) = depth("U", Some(r#""00157""#)) else {
            panic!()
        };
        assert_eq!(item.first_id, "00157");
        for absent in [None, Some("null")] {
            let DepthEntry::Ok(item) = depth("E", absent) else {
                panic!()
            };
            assert_eq!(item.event_time, Ok(None));
        }
        // Any id the adapter read: the assembler refuses what is not an unsigned 64-bit.
        for id in [
            "-1",
            "18446744073709551615",
            r#""-1""#,
            r#""18446744073709551616""#,
        ] {
            let DepthEntry::Ok(item) = depth("u", Some(id)) else {
                panic!("{id}")
            };
            assert_eq!(item.final_id, id.trim_matches('"'));
        }
    }

    #[test]
    fn a_malformed_diff_of_a_tracked_book_is_that_books_problem() {
        let too_big = (u128::from(u64::MAX) + 1).to_string();
        for (key, value, why) in [
            ("U", None, "U is missing"),
            ("u", None, "u is missing"),
            ("b", None, "b is missing"),
            ("a", None, "a is missing"),
            ("u", Some(too_big.as_str()), "u is not an integer"),
            ("U", Some("1.0"), "U is not an integer"),
            ("U", Some("1e3"), "U is not an integer"),
            ("U", Some("true"), "U is not an integer"),
            ("U", Some("null"), "U is not an integer"),
            ("U", Some(r#""1.5""#), "U is not an integer"),
            ("b", Some("null"), "b is not a list"),
            ("b", Some(r#"{"0.1":"1"}"#), "b is not a list"),
            ("a", Some(r#""[]""#), "a is not a list"),
            ("b", Some(r#"[["1"]]"#), "b level is not [price, qty]"),
            ("b", Some(r#"["1","2"]"#), "b level is not [price, qty]"),
            ("a", Some(r#"[null]"#), "a level is not [price, qty]"),
            (
                "a",
                Some(r#"[{"p":"1","q":"2"}]"#),
                "a level is not [price, qty]",
            ),
            ("b", Some(r#"[[1.5,"2"]]"#), "b price/qty are not strings"),
            ("b", Some(r#"[["1",2]]"#), "b price/qty are not strings"),
            ("a", Some(r#"[["1",null]]"#), "a price/qty are not strings"),
            ("a", Some(r#"[[["1"],"2"]]"#), "a price/qty are not strings"),
        ] {
            match depth(key, value) {
                DepthEntry::Bad { symbol, error } => {
                    assert_eq!(symbol, "BTCUSDT");
                    assert!(error.contains(why), "{key}={value:?}: {error}");
                }
                other => panic!("{key}={value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_diffs_malformed_event_time_is_handed_over_in_its_slot() {
        for bad in [r#""x""#, "1.5", "true", "[]", r#""1e3""#] {
            let DepthEntry::Ok(item) = depth("E", Some(bad)) else {
                panic!("{bad}")
            };
            let why = item.event_time.unwrap_err();
            assert!(why.starts_with("time is not an integer"), "{bad}: {why}");
        }
    }

    #[test]
    fn a_diff_of_an_untracked_symbol_is_a_frame_error() {
        for s in [
            r#"{"e":"depthUpdate","s":"ETHUSDT","U":1,"u":2,"b":[],"a":[]}"#,
            r#"{"e":"depthUpdate","U":1,"u":2,"b":[],"a":[]}"#,
            r#"{"e":"depthUpdate","s":null,"U":1,"u":2,"b":[],"a":[]}"#,
            r#"{"e":"depthUpdate","s":["BTCUSDT"],"U":1,"u":2,"b":[],"a":[]}"#,
            r#"{"e":"depthUpdate","s":"btcusdt","U":"x"}"#,
        ] {
            assert!(
                err(s).starts_with("event for an unsubscribed symbol"),
                "{s}"
            );
        }
    }

    const TRADE: &[(&str, &str)] = &[
        ("e", r#""trade""#),
        ("E", "1"),
        ("s", r#""BTCUSDT""#),
        ("t", "12345"),
        ("p", r#""100.50000000""#),
        ("q", r#""0.25000""#),
        ("T", "1700000000123"),
        ("m", "true"),
        ("M", "true"),
    ];

    fn trade(key: &str, value: Option<&str>) -> Result<TradeItem<'static>, String> {
        match decode(&with_field(TRADE, key, value)) {
            Ok(Some(Frame {
                event: Event::Trade { item, .. },
                ..
            })) => Ok(item),
            Ok(other) => panic!("not a trade: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn trades_and_aggregate_trades() {
        assert_eq!(
            trade("", None).unwrap(),
            TradeItem {
                symbol: "BTCUSDT",
                trade_id: "12345",
                price: "100.50000000",
                qty: "0.25000",
                side: "sell",
                trade_time: Some("1700000000123"),
            }
        );
        assert_eq!(trade("m", Some("false")).unwrap().side, "buy");
        // Ids of any size and sign, as the adapter took them.
        assert_eq!(trade("t", Some(r#""007""#)).unwrap().trade_id, "007");
        assert_eq!(trade("t", Some("-3")).unwrap().trade_id, "-3");
        let huge = "9".repeat(50);
        let id = trade("t", Some(&format!("\"{huge}\""))).unwrap().trade_id;
        assert_eq!(id, huge);
        for absent in [None, Some("null")] {
            assert_eq!(trade("T", absent).unwrap().trade_time, None);
        }
        let agg = r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT",
            "a":26129,"p":"1.63000000","q":"4.7","f":1,"l":2,"T":1,"m":false}}"#;
        let Event::Trade { aggregate, item } = event(agg) else {
            panic!()
        };
        assert!(aggregate);
        assert_eq!((item.trade_id, item.side), ("26129", "buy"));
        assert_eq!(Event::Trade { aggregate, item }.kind(), "aggTrade");
        // An aggTrade's id is `a`: a `t` does not stand in for it.
        assert!(
            err(r#"{"e":"aggTrade","s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}"#)
                .contains("a is missing")
        );
    }

    #[test]
    fn malformed_trades_are_frame_errors() {
        for (key, value, why) in [
            ("m", None, "m is missing"),
            ("m", Some("1"), "trade 'm' is not a boolean"),
            ("m", Some(r#""true""#), "trade 'm' is not a boolean"),
            ("t", None, "t is missing"),
            ("t", Some("1.5"), "trade id is not an integer"),
            ("t", Some(r#""x""#), "trade id is not an integer"),
            (
                "t",
                Some("18446744073709551616"),
                "trade id is not an integer",
            ),
            ("T", Some(r#""soon""#), "time is not an integer"),
            ("T", Some("1.7e12"), "time is not an integer"),
            ("p", None, "p is missing"),
            ("q", None, "q is missing"),
            ("p", Some(r#""100.505""#), "p has more than 2 decimals"),
            ("q", Some(r#""0.000001""#), "q has more than 5 decimals"),
            ("p", Some(r#""0.00""#), "p is zero"),
            ("q", Some(r#""0""#), "q is zero"),
            ("p", Some("100.5"), "p is not a decimal string"),
            (
                "s",
                Some(r#""XRPUSDT""#),
                "event for an unsubscribed symbol",
            ),
        ] {
            let e = trade(key, value).unwrap_err();
            assert!(e.contains(why), "{key}={value:?}: {e}");
        }
        for bad in HOSTILE {
            for key in ["p", "q"] {
                let e = trade(key, Some(bad)).unwrap_err();
                assert!(e.starts_with(key), "{key}={bad}: {e}");
            }
        }
    }

    const BOOK_TICKER: &[(&str, &str)] = &[
        ("u", "400900217"),
        ("s", r#""BTCUSDT""#),
        ("b", r#""25.35000000""#),
        ("B", r#""31.21000000""#),
        ("a", r#""25.36000000""#),
        ("A", r#""0.00000000""#),
    ];

    fn book_ticker(key: &str, value: Option<&str>) -> Result<BookTickerItem<'static>, String> {
        let s = format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{}}}"#,
            with_field(BOOK_TICKER, key, value)
        );
        match decode(&s) {
            Ok(Some(Frame {
                event: Event::BookTicker(item),
                ..
            })) => Ok(item),
            Ok(other) => panic!("not a bookTicker: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn book_tickers() {
        let t = book_ticker("", None).unwrap();
        assert_eq!(t.update_id, "400900217");
        assert_eq!(
            t.bbo,
            Bbo {
                bid: "25.35000000",
                bid_qty: "31.21000000",
                ask: "25.36000000",
                ask_qty: "0.00000000", // quantities may be zero
            }
        );
        // Known by u, b and a; an event type of null is none; E and T are not read.
        let t = book_ticker("e", Some("null")).unwrap();
        assert_eq!(t.symbol, "BTCUSDT");
        assert!(book_ticker("E", Some(r#""garbage""#)).is_ok());
        // Any u the adapter took: it is compared with the book's last update id.
        let big = format!("\"{}\"", "1".repeat(45));
        assert_eq!(
            book_ticker("u", Some(&big)).unwrap().update_id,
            "1".repeat(45)
        );
        assert_eq!(book_ticker("u", Some("-5")).unwrap().update_id, "-5");
        for (key, value, why) in [
            ("B", None, "B is missing"),
            ("A", None, "A is missing"),
            ("b", Some(r#""25.351""#), "b has more than 2 decimals"),
            ("B", Some(r#""1.000001""#), "B has more than 5 decimals"),
            ("b", Some(r#""0""#), "b is zero"),
            ("a", Some(r#""0.0""#), "a is zero"),
            ("u", Some("1.5"), "u is not an integer"),
            ("u", Some(r#""x""#), "u is not an integer"),
            ("s", None, "event for an unsubscribed symbol None"),
        ] {
            let e = book_ticker(key, value).unwrap_err();
            assert!(e.contains(why), "{key}={value:?}: {e}");
        }
        for bad in HOSTILE {
            for key in ["b", "B", "a", "A"] {
                let e = book_ticker(key, Some(bad)).unwrap_err();
                assert!(e.starts_with(key), "{key}={bad}: {e}");
            }
        }
    }

    const TICKER: &[(&str, &str)] = &[
        ("e", r#""24hrTicker""#),
        ("E", "1700000000000"),
        ("s", r#""BTCUSDT""#),
        ("p", r#""-1.50""#),
        ("P", r#""-1.47""#),
        ("w", r#""100.123456789""#),
        ("c", r#""100.50""#),
        ("v", r#""12.123456789""#),
        ("h", r#""102.00""#),
        ("l", r#""99.00""#),
        ("b", r#""100.00""#),
        ("B", r#""2""#),
        ("a", r#""101.00""#),
        ("A", r#""1""#),
    ];

    fn ticker(key: &str, value: Option<&str>) -> Result<TickerItem<'static>, String> {
        match decode(&with_field(TICKER, key, value)) {
            Ok(Some(Frame {
                event: Event::Ticker(item),
                ..
            })) => Ok(item),
            Ok(other) => panic!("not a 24hrTicker: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn day_tickers() {
        let t = ticker("", None).unwrap();
        assert_eq!(
            (t.last, t.volume, t.vwap, t.low, t.high),
            ("100.50", "12.123456789", "100.123456789", "99.00", "102.00")
        );
        assert_eq!((t.change, t.change_pct), ("-1.50", "-1.47"));
        assert_eq!(t.bbo.bid, "100.00");
        assert_eq!(t.event_time, Ok(Some("1700000000000")));
        assert_eq!(ticker("p", Some(r#""2.5""#)).unwrap().change, "2.5");
        assert_eq!(ticker("l", Some(r#""0""#)).unwrap().low, "0");
        // Read after the figures were kept: a bad E is handed over.
        let why = ticker("E", Some(r#""x""#)).unwrap().event_time.unwrap_err();
        assert!(why.starts_with("time is not an integer"), "{why}");
        for (key, value, why) in [
            ("c", None, "c is missing"),
            ("P", None, "P is missing"),
            ("c", Some(r#""0""#), "c is zero"),
            ("c", Some(r#""100.505""#), "c has more than 2 decimals"),
            ("l", Some(r#""99.001""#), "l has more than 2 decimals"),
            ("h", Some(r#""102.001""#), "h has more than 2 decimals"),
            ("p", Some(r#""--1""#), "p is not a decimal"),
            ("P", Some(r#""-""#), "P is not a decimal"),
            ("P", Some("-1.47"), "P is not a decimal string"),
            ("p", Some("null"), "p is not a decimal string"),
            ("A", Some(r#""1.000001""#), "A has more than 5 decimals"),
        ] {
            let e = ticker(key, value).unwrap_err();
            assert!(e.contains(why), "{key}={value:?}: {e}");
        }
        for bad in HOSTILE {
            for key in ["c", "v", "w", "l", "h", "b", "B", "a", "A"] {
                let e = ticker(key, Some(bad)).unwrap_err();
                assert!(e.starts_with(key), "{key}={bad}: {e}");
            }
        }
    }

    fn kline_frame(k: &str, extra: &str) -> String {
        format!(
            r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":1700000000000,
            "s":"BTCUSDT"{extra},"k":{k}}}}}"#
        )
    }

    const K: &[(&str, &str)] = &[
        ("t", "1700000040000"),
        ("T", "1700000099999"),
        ("s", r#""BTCUSDT""#),
        ("i", r#""1m""#),
        ("o", r#""1.00000000""#),
        ("c", r#""1.5""#),
        ("h", r#""2.123456789""#),
        ("l", r#""0.5""#),
        ("v", r#""10""#),
        ("n", "3"),
        ("x", "false"),
    ];

    fn kline(key: &str, value: Option<&str>) -> Result<KlineItem<'static>, String> {
        match decode(&kline_frame(&with_field(K, key, value), "")) {
            Ok(Some(Frame {
                event: Event::Kline(item),
                ..
            })) => Ok(item),
            Ok(other) => panic!("not a kline: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn klines() {
        let k = kline("", None).unwrap();
        assert_eq!(
            k,
            KlineItem {
                symbol: "BTCUSDT",
                event_time: Some("1700000000000"),
                interval: "1",
                unit_s: 60,
                open_time: "1700000040000",
                open: "1.00000000",
                high: "2.123456789", // no places check on candles
                low: "0.5",
                close: "1.5",
                volume: "10",
                trades: "3",
                closed: false,
            }
        );
        for (i, count, unit_s) in [
            ("1s", "1", 1),
            ("15m", "15", 60),
            ("4h", "4", 3600),
            ("1d", "1", 86_400),
            ("1w", "1", 604_800),
            ("007h", "007", 3600),
        ] {
            let k = kline("i", Some(&format!("\"{i}\""))).unwrap();
            assert_eq!((k.interval, k.unit_s), (count, unit_s), "{i}");
        }
        assert_eq!(kline("n", Some("-1")).unwrap().trades, "-1");
        assert!(kline("x", Some("true")).unwrap().closed);
        let long = format!("\"{}m\"", "9".repeat(50));
        assert_eq!(kline("i", Some(&long)).unwrap().interval, "9".repeat(50));
    }

    #[test]
    fn malformed_klines_are_frame_errors() {
        for (key, value, why) in [
            ("i", None, "i is missing"),
            ("x", None, "x is missing"),
            ("t", None, "t is missing"),
            ("n", None, "n is missing"),
            ("o", None, "o is missing"),
            ("i", Some(r#""7q""#), "kline interval"),
            ("i", Some(r#""m""#), "kline interval"),
            ("i", Some(r#""1M""#), "kline interval"),
            ("i", Some(r#""-1m""#), "kline interval"),
            ("i", Some(r#""1.5m""#), "kline interval"),
            ("i", Some(r#""١m""#), "kline interval"),
            ("i", Some(r#""１""#), "kline interval"),
            ("i", Some(r#""1é""#), "kline interval"),
            ("i", Some(r#""""#), "kline interval"),
            ("i", Some("1"), "kline interval"),
            ("i", Some("null"), "kline interval"),
            ("i", Some(r#"["1m"]"#), "kline interval"),
            ("x", Some("0"), "kline 'x' is not a boolean"),
            ("x", Some(r#""false""#), "kline 'x' is not a boolean"),
            ("t", Some("1.5"), "kline t is not an integer"),
            ("n", Some(r#""3.0""#), "kline n is not an integer"),
            ("o", Some("1"), "o is not a decimal string"),
            ("v", Some(r#""-1""#), "v is not a decimal"),
        ] {
            let e = kline(key, value).unwrap_err();
            assert!(e.contains(why), "{key}={value:?}: {e}");
        }
        for bad in HOSTILE {
            for key in ["o", "h", "l", "c", "v"] {
                let e = kline(key, Some(bad)).unwrap_err();
                assert!(e.starts_with(key), "{key}={bad}: {e}");
            }
        }
        let e = err(&kline_frame(r#"["1m"]"#, ""));
        assert_eq!(e, "kline 'k' is not an object");
        let e = err(r#"{"e":"kline","s":"BTCUSDT"}"#);
        assert_eq!(e, "k is missing");
        // E is read before the candle: a bad one is the frame's error.
        let e = err(&kline_frame(&with_field(K, "", None), r#","E":"x""#));
        assert!(e.starts_with("time is not an integer"), "{e}");
    }

    #[test]
    fn the_stream_wrapper_and_the_bare_event() {
        let bare = with_field(TRADE, "", None);
        let wrapped = format!(r#"{{"stream":"btcusdt@trade","data":{bare}}}"#);
        assert_eq!(event(&bare), event(&wrapped));
        // With `stream` but no `data`, the frame is the event (as the adapter read it).
        let both = format!(r#"{{"stream":"x",{}"#, &bare[1..]);
        assert_eq!(event(&both), event(&bare));
        for bad in [
            r#"{"stream":"x","data":[1]}"#,
            r#"{"stream":"x","data":null}"#,
            r#"{"stream":"x","data":"{}"}"#,
            r#"{"stream":null,"data":7}"#,
        ] {
            assert_eq!(err(bad), "stream data is not an object", "{bad}");
        }
        // Without `stream`, `data` is just a member.
        assert_eq!(decode(r#"{"data":[1]}"#), Ok(None));
    }

    #[test]
    fn malformed_frames_and_other_events() {
        for (bad, why) in [
            ("{not json", "not JSON"),
            ("[1]", "frame is not a JSON object"),
            ("7", "frame is not a JSON object"),
            ("\"x\"", "frame is not a JSON object"),
            (
                r#"{"e":"trade","s":"BTCUSDT","x":1e400}"#,
                "not JSON: number is infinity",
            ),
            ("{\"e\":\"trade\",\"s\":\"\\ud800\"}", "not JSON"),
        ] {
            assert!(err(bad).starts_with(why), "{bad}: {}", err(bad));
        }
        for other in [
            r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}"#,
            r#"{"result":null,"id":1}"#,
            r#"{"code":2,"msg":"Invalid request"}"#,
            r#"{"e":"nonsense"}"#,
            r#"{"e":"DepthUpdate","s":"BTCUSDT"}"#,
            r#"{"e":5,"u":1,"b":"1","a":"1"}"#,
            r#"{"e":"","u":1,"b":"1","a":"1"}"#,
            r#"{"u":1,"b":"1"}"#,
            r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#,
            "{}",
        ] {
            assert_eq!(decode(other), Ok(None), "{other}");
        }
    }

    #[test]
    fn the_bench_stamp_is_the_frames_top_level_one() {
        let s = r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,
            "p":"1","q":"1","m":true,"sim_send_ns":1},"sim_send_ns":123456789}"#;
        assert_eq!(decode(s).unwrap().unwrap().stamp, Some("123456789"));
        let bare = r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1","q":"1","m":true,
            "sim_send_ns":42}"#;
        assert_eq!(decode(bare).unwrap().unwrap().stamp, Some("42"));
        let none = r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}"#;
        assert_eq!(decode(none).unwrap().unwrap().stamp, None);
    }

    #[test]
    fn precisions_are_checked_and_replaced() {
        let mut d = decoder();
        assert!(d.set_precision("X", -1, 2).is_err());
        assert!(d.set_precision("X", 1, 19).is_err());
        assert_eq!(d.precision("X"), None);
        let s = r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1.005","q":"1","m":true}"#;
        assert!(decode_with(&d, s).is_err());
        d.set_precision("BTCUSDT", 3, 5).unwrap();
        assert_eq!(d.precision("BTCUSDT"), Some((3, 5)));
        assert!(decode_with(&d, s).unwrap().is_some());
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_escapes_are_read() {
        let s = r#"{"e":"trade","s":"BTCUSDT","t":1,"p":"1","q":"1","m":true,"m":false,
            "p":"2\u002e5"}"#;
        let Event::Trade { item, .. } = event(s) else {
            panic!()
        };
        assert_eq!((item.side, item.price), ("buy", "2.5"));
        let s = r#"{"e":"tr\u0061de","s":"BTC\u0055SDT","t":1,"p":"1","q":"1","m":true}"#;
        assert!(matches!(event(s), Event::Trade { .. }));
    }

    #[test]
    fn recorded_frames_decode() {
        // Lines of shared/recorded/BINANCE.ws.1.0 (NKNUSDT: tick 0.0001, step 1).
        let mut d = BinanceFrameDecoder::new();
        d.set_precision("NKNUSDT", 4, 0).unwrap();
        let decoded = |s: &str| decode_with(&d, s).unwrap().unwrap().event;
        let Event::Depth(DepthEntry::Ok(diff)) = decoded(
            r#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998512568,"s":"NKNUSDT","U":499869753,"u":499869754,"b":[["0.35170000","4265.00000000"]],"a":[["0.35290000","10968.00000000"]]}}"#,
        ) else {
            panic!()
        };
        assert_eq!((diff.first_id, diff.final_id), ("499869753", "499869754"));
        assert_eq!(diff.bids, vec![("0.35170000", "4265.00000000")]);
        let Event::BookTicker(bt) = decoded(
            r#"{"stream":"nknusdt@bookTicker","data":{"u":499869768,"s":"NKNUSDT","b":"0.35210000","B":"672.00000000","a":"0.35260000","A":"3199.00000000"}}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            (bt.update_id, bt.bbo.ask_qty),
            ("499869768", "3199.00000000")
        );
        let Event::Trade { aggregate, item } = decoded(
            r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}}"#,
        ) else {
            panic!()
        };
        assert!(aggregate);
        assert_eq!((item.trade_id, item.side), ("15683430", "buy"));
        let Event::Kline(k) = decoded(
            r#"{"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998523963,"s":"NKNUSDT","k":{"t":1633998480000,"T":1633998539999,"s":"NKNUSDT","i":"1m","f":19862761,"L":19862790,"o":"0.35270000","c":"0.35280000","h":"0.35280000","l":"0.35220000","v":"25877.00000000","n":30,"x":false,"q":"9116.04600000","V":"58.00000000","Q":"20.46240000","B":"0"}}}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            (k.trades, k.volume, k.closed),
            ("30", "25877.00000000", false)
        );
    }
}
