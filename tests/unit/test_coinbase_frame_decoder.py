"""``_core.CoinbaseFrameDecoder``: Coinbase Advanced Trade market-data frames read and checked
natively must come out as the adapter's Python path read them (orjson, then the field
checks of ``providers.base.decode``).

The oracle below is that Python path as it was before the native decoder, written out: the
property tests throw frames of valid, hostile and missing fields at both and compare every
slot, accepted or refused.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradegw._core import CoinbaseFrameDecoder
from tradegw.providers.base import MALFORMED
from tradegw.providers.base.decode import (
    FrameError,
    as_int,
    decimal_text,
    decode,
    signed_decimal_text,
    timestamp_ns,
)

PRECISION = {"BTC-USD": (2, 8), "ETH-USD": (1, 4)}
MARKET = ("l2_data", "market_trades", "ticker", "candles")
ERR = "<refused>"
"""A refusal, in either result: the reasons are worded differently on each side."""
_TRADE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


def _decoder() -> CoinbaseFrameDecoder:
    d = CoinbaseFrameDecoder()
    for product, (pp, qp) in PRECISION.items():
        d.set_precision(product, pp, qp)
    return d


# ---- the oracle: the adapter's checks as they were in Python ----


def _tracked(raw: Any) -> tuple[str, int, int]:
    if not (isinstance(raw, str) and raw in PRECISION):
        raise FrameError(f"unsubscribed symbol {raw!r:.40}")
    return (raw, *PRECISION[raw])


def _list(event: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(event, dict):
        raise FrameError("event is not an object")
    items = event.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FrameError(f"event without a list of {key}")
    return items


def _level2(event: Any) -> Any:
    if not isinstance(event, dict):
        return ERR
    try:
        product, _, _ = _tracked(event.get("product_id"))
    except FrameError:
        return ERR
    kind = event.get("type")
    try:
        if kind not in ("snapshot", "update"):
            raise FrameError("type")
        raw = event.get("updates")
        if not isinstance(raw, list):
            raise FrameError("updates")
        bids, asks = [], []
        for u in raw:
            if not isinstance(u, dict):
                raise FrameError("update")
            side = u.get("side")
            level = (
                decimal_text(u.get("price_level"), "price_level"),
                decimal_text(u.get("new_quantity"), "new_quantity"),
            )
            if side == "bid":
                bids.append(level)
            elif side == "offer":
                asks.append(level)
            else:
                raise FrameError("side")
    except MALFORMED:
        return (product, ERR)
    return (product, kind == "snapshot", bids, asks)


def _trade(t: dict[str, Any]) -> Any:
    product, pp, qp = _tracked(t.get("product_id"))
    trade_id = t["trade_id"]
    if not isinstance(trade_id, str) or not _TRADE_ID.fullmatch(trade_id):
        raise FrameError("trade_id")
    time = timestamp_ns(t.get("time"))
    price = decimal_text(t["price"], "price", places=pp, positive=True)
    size = decimal_text(t["size"], "size", places=qp, positive=True)
    side = t["side"]
    if side not in ("BUY", "SELL"):
        raise FrameError("side")
    return (product, trade_id, price, size, side, time)


def _ticker(t: dict[str, Any]) -> Any:
    product, pp, qp = _tracked(t.get("product_id"))

    def opt(key: str) -> str | None:
        raw = t.get(key)
        return None if raw is None else decimal_text(raw, key)

    return (
        product,
        decimal_text(t["best_bid"], "best_bid", places=pp, positive=True),
        decimal_text(t["best_bid_quantity"], "best_bid_quantity", places=qp),
        decimal_text(t["best_ask"], "best_ask", places=pp, positive=True),
        decimal_text(t["best_ask_quantity"], "best_ask_quantity", places=qp),
        None
        if t.get("price") is None
        else decimal_text(t["price"], "price", places=pp, positive=True),
        opt("volume_24_h"),
        opt("low_24_h"),
        opt("high_24_h"),
        None
        if t.get("price_percent_chg_24_h") is None
        else signed_decimal_text(t["price_percent_chg_24_h"], "change"),
    )


def _candle(c: dict[str, Any]) -> Any:
    product, _, _ = _tracked(c.get("product_id"))
    return (
        product,
        as_int(c["start"], "candle start"),
        *(decimal_text(c[k], k) for k in ("open", "high", "low", "close", "volume")),
    )


def _slot(check: Any, item: Any) -> Any:
    try:
        return check(item)
    except MALFORMED:
        return ERR


def oracle(payload: bytes) -> Any:
    """``(channel, sequence_num, timestamp, events)`` as the Python path read the frame,
    None for another channel; raises FrameError for a frame refused whole."""
    msg = decode(payload)
    if not isinstance(msg, dict):
        raise FrameError("frame is not a JSON object")
    channel = msg.get("channel")
    if not isinstance(channel, str) or channel not in MARKET:
        return None
    seq = msg.get("sequence_num")
    seq = None if seq is None else as_int(seq, "sequence_num")
    events = msg.get("events")
    if not isinstance(events, list):
        return (channel, seq, None, ERR)
    ts = None
    if channel != "market_trades":
        try:
            ts = timestamp_ns(msg.get("timestamp"))
        except FrameError:
            return (channel, seq, None, ERR)
    out: list[Any] = []
    for event in events:
        if channel == "l2_data":
            out.append(_level2(event))
            continue
        key = {"market_trades": "trades", "ticker": "tickers", "candles": "candles"}[channel]
        try:
            items = _list(event, key)
        except FrameError:
            out.append(ERR)
            continue
        check = {"market_trades": _trade, "ticker": _ticker, "candles": _candle}[channel]
        slots = [_slot(check, i) for i in items]
        if channel == "market_trades":
            out.append((isinstance(event, dict) and event.get("type") == "snapshot", slots))
        else:
            out.append(slots)
    return (channel, seq, ts, out)


def native(payload: bytes) -> Any:
    """The native decoder's answer in the oracle's terms: every reason is :data:`ERR`, the
    bench stamp is dropped; ``FrameError`` where it refuses the frame whole."""
    try:
        frame = _decoder().decode(payload)
    except ValueError as e:
        raise FrameError(str(e)) from e
    if frame is None:
        return None
    channel, seq, ts, events, _ = frame
    if isinstance(events, str):
        return (channel, seq, None, ERR)
    out: list[Any] = []
    for event in events:
        if isinstance(event, str):
            out.append(ERR)
        elif channel == "l2_data":
            out.append((event[0], ERR) if len(event) == 2 else event)
        elif channel == "market_trades":
            snapshot, trades = event
            out.append((snapshot, [ERR if isinstance(t, str) else t for t in trades]))
        else:
            out.append([ERR if isinstance(i, str) else i for i in event])
    return (channel, seq, ts, out)


def _outcome(read: Any, payload: bytes) -> Any:
    try:
        return read(payload)
    except FrameError:
        return ERR


# ---- frames to throw at both ----

_MISSING = object()
# Raw JSON tokens orjson.dumps cannot write, swapped in after encoding.
_RAW = ["1e400", "-1e309", "18446744073709551616", "-9223372036854775809", "1E2", "-0"]


def _raw(token: str) -> str:
    return f"@@raw:{token}@@"


def _encode(frame: Any) -> bytes:
    data = orjson.dumps(frame)
    for token in _RAW:
        data = data.replace(orjson.dumps(_raw(token)), token.encode())
    return data


def _mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], one_in: int = 20
) -> st.SearchStrategy[Any]:
    """``bad`` once in ``one_in`` draws, else ``good``: items with ten fields must mostly
    pass for the hostile field of one of them to be seen among its neighbours."""
    return st.integers(1, one_in).flatmap(lambda n: bad if n == 1 else good)


_junk = st.sampled_from([None, True, 7, 1.5, "x", [], {}, [1], {"a": "1"}])
_bad_decimals = st.one_of(
    st.sampled_from(
        [
            "0.0",
            "0.00000001",
            "1.001",
            "999999999999999",
            "1000000000000000",
            "-1",
            "-0.5",
            "-4.15775596190603",
            "--1",
            "-",
            "+1",
            "1e5",
            "NaN",
            "Infinity",
            "1.2.3",
            "",
            " 1",
            "1.",
            ".5",
            "\uff11",
            "0." + "1" * 30,
            "1" + "0" * 40,
        ]
    ),
    st.sampled_from([1, 0, -1, 1.5, 12.5, 2**63, _raw("1e400"), _raw("1E2"), _raw("-0")]),
    _junk,
)


def _decimals(*good: str) -> st.SearchStrategy[Any]:
    """Decimal texts, mostly ``good`` (by default a mix of what passes and what is beyond
    a product's decimals or zero), now and then a hostile value."""
    return _mostly(
        st.sampled_from(good or ("1", "0.5", "100.2", "100.25", "16038.28770938", "0.0001", "0")),
        _bad_decimals,
    )


_ints = _mostly(
    st.sampled_from([0, 5, 2**63 - 1, "7", "-7", 2**63, 2**64 - 1, -(2**63)]),
    st.one_of(
        st.sampled_from(
            [
                -1,
                "007",
                "123456789012345678901234567890",
                "x",
                "1.0",
                "",
                " 1",
                "+1",
                "\u0661",
                _raw("18446744073709551616"),
                _raw("-9223372036854775809"),
                _raw("1E2"),
                _raw("-0"),
            ]
        ),
        _junk,
    ),
)
_times = _mostly(
    st.sampled_from(
        [
            "2019-08-14T20:42:27.265Z",
            "2023-02-09T20:19:35.39625135Z",
            "2023-10-06T17:35:55",
            "2023-10-06T19:35:55+02:00",
            "2023-10-06T17:35:55.123456789Z",
        ]
    ),
    st.one_of(
        st.sampled_from(
            [
                "2023-10-06T17:35:55.1234567890Z",
                "2023-02-30T00:00:00Z",
                "2023-10-06 17:35:55Z",
                "2023-10-06T24:00:00Z",
                "0000-01-01T00:00:00Z",
                "yesterday",
                "",
            ]
        ),
        _junk,
    ),
)
_products = _mostly(
    st.sampled_from(["BTC-USD", "ETH-USD"]),
    st.sampled_from(["DOGE-USD", "btc-usd", None, 5, ["BTC-USD"]]),
)


def _item(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with each field mostly present (any of its values), sometimes missing."""
    strategies = {k: _mostly(v, st.just(_MISSING), 30) for k, v in fields.items()}
    return st.fixed_dictionaries(strategies).map(
        lambda d: {k: v for k, v in d.items() if v is not _MISSING}
    )


def _objects(items: st.SearchStrategy[Any], size: int) -> st.SearchStrategy[Any]:
    """Mostly a list of ``items`` (now and then one that is not an object), else junk."""
    return _mostly(st.lists(_mostly(items, _junk), max_size=size), _junk)


_update = _item(
    {
        "side": _mostly(
            st.sampled_from(["bid", "offer"]), st.sampled_from(["ask", "BID", None, 1])
        ),
        "price_level": _decimals(),
        "new_quantity": _decimals(),
        "event_time": _times,
    }
)
_trade_item = _item(
    {
        "trade_id": _mostly(
            st.sampled_from(["1", "12345", "a-Z9", "x" * 64]),
            st.one_of(st.sampled_from(["", "a b", "1_000", "x" * 65]), _junk),
        ),
        "product_id": _products,
        "price": _decimals(),
        "size": _decimals(),
        "side": _mostly(st.sampled_from(["BUY", "SELL"]), st.sampled_from(["buy", "", None, 1])),
        "time": _times,
    }
)
_ticker_item = _item(
    {
        k: _decimals("1", "0.5", "21931.9", "0.0001", "100.25")
        for k in (
            "best_bid",
            "best_bid_quantity",
            "best_ask",
            "best_ask_quantity",
            "price",
            "volume_24_h",
            "low_24_h",
            "high_24_h",
        )
    }
    | {
        "price_percent_chg_24_h": _decimals("-4.15775596190603", "1.5", "-0", "--1"),
        "product_id": _products,
    }
)
_candle_item = _item(
    {k: _decimals() for k in ("open", "high", "low", "close", "volume")}
    | {"start": _ints, "product_id": _products}
)


def _events(items: st.SearchStrategy[Any], key: str) -> st.SearchStrategy[Any]:
    event = _item(
        {
            "type": _mostly(st.sampled_from(["snapshot", "update"]), st.sampled_from(["x", None])),
            key: _objects(items, 3),
            "product_id": _products,
        }
    )
    return _objects(event, 3)


_level2_event = _item(
    {
        "type": _mostly(st.sampled_from(["snapshot", "update"]), st.sampled_from(["x", None, 1])),
        "product_id": _products,
        "updates": _objects(_update, 4),
    }
)

frames = _mostly(
    good=st.one_of(
        *(
            _item(
                {
                    "channel": st.just(channel),
                    "sequence_num": _ints,
                    "timestamp": _times,
                    "events": events,
                    "sim_send_ns": st.just(1_700_000_000_000_000_000),
                    "extra": _mostly(st.just(1), st.sampled_from([_raw(t) for t in _RAW])),
                }
            )
            for channel, events in (
                ("l2_data", _objects(_level2_event, 3)),
                ("market_trades", _events(_trade_item, "trades")),
                ("ticker", _events(_ticker_item, "tickers")),
                ("candles", _events(_candle_item, "candles")),
            )
        )
    ),
    bad=st.one_of(
        _item({"channel": st.sampled_from(["heartbeats", "status", "level2", None, 1])}),
        _junk,
    ),
    one_in=10,
)


@settings(max_examples=1500, deadline=None)
@given(frame=frames)
def test_the_native_decoder_reads_every_frame_as_the_python_path_did(frame: Any) -> None:
    payload = _encode(frame)
    assert _outcome(native, payload) == _outcome(oracle, payload)


@settings(max_examples=300, deadline=None)
@given(
    number=st.from_regex(
        r"-?(0|[1-9][0-9]{0,320})(\.[0-9]{1,320})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
    )
)
def test_a_number_is_refused_exactly_where_orjson_refuses_it(number: str) -> None:
    payload = b'{"channel":"candles","events":[],"n":' + number.encode() + b"}"
    try:
        orjson.loads(payload)
        took = True
    except orjson.JSONDecodeError:
        took = False
    try:
        _decoder().decode(payload)
        native_took = True
    except ValueError:
        native_took = False
    assert native_took == took, number


# ---- the binding itself ----


def test_a_level2_frame() -> None:
    frame = _decoder().decode(
        b'{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z",'
        b'"sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":['
        b'{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73",'
        b'"new_quantity":"0.06317902"},{"side":"offer","event_time":"1970-01-01T00:00:00Z",'
        b'"price_level":"21921.74","new_quantity":"0.01"}]},{"type":"update",'
        b'"product_id":"ETH-USD","updates":[{"side":"ask","price_level":"1","new_quantity":"1"}'
        b']},{"type":"update","product_id":"XRP-USD","updates":[]}],"sim_send_ns":17}'
    )
    assert frame == (
        "l2_data",
        0,
        1_675_973_975_396_251_350,
        [
            ("BTC-USD", True, [("21921.73", "0.06317902")], [("21921.74", "0.01")]),
            ("ETH-USD", 'level2 side "ask"'),
            'level2 for an unsubscribed symbol "XRP-USD"',
        ],
        "17",
    )


def test_trades_tickers_and_candles() -> None:
    d = _decoder()
    trades = d.decode(
        b'{"channel":"market_trades","sequence_num":"9","events":[{"type":"snapshot","trades":['
        b'{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.0","size":"0.3",'
        b'"side":"SELL","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"1","product_id":'
        b'"ETH-USD","price":1260,"size":"0.3","side":"BUY"}]},{"trades":null}]}'
    )
    assert trades is not None
    assert trades[:3] == ("market_trades", 9, None)
    [(snapshot, [good, bad]), lost] = trades[3]
    assert snapshot is True
    assert good == ("ETH-USD", "000000000", "1260.0", "0.3", "SELL", 1_565_815_347_265_000_000)
    assert bad == 'price is not a decimal string: "1260"'
    assert lost == "event without a list of trades"
    ticker = d.decode(
        b'{"channel":"ticker","sequence_num":10,"events":[{"type":"update","tickers":[{'
        b'"product_id":"BTC-USD","best_bid":"1","best_bid_quantity":"0","best_ask":"2",'
        b'"best_ask_quantity":"3","price_percent_chg_24_h":"-0.5"}]}]}'
    )
    assert ticker is not None
    assert ticker[3] == [[("BTC-USD", "1", "0", "2", "3", None, None, None, None, "-0.5")]]
    candles = d.decode(
        b'{"channel":"candles","sequence_num":11,"events":[{"type":"update","candles":[{'
        b'"start":"123456789012345678901234567890","high":"2","low":"1","open":"1.5",'
        b'"close":"1.75","volume":"10","product_id":"ETH-USD"}]}]}'
    )
    assert candles is not None
    [[candle]] = candles[3]
    assert candle == ("ETH-USD", 123456789012345678901234567890, "1.5", "2", "1", "1.75", "10")


def test_sequence_numbers_come_back_as_ints_of_any_size() -> None:
    d = _decoder()
    for raw, want in [
        (b"0", 0),
        (b"-0", 0),
        (b'"-0"', 0),
        (b"18446744073709551615", 2**64 - 1),
        (b'"184467440737095516150"', 184467440737095516150),
        (b"null", None),
    ]:
        frame = d.decode(b'{"channel":"ticker","sequence_num":' + raw + b',"events":[]}')
        assert frame is not None
        assert frame[1] == want
        assert type(frame[1]) is (int if want is not None else type(None))


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{oops", "not JSON"),
        (b'{"channel":"l2_data","events":[],"x":1e400}', "infinity"),
        (b"[" * 129 + b"]" * 129, "not JSON"),
        (b"[]", "frame is not a JSON object"),
        (b'{"channel":"l2_data","sequence_num":1.0,"events":[]}', "sequence_num"),
        (b'{"channel":"ticker","sequence_num":"x","events":[]}', "sequence_num"),
        (b'{"channel":"candles","sequence_num":true,"events":[]}', "sequence_num"),
    ],
)
def test_frames_refused_whole(payload: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _decoder().decode(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"channel":"heartbeats","sequence_num":3,"events":[{"heartbeat_counter":1}]}',
        b'{"channel":"subscriptions","events":[]}',
        b'{"channel":"status","events":[]}',
        b'{"channel":"ticker_batch","events":[]}',
        b'{"type":"error","message":"authentication failure"}',
        b'{"channel":null}',
        b'{"channel":["l2_data"]}',
    ],
)
def test_other_frames_are_left_to_the_general_path(payload: bytes) -> None:
    assert _decoder().decode(payload) is None


def test_what_is_wrong_past_the_sequence_number_is_said_in_place_of_the_events() -> None:
    d = _decoder()
    assert d.decode(b'{"channel":"l2_data","sequence_num":4}') == (
        "l2_data",
        4,
        None,
        "frame without an events list",
        None,
    )
    frame = d.decode(b'{"channel":"ticker","sequence_num":5,"timestamp":"nope","events":[]}')
    assert frame == ("ticker", 5, None, 'bad timestamp "nope"', None)
    # A trades frame's own timestamp was never read.
    frame = d.decode(b'{"channel":"market_trades","timestamp":"nope","events":[]}')
    assert frame == ("market_trades", None, None, [], None)


def test_timestamps_are_ascii_only() -> None:
    """The Python path's shortcut for the common shape took any Unicode digits in the
    fraction (``str.isdigit``); RFC 3339 has ASCII digits only, and so has the decoder."""
    frame = _decoder().decode(
        '{"channel":"ticker","timestamp":"2023-10-06T17:35:55.\u0661\u0662\u0663\u0664'
        '\u0665\u0666Z","events":[]}'.encode()
    )
    assert frame is not None
    assert frame[3] == 'bad timestamp "2023-10-06T17:35:55.\u0661\u0662\u0663\u0664\u0665\u0666Z"'


def test_precisions() -> None:
    d = CoinbaseFrameDecoder()
    assert d.precision("BTC-USD") is None
    d.set_precision("BTC-USD", 2, 8)
    assert d.precision("BTC-USD") == (2, 8)
    d.set_precision("BTC-USD", 3, 8)
    assert d.precision("BTC-USD") == (3, 8)
    for bad in ((-1, 8), (2, 19)):
        with pytest.raises(ValueError, match="precision"):
            d.set_precision("X-Y", *bad)
    assert d.precision("X-Y") is None
    with pytest.raises(OverflowError):
        d.set_precision("X-Y", 2**64, 1)
    with pytest.raises(TypeError):
        d.decode("{}")  # type: ignore[arg-type]
    assert repr(d) == "CoinbaseFrameDecoder()"
