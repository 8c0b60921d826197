"""Who is subscribed to what: streams keyed by channel, pair and a venue's stream key.

A stream is one channel of one pair with one variant (a book depth, an update speed, a candle
interval; ``None`` where a channel has no variants). The index also keeps the pairs with at
least one subscriber: the only ones the market driver steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tradegw.sim.wire import DataFrame

StreamKey = int | str | None
"""A stream's variant within its channel and pair: a depth, a trigger, an interval, or None."""


class Subscriber(Protocol):
    """A connection as a feed sees it."""

    def deliver(self, frame: DataFrame) -> None:
        """Send a data frame (subject to the connection's state and injected faults)."""


Streams = dict[StreamKey, dict[Subscriber, None]]
"""Stream key -> subscribers of one channel and pair (dicts keep subscription order)."""


class Subscriptions:
    """The subscription index of one simulator run, over the market's pair names."""

    def __init__(self, names: Sequence[str]) -> None:
        self._order = list(names)
        self.table: dict[tuple[str, str], Streams] = {}
        """``(channel, pair name)`` -> its streams; absent when nobody subscribed. Feeds read
        it directly on the hot path; change it only through :meth:`add` and :meth:`remove`."""
        self.active: list[str] = []
        """Pair names with at least one subscriber, in pair order: the ones the driver
        steps."""

    def add(self, sub: Subscriber, channel: str, name: str, key: StreamKey) -> None:
        """Add ``sub`` to a stream (a no-op when it is already there)."""
        self.table.setdefault((channel, name), {}).setdefault(key, {})[sub] = None
        self._refresh_active()

    def remove(self, sub: Subscriber, channel: str, name: str, key: StreamKey) -> None:
        """Remove ``sub`` from a stream (a no-op when it is not subscribed)."""
        streams = self.table.get((channel, name))
        if streams is None or key not in streams:
            return
        streams[key].pop(sub, None)
        # Empty entries must go: feeds compute work (a depth diff, a frame) for every key here.
        if not streams[key]:
            del streams[key]
        if not streams:
            del self.table[(channel, name)]
        self._refresh_active()

    def _refresh_active(self) -> None:
        subscribed = {name for _, name in self.table}
        self.active = [name for name in self._order if name in subscribed]


def fan_out(subscribers: dict[Subscriber, None], frame: DataFrame) -> int:
    """Deliver ``frame`` to every subscriber of a stream; returns 1 (one frame built)."""
    # A copy: a delivery can end in a disconnect that unsubscribes while we iterate.
    for sub in tuple(subscribers):
        sub.deliver(frame)
    return 1
