"""Decoding venue frames: exact JSON, integer and timestamp fields, the frame error.

Venues that write prices and quantities as JSON *numbers* (Kraken v2) need them as their exact
text: a float round-trip can change the digits (16+ significant digits, exponent forms) and so
a checksum and the book. :func:`decode_exact` (``_core.loads_exact``, Rust; 1.5 µs for a small
book frame where the standard library's decoder with ``parse_float=str`` takes 2.5 µs) hands
every number over as its exact text and refuses what JSON does not allow (NaN, Infinity,
invalid UTF-8, nesting deeper than 128). Venues that quote decimals as strings (Binance,
Coinbase) use :func:`decode` (orjson) and keep their strings as they are (their market data
is read natively, ``_core.BinanceFrameDecoder`` and ``CoinbaseFrameDecoder``; their other
frames with orjson).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from tradegw._core import MAX_INTEGER_DIGITS, decimal_ok, loads_exact
from tradegw.errors import AdapterError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


class FrameError(AdapterError, ValueError):
    """A frame that is not what the venue's protocol says it should be."""


def decode_exact(payload: bytes | str) -> Any:
    """Parses a frame keeping every number as its exact text. Raises FrameError."""
    try:
        return loads_exact(payload.encode("utf-8") if isinstance(payload, str) else payload)
    except ValueError as e:
        raise FrameError(f"not JSON: {e}") from e


def decode(payload: bytes | str) -> Any:
    """Parses a frame with orjson (numbers become int/float). Raises FrameError."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise FrameError(f"not JSON: {e}") from e


def as_int(raw: Any, what: str) -> int:
    """An integer field, given as a JSON integer or as the exact text of one."""
    if type(raw) is int:
        return raw
    # int() alone would also take "1_000", " 7" and non-ASCII digits: no venue writes those.
    if isinstance(raw, str) and _INT.fullmatch(raw):
        return int(raw)
    raise FrameError(f"{what} is not an integer: {raw!r:.40}")


_INT = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_DECIMAL_LEN = 64


def decimal_text(raw: Any, what: str, *, places: int | None = None, positive: bool = False) -> str:
    """A price or quantity as a plain unsigned decimal text (``"0.35130000"``): no sign, no
    exponent, no spaces, no ``NaN``, at most :data:`MAX_INTEGER_DIGITS` before the point —
    what Binance and Coinbase quote, and Kraken's numbers as :func:`decode_exact` gives them.

    ``places``: the instrument's precision; a significant digit beyond it is refused
    (trailing zeros are not significant: Binance writes ``"45000.40000000"`` for a 0.01
    tick). ``positive``: zero is refused too (a trade's price and quantity).
    """
    # The check runs for every number of every trade and ticker: natively (one call, no
    # allocation); only a refusal is explained here.
    if decimal_ok(raw, -1 if places is None else places, positive):
        return raw  # type: ignore[no-any-return]
    raise FrameError(_why_not_decimal(raw, what, places))


def _why_not_decimal(raw: Any, what: str, places: int | None) -> str:
    if not (isinstance(raw, str) and len(raw) <= _MAX_DECIMAL_LEN and _DECIMAL.fullmatch(raw)):
        return f"{what} is not a decimal string: {raw!r:.40}"
    whole, _, frac = raw.partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        return f"{what} is out of range: {raw[:40]!r}"
    if places is not None and len(frac.rstrip("0")) > places:
        return f"{what} has more than {places} decimals: {raw!r}"
    return f"{what} is zero"


def step_decimals(step: str) -> int:
    """Decimals that matter in a venue's price or size step (tick size, increment):
    ``"0.01000000"`` → 2, ``"1.00000000"`` → 0. Raises ``ValueError`` for other text."""
    if not isinstance(step, str) or not _DECIMAL.fullmatch(step):
        raise ValueError(f"not a decimal step: {step!r}")
    return len(step.partition(".")[2].rstrip("0"))


def signed_decimal_text(raw: Any, what: str) -> str:
    """Like :func:`decimal_text`, with an optional leading ``-`` (changes, percentages)."""
    if isinstance(raw, str) and raw.startswith("-"):
        return "-" + decimal_text(raw[1:], what)
    return decimal_text(raw, what)


_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?", re.ASCII
)


def timestamp_ns(raw: Any) -> int | None:
    """RFC 3339 (``2023-10-06T17:35:55.440295Z``) → ns since the epoch, keeping up to nine
    fractional digits; None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise FrameError(f"timestamp is not a string: {raw!r}")
    # The common shape, 2023-10-06T17:35:55.440295Z (Kraken's), skips the regex: this runs
    # for every book, trade, ticker and candle item.
    if len(raw) == 27 and raw[26] == "Z" and raw[19] == "." and raw[20:26].isdigit():
        try:
            return _epoch_seconds(raw[:19], "Z") * 1_000_000_000 + int(raw[20:26]) * 1000
        except ValueError:
            pass  # fall through to the full parse and its error message
    m = _RFC3339.fullmatch(raw)
    if m is None:
        raise FrameError(f"bad timestamp {raw!r}")
    whole, frac, zone = m.groups()
    try:
        seconds = _epoch_seconds(whole, zone or "Z")
    except ValueError as e:
        raise FrameError(f"bad timestamp {raw!r}") from e
    return seconds * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


@functools.lru_cache(maxsize=256)
def _epoch_seconds(whole: str, zone: str) -> int:
    # Every frame within the same second shares this parse: cached, it costs a dict lookup.
    dt = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    # Integer arithmetic on timedelta: exact, unlike datetime.timestamp()'s float.
    return (dt - _EPOCH) // _SECOND
