"""Kraken WebSocket v2 wire format: number text, timestamps, frames and the book checksum.

Every price and quantity in the simulator is a fixed-point integer (``value * 10**precision``).
This module is the only place that turns those integers into text, so the rules that a client
relies on live here:

* v2 frames carry prices and quantities as JSON *numbers* in plain decimal notation with the
  trailing zeros dropped (``0.5660`` at precision 4 is written ``0.566``, ``0.000005`` never
  ``5e-06``). The text is built from the integers directly; a float would bring exponent forms
  and binary rounding with it.
* REST and :meth:`KrakenSimulator.book` use fixed-precision *strings* (``"0.5660"``).
* The book checksum is a CRC32 over the top ten asks then the top ten bids rendered at the
  pair's precision; see :func:`checksum`.

Hot frames (book, trade, ticker, ohlc) are concatenated by hand. Everything else goes through
:func:`dumps`, a tiny encoder that refuses floats so a float can never sneak onto the wire.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterable, Sequence
from itertools import islice

# Powers of ten up to well past any precision a pair uses (Kraken's maximum is 10).
_POW10: tuple[int, ...] = tuple(10**i for i in range(40))

Level = tuple[int, int]
"""One book level as fixed-point integers: ``(price, qty)``."""


# --------------------------------------------------------------------------- numbers


def num(value: int, precision: int) -> str:
    """Render a fixed-point value as Kraken v2 writes a JSON number.

    Plain decimal notation, trailing fractional zeros dropped, and no decimal point at all when
    the fraction is zero: ``num(5660, 4) == "0.566"``, ``num(5, 6) == "0.000005"``,
    ``num(452810, 1) == "45281"``, ``num(-25, 2) == "-0.25"``.
    """
    if precision == 0:
        return str(value)
    if value < 0:
        return "-" + num(-value, precision)
    whole, frac = divmod(value, _POW10[precision])
    if frac == 0:
        return str(whole)
    return f"{whole}.{str(frac).rjust(precision, '0').rstrip('0')}"


def fixed(value: int, precision: int) -> str:
    """Render a fixed-point value with exactly ``precision`` decimals (``"0.5660"``)."""
    if precision == 0:
        return str(value)
    if value < 0:
        return "-" + fixed(-value, precision)
    whole, frac = divmod(value, _POW10[precision])
    return f"{whole}.{str(frac).rjust(precision, '0')}"


_DECIMAL_RE = re.compile(r"(-?)(\d+)(?:\.(\d*))?")


def parse_fixed(text: str, precision: int) -> int:
    """Parse plain decimal text into a fixed-point integer at ``precision``.

    Extra decimals are accepted only when they are zeros, so no value is ever rounded.

    Raises:
        ValueError: the text is not a plain decimal or needs more decimals than ``precision``.
    """
    match = _DECIMAL_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a plain decimal: {text!r}")
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if len(frac) > precision:
        if frac[precision:].strip("0"):
            raise ValueError(f"{text!r} has more than {precision} decimals")
        frac = frac[:precision]
    value = int(whole) * _POW10[precision] + int(frac.ljust(precision, "0") or "0")
    return -value if sign else value


def div_round(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero (used for vwap and percentages)."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


# --------------------------------------------------------------------------- checksum


def level_text(price: int, qty: int) -> str:
    """One level's part of Kraken's checksum string, from fixed-point integers.

    Kraken renders the price and the qty at the pair's precision, removes the ``.`` and strips
    leading zeros. For a fixed-point integer that is exactly its decimal digits: ``0.5660`` at
    precision 4 is the integer 5660, and ``"0.5660"`` without the dot and the leading zero is
    ``"5660"``. (Zero would strip to ``""``; a level never has qty 0.)
    """
    return f"{price}{qty}"


def checksum_of_texts(asks: Iterable[str], bids: Iterable[str]) -> int:
    """CRC32 (zlib/IEEE, unsigned) of the top-ten asks' then bids' :func:`level_text`."""
    return zlib.crc32(("".join(asks) + "".join(bids)).encode("ascii"))


def checksum(asks: Iterable[Level], bids: Iterable[Level]) -> int:
    """Kraken's book checksum: asks ascending, bids descending; only the first ten count."""
    return checksum_of_texts(
        [level_text(p, q) for p, q in islice(asks, 10)],
        [level_text(p, q) for p, q in islice(bids, 10)],
    )


# --------------------------------------------------------------------------- time


class _SecondCache:
    """Caches the ``YYYY-MM-DDTHH:MM:SS`` part, which only changes once a second."""

    __slots__ = ("prefix", "second")

    def __init__(self) -> None:
        self.second = -1
        self.prefix = ""

    def get(self, second: int) -> str:
        if second != self.second:
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second
        return self.prefix


_seconds = _SecondCache()


def rfc3339_us(ns: int) -> str:
    """RFC 3339 UTC text with microseconds, as Kraken v2 stamps frames."""
    second, rest = divmod(ns, 1_000_000_000)
    return f"{_seconds.get(second)}.{rest // 1000:06d}Z"


def rfc3339_ns(ns: int) -> str:
    """RFC 3339 UTC text with nanoseconds (Kraken's ``interval_begin`` uses nine digits)."""
    second, rest = divmod(ns, 1_000_000_000)
    return f"{_seconds.get(second)}.{rest:09d}Z"


def now_ns() -> int:
    """Wall-clock time in nanoseconds (frames carry wall time, like the venue)."""
    return time.time_ns()


# --------------------------------------------------------------------------- generic JSON


class Num:
    """A JSON number whose text is already rendered (for :func:`dumps`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def fixed(cls, value: int, precision: int) -> Num:
        """The Kraken v2 number text of a fixed-point value."""
        return cls(num(value, precision))

    def __repr__(self) -> str:
        return f"Num({self.text})"


_ESCAPE_RE = re.compile(r'[\x00-\x1f"\\]')
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def jstr(text: str) -> str:
    """A JSON string literal."""
    return f'"{_ESCAPE_RE.sub(_escape, text)}"'


def dumps(obj: object) -> str:
    """Encode dicts, lists, tuples, str, int, bool, None and :class:`Num` as compact JSON.

    Floats are refused: every number that reaches a client has to come from a fixed-point
    integer (via :class:`Num`) or be an integer.
    """
    out: list[str] = []
    _encode(obj, out)
    return "".join(out)


def _encode(obj: object, out: list[str]) -> None:
    if isinstance(obj, str):
        out.append(jstr(obj))
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif obj is None:
        out.append("null")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, Num):
        out.append(obj.text)
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(jstr(str(key)))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _encode(value, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} (floats must be passed as Num)")


# --------------------------------------------------------------------------- frames


class DataFrame:
    """A data frame built once and shared by every subscriber of a stream.

    ``checksum`` is set on book frames; ``update`` distinguishes book updates from snapshots;
    ``top_changed`` tells whether a book update changed the top ten.
    """

    __slots__ = ("channel", "checksum", "data", "symbol", "top_changed", "update")

    def __init__(
        self,
        channel: str,
        symbol: str,
        data: bytes,
        checksum: int | None = None,
        update: bool = False,
        top_changed: bool = False,
    ) -> None:
        self.channel = channel
        self.symbol = symbol
        self.data = data
        self.checksum = checksum
        self.update = update
        self.top_changed = top_changed

    def with_wrong_checksum(self) -> DataFrame:
        """A copy whose checksum field is wrong (and never accidentally right)."""
        assert self.checksum is not None, "only book frames carry a checksum"
        wrong = self.checksum ^ 0x5A5A5A5A
        data = self.data.replace(b'"checksum":%d,' % self.checksum, b'"checksum":%d,' % wrong, 1)
        return DataFrame(self.channel, self.symbol, data, wrong, self.update, self.top_changed)


def levels_json(levels: Iterable[Level], price_precision: int, qty_precision: int) -> str:
    """The inside of a v2 ``bids``/``asks`` array."""
    return ",".join(
        [f'{{"price":{num(p, price_precision)},"qty":{num(q, qty_precision)}}}' for p, q in levels]
    )


def book_frame(
    kind: str,
    symbol_json: str,
    bids: Sequence[Level],
    asks: Sequence[Level],
    price_precision: int,
    qty_precision: int,
    crc: int,
    timestamp: str,
) -> bytes:
    """A v2 ``book`` frame; ``kind`` is ``"snapshot"`` or ``"update"``."""
    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":{symbol_json},'
        f'"bids":[{levels_json(bids, price_precision, qty_precision)}],'
        f'"asks":[{levels_json(asks, price_precision, qty_precision)}],'
        f'"checksum":{crc},"timestamp":"{timestamp}"}}]}}'
    ).encode()


def channel_frame(channel: str, kind: str, entries: Iterable[str]) -> bytes:
    """A v2 data frame whose ``data`` is a list of pre-rendered JSON objects."""
    return f'{{"channel":"{channel}","type":"{kind}","data":[{",".join(entries)}]}}'.encode()


def trade_entry(
    symbol_json: str,
    side: str,
    price: str,
    qty: str,
    ord_type: str,
    trade_id: int,
    timestamp: str,
) -> str:
    """One object of a v2 ``trade`` frame (``price``/``qty`` already rendered numbers)."""
    return (
        f'{{"symbol":{symbol_json},"side":"{side}","price":{price},"qty":{qty},'
        f'"ord_type":"{ord_type}","trade_id":{trade_id},"timestamp":"{timestamp}"}}'
    )


def ohlc_frame(kind: str, entries: Iterable[str], timestamp: str) -> bytes:
    """A v2 ``ohlc`` frame; unlike the other channels it carries a top-level timestamp."""
    return (
        f'{{"channel":"ohlc","type":"{kind}","timestamp":"{timestamp}",'
        f'"data":[{",".join(entries)}]}}'
    ).encode()


def ws_text_header(length: int) -> bytes:
    """RFC 6455 header of a final, unmasked (server-to-client) text frame of ``length`` bytes."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


HEARTBEAT = b'{"channel":"heartbeat"}'

BAD_JSON = b'{"channel":"book","type":"update","data":[{"symbol":"'
"""A frame cut off mid-string, as a broken proxy or a truncated write would deliver it."""


def status_frame(connection_id: int) -> bytes:
    """The ``status`` frame Kraken sends when a connection opens."""
    return (
        '{"channel":"status","data":[{"api_version":"v2",'
        f'"connection_id":{connection_id},"system":"online","version":"2.0.0"}}],'
        '"type":"update"}'
    ).encode()


def stamp(frame: bytes, send_ns: int) -> bytes:
    """Append the bench-only ``sim_send_ns`` field to a data frame (which ends with ``}``)."""
    return frame[:-1] + b',"sim_send_ns":%d}' % send_ns
