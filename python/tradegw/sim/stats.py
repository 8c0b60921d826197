"""Counters shared by the parts of a simulator run (the same for every venue)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class SimStats:
    """Plain counters; the hot path bumps attributes directly."""

    steps: int = 0
    """Market events applied on subscribed pairs."""
    frames_built: int = 0
    """Distinct data frames built (one per stream, however many subscribers)."""
    messages_sent: int = 0
    """Data frames written to sockets (books, trades, tickers, candles)."""
    control_sent: int = 0
    """Other frames written: greetings, acks, pongs, heartbeats, reference data."""
    suppressed: int = 0
    """Frames not sent because their connection was stalled."""
    connections_open: int = 0
    connections_total: int = 0
    slow_disconnects: int = 0
    """Clients cut off because their send buffer grew past the limit."""
    ws_requests: int = 0
    rest_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a fresh dict."""
        return asdict(self)
