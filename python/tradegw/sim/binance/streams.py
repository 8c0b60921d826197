"""Binance stream names: ``<symbol>@<stream type>[@<speed>]`` parsed into subscription keys.

==============================  ===================  ==========================================
stream name                     channel              key
==============================  ===================  ==========================================
``btcusdt@depth``               ``depth``            ``1000ms``
``btcusdt@depth@100ms``         ``depth``            ``100ms`` (``@1000ms`` is the default)
``btcusdt@depth5`` (10, 20)     ``depth5``           ``1000ms`` or ``100ms``
``btcusdt@trade``               ``trade``            None
``btcusdt@aggTrade``            ``aggTrade``         None
``btcusdt@bookTicker``          ``bookTicker``       None
``btcusdt@ticker``              ``ticker``           None
``btcusdt@kline_1m``            ``kline``            the interval text (``1m``, ``1h``, ...)
==============================  ===================  ==========================================

A name of one of these shapes whose symbol the venue does not list is accepted and carries
nothing, as on the venue (stream symbols are lowercase; ``BTCUSDT@trade`` names no stream of
ours). Any other shape is an invalid stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradegw.sim.subscriptions import StreamKey

SPEEDS = ("1000ms", "100ms")
PARTIAL_LEVELS = (5, 10, 20)
KLINE_MINUTES: dict[str, int] = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
}
"""Kline intervals served, in minutes (Binance also has ``1s`` and ``1M``; not simulated)."""

_SIMPLE = frozenset({"trade", "aggTrade", "bookTicker", "ticker"})


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A parsed stream name: its stream symbol (lowercase), channel and key."""

    symbol: str
    channel: str
    key: StreamKey

    @property
    def suffix(self) -> str:
        """The name without the symbol: ``depth@100ms``, ``kline_1m``, ``trade``.

        Frames of the stream carry it as their channel.
        """
        if self.channel.startswith("depth"):
            return self.channel if self.key == "1000ms" else f"{self.channel}@{self.key}"
        if self.channel == "kline":
            return f"kline_{self.key}"
        return self.channel


def parse_stream(name: str) -> StreamSpec | None:
    """The stream a name stands for, or None when it is not a stream name at all."""
    symbol, at, rest = name.partition("@")
    if not at or not symbol or not symbol.isalnum():
        return None
    kind, _, speed = rest.partition("@")
    if kind in _SIMPLE:
        return None if speed else StreamSpec(symbol, kind, None)
    if kind.startswith("kline_"):
        interval = kind[len("kline_") :]
        if speed or interval not in KLINE_MINUTES:
            return None
        return StreamSpec(symbol, "kline", interval)
    if not kind.startswith("depth"):
        return None
    levels = kind[len("depth") :]
    if levels and (not levels.isdigit() or int(levels) not in PARTIAL_LEVELS):
        return None
    speed = speed or "1000ms"
    if speed not in SPEEDS:
        return None
    return StreamSpec(symbol, kind, speed)
