"""Validation of client requests (``subscribe``/``unsubscribe`` params) into typed form.

Kraken publishes the parameters and their defaults but not every error string. An unknown pair
(``Currency pair not supported <symbol>``) and an unsupported book depth (``Subscription depth
not supported``) are answered in the venue's words; the other failure texts are the
simulator's own, short and stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradegw.errors import SimulatorError

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
"""Candle intervals Kraken v2 serves, in minutes."""
SYMBOL_CHANNELS = frozenset({"book", "trade", "ticker", "ohlc"})
"""Channels whose subscriptions are per symbol."""
CHANNELS = SYMBOL_CHANNELS | {"instrument", "heartbeat", "status"}
EVENT_TRIGGERS = ("trades", "bbo")


class RequestError(SimulatorError, ValueError):
    """A request the venue would refuse; the message is the ack's ``error`` text."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A validated ``subscribe`` or ``unsubscribe`` request.

    ``depth`` is set for ``book``, ``event_trigger`` for ``ticker``, ``interval`` for ``ohlc``.
    """

    channel: str
    symbols: tuple[str, ...] = ()
    snapshot: bool = True
    depth: int | None = None
    event_trigger: str | None = None
    interval: int | None = None


def parse_subscription(method: str, params: object) -> Subscription:
    """Validate the ``params`` of a ``subscribe``/``unsubscribe`` request.

    Symbols are not checked against the venue's pairs here: that failure is per symbol.

    Raises:
        RequestError: the request as a whole is invalid.
    """
    if not isinstance(params, dict):
        raise RequestError("Missing params")
    channel = params.get("channel")
    if not isinstance(channel, str):
        raise RequestError("Missing channel")
    if channel not in CHANNELS:
        raise RequestError(f"Channel {channel} not supported")
    symbols: tuple[str, ...] = ()
    if channel in SYMBOL_CHANNELS:
        raw = params.get("symbol")
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) and s for s in raw):
            raise RequestError("symbol must be a non-empty list of strings")
        symbols = tuple(dict.fromkeys(raw))  # a repeated symbol gets one ack, in order
    snapshot = params.get("snapshot", True)
    if not isinstance(snapshot, bool):
        raise RequestError("snapshot must be a boolean")
    depth = event_trigger = interval = None
    if channel == "book":
        depth = params.get("depth", 10)
        if type(depth) is not int or depth not in BOOK_DEPTHS:
            raise RequestError("Subscription depth not supported")
    elif channel == "ticker":
        event_trigger = params.get("event_trigger", "trades")
        if event_trigger not in EVENT_TRIGGERS:
            raise RequestError("Invalid event_trigger")
    elif channel == "ohlc":
        interval = params.get("interval", 1)
        if type(interval) is not int or interval not in OHLC_INTERVALS:
            raise RequestError("Invalid interval")
    if method == "unsubscribe":
        snapshot = False
    return Subscription(channel, symbols, snapshot, depth, event_trigger, interval)


def ack_result(sub: Subscription, method: str, symbol: str | None) -> dict[str, object]:
    """The ``result`` object of a successful ack, keys in Kraken's order."""
    result: dict[str, object] = {"channel": sub.channel}
    if sub.depth is not None:
        result["depth"] = sub.depth
    if sub.event_trigger is not None:
        result["event_trigger"] = sub.event_trigger
    if sub.interval is not None:
        result["interval"] = sub.interval
    if method == "subscribe" and sub.channel not in ("heartbeat", "status"):
        result["snapshot"] = sub.snapshot
    if symbol is not None:
        result["symbol"] = symbol
    return result
