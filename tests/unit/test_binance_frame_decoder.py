"""``_core.BinanceFrameDecoder`` against the Binance adapter's reading of the same frames
before the native path existed (orjson, then one check per field in Python), written out
below as the oracle: whatever a frame holds, both take it the same, refuse it the same, or
both leave it to the general path."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core._recorded import read_frames, recorded_file
from tradegw._core import BinanceFrameDecoder

RECORDED = ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"]
PRECISION = {"BTCUSDT": (2, 5)} | {s: (8, 8) for s in RECORDED}

REFUSED = "refused"
"""The whole frame: malformed, to the DLQ."""
BAD = "bad"
"""A depth diff's ids or levels (that book resyncs), or an event time read late."""
OTHER = "other"
"""Not a market-data event: the adapter's general path reads it."""


# ---- the oracle: the adapter's checks as they were, on orjson's values ----


class _Refused(Exception):
    pass


_INT = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_KLINE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _int(raw: Any) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, str) and _INT.fullmatch(raw):
        return int(raw)  # ValueError past sys.get_int_max_str_digits()
    raise _Refused


def _dec(raw: Any, places: int | None = None, positive: bool = False) -> str:
    if not (isinstance(raw, str) and len(raw) <= 64 and _DECIMAL.fullmatch(raw)):
        raise _Refused
    whole, _, frac = raw.partition(".")
    if len(whole.lstrip("0")) > 15:
        raise _Refused
    if places is not None and len(frac.rstrip("0")) > places:
        raise _Refused
    if positive and not raw.strip("0."):
        raise _Refused
    return raw


def _signed(raw: Any) -> str:
    if isinstance(raw, str) and raw.startswith("-"):
        return "-" + _dec(raw[1:])
    return _dec(raw)


def _levels(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        raise _Refused
    out = []
    for lv in raw:
        if not isinstance(lv, list) or len(lv) < 2:
            raise _Refused
        p, q = lv[0], lv[1]
        if not isinstance(p, str) or not isinstance(q, str):
            raise _Refused
        out.append((p, q))
    return out


def _ms(raw: Any) -> int | None:
    return None if raw is None else _int(raw) * 1_000_000


_MALFORMED = (_Refused, KeyError, ValueError, TypeError)


def oracle(payload: bytes) -> Any:
    """What the adapter made of a frame before the native decoder: ``REFUSED``, ``OTHER``,
    or ``(event, item)`` with ``BAD`` where a late or book-only refusal was."""
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return REFUSED
    if not isinstance(msg, dict):
        return REFUSED
    data = msg.get("data", msg) if "stream" in msg else msg
    if not isinstance(data, dict):
        return REFUSED
    kind = data.get("e")
    if kind == "depthUpdate":
        reader = _depth
    elif kind in ("trade", "aggTrade"):
        reader = _trade
    elif kind is None and "u" in data and "b" in data and "a" in data:
        kind, reader = "bookTicker", _book_ticker
    elif kind == "24hrTicker":
        reader = _ticker
    elif kind == "kline":
        reader = _kline
    else:
        return OTHER
    symbol = data.get("s")
    if not isinstance(symbol, str) or symbol not in PRECISION:
        return REFUSED
    try:
        return kind, reader(data, kind, symbol, *PRECISION[symbol])
    except _MALFORMED:
        return REFUSED


def _late_ms(d: dict[str, Any]) -> int | str | None:
    try:
        return _ms(d.get("E"))
    except _MALFORMED:
        return BAD


def _depth(d: dict[str, Any], kind: str, symbol: str, pp: int, qp: int) -> tuple[Any, ...]:
    try:
        first, final = _int(d["U"]), _int(d["u"])
        bids, asks = _levels(d["b"]), _levels(d["a"])
    except _MALFORMED:
        return (symbol, BAD)
    return (symbol, first, final, bids, asks, _late_ms(d))


def _trade(d: dict[str, Any], kind: str, symbol: str, pp: int, qp: int) -> tuple[Any, ...]:
    maker_buys = d["m"]
    if not isinstance(maker_buys, bool):
        raise _Refused
    trade_id = _int(d["t"] if kind == "trade" else d["a"])
    ts = _ms(d.get("T"))
    price, qty = _dec(d["p"], pp, True), _dec(d["q"], qp, True)
    return (symbol, str(trade_id), price, qty, "sell" if maker_buys else "buy", ts)


def _bbo(d: dict[str, Any], pp: int, qp: int) -> tuple[str, str, str, str]:
    return (_dec(d["b"], pp, True), _dec(d["B"], qp), _dec(d["a"], pp, True), _dec(d["A"], qp))


def _book_ticker(d: dict[str, Any], kind: str, symbol: str, pp: int, qp: int) -> tuple[Any, ...]:
    bbo = _bbo(d, pp, qp)
    return (symbol, _int(d["u"]), *bbo)


def _ticker(d: dict[str, Any], kind: str, symbol: str, pp: int, qp: int) -> tuple[Any, ...]:
    bbo = _bbo(d, pp, qp)
    stats = (_dec(d["c"], pp, True), _dec(d["v"]), _dec(d["w"]), _dec(d["l"], pp))
    stats += (_dec(d["h"], pp), _signed(d["p"]), _signed(d["P"]))
    return (symbol, *bbo, *stats, _late_ms(d))


def _kline(d: dict[str, Any], kind: str, symbol: str, pp: int, qp: int) -> tuple[Any, ...]:
    k = d["k"]
    if not isinstance(k, dict):
        raise _Refused
    interval = str(k["i"])
    unit = _KLINE_SECONDS.get(interval[-1:])
    # The adapter's str.isdigit() also took other scripts' digits; the native check takes
    # ASCII only (test_kline_intervals_are_ascii_digits); the frames below have no others.
    if unit is None or not interval[:-1].isdigit():
        raise _Refused
    closed = k["x"]
    if not isinstance(closed, bool):
        raise _Refused
    ts = _ms(d.get("E"))
    open_ts = _int(k["t"]) * 1_000_000
    prices = tuple(_dec(k[key]) for key in "ohlcv")
    return (symbol, ts, int(interval[:-1]) * unit, open_ts, *prices, _int(k["n"]), closed)


# ---- the decoder under test ----


def _decoder() -> BinanceFrameDecoder:
    decoder = BinanceFrameDecoder()
    for symbol, (pp, qp) in PRECISION.items():
        decoder.set_precision(symbol, pp, qp)
    return decoder


DECODER = _decoder()


def native(payload: bytes) -> Any:
    """The decoder's answer in the oracle's terms."""
    try:
        frame = DECODER.decode(payload)
    except ValueError:
        return REFUSED
    if frame is None:
        return OTHER
    kind, item, _ = frame
    if kind == "depthUpdate" and len(item) == 2:
        return kind, (item[0], BAD)
    if kind in ("depthUpdate", "24hrTicker") and isinstance(item[-1], str):
        item = (*item[:-1], BAD)
    return kind, item


# ---- frames: a well-formed event of each kind, then one field changed ----

EVENTS: dict[str, dict[str, Any]] = {
    "depthUpdate": {
        "e": "depthUpdate",
        "E": 1_700_000_000_123,
        "s": "BTCUSDT",
        "U": 157,
        "u": 160,
        "b": [["0.0024", "10"], ["0.0023", "0.00000000", "x"]],
        "a": [["0.0026", "100"]],
    },
    "trade": {
        "e": "trade",
        "E": 1,
        "s": "BTCUSDT",
        "t": 12345,
        "p": "100.50000000",
        "q": "0.25000",
        "T": 1_700_000_000_123,
        "m": True,
        "M": True,
    },
    "aggTrade": {
        "e": "aggTrade",
        "E": 1,
        "s": "BTCUSDT",
        "a": 26129,
        "p": "1.63000000",
        "q": "4.7",
        "f": 1,
        "l": 2,
        "T": 1,
        "m": False,
    },
    "bookTicker": {
        "u": 400900217,
        "s": "BTCUSDT",
        "b": "25.35000000",
        "B": "31.21000000",
        "a": "25.36000000",
        "A": "0.00000000",
    },
    "24hrTicker": {
        "e": "24hrTicker",
        "E": 1_700_000_000_000,
        "s": "BTCUSDT",
        "p": "-1.50",
        "P": "-1.47",
        "w": "100.123456789",
        "c": "100.50",
        "v": "12.5",
        "h": "102.00",
        "l": "99.00",
        "b": "100.00",
        "B": "2",
        "a": "101.00",
        "A": "1",
    },
    "kline": {
        "e": "kline",
        "E": 1_700_000_000_000,
        "s": "BTCUSDT",
        "k": {
            "t": 1_700_000_040_000,
            "i": "1m",
            "o": "1.00000000",
            "h": "2",
            "l": "0.5",
            "c": "1.5",
            "v": "10",
            "n": 3,
            "x": False,
        },
    },
}

_DROP = object()

TOKENS: list[bytes | object] = [
    _DROP,
    *(
        orjson.dumps(v)
        for v in (
            "-1",
            "0",
            "0.00",
            "1",
            "1e5",
            "12.5",
            "-12.5",
            "--1",
            "1" + "0" * 40,
            "0." + "1" * 30,
            "100.505",
            "NaN",
            "1.2.3",
            "\uff11",
            "",
            " 1",
            "007",
            "-0",
            "9" * 30,
            "1" * 700,  # past every int() digit limit's floor
            "0" * 5000 + "7",  # past the default int() limit, with leading zeros
            "15m",
            "1w",
            "m",
            "1M",
            "BTCUSDT",
            "ETHUSDT",
            "trade",
            "depthUpdate",
        )
    ),
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"7",
    b"1.0",
    b"12.5",
    b"1e5",
    b"1E400",
    b"-0",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b'{"a":1}',
    b"[1]",
    b"[]",
    b'[["1.00","2"]]',
    b'[["1.00",2]]',
    b'[["1.00"]]',
    b'["1.00","2"]',
]


def _dump(obj: dict[str, Any], key: str, token: bytes | object) -> bytes:
    """``obj`` as JSON with ``key`` dropped or set to the raw JSON ``token`` (at the end:
    with a duplicate key the last one counts, for both readers)."""
    rest = {k: v for k, v in obj.items() if k != key}
    body = orjson.dumps(rest)
    if token is _DROP:
        return body
    assert isinstance(token, bytes)
    glue = b"," if rest else b""
    return body[:-1] + glue + b'"' + key.encode() + b'":' + token + b"}"


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(sorted(EVENTS)))
    event = EVENTS[kind]
    if kind == "kline" and draw(st.booleans()):
        k = event["k"]
        inner = _dump(k, draw(st.sampled_from(sorted(k))), draw(st.sampled_from(TOKENS)))
        data = _dump(event, "k", inner)
    else:
        keys = [*sorted(event), "x"]
        data = _dump(event, draw(st.sampled_from(keys)), draw(st.sampled_from(TOKENS)))
    wrap = draw(st.sampled_from(["combined", "bare", "stamped"]))
    if wrap == "bare":
        return data
    tail = b',"sim_send_ns":123}' if wrap == "stamped" else b"}"
    return b'{"stream":"btcusdt@x","data":' + data + tail


@settings(max_examples=1500, deadline=None)
@given(frames())
def test_every_frame_is_read_as_the_adapter_read_it(payload: bytes) -> None:
    assert native(payload) == oracle(payload), payload[:300]


def test_the_well_formed_events() -> None:
    for kind, event in EVENTS.items():
        payload = orjson.dumps({"stream": "btcusdt@x", "data": event})
        got = native(payload)
        assert got == oracle(payload)
        assert got[0] == kind
        assert BAD not in got[1]


def test_recorded_traffic_is_read_as_the_adapter_read_it() -> None:
    frames = [f for f in read_frames(recorded_file("BINANCE.ws.1.0")) if f.direction == "recv"]
    kinds = []
    for frame in frames:
        payload = orjson.dumps(frame.data)
        got = native(payload)
        assert got == oracle(payload), payload[:200]
        assert isinstance(got, tuple), payload[:200]
        kinds.append(got[0])
    assert set(kinds) == {"depthUpdate", "bookTicker", "aggTrade", "kline"}


# ---- what the tuples hold ----


def test_items_and_the_bench_stamp() -> None:
    frame = DECODER.decode(
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,'
        b'"s":"BTCUSDT","U":"157","u":160,"b":[["1.00","2"]],"a":[]},"sim_send_ns":99}'
    )
    assert frame == (
        "depthUpdate",
        ("BTCUSDT", 157, 160, [("1.00", "2")], [], 1_700_000_000_123_000_000),
        "99",
    )
    trade = DECODER.decode(
        b'{"e":"trade","s":"BTCUSDT","t":"-007","p":"1","q":"1","m":false,"sim_send_ns":5}'
    )
    assert trade == ("trade", ("BTCUSDT", "-7", "1", "1", "buy", None), "5")
    kline = EVENTS["kline"] | {"k": EVENTS["kline"]["k"] | {"i": "4h"}}
    got = DECODER.decode(orjson.dumps(kline))
    assert got is not None
    _, item, stamp = got
    assert (item[2], item[3], item[-1], stamp) == (14400, 1_700_000_040_000_000_000, False, None)


def test_ints_of_any_size_the_adapter_took() -> None:
    big = "9" * 60
    ticker = EVENTS["bookTicker"] | {"u": big}
    got = DECODER.decode(orjson.dumps(ticker))
    assert got is not None
    assert got[1][1] == int(big)
    # ms to ns beyond 128 bits, and a candle count of 10**50 minutes.
    trade = EVENTS["trade"] | {"T": "1" + "0" * 40}
    got = DECODER.decode(orjson.dumps(trade))
    assert got is not None
    assert got[1][-1] == 10**46
    kline = EVENTS["kline"] | {"k": EVENTS["kline"]["k"] | {"i": "1" + "0" * 50 + "m"}}
    got = DECODER.decode(orjson.dumps(kline))
    assert got is not None
    assert got[1][2] == 60 * 10**50


def test_past_pythons_int_digit_limit_as_the_adapter_was() -> None:
    """``int()`` refuses texts longer than ``sys.get_int_max_str_digits()`` (4300 by
    default): the adapter's ``as_int`` did, so such an id or time stays refused, with
    leading zeros too, in the slot the adapter's failure was in."""
    long = "0" * 5000 + "7"
    trade = EVENTS["trade"] | {"t": long}
    with pytest.raises(ValueError, match="limit"):
        DECODER.decode(orjson.dumps(trade))
    diff = EVENTS["depthUpdate"] | {"U": long}
    got = DECODER.decode(orjson.dumps(diff))
    assert got is not None
    symbol, why = got[1]
    assert symbol == "BTCUSDT"
    assert "limit" in why
    late = EVENTS["depthUpdate"] | {"E": long}
    got = DECODER.decode(orjson.dumps(late))
    assert got is not None
    assert "limit" in got[1][-1]


def test_kline_intervals_are_ascii_digits() -> None:
    """The one knowing departure: the adapter's ``str.isdigit()`` took other scripts'
    digits (``"\u0661m"`` as one minute); the native check, like ``as_int``, takes ASCII
    digits only. No venue writes others."""
    kline = EVENTS["kline"] | {"k": EVENTS["kline"]["k"] | {"i": "\u0661m"}}
    with pytest.raises(ValueError, match="kline interval"):
        DECODER.decode(orjson.dumps(kline))


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not JSON"),
        (b'{"e":"trade","s":"BTCUSDT","junk":1e999}', "not JSON: number is infinity"),
        (b"[1]", "not a JSON object"),
        (b'{"stream":"x","data":[1]}', "stream data is not an object"),
        (b'{"e":"kline","s":"ETHUSDT"}', "unsubscribed symbol"),
        (b'{"e":"trade","s":"BTCUSDT","t":1,"p":1.5,"q":"1","m":true}', "p is not a decimal"),
    ],
)
def test_malformed_frames_are_value_errors(payload: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DECODER.decode(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}',
        b'{"result":null,"id":1}',
        b'{"code":2,"msg":"Invalid request"}',
        b'{"e":"nonsense"}',
        b'{"lastUpdateId":1,"bids":[],"asks":[]}',
    ],
)
def test_other_frames_are_none(payload: bytes) -> None:
    assert DECODER.decode(payload) is None


def test_precisions() -> None:
    decoder = BinanceFrameDecoder()
    assert decoder.precision("BTCUSDT") is None
    with pytest.raises(ValueError, match="price_precision"):
        decoder.set_precision("BTCUSDT", -1, 0)
    with pytest.raises(ValueError, match="qty_precision"):
        decoder.set_precision("BTCUSDT", 0, 19)
    trade = orjson.dumps(EVENTS["trade"])
    with pytest.raises(ValueError, match="unsubscribed symbol"):
        decoder.decode(trade)
    decoder.set_precision("BTCUSDT", 0, 5)
    with pytest.raises(ValueError, match="p has more than 0 decimals"):
        decoder.decode(trade)
    decoder.set_precision("BTCUSDT", 1, 5)
    assert decoder.precision("BTCUSDT") == (1, 5)
    assert decoder.decode(trade) is not None
    assert repr(decoder) == "BinanceFrameDecoder()"
