"""Kraken v2 frame decoding: numbers keep their exact text, malformed frames are FrameError,
and levels / integers / timestamps / symbols are extracted exactly."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradegw._core import KrakenFrameDecoder
from tradegw.providers.base.decode import (
    FrameError,
    as_int,
    decimal_text,
    signed_decimal_text,
    timestamp_ns,
)
from tradegw.providers.base.decode import decode_exact as decode
from tradegw.providers.kraken.decode import canonical_symbol

JSON_NUMBER = r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?"


def test_numbers_keep_their_exact_text() -> None:
    frame = (
        b'{"channel":"book","data":[{"symbol":"BTC/USD",'
        b'"bids":[{"price":0.12345678901234567890123,"qty":1e-05}],'
        b'"asks":[{"price":45283.50000,"qty":0.00000001}],'
        b'"checksum":3310070434,"big":18446744073709551616123,"neg":-0.0,"exp":1.5E+3}]}'
    )
    msg = decode(frame)
    item = msg["data"][0]
    assert item["bids"] == [{"price": "0.12345678901234567890123", "qty": "1e-05"}]
    assert item["asks"] == [{"price": "45283.50000", "qty": "0.00000001"}]
    assert item["checksum"] == "3310070434"
    assert item["big"] == "18446744073709551616123"
    assert item["neg"] == "-0.0"
    assert item["exp"] == "1.5E+3"
    assert item["symbol"] == "BTC/USD"
    assert msg["channel"] == "book"


def test_str_and_bytes_payloads_decode_alike() -> None:
    text = '{"a": [1, 2.50, "x\\u00e9", true, null], "b": {}}'
    assert (
        decode(text)
        == decode(text.encode())
        == {
            "a": ["1", "2.50", "x\u00e9", True, None],
            "b": {},
        }
    )


@given(number=st.from_regex(JSON_NUMBER, fullmatch=True))
def test_any_json_number_keeps_its_text(number: str) -> None:
    assert decode(f'{{"price": {number}}}'.encode())["price"] == number
    assert decode(f"[{number}]") == [number]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b'{"a": 1,}',
        b"{} trailing",
        b"{'a': 1}",
        b'{"a": 01}',
        b'{"a": .5}',
        b"[1, 2",
        '{"a": "unterminated}',
    ],
)
def test_bad_json_is_a_frame_error(payload: bytes | str) -> None:
    with pytest.raises(FrameError, match="not JSON"):
        decode(payload)


@pytest.mark.parametrize("payload", [b'{"a": "\xff"}', b"\xfe\xff{}", b'{"a": "caf\xe9"}'])
def test_non_utf8_is_a_frame_error(payload: bytes) -> None:
    with pytest.raises(FrameError) as info:
        decode(payload)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("payload", [b"[NaN]", b'{"checksum": Infinity}', b'{"qty": -Infinity}'])
def test_non_json_number_literals_are_a_frame_error(payload: bytes) -> None:
    """NaN and Infinity are not JSON (RFC 8259), and decoding them yields floats — the very
    thing decode() exists to avoid (``as_int`` on the result even raises OverflowError)."""
    with pytest.raises(FrameError):
        decode(payload)


def test_deeply_nested_frame_is_a_frame_error() -> None:
    """A hostile or corrupted frame must be a FrameError (dead-lettered), not an exception
    the provider's frame handler does not expect."""
    with pytest.raises(FrameError):
        decode(b"[" * 100_000)


# ---- levels (read natively with the book frame) ----


def _book_item(bids: object) -> object:
    """The one item of a Kraken book update whose ``bids`` are ``bids`` (raw JSON bytes or
    a value to encode), as the native decoder hands it over."""
    decoder = KrakenFrameDecoder()
    decoder.set_precision("BTC/USD", 4, 8)
    raw = bids if isinstance(bids, bytes) else orjson.dumps(bids)
    frame = decoder.decode(
        b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":' + raw + b"}]}"
    )
    assert frame is not None
    channel, snapshot, items, _ = frame
    assert (channel, snapshot, len(items)) == ("book", False, 1)
    return items[0]


def test_levels() -> None:
    item = _book_item(b'[{"price": 0.5666, "qty": 4831.75}, {"price": 0.5667, "qty": 0}]')
    assert item == ("BTC/USD", [("0.5666", "4831.75"), ("0.5667", "0")], [], None, None)
    assert _book_item([]) == ("BTC/USD", [], [], None, None)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"price": "1", "qty": "2"}, "bids is not a list"),
        (None, "bids is not a list"),
        ([{"price": "1"}], "without price/qty"),
        ([{"qty": "1"}], "without price/qty"),
        (["1"], "without price/qty"),
        ([None], "without price/qty"),
        ([{"price": None, "qty": "1"}], "not numbers"),
        ([{"price": "1", "qty": True}], "not numbers"),
        ([{"price": {"x": 1}, "qty": "1"}], "not numbers"),
    ],
)
def test_bad_levels(raw: object, match: str) -> None:
    item = _book_item(raw)
    assert isinstance(item, tuple), item
    symbol, why = item
    assert symbol == "BTC/USD"
    assert re.search(match, why), why


# ---- integers ----


def test_as_int() -> None:
    assert as_int("3310070434", "checksum") == 3310070434
    assert as_int("18446744073709551616123", "connection_id") == 18446744073709551616123
    assert as_int("-7", "x") == -7
    assert as_int(5, "x") == 5
    big = decode(b'{"connection_id": 14180447346563936931}')["connection_id"]
    assert as_int(big, "connection_id") == 14180447346563936931  # > 2**63, exact


@pytest.mark.parametrize(
    "raw", ["1.5", "1e3", "abc", "", None, [1], {"a": 1}, "1_000", " 7", "--5", "\u0663", True]
)
def test_as_int_rejects(raw: object) -> None:
    with pytest.raises(FrameError, match="trade_id is not an integer"):
        as_int(raw, "trade_id")


# ---- timestamps ----


def ns_from_parts(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str) -> int:
    """Integer-only ns since the epoch of a UTC time with fractional second digits ``frac``."""
    seconds = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    return seconds * 10**9 + int((frac + "000000000")[:9])


def test_timestamp_ns_is_exact() -> None:
    raw = "2023-10-06T17:35:55.440295Z"
    expected = ns_from_parts(2023, 10, 6, 17, 35, 55, "440295")
    assert timestamp_ns(raw) == expected == 1_696_613_755_440_295_000
    # datetime.timestamp() goes through a float and is not exact for this one:
    assert int(datetime.fromisoformat(raw).timestamp() * 1e9) != expected


@given(
    dt=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
    )
)
def test_timestamp_ns_matches_integer_arithmetic(dt: datetime) -> None:
    raw = dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frac = f"{dt.microsecond:06d}"
    expected = ns_from_parts(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, frac)
    assert timestamp_ns(raw) == expected


def test_timestamp_ns_with_offsets_and_without_zone() -> None:
    utc = timestamp_ns("2024-02-29T23:59:59.000001Z")
    assert utc == ns_from_parts(2024, 2, 29, 23, 59, 59, "000001")
    assert timestamp_ns("2024-03-01T01:59:59.000001+02:00") == utc
    assert timestamp_ns("2024-02-29T23:59:59.000001") == utc  # naive means UTC
    assert timestamp_ns("1970-01-01T00:00:00Z") == 0
    assert timestamp_ns(None) is None


def test_timestamp_ns_keeps_nanoseconds() -> None:
    """RFC 3339 allows any number of fractional digits; the result is in ns, so a
    nanosecond timestamp must not lose its last three digits."""
    raw = "2023-10-06T17:35:55.440295123Z"
    assert timestamp_ns(raw) == ns_from_parts(2023, 10, 6, 17, 35, 55, "440295123")


@pytest.mark.parametrize("raw", ["yesterday", "2023-13-01T00:00:00Z", "2023-10-06T25:00:00Z", ""])
def test_bad_timestamp(raw: str) -> None:
    with pytest.raises(FrameError, match=re.escape(repr(raw))):
        timestamp_ns(raw)


@pytest.mark.parametrize("raw", [1696613755, 1.5, ["2023-10-06T17:35:55Z"]])
def test_timestamp_must_be_a_string(raw: object) -> None:
    with pytest.raises(FrameError, match="not a string"):
        timestamp_ns(raw)


# ---- symbols ----


@pytest.mark.parametrize(
    ("venue", "canonical"),
    [("BTC/USD", "BTC-USD"), ("ETH/EUR", "ETH-EUR"), ("MATIC/USD", "MATIC-USD"), ("X", "X")],
)
def test_canonical_symbol(venue: str, canonical: str) -> None:
    assert canonical_symbol(venue) == canonical


# ---- decimal strings (Binance, Coinbase) ----


@pytest.mark.parametrize(
    "text", ["0", "0.35130000", "79944.1", "9" * 15, "0" * 20 + "1", "0." + "1" * 62]
)
def test_decimal_text_takes_plain_unsigned_decimals(text: str) -> None:
    assert decimal_text(text, "price") == text
    assert signed_decimal_text("-" + text, "change") == "-" + text


@pytest.mark.parametrize("text", ["1" + "0" * 15, "9" * 16, "1" * 40 + ".5"])
def test_decimal_text_refuses_magnitudes_no_market_has(text: str) -> None:
    with pytest.raises(FrameError, match="out of range"):
        decimal_text(text, "price")


@pytest.mark.parametrize(
    ("text", "places", "ok"),
    [
        ("45000.40000000", 2, True),  # Binance pads to eight decimals: zeros do not count
        ("45000.41", 2, True),
        ("45000.415", 2, False),
        ("12", 0, True),
        ("12.0", 0, True),
        ("12.5", 0, False),
    ],
)
def test_decimal_text_holds_the_instruments_precision(text: str, places: int, ok: bool) -> None:
    if ok:
        assert decimal_text(text, "price", places=places) == text
    else:
        with pytest.raises(FrameError, match="more than"):
            decimal_text(text, "price", places=places)


@pytest.mark.parametrize("text", ["0", "0.000", "00.0"])
def test_decimal_text_positive_refuses_zero(text: str) -> None:
    assert decimal_text(text, "qty") == text
    with pytest.raises(FrameError, match="zero"):
        decimal_text(text, "qty", positive=True)


@pytest.mark.parametrize(
    "raw",
    ["-1", "+1", "1e5", "1.", ".5", " 1", "NaN", "inf", "", "1" * 65, 1.5, None, ["1"], "\u0661"],
)
def test_decimal_text_refuses_anything_else(raw: object) -> None:
    with pytest.raises(FrameError, match="price is not a decimal string"):
        decimal_text(raw, "price")


def _plain_decimal_reference(text: str, places: int | None, positive: bool) -> bool:
    """The rule of ``_core.decimal_ok`` written out in Python, to check the native one."""
    import re

    if len(text) > 64 or not re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return False
    whole, _, frac = text.partition(".")
    if len(whole.lstrip("0")) > 15:
        return False
    if places is not None and len(frac.rstrip("0")) > places:
        return False
    return not positive or bool(text.strip("0."))


@given(
    st.text(alphabet="0123456789.-+e \u0661", max_size=24)
    | st.from_regex(r"0{0,3}[0-9]{1,17}(\.[0-9]{1,12})?", fullmatch=True),
    st.none() | st.integers(0, 10),
    st.booleans(),
)
def test_native_decimal_check_agrees_with_the_written_rule(
    text: str, places: int | None, positive: bool
) -> None:
    from tradegw._core import decimal_ok

    expected = _plain_decimal_reference(text, places, positive)
    assert decimal_ok(text, -1 if places is None else places, positive) is expected
    if expected:
        assert decimal_text(text, "x", places=places, positive=positive) == text
    else:
        with pytest.raises(FrameError):
            decimal_text(text, "x", places=places, positive=positive)


def test_native_decimal_check_takes_only_str() -> None:
    from tradegw._core import decimal_ok

    for raw in (1, 1.5, b"1", None, ["1"], "\ud800"):
        assert decimal_ok(raw) is False
