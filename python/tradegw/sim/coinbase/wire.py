"""Coinbase Advanced Trade wire text: numbers, times and the ``sequence_num`` envelope.

What the venue writes (docs and real captures, protocols.md sections 2.1 and 5):

* Prices and sizes are JSON strings at the product's increment with trailing zeros dropped:
  ``"21921.73"``, ``"79944.1"``, ``"3.0105"``, ``"15460"``, and ``"0"`` for a removed level
  (:func:`plain`).
* Times are Go's RFC 3339 with nanoseconds, trailing zeros dropped
  (``2023-02-09T20:19:35.39625135Z``, :func:`rfc3339_nano`); a heartbeat's ``current_time`` is
  Go's ``time.Time`` text with its monotonic reading (:func:`go_time`).
* Every frame is ``{"channel", "client_id", "timestamp", "sequence_num", "events"}``, where
  ``sequence_num`` is the connection's own counter. A data frame is therefore built once
  without its number (:class:`Envelope`) and numbered per connection
  (:class:`Sequenced`). Acks and heartbeats carry no ``client_id``, as captured.
* Errors are ``{"type":"error","message":...}`` with no envelope and no number.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from tradegw.sim.wire import DataFrame, Level, div_round, dumps, fixed, jstr, rfc3339_ns

# --------------------------------------------------------------------------- numbers


def plain(value: int, precision: int) -> str:
    """A fixed-point value as Coinbase writes it: no trailing fractional zeros, no point
    when nothing is left after it (``plain(217300, 2) == "2173"``, ``plain(0, 8) == "0"``)."""
    # Trailing zero digits of the integer are trailing zeros of the text: shed them first.
    while precision and not value % 10:
        value //= 10
        precision -= 1
    return fixed(value, precision)


PERCENT_DECIMALS = 14
"""Percentages are written with this many decimals at most (``"-4.15775596190603"``)."""


def percent_change(now: int, then: int) -> str:
    """``(now - then) / then`` in percent, both at the same precision (``"0"`` when
    ``then`` is 0), rounded half away from zero at :data:`PERCENT_DECIMALS`."""
    if not then:
        return "0"
    return plain(div_round((now - then) * 100 * 10**PERCENT_DECIMALS, then), PERCENT_DECIMALS)


# --------------------------------------------------------------------------- time

SNAPSHOT_EVENT_TIME = "1970-01-01T00:00:00Z"
"""The ``event_time`` of every level of a ``level2`` snapshot (as the docs show it)."""

_NS = 1_000_000_000


def _nano_fraction(ns: int) -> str:
    """``.fffffffff`` of Go's ``.999999999`` layout: trailing zeros and an empty fraction
    dropped."""
    if not ns:
        return ""
    digits = f"{ns:09d}"
    return "." + digits.rstrip("0")


def rfc3339_nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC (``2023-02-09T20:19:35.39625135Z``)."""
    # The common helper caches the date and time of day, which only change once a second.
    full = rfc3339_ns(ns)  # YYYY-MM-DDTHH:MM:SS.fffffffffZ
    return full[:19] + _nano_fraction(ns % _NS) + "Z"


def go_time(wall_ns: int, uptime_ns: int) -> str:
    """Go's ``time.Time.String()`` of a server clock reading, monotonic part included:
    ``2026-09-07 23:37:22.674409 +0000 UTC m=+139651.272674714``."""
    seconds, rest = divmod(wall_ns, _NS)
    up_s, up_rest = divmod(uptime_ns, _NS)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    return f"{stamp}{_nano_fraction(rest)} +0000 UTC m=+{up_s}.{up_rest:09d}"


# --------------------------------------------------------------------------- frames


class Envelope(DataFrame):
    """A frame whose ``sequence_num`` is left for each connection to fill in.

    ``head`` is the text up to and including ``"sequence_num":``; ``data`` is the rest, from
    the comma before ``"events"`` to the closing brace.
    """

    __slots__ = ("head",)

    def __init__(
        self,
        channel: str,
        symbol: str,
        head: bytes,
        rest: bytes,
        loss_detectable: bool = False,
    ) -> None:
        super().__init__(channel, symbol, rest, loss_detectable)
        self.head = head

    def numbered(self, seq: int) -> bytes:
        """The complete frame as number ``seq`` of a connection."""
        return b"%s%d%s" % (self.head, seq, self.data)


class Sequenced(DataFrame):
    """One connection's copy of an :class:`Envelope`: the frame and the number it got.

    The number is given when the server produces the frame, so a frame the network then
    loses, delays or repeats shows as a gap, a step back or a repeat of the counter. Its
    integrity field is that number, which :meth:`corrupted` damages.
    """

    __slots__ = ("envelope", "seq")

    corruptible: ClassVar[bool] = True

    def __init__(self, envelope: Envelope, seq: int) -> None:
        # Fields set directly: one of these per frame per connection.
        self.channel = envelope.channel
        self.symbol = envelope.symbol
        self.data = envelope.data
        self.loss_detectable = envelope.loss_detectable
        self.envelope = envelope
        self.seq = seq

    def render(self) -> bytes:
        """The bytes on the wire."""
        return self.envelope.numbered(self.seq)

    def corrupted(self) -> Sequenced:
        """A copy stamped with a wrong number: its lowest bit flipped, so the frame reads as
        the next number (a gap) or the previous one (a repeat, then a gap)."""
        return Sequenced(self.envelope, self.seq ^ 1)


def envelope(
    channel: str,
    timestamp: str,
    events: Iterable[str],
    *,
    symbol: str = "",
    client_id: bool = True,
    loss_detectable: bool = False,
) -> Envelope:
    """A frame of ``channel`` whose ``events`` are pre-rendered JSON objects."""
    client = '"client_id":"",' if client_id else ""
    head = f'{{"channel":"{channel}",{client}"timestamp":"{timestamp}","sequence_num":'
    rest = f',"events":[{",".join(events)}]}}'
    return Envelope(channel, symbol, head.encode(), rest.encode(), loss_detectable)


def _level_entries(
    side: str, levels: Sequence[Level], price_precision: int, size_precision: int, at: str
) -> list[str]:
    return [
        f'{{"side":"{side}","event_time":"{at}","price_level":"{plain(p, price_precision)}",'
        f'"new_quantity":"{plain(q, size_precision)}"}}'
        for p, q in levels
    ]


def level2_event(
    kind: str,
    product_id: str,
    bids: Sequence[Level],
    asks: Sequence[Level],
    price_precision: int,
    size_precision: int,
    event_time: str,
) -> str:
    """One ``l2_data`` event (``kind`` ``snapshot`` or ``update``): bids then offers, each
    as given; ``new_quantity`` is absolute and ``"0"`` removes the level."""
    entries = _level_entries("bid", bids, price_precision, size_precision, event_time)
    entries += _level_entries("offer", asks, price_precision, size_precision, event_time)
    return f'{{"type":"{kind}","product_id":"{product_id}","updates":[{",".join(entries)}]}}'


def typed_event(kind: str, key: str, items: Iterable[str]) -> str:
    """An event holding a list of pre-rendered objects: ``{"type":..., key: [...]}``."""
    return f'{{"type":"{kind}","{key}":[{",".join(items)}]}}'


def subscriptions_event(subscriptions: Mapping[str, Iterable[str]]) -> str:
    """The event of a ``subscriptions`` ack: channel -> product ids, both sorted as the
    venue's encoder sorts a map (an unsubscribed channel is absent)."""
    body = {channel: sorted(ids) for channel, ids in sorted(subscriptions.items()) if ids}
    return dumps({"subscriptions": body})


def heartbeat_event(current_time: str, counter: int) -> str:
    """The event of a ``heartbeats`` frame (the counter as a number, as captured)."""
    return f'{{"current_time":{jstr(current_time)},"heartbeat_counter":{counter}}}'


def error_frame(message: str, reason: str | None = None) -> bytes:
    """An error frame (no envelope, no ``sequence_num``)."""
    body: dict[str, object] = {"type": "error", "message": message}
    if reason is not None:
        body["reason"] = reason
    return dumps(body).encode()


BAD_JSON = b'{"channel":"l2_data","client_id":"","timestamp":"2'
"""A frame cut off inside its timestamp, before any ``sequence_num`` could be read."""
