//! Coinbase Advanced Trade market-data frames (`l2_data`, `market_trades`, `ticker`,
//! `candles`) read and checked in one native pass.
//!
//! The adapter's general path reads frames with orjson, and this decoder takes exactly what
//! that path took, field by field:
//!
//! - the frame is parsed with [`parse_tree_finite`]: JSON that orjson refuses (a number too
//!   large for an `f64` included) is refused whole;
//! - `sequence_num` is an integer as orjson and `as_int` read it ([`orjson_int`]); it is
//!   returned, not judged: the connection-wide sequence check is the adapter's, and it must
//!   run before anything of the frame is used, so what is wrong with the frame beyond its
//!   number (no `events` list, a bad `timestamp`) comes back in [`Frame::body`];
//! - every product id must be in the precision table (the books the adapter tracks);
//! - prices and quantities are JSON *strings* holding a plain decimal (a bare number is
//!   refused, as orjson made it a float), within the product's decimals and not zero where
//!   the adapter said so; timestamps are RFC 3339 text, returned as ns since the epoch.
//!
//! The unit of loss stays the adapter's: a level2 event of a tracked product that is
//! malformed is [`Level2Entry::Bad`] (its book resyncs); a level2 event that is not an
//! object or names no tracked product, and a malformed trade, ticker or candle, is that
//! item's loss (an `Err` slot); a `market_trades`, `ticker` or `candles` event that is not
//! an object holding a list of objects is an `Err` event slot, which loses the rest of the
//! frame (the events before it stand). Frames of other channels (heartbeats,
//! subscriptions, status) or of none (error frames) are `Ok(None)`.

use crate::error::CoreError;
use crate::frame_field::{
    optional_quoted, orjson_int, quoted_decimal, quoted_signed, required, timestamp, ItemResult,
    PrecisionTable,
};
pub use crate::json_tree::{parse_tree_finite, Json};

/// The market-data channels, as frames name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Level2,
    MarketTrades,
    Ticker,
    Candles,
}

impl Channel {
    /// The channel's name in frames.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Level2 => "l2_data",
            Channel::MarketTrades => "market_trades",
            Channel::Ticker => "ticker",
            Channel::Candles => "candles",
        }
    }
}

/// One well-formed level2 event: its levels as exact texts, in frame order, for the
/// assembler (which checks them against the book's precision).
#[derive(Debug, Clone, PartialEq)]
pub struct Level2Event<'t> {
    pub product_id: &'t str,
    /// `type` is `"snapshot"` (else `"update"`).
    pub snapshot: bool,
    pub bids: Vec<(&'t str, &'t str)>,
    /// The `offer` side.
    pub asks: Vec<(&'t str, &'t str)>,
}

/// One slot of an `l2_data` frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Level2Entry<'t> {
    Ok(Level2Event<'t>),
    /// A malformed event of a tracked product: that book can no longer be trusted.
    Bad {
        product_id: String,
        error: String,
    },
    /// An event that is not an object or names no tracked product: lost by itself.
    Lost(String),
}

/// A trade's `side` as the venue writes it, `"BUY"` or `"SELL"`: whose side it is, maker
/// or taker, is the adapter's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// One trade of `market_trades`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade<'t> {
    pub product_id: &'t str,
    pub trade_id: &'t str,
    pub price: &'t str,
    pub size: &'t str,
    pub side: Side,
    pub time: Option<i64>,
}

/// One event of `market_trades`.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeEvent<'t> {
    /// `type` is `"snapshot"`.
    pub snapshot: bool,
    pub trades: Vec<ItemResult<Trade<'t>>>,
}

/// One ticker of a `ticker` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticker<'t> {
    pub product_id: &'t str,
    pub best_bid: &'t str,
    pub best_bid_quantity: &'t str,
    pub best_ask: &'t str,
    pub best_ask_quantity: &'t str,
    pub price: Option<&'t str>,
    pub volume_24_h: Option<&'t str>,
    pub low_24_h: Option<&'t str>,
    pub high_24_h: Option<&'t str>,
    pub price_percent_chg_24_h: Option<&'t str>,
}

/// One candle of a `candles` event. `start` (seconds since the epoch) is a checked integer
/// text of any length, as the general path took it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candle<'t> {
    pub product_id: &'t str,
    pub start: &'t str,
    pub open: &'t str,
    pub high: &'t str,
    pub low: &'t str,
    pub close: &'t str,
    pub volume: &'t str,
}

/// The events of a frame, one slot each, in frame order.
#[derive(Debug, Clone, PartialEq)]
pub enum Events<'t> {
    Level2(Vec<Level2Entry<'t>>),
    MarketTrades(Vec<ItemResult<TradeEvent<'t>>>),
    Ticker(Vec<ItemResult<Vec<ItemResult<Ticker<'t>>>>>),
    Candles(Vec<ItemResult<Vec<ItemResult<Candle<'t>>>>>),
}

/// What a frame holds past its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Body<'t> {
    /// The frame's `timestamp` in ns; `None` when absent or null, and for `market_trades`,
    /// whose trades carry their own `time` (the adapter never read that frame's).
    pub timestamp: Option<i64>,
    pub events: Events<'t>,
}

/// A decoded market-data frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'t> {
    pub channel: Channel,
    /// The checked `sequence_num` text (`-?[0-9]+`, any length), `None` when absent or null.
    pub sequence_num: Option<&'t str>,
    /// The events, or why the frame is malformed past its sequence number.
    pub body: Result<Body<'t>, String>,
    /// The top-level `sim_send_ns` text the simulators add for latency benches, if any.
    pub stamp: Option<&'t str>,
}

/// The longest trade id taken (in characters), and its alphabet: the adapter keeps ids in
/// memory and hands them to consumers, so only short plain tokens.
const MAX_TRADE_ID: usize = 64;

fn is_trade_id(s: &str) -> bool {
    (1..=MAX_TRADE_ID).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Decodes Coinbase Advanced Trade market-data frames against the precisions of the
/// tracked products.
#[derive(Debug, Default)]
pub struct CoinbaseFrameDecoder {
    precision: PrecisionTable,
}

impl CoinbaseFrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tracks `product_id` with its price and quantity decimals (replacing earlier ones).
    pub fn set_precision(
        &mut self,
        product_id: &str,
        price_precision: i64,
        qty_precision: i64,
    ) -> Result<(), CoreError> {
        self.precision
            .set(product_id, price_precision, qty_precision)
    }

    /// The decimals of a tracked product.
    pub fn precision(&self, product_id: &str) -> Option<(u8, u8)> {
        self.precision.get(product_id)
    }

    /// Reads one frame parsed with [`parse_tree_finite`]: `Ok(None)` when it is not a
    /// market-data frame; an error when it is not an object or its `sequence_num` is not an
    /// integer (the general path says why as it always did). The items borrow their texts
    /// from `msg`.
    pub fn decode<'t>(&self, msg: &'t Json<'_>) -> Result<Option<Frame<'t>>, CoreError> {
        if !matches!(msg, Json::Obj(_)) {
            return Err(CoreError::Value("frame is not a JSON object".to_owned()));
        }
        let channel = match msg.get("channel") {
            Some(Json::Str(c)) => match c.as_ref() {
                "l2_data" => Channel::Level2,
                "market_trades" => Channel::MarketTrades,
                "ticker" => Channel::Ticker,
                "candles" => Channel::Candles,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let sequence_num = match msg.get("sequence_num") {
            None | Some(Json::Null) => None,
            Some(v) => Some(orjson_int(v, "sequence_num").map_err(CoreError::Value)?),
        };
        Ok(Some(Frame {
            channel,
            sequence_num,
            body: self.body(channel, msg),
            stamp: msg.get("sim_send_ns").and_then(Json::text),
        }))
    }

    fn body<'t>(&self, channel: Channel, msg: &'t Json) -> ItemResult<Body<'t>> {
        let Some(Json::Arr(events)) = msg.get("events") else {
            return Err("frame without an events list".to_owned());
        };
        let timestamp = match channel {
            Channel::MarketTrades => None,
            _ => timestamp(msg.get("timestamp"), "timestamp")?,
        };
        let events = match channel {
            Channel::Level2 => Events::Level2(events.iter().map(|e| self.level2(e)).collect()),
            Channel::MarketTrades => {
                Events::MarketTrades(events.iter().map(|e| self.trade_event(e)).collect())
            }
            Channel::Ticker => Events::Ticker(
                events
                    .iter()
                    .map(|e| Ok(items(e, "tickers")?.map(|t| self.ticker(t)).collect()))
                    .collect(),
            ),
            Channel::Candles => Events::Candles(
                events
                    .iter()
                    .map(|e| Ok(items(e, "candles")?.map(|c| self.candle(c)).collect()))
                    .collect(),
            ),
        };
        Ok(Body { timestamp, events })
    }

    /// The product of an item and its decimals, or why the item names no tracked product.
    fn product_of<'t>(&self, item: &'t Json, what: &str) -> ItemResult<(&'t str, u8, u8)> {
        let raw = item.get("product_id");
        if let Some(Json::Str(product)) = raw {
            if let Some((p, q)) = self.precision.get(product.as_ref()) {
                return Ok((product, p, q));
            }
        }
        let shown = raw.map_or_else(|| "None".to_owned(), Json::describe);
        Err(format!("{what} for an unsubscribed symbol {shown}"))
    }

    fn level2<'t>(&self, event: &'t Json) -> Level2Entry<'t> {
        if !matches!(event, Json::Obj(_)) {
            return Level2Entry::Lost("level2 event is not an object".to_owned());
        }
        let product_id = match self.product_of(event, "level2") {
            Ok((product_id, _, _)) => product_id,
            Err(e) => return Level2Entry::Lost(e),
        };
        let checked = || -> ItemResult<Level2Event<'t>> {
            let snapshot = match event.get("type") {
                Some(Json::Str(t)) if t == "snapshot" => true,
                Some(Json::Str(t)) if t == "update" => false,
                other => {
                    let shown = other.map_or_else(|| "None".to_owned(), Json::describe);
                    return Err(format!("level2 event type {shown}"));
                }
            };
            let (bids, asks) = levels(event.get("updates"))?;
            Ok(Level2Event {
                product_id,
                snapshot,
                bids,
                asks,
            })
        };
        match checked() {
            Ok(event) => Level2Entry::Ok(event),
            Err(error) => Level2Entry::Bad {
                product_id: product_id.to_owned(),
                error,
            },
        }
    }

    fn trade_event<'t>(&self, event: &'t Json) -> ItemResult<TradeEvent<'t>> {
        let trades = items(event, "trades")?;
        Ok(TradeEvent {
            snapshot: matches!(event.get("type"), Some(Json::Str(t)) if t == "snapshot"),
            trades: trades.map(|t| self.trade(t)).collect(),
        })
    }

    fn trade<'t>(&self, t: &'t Json) -> ItemResult<Trade<'t>> {
        let (product_id, pp, qp) = self.product_of(t, "trade")?;
        let trade_id = match required(t, "trade_id")? {
            Json::Str(id) if is_trade_id(id) => id.as_ref(),
            other => return Err(format!("trade_id {}", other.describe())),
        };
        let time = timestamp(t.get("time"), "time")?;
        let price = quoted_decimal(required(t, "price")?, "price", Some(pp), true)?;
        let size = quoted_decimal(required(t, "size")?, "size", Some(qp), true)?;
        let side = match required(t, "side")? {
            Json::Str(s) if s == "BUY" => Side::Buy,
            Json::Str(s) if s == "SELL" => Side::Sell,
            other => return Err(format!("trade side {}", other.describe())),
        };
        Ok(Trade {
            product_id,
            trade_id,
            price,
            size,
            side,
            time,
        })
    }

    fn ticker<'t>(&self, t: &'t Json) -> ItemResult<Ticker<'t>> {
        let (product_id, pp, qp) = self.product_of(t, "ticker")?;
        let req = |key: &str, places: Option<u8>, positive: bool| {
            quoted_decimal(required(t, key)?, key, places, positive)
        };
        let opt = |key: &str| optional_quoted(t.get(key), key, None, false);
        Ok(Ticker {
            product_id,
            best_bid: req("best_bid", Some(pp), true)?,
            best_bid_quantity: req("best_bid_quantity", Some(qp), false)?,
            best_ask: req("best_ask", Some(pp), true)?,
            best_ask_quantity: req("best_ask_quantity", Some(qp), false)?,
            price: optional_quoted(t.get("price"), "price", Some(pp), true)?,
            volume_24_h: opt("volume_24_h")?,
            low_24_h: opt("low_24_h")?,
            high_24_h: opt("high_24_h")?,
            price_percent_chg_24_h: match t.get("price_percent_chg_24_h") {
                None | Some(Json::Null) => None,
                Some(v) => Some(quoted_signed(v, "price_percent_chg_24_h")?),
            },
        })
    }

    fn candle<'t>(&self, c: &'t Json) -> ItemResult<Candle<'t>> {
        let (product_id, _, _) = self.product_of(c, "candle")?;
        let start = orjson_int(required(c, "start")?, "candle start")?;
        let field = |key: &str| quoted_decimal(required(c, key)?, key, None, false);
        Ok(Candle {
            product_id,
            start,
            open: field("open")?,
            high: field("high")?,
            low: field("low")?,
            close: field("close")?,
            volume: field("volume")?,
        })
    }
}

/// The items of an event's `key` list; an event that is not an object holding a list of
/// objects is malformed as a whole.
fn items<'t, 'a>(event: &'t Json<'a>, key: &str) -> ItemResult<impl Iterator<Item = &'t Json<'a>>> {
    if !matches!(event, Json::Obj(_)) {
        return Err("event is not an object".to_owned());
    }
    match event.get(key) {
        Some(Json::Arr(list)) if list.iter().all(|i| matches!(i, Json::Obj(_))) => Ok(list.iter()),
        _ => Err(format!("event without a list of {key}")),
    }
}

type Levels<'t> = Vec<(&'t str, &'t str)>;

/// level2 `updates` → (bids, asks): each `{"side": "bid"|"offer", "price_level": "n",
/// "new_quantity": "n"}`, quoted decimals (the book's precision is the assembler's check).
fn levels<'t>(raw: Option<&'t Json>) -> ItemResult<(Levels<'t>, Levels<'t>)> {
    let Some(Json::Arr(updates)) = raw else {
        return Err("level2 event without an updates list".to_owned());
    };
    let (mut bids, mut asks) = (Vec::new(), Vec::new());
    for u in updates {
        if !matches!(u, Json::Obj(_)) {
            return Err("level2 update is not an object".to_owned());
        }
        // An absent value reads as null, as `dict.get` gave it to the Python check.
        let value = |key: &str| {
            let v = u.get(key).unwrap_or(&Json::Null);
            quoted_decimal(v, key, None, false)
        };
        let level = (value("price_level")?, value("new_quantity")?);
        match u.get("side") {
            Some(Json::Str(s)) if s == "bid" => bids.push(level),
            Some(Json::Str(s)) if s == "offer" => asks.push(level),
            other => {
                let shown = other.map_or_else(|| "None".to_owned(), Json::describe);
                return Err(format!("level2 side {shown}"));
            }
        }
    }
    Ok((bids, asks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> CoinbaseFrameDecoder {
        let mut d = CoinbaseFrameDecoder::new();
        d.set_precision("BTC-USD", 2, 8).unwrap();
        d.set_precision("ETH-USD", 2, 4).unwrap();
        d
    }

    /// Parses and decodes with `d`; the document and its tree live as long as the test
    /// (leaked: a few kilobytes per test run).
    fn decode_with(d: &CoinbaseFrameDecoder, s: &str) -> Result<Option<Frame<'static>>, CoreError> {
        let doc: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let tree: &'static Json<'static> = Box::leak(Box::new(parse_tree_finite(doc.as_bytes())?));
        d.decode(tree)
    }

    fn frame(s: &str) -> Frame<'static> {
        decode_with(&decoder(), s).unwrap().unwrap()
    }

    fn envelope(channel: &str, events: &str) -> String {
        format!(
            r#"{{"channel":"{channel}","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z",
            "sequence_num":7,"events":{events}}}"#
        )
    }

    fn events(s: &str) -> Events<'static> {
        frame(s).body.unwrap().events
    }

    /// Tokens no quoted price or quantity may be taken with (JSON as written).
    const HOSTILE: [&str; 16] = [
        r#""-1""#,
        r#""0""#,
        r#""1e5""#,
        r#""10000000000000000000000000000000000000000""#,
        r#""0.111111111111111111111111111111""#,
        "null",
        r#"{"a":"1"}"#,
        r#"["1"]"#,
        "true",
        r#""NaN""#,
        r#""1.2.3""#,
        r#""\uff11""#,
        r#""""#,
        "12.5",
        "7",
        "1e5",
    ];

    /// The [`HOSTILE`] tokens a decimal without a places or positive rule takes (level2
    /// values, whose precision is the assembler's check, and candle values).
    const UNBOUNDED_OK: [&str; 2] = [r#""0""#, r#""0.111111111111111111111111111111""#];

    // ---- level2 ----

    fn level2(events_json: &str) -> Vec<Level2Entry<'static>> {
        match events(&envelope("l2_data", events_json)) {
            Events::Level2(entries) => entries,
            other => panic!("not level2: {other:?}"),
        }
    }

    fn update(side: &str, price: &str, qty: &str) -> String {
        format!(
            r#"{{"side":{side},"event_time":"2023-02-09T20:19:35.39625135Z","price_level":{price},
            "new_quantity":{qty}}}"#
        )
    }

    fn one_level(side: &str, price: &str, qty: &str) -> Level2Entry<'static> {
        let u = update(side, price, qty);
        level2(&format!(
            r#"[{{"type":"update","product_id":"BTC-USD","updates":[{u}]}}]"#
        ))
        .remove(0)
    }

    #[test]
    fn level2_events_keep_their_texts_in_frame_order() {
        let f = frame(&envelope(
            "l2_data",
            &format!(
                r#"[{{"type":"snapshot","product_id":"BTC-USD","updates":[{},{},{},{}]}},
                {{"type":"update","product_id":"ETH-USD","updates":[]}}]"#,
                update(r#""offer""#, r#""101.00""#, r#""1""#),
                update(r#""bid""#, r#""99.50""#, r#""2""#),
                update(r#""offer""#, r#""100.5""#, r#""0.50000000""#),
                update(r#""bid""#, r#""100.001""#, r#""0""#),
            ),
        ));
        assert_eq!(f.channel, Channel::Level2);
        assert_eq!(f.sequence_num, Some("7"));
        let body = f.body.unwrap();
        assert_eq!(body.timestamp, Some(1_675_973_975_396_251_350));
        assert_eq!(
            body.events,
            Events::Level2(vec![
                Level2Entry::Ok(Level2Event {
                    product_id: "BTC-USD",
                    snapshot: true,
                    // Zero quantities delete; decimals beyond the book's are the
                    // assembler's to refuse, as before.
                    bids: vec![("99.50", "2"), ("100.001", "0")],
                    asks: vec![("101.00", "1"), ("100.5", "0.50000000")],
                }),
                Level2Entry::Ok(Level2Event {
                    product_id: "ETH-USD",
                    snapshot: false,
                    bids: vec![],
                    asks: vec![],
                }),
            ])
        );
    }

    #[test]
    fn a_malformed_level2_event_is_its_books_loss() {
        let bad = |events_json: &str| match level2(events_json).remove(0) {
            Level2Entry::Bad { product_id, error } => {
                assert_eq!(product_id, "BTC-USD");
                error
            }
            other => panic!("{events_json}: {other:?}"),
        };
        for (event, why) in [
            (
                r#"{"type":"nope","updates":[]}"#,
                "level2 event type \"nope\"",
            ),
            (r#"{"updates":[]}"#, "level2 event type None"),
            (r#"{"type":"SNAPSHOT","updates":[]}"#, "level2 event type"),
            (r#"{"type":7,"updates":[]}"#, "level2 event type \"7\""),
            (r#"{"type":"update"}"#, "without an updates list"),
            (
                r#"{"type":"update","updates":{}}"#,
                "without an updates list",
            ),
            (
                r#"{"type":"update","updates":null}"#,
                "without an updates list",
            ),
            (
                r#"{"type":"update","updates":[["bid","1","1"]]}"#,
                "update is not an object",
            ),
            (
                r#"{"type":"update","updates":[null]}"#,
                "update is not an object",
            ),
            (
                r#"{"type":"update","updates":[{"side":"bid","new_quantity":"1"}]}"#,
                "price_level is not a decimal string: None",
            ),
            (
                r#"{"type":"update","updates":[{"side":"bid","price_level":"1"}]}"#,
                "new_quantity is not a decimal string: None",
            ),
        ] {
            let event = event.replacen('{', r#"{"product_id":"BTC-USD","#, 1);
            let err = bad(&format!("[{event}]"));
            assert!(err.contains(why), "{event}: {err}");
        }
        for side in [r#""ask""#, r#""BID""#, r#""buy""#, "null", "1", "[]"] {
            let Level2Entry::Bad { error, .. } = one_level(side, r#""1""#, r#""1""#) else {
                panic!("{side}")
            };
            assert!(error.starts_with("level2 side"), "{side}: {error}");
        }
        assert!(matches!(
            one_level(r#""bid""#, r#""1""#, r#""1""#),
            Level2Entry::Ok(_)
        ));
    }

    #[test]
    fn hostile_level_values_are_refused() {
        for bad in HOSTILE.iter().filter(|&&t| !UNBOUNDED_OK.contains(&t)) {
            for (price, qty, field) in [
                (*bad, r#""1""#, "price_level"),
                (r#""1""#, *bad, "new_quantity"),
            ] {
                match one_level(r#""bid""#, price, qty) {
                    Level2Entry::Bad { error, .. } => {
                        assert!(error.starts_with(field), "{bad}: {error}")
                    }
                    other => panic!("{bad}: {other:?}"),
                }
            }
        }
        // Zero is a deletion (the adapter never required level2 values positive), decimals
        // beyond the book's are the assembler's to refuse, and the side is only read once
        // the values passed.
        for ok in UNBOUNDED_OK {
            assert!(matches!(
                one_level(r#""offer""#, ok, ok),
                Level2Entry::Ok(_)
            ));
        }
        assert!(matches!(
            one_level("null", "null", r#""1""#),
            Level2Entry::Bad { error, .. } if error.starts_with("price_level")
        ));
    }

    #[test]
    fn level2_events_of_no_tracked_product_are_lost_alone() {
        let entries = level2(
            r#"[{"type":"update","product_id":"DOGE-USD","updates":[]},
            {"type":"update","updates":[]},
            {"type":"update","product_id":null,"updates":[]},
            {"type":"update","product_id":["BTC-USD"],"updates":[]},
            7, null, [],
            {"type":"update","product_id":"BTC-USD","updates":[]}]"#,
        );
        let lost: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                Level2Entry::Lost(why) => Some(why.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            lost,
            [
                "level2 for an unsubscribed symbol \"DOGE-USD\"",
                "level2 for an unsubscribed symbol None",
                "level2 for an unsubscribed symbol None",
                "level2 for an unsubscribed symbol a list",
                "level2 event is not an object",
                "level2 event is not an object",
                "level2 event is not an object",
            ]
        );
        assert!(matches!(entries[7], Level2Entry::Ok(_)));
    }

    // ---- market_trades ----

    fn trade_events(events_json: &str) -> Vec<ItemResult<TradeEvent<'static>>> {
        match events(&envelope("market_trades", events_json)) {
            Events::MarketTrades(events) => events,
            other => panic!("not trades: {other:?}"),
        }
    }

    /// One trade with `field` replaced by the raw JSON `value` (or removed when None).
    fn trade_with(field: &str, value: Option<&str>) -> ItemResult<Trade<'static>> {
        let mut fields = vec![
            ("trade_id", r#""000000000""#),
            ("product_id", r#""ETH-USD""#),
            ("price", r#""1260.01""#),
            ("size", r#""0.3000""#),
            ("side", r#""BUY""#),
            ("time", r#""2019-08-14T20:42:27.265Z""#),
        ];
        fields.retain(|(k, _)| *k != field);
        if let Some(v) = value {
            fields.push((field, v));
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let events = format!(r#"[{{"type":"update","trades":[{{{}}}]}}]"#, body.join(","));
        let mut events = trade_events(&events);
        events.remove(0).unwrap().trades.remove(0)
    }

    #[test]
    fn trades_keep_their_texts() {
        assert_eq!(
            trade_with("none", None).unwrap(),
            Trade {
                product_id: "ETH-USD",
                trade_id: "000000000",
                price: "1260.01",
                size: "0.3000",
                side: Side::Buy,
                time: Some(1_565_815_347_265_000_000),
            }
        );
        assert_eq!(trade_with("time", None).unwrap().time, None);
        assert_eq!(trade_with("time", Some("null")).unwrap().time, None);
        assert_eq!(
            trade_with("side", Some(r#""SELL""#)).unwrap().side,
            Side::Sell
        );
        let long = format!("\"{}\"", "a-Z9".repeat(16));
        assert_eq!(
            trade_with("trade_id", Some(&long)).unwrap().trade_id.len(),
            64
        );
        // The frame's own timestamp is not read for trades (each has its time).
        let f = frame(
            r#"{"channel":"market_trades","timestamp":"garbage","sequence_num":"0","events":[]}"#,
        );
        assert_eq!(f.sequence_num, Some("0"));
        assert_eq!(f.body.unwrap().timestamp, None);
    }

    #[test]
    fn malformed_trades_are_refused_one_by_one() {
        let too_long = format!("\"{}\"", "1".repeat(65));
        for (field, value, why) in [
            (
                "product_id",
                Some(r#""DOGE-USD""#),
                "trade for an unsubscribed symbol \"DOGE-USD\"",
            ),
            ("product_id", None, "trade for an unsubscribed symbol None"),
            (
                "product_id",
                Some("5"),
                "trade for an unsubscribed symbol \"5\"",
            ),
            ("trade_id", None, "trade_id is missing"),
            ("trade_id", Some("5"), "trade_id \"5\""),
            ("trade_id", Some(r#""""#), "trade_id \"\""),
            ("trade_id", Some(r#""a b""#), "trade_id \"a b\""),
            ("trade_id", Some(r#""1_000""#), "trade_id"),
            ("trade_id", Some(r#""\u0661""#), "trade_id"),
            ("trade_id", Some(too_long.as_str()), "trade_id"),
            ("trade_id", Some("null"), "trade_id None"),
            ("time", Some("7"), "time is not a string"),
            ("time", Some(r#""2019-02-30T00:00:00Z""#), "bad time"),
            ("time", Some(r#""yesterday""#), "bad time"),
            ("time", Some(r#""2019-08-14 20:42:27Z""#), "bad time"),
            ("price", None, "price is missing"),
            (
                "price",
                Some(r#""1260.001""#),
                "price has more than 2 decimals",
            ),
            ("price", Some(r#""0.00""#), "price is zero"),
            (
                "size",
                Some(r#""0.00001""#),
                "size has more than 4 decimals",
            ),
            ("size", Some(r#""0""#), "size is zero"),
            ("size", Some("0.3"), "size is not a decimal string"),
            ("side", None, "side is missing"),
            ("side", Some(r#""buy""#), "trade side \"buy\""),
            ("side", Some("null"), "trade side None"),
        ] {
            let err = trade_with(field, value).unwrap_err();
            assert!(err.contains(why), "{field}={value:?}: {err}");
        }
        for bad in HOSTILE {
            for field in ["price", "size"] {
                let err = trade_with(field, Some(bad)).unwrap_err();
                assert!(err.starts_with(field), "{field}={bad}: {err}");
            }
        }
    }

    #[test]
    fn trade_events_keep_their_type_and_a_bad_event_its_place() {
        let events = trade_events(
            r#"[{"type":"snapshot","trades":[]},
            {"type":"update","trades":[{"product_id":"BTC-USD"}]},
            {"trades":[]},
            {"type":"snapshot","trades":[7]},
            {"type":"snapshot","trades":{}},
            {"type":"snapshot"},
            "snapshot",
            {"type":"snapshot","trades":[{"trade_id":"1","product_id":"BTC-USD","price":"1",
            "size":"1","side":"SELL"}]}]"#,
        );
        assert!(events[0].as_ref().unwrap().snapshot);
        let second = events[1].as_ref().unwrap();
        assert!(!second.snapshot);
        assert_eq!(
            second.trades[0].as_ref().unwrap_err(),
            "trade_id is missing"
        );
        assert!(!events[2].as_ref().unwrap().snapshot);
        for (i, why) in [
            (3, "event without a list of trades"),
            (4, "event without a list of trades"),
            (5, "event without a list of trades"),
            (6, "event is not an object"),
        ] {
            assert_eq!(events[i].as_ref().unwrap_err(), why);
        }
        assert!(events[7].as_ref().unwrap().trades[0].is_ok());
    }

    // ---- ticker ----

    const TICKER: &str = r#""type":"ticker","product_id":"BTC-USD","price":"21932.98",
        "volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18",
        "low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603",
        "best_bid":"21931.98","best_bid_quantity":"8000.21000000","best_ask":"21933.98",
        "best_ask_quantity":"8038.07770456""#;

    fn ticker(body: &str) -> ItemResult<Ticker<'static>> {
        let events_json = format!(r#"[{{"type":"snapshot","tickers":[{{{body}}}]}}]"#);
        match events(&envelope("ticker", &events_json)) {
            Events::Ticker(mut events) => events.remove(0).unwrap().remove(0),
            other => panic!("not tickers: {other:?}"),
        }
    }

    /// [`TICKER`] without `key`, plus `extra` fields.
    fn ticker_with(key: &str, extra: &str) -> ItemResult<Ticker<'static>> {
        let kept: Vec<&str> = TICKER
            .split(',')
            .filter(|f| !f.trim().starts_with(&format!("\"{key}\"")))
            .collect();
        let body = kept.join(",");
        ticker(&if extra.is_empty() {
            body
        } else {
            format!("{body},{extra}")
        })
    }

    #[test]
    fn tickers_keep_their_texts() {
        let t = ticker(TICKER).unwrap();
        assert_eq!(
            t,
            Ticker {
                product_id: "BTC-USD",
                best_bid: "21931.98",
                best_bid_quantity: "8000.21000000",
                best_ask: "21933.98",
                best_ask_quantity: "8038.07770456",
                price: Some("21932.98"),
                volume_24_h: Some("16038.28770938"),
                low_24_h: Some("21835.29"),
                high_24_h: Some("23011.18"),
                price_percent_chg_24_h: Some("-4.15775596190603"),
            }
        );
        let bare = ticker(
            r#""product_id":"BTC-USD","best_bid":"1","best_bid_quantity":"0","best_ask":"2",
            "best_ask_quantity":"0.00000000","price":null,"price_percent_chg_24_h":null"#,
        )
        .unwrap();
        assert_eq!(
            (bare.price, bare.volume_24_h, bare.low_24_h),
            (None, None, None)
        );
        assert_eq!((bare.high_24_h, bare.price_percent_chg_24_h), (None, None));
        // Quantities may be zero; no places check on the 24 h figures, any sign on the change.
        assert_eq!(bare.best_bid_quantity, "0");
        let t = ticker_with("low_24_h", r#""low_24_h":"0.123456789""#).unwrap();
        assert_eq!(t.low_24_h, Some("0.123456789"));
        let t = ticker_with(
            "price_percent_chg_24_h",
            r#""price_percent_chg_24_h":"4.1""#,
        );
        assert_eq!(t.unwrap().price_percent_chg_24_h, Some("4.1"));
    }

    #[test]
    fn malformed_tickers_are_refused() {
        for (key, extra, why) in [
            ("best_bid", "", "best_bid is missing"),
            ("best_ask_quantity", "", "best_ask_quantity is missing"),
            ("best_bid", r#""best_bid":"0""#, "best_bid is zero"),
            (
                "best_ask",
                r#""best_ask":"1.001""#,
                "best_ask has more than 2 decimals",
            ),
            (
                "best_ask",
                r#""best_ask":21933.98"#,
                "best_ask is not a decimal string",
            ),
            (
                "best_bid_quantity",
                r#""best_bid_quantity":"1.000000001""#,
                "more than 8",
            ),
            ("price", r#""price":"0""#, "price is zero"),
            (
                "price",
                r#""price":"1.001""#,
                "price has more than 2 decimals",
            ),
            ("price", r#""price":1"#, "price is not a decimal string"),
            (
                "volume_24_h",
                r#""volume_24_h":"-1""#,
                "volume_24_h is not a decimal",
            ),
            (
                "high_24_h",
                r#""high_24_h":23011.18"#,
                "high_24_h is not a decimal string",
            ),
            (
                "low_24_h",
                r#""low_24_h":false"#,
                "low_24_h is not a decimal string",
            ),
            (
                "price_percent_chg_24_h",
                r#""price_percent_chg_24_h":"--4""#,
                "not a decimal",
            ),
            (
                "price_percent_chg_24_h",
                r#""price_percent_chg_24_h":-4.1"#,
                "not a decimal string",
            ),
            (
                "price_percent_chg_24_h",
                r#""price_percent_chg_24_h":"-""#,
                "not a decimal",
            ),
            (
                "product_id",
                r#""product_id":"DOGE-USD""#,
                "ticker for an unsubscribed symbol",
            ),
            ("product_id", "", "ticker for an unsubscribed symbol None"),
        ] {
            let err = ticker_with(key, extra).unwrap_err();
            assert!(err.contains(why), "{key} {extra}: {err}");
        }
        for bad in HOSTILE {
            for key in ["best_bid", "best_ask", "price"] {
                let err = ticker_with(key, &format!(r#""{key}":{bad}"#));
                if key == "price" && bad == "null" {
                    assert_eq!(err.unwrap().price, None); // an optional field
                    continue;
                }
                assert!(err.unwrap_err().starts_with(key), "{key}={bad}");
            }
        }
    }

    #[test]
    fn ticker_events_must_hold_lists_of_objects() {
        let Events::Ticker(events) = events(&envelope(
            "ticker",
            r#"[{"type":"update","tickers":[]},{"tickers":"no"},{"tickers":[1]},null,
            {"tickers":[{"product_id":"BTC-USD"},{"product_id":"DOGE-USD"}]}]"#,
        )) else {
            panic!()
        };
        assert_eq!(events[0], Ok(vec![]));
        assert_eq!(
            events[1].as_ref().unwrap_err(),
            "event without a list of tickers"
        );
        assert_eq!(
            events[2].as_ref().unwrap_err(),
            "event without a list of tickers"
        );
        assert_eq!(events[3].as_ref().unwrap_err(), "event is not an object");
        let items = events[4].as_ref().unwrap();
        assert_eq!(items[0].as_ref().unwrap_err(), "best_bid is missing");
        assert!(items[1].as_ref().unwrap_err().contains("unsubscribed"));
    }

    // ---- candles ----

    fn candle(body: &str) -> ItemResult<Candle<'static>> {
        let events_json = format!(r#"[{{"type":"update","candles":[{{{body}}}]}}]"#);
        match events(&envelope("candles", &events_json)) {
            Events::Candles(mut events) => events.remove(0).unwrap().remove(0),
            other => panic!("not candles: {other:?}"),
        }
    }

    const CANDLE: &str = r#""start":"1688998200","high":"1867.72","low":"1865.63",
        "open":"1867.38","close":"1866.81","volume":"0.20269406","product_id":"ETH-USD""#;

    #[test]
    fn candles_keep_their_texts() {
        assert_eq!(
            candle(CANDLE).unwrap(),
            Candle {
                product_id: "ETH-USD",
                start: "1688998200",
                open: "1867.38",
                high: "1867.72",
                low: "1865.63",
                close: "1866.81",
                volume: "0.20269406",
            }
        );
        // No places check on candle prices (ETH-USD has 2), zero taken; `start` as orjson
        // and as_int took it: a JSON integer in orjson's range, or digits of any length.
        let c = CANDLE.replace(r#""open":"1867.38""#, r#""open":"0.000001""#);
        assert_eq!(candle(&c).unwrap().open, "0.000001");
        let c = CANDLE.replace(r#""volume":"0.20269406""#, r#""volume":"0""#);
        assert_eq!(candle(&c).unwrap().volume, "0");
        for (start, text) in [
            ("1688998200", "1688998200"),
            ("-5", "-5"),
            ("18446744073709551615", "18446744073709551615"),
            (
                r#""123456789012345678901234567890""#,
                "123456789012345678901234567890",
            ),
        ] {
            let c = CANDLE.replace(r#""start":"1688998200""#, &format!(r#""start":{start}"#));
            assert_eq!(candle(&c).unwrap().start, text);
        }
    }

    #[test]
    fn malformed_candles_are_refused() {
        for (from, to, why) in [
            (r#""start":"1688998200","#, "", "start is missing"),
            (
                r#""start":"1688998200""#,
                r#""start":"1688998200.5""#,
                "candle start is not an integer",
            ),
            (
                r#""start":"1688998200""#,
                r#""start":1688998200.0"#,
                "candle start is not an integer",
            ),
            (
                r#""start":"1688998200""#,
                r#""start":null"#,
                "candle start is not an integer",
            ),
            (
                r#""start":"1688998200""#,
                r#""start":"2023-07-10T14:10:00Z""#,
                "candle start",
            ),
            (
                r#""start":"1688998200""#,
                r#""start":18446744073709551616"#,
                "candle start",
            ),
            (
                r#""close":"1866.81""#,
                r#""close":1866.81"#,
                "close is not a decimal string",
            ),
            (r#""high":"1867.72","#, "", "high is missing"),
            (
                r#""low":"1865.63""#,
                r#""low":"-1""#,
                "low is not a decimal",
            ),
            (
                r#","product_id":"ETH-USD""#,
                "",
                "candle for an unsubscribed symbol None",
            ),
        ] {
            let body = CANDLE.replace(from, to);
            assert_ne!(body, CANDLE, "{from}");
            let err = candle(&body).unwrap_err();
            assert!(err.contains(why), "{to}: {err}");
        }
        for bad in HOSTILE.iter().filter(|&&t| !UNBOUNDED_OK.contains(&t)) {
            for key in ["open", "high", "low", "close", "volume"] {
                let from = CANDLE
                    .split(',')
                    .find(|f| f.trim().starts_with(&format!("\"{key}\"")))
                    .unwrap();
                let body = CANDLE.replace(from, &format!(r#""{key}":{bad}"#));
                let err = candle(&body).unwrap_err();
                assert!(err.starts_with(key), "{key}={bad}: {err}");
            }
        }
    }

    // ---- frames ----

    #[test]
    fn the_frame_past_its_sequence_number() {
        let body = |s: &str| frame(s).body;
        assert_eq!(
            body(r#"{"channel":"l2_data","sequence_num":1}"#),
            Err("frame without an events list".to_owned())
        );
        assert_eq!(
            body(r#"{"channel":"ticker","events":{},"timestamp":"x"}"#),
            Err("frame without an events list".to_owned())
        );
        for (ts, why) in [
            (r#""2023-02-30T00:00:00Z""#, "bad timestamp"),
            (r#""2023-02-09 20:19:35Z""#, "bad timestamp"),
            (r#""""#, "bad timestamp"),
            ("1675973975", "timestamp is not a string"),
            ("{}", "timestamp is not a string"),
        ] {
            for channel in ["l2_data", "ticker", "candles"] {
                let s = format!(r#"{{"channel":"{channel}","timestamp":{ts},"events":[]}}"#);
                assert!(body(&s).unwrap_err().starts_with(why), "{s}");
            }
        }
        let ok = body(r#"{"channel":"candles","timestamp":null,"events":[]}"#).unwrap();
        assert_eq!((ok.timestamp, ok.events), (None, Events::Candles(vec![])));
        let ok =
            body(r#"{"channel":"ticker","timestamp":"2023-02-09T20:19:35+01:00","events":[]}"#);
        assert_eq!(ok.unwrap().timestamp, Some(1_675_970_375_000_000_000));
    }

    #[test]
    fn sequence_numbers_as_the_general_path_reads_them() {
        let d = decoder();
        for (seq, want) in [
            ("0", Some("0")),
            ("-3", Some("-3")),
            (r#""42""#, Some("42")),
            ("18446744073709551615", Some("18446744073709551615")),
            (
                r#""184467440737095516150000""#,
                Some("184467440737095516150000"),
            ),
            ("null", None),
        ] {
            let s = format!(r#"{{"channel":"l2_data","sequence_num":{seq},"events":[]}}"#);
            assert_eq!(
                decode_with(&d, &s).unwrap().unwrap().sequence_num,
                want,
                "{seq}"
            );
        }
        let s = r#"{"channel":"candles","events":[]}"#;
        assert_eq!(decode_with(&d, s).unwrap().unwrap().sequence_num, None);
        for seq in [
            "1.0",
            "1e3",
            "18446744073709551616",
            "-9223372036854775809",
            "true",
            "[]",
            r#""x""#,
            r#""1.5""#,
            r#""""#,
        ] {
            let s = format!(r#"{{"channel":"ticker","sequence_num":{seq},"events":[]}}"#);
            let err = decode_with(&d, &s).unwrap_err().to_string();
            assert!(
                err.starts_with("sequence_num is not an integer"),
                "{seq}: {err}"
            );
        }
    }

    #[test]
    fn malformed_frames_and_other_channels() {
        let d = decoder();
        for (bad, why) in [
            ("{not json", "not JSON"),
            ("", "not JSON"),
            (r#"{"channel":"l2_data","events":[1e400]}"#, "not JSON"),
            (r#"{"channel":"heartbeats","x":-1e309}"#, "not JSON"),
            ("[1,2]", "frame is not a JSON object"),
            (r#""l2_data""#, "frame is not a JSON object"),
            ("null", "frame is not a JSON object"),
        ] {
            let err = decode_with(&d, bad).unwrap_err().to_string();
            assert!(err.starts_with(why), "{bad}: {err}");
        }
        let deep = format!(
            r#"{{"channel":"l2_data","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(decode_with(&d, &deep).is_err());
        for other in [
            r#"{"channel":"heartbeats","sequence_num":"x","events":7}"#,
            r#"{"channel":"subscriptions","events":[]}"#,
            r#"{"channel":"status","events":[]}"#,
            r#"{"channel":"ticker_batch","events":[]}"#,
            r#"{"channel":"level2","events":[]}"#,
            r#"{"type":"error","message":"failure"}"#,
            r#"{"channel":null,"events":[]}"#,
            r#"{"channel":5,"events":[]}"#,
            r#"{"hello":1}"#,
        ] {
            assert_eq!(decode_with(&d, other).unwrap(), None, "{other}");
        }
        let f = frame(r#"{"channel":"ticker","events":[],"sim_send_ns":1700000000123456789}"#);
        assert_eq!(
            (f.channel.name(), f.stamp),
            ("ticker", Some("1700000000123456789"))
        );
        assert_eq!(f.body.unwrap().events, Events::Ticker(vec![]));
    }

    #[test]
    fn precisions_are_checked_and_replaced() {
        let mut d = decoder();
        assert!(d.set_precision("X-Y", -1, 2).is_err());
        assert!(d.set_precision("X-Y", 1, 19).is_err());
        assert_eq!(d.precision("X-Y"), None);
        d.set_precision("BTC-USD", 3, 8).unwrap();
        assert_eq!(d.precision("BTC-USD"), Some((3, 8)));
        let s = r#"{"channel":"market_trades","events":[{"trades":[{"trade_id":"1",
            "product_id":"BTC-USD","price":"1.125","size":"1","side":"BUY"}]}]}"#;
        let f = decode_with(&d, s).unwrap().unwrap();
        let Ok(Body {
            events: Events::MarketTrades(events),
            ..
        }) = f.body
        else {
            panic!()
        };
        assert!(events[0].as_ref().unwrap().trades[0].is_ok());
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_escapes_are_read() {
        let t = trade_with("side", Some(r#""SELL","side":"BUY""#)).unwrap();
        assert_eq!(t.side, Side::Buy);
        let t = trade_with("price", Some(r#""1\u002e5""#)).unwrap();
        assert_eq!(t.price, "1.5");
        let t = trade_with("product_id", Some(r#""ETH\u002dUSD""#)).unwrap();
        assert_eq!(t.product_id, "ETH-USD");
    }
}
