"""Venue-neutral wire text: fixed-point numbers, RFC 3339 times, JSON, WebSocket framing.

Every price and quantity in the simulators is a fixed-point integer (``value * 10**precision``);
the venues differ in how they write such a value (Kraken v2: a JSON number at full precision;
Binance and Coinbase: a string), but each builds its text from the helpers here, never from a
float. Hot frames are concatenated by hand in each venue's wire module; everything else goes
through :func:`dumps`, a tiny encoder that refuses floats so one can never sneak onto the wire.
"""

from __future__ import annotations

import re
import time
from typing import ClassVar

# Powers of ten up to well past any precision a pair uses.
_POW10: tuple[int, ...] = tuple(10**i for i in range(40))
# "0." followed by n zeros, for values below one.
_ZERO_POINT: tuple[str, ...] = tuple("0." + "0" * n for n in range(40))

Level = tuple[int, int]
"""One book level as fixed-point integers: ``(price, qty)``."""


# --------------------------------------------------------------------------- numbers


def fixed(value: int, precision: int) -> str:
    """Render a fixed-point value with exactly ``precision`` decimals (``"0.5660"``).

    Trailing zeros are kept and the form is never an exponent: ``fixed(452810, 1) ==
    "45281.0"``, ``fixed(0, 8) == "0.00000000"``, ``fixed(-7, 3) == "-0.007"``.
    """
    if precision == 0:
        return str(value)
    if value < 0:
        return "-" + fixed(-value, precision)
    # Slicing the digits is the cheapest way there; this runs for every number of every frame.
    digits = str(value)
    whole = len(digits) - precision
    if whole > 0:
        return f"{digits[:whole]}.{digits[whole:]}"
    return _ZERO_POINT[-whole] + digits


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
    """RFC 3339 UTC text with microseconds (``2023-10-06T17:35:55.440295Z``)."""
    second, rest = divmod(ns, 1_000_000_000)
    return f"{_seconds.get(second)}.{rest // 1000:06d}Z"


def rfc3339_ns(ns: int) -> str:
    """RFC 3339 UTC text with nanoseconds (``2023-10-06T17:35:55.440295123Z``)."""
    second, rest = divmod(ns, 1_000_000_000)
    return f"{_seconds.get(second)}.{rest:09d}Z"


def now_ns() -> int:
    """Wall-clock time in nanoseconds (frames carry wall time, like the venues)."""
    return time.time_ns()


# --------------------------------------------------------------------------- generic JSON


class Num:
    """A JSON number whose text is already rendered (for :func:`dumps`)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def fixed(cls, value: int, precision: int) -> Num:
        """The number text of a fixed-point value at exactly ``precision`` decimals."""
        return cls(fixed(value, precision))

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
    """A data frame built once per stream and shared by every subscriber of that stream.

    ``symbol`` is the venue's name of the pair (what fault specs filter on).
    ``loss_detectable`` says whether a client's integrity check (a checksum, a sequence id)
    must notice if this frame is lost or arrives late, which makes it eligible for the
    ``drop`` and ``reorder`` faults. A venue whose frames carry an integrity field subclasses
    this, sets :attr:`corruptible` and implements :meth:`corrupted`.
    """

    __slots__ = ("channel", "data", "loss_detectable", "symbol")

    corruptible: ClassVar[bool] = False
    """Whether :meth:`corrupted` can damage an integrity field of this kind of frame."""

    def __init__(
        self, channel: str, symbol: str, data: bytes, loss_detectable: bool = False
    ) -> None:
        self.channel = channel
        self.symbol = symbol
        self.data = data
        self.loss_detectable = loss_detectable

    def corrupted(self) -> DataFrame:
        """A copy whose integrity field is wrong (and never accidentally right).

        Raises:
            TypeError: this kind of frame has no integrity field (:attr:`corruptible` is
                False).
        """
        raise TypeError(f"{type(self).__name__} frames carry no integrity field")


def ws_text_header(length: int) -> bytes:
    """RFC 6455 header of a final, unmasked (server-to-client) text frame of ``length`` bytes."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


def stamp(frame: bytes, send_ns: int) -> bytes:
    """Append the bench-only ``sim_send_ns`` field to a JSON object frame (ends with ``}``)."""
    return frame[:-1] + b',"sim_send_ns":%d}' % send_ns
