"""Kraken WebSocket v2 wire format: number text and frames.

What the real v2 wire looks like (public captures; see protocols.md section 3.2):

* ``book``, ``trade``, ``ticker`` and ``ohlc`` carry prices and quantities as JSON *numbers* at
  the pair's full precision with trailing zeros kept, never in exponent form: ``62807.0``,
  ``0.00000000``, ``0.50930100`` (:func:`tradegw.sim.wire.fixed`). So the literal text and the
  precision rendering give the same checksum.
* The ``instrument`` channel writes its increments and minimums the way a float's ``repr``
  does, exponent forms included: ``"qty_increment":1e-08``, ``"qty_min":5e-05``,
  ``"price_increment":0.1`` (:func:`float_text`), built here from the integers without a float.
* REST ``AssetPairs`` writes ``ordermin``/``costmin``/``tick_size`` as strings without
  trailing zeros (:func:`trimmed`); REST ``Depth`` uses fixed-precision strings.

Hot frames are concatenated by hand; the rest goes through :func:`tradegw.sim.wire.dumps`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from tradegw.sim.wire import DataFrame, Level, fixed

# --------------------------------------------------------------------------- numbers


def trimmed(value: int, precision: int) -> str:
    """A fixed-point value without trailing fractional zeros, and without a point when the
    fraction is zero: ``trimmed(5660, 4) == "0.566"``, ``trimmed(452810, 1) == "45281"``."""
    text = fixed(value, precision)
    if "." not in text:
        return text
    return text.rstrip("0").rstrip(".")


def float_text(value: int, precision: int) -> str:
    """A fixed-point value written as Python's ``repr`` writes the float of that value.

    Shortest digits; plain notation with at least one decimal (``2.0``, ``0.0001``) when the
    leading digit's exponent is in ``[-4, 16)``, else exponent notation with a signed,
    two-digit-or-more exponent (``1e-08``, ``1.5e-05``, ``1e+16``). Built from the integer,
    so no binary rounding can enter.
    """
    if value == 0:
        return "0.0"
    if value < 0:
        return "-" + float_text(-value, precision)
    digits = str(value)
    significant = digits.rstrip("0")
    last = len(digits) - len(significant) - precision  # exponent of the last digit
    lead = len(significant) - 1 + last  # exponent of the leading digit
    if -4 <= lead < 16:
        if last >= 0:
            return f"{significant}{'0' * last}.0"
        whole = lead + 1
        if whole > 0:
            return f"{significant[:whole]}.{significant[whole:]}"
        return f"0.{'0' * -whole}{significant}"
    mantissa = significant[0] + (f".{significant[1:]}" if len(significant) > 1 else "")
    return f"{mantissa}e{'-' if lead < 0 else '+'}{abs(lead):02d}"


# --------------------------------------------------------------------------- frames


class BookFrame(DataFrame):
    """A ``book`` frame: it carries a checksum, which the ``corrupt_checksum`` fault spoils."""

    __slots__ = ("checksum",)

    corruptible: ClassVar[bool] = True

    def __init__(self, symbol: str, data: bytes, checksum: int, loss_detectable: bool) -> None:
        # Fields set here rather than through super().__init__: one frame per book update.
        self.channel = "book"
        self.symbol = symbol
        self.data = data
        self.loss_detectable = loss_detectable
        self.checksum = checksum

    def corrupted(self) -> BookFrame:
        """A copy whose checksum is wrong (and never accidentally right)."""
        wrong = self.checksum ^ 0x5A5A5A5A
        data = self.data.replace(b'"checksum":%d,' % self.checksum, b'"checksum":%d,' % wrong, 1)
        return BookFrame(self.symbol, data, wrong, self.loss_detectable)


def levels_json(levels: Iterable[Level], price_precision: int, qty_precision: int) -> str:
    """The inside of a v2 ``bids``/``asks`` array, numbers at full precision."""
    return ",".join(
        [
            f'{{"price":{fixed(p, price_precision)},"qty":{fixed(q, qty_precision)}}}'
            for p, q in levels
        ]
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
