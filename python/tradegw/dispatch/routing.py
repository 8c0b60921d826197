"""Which subscriptions receive which (venue, symbol, event type)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradegw.consumers.subscription import Subscription


@dataclass(frozen=True, slots=True)
class RouteFilter:
    """Which events one subscription of a consumer matches: each of ``venues``, ``symbols``
    and ``types`` is a set, or None for any."""

    venues: frozenset[str] | None = None
    symbols: frozenset[str] | None = None
    types: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        venues: Collection[str] | None = None,
        symbols: Collection[str] | None = None,
        types: Collection[str] | None = None,
    ) -> RouteFilter:
        """A filter from any collections (None = any)."""
        return cls(
            frozenset(venues) if venues is not None else None,
            frozenset(symbols) if symbols is not None else None,
            frozenset(types) if types is not None else None,
        )

    def matches(self, provider: str, symbol: str, event_type: str) -> bool:
        """Whether an event of ``provider``'s ``symbol`` and ``event_type`` passes."""
        return (
            (self.venues is None or provider in self.venues)
            and (self.symbols is None or symbol in self.symbols)
            and (self.types is None or event_type in self.types)
        )


class RoutingTable:
    """Subscriptions and a cache of the fan-out list per (venue, symbol, event type).

    Two venues quoting the same canonical symbol are two keys: a subscription to Kraken's
    BTC-USD never receives Coinbase's.

    Every change bumps :attr:`version` and clears the cache, so a subscribe or unsubscribe
    takes effect from the very next event; events carry the version they were routed under.
    """

    __slots__ = ("_cache", "_subs", "version")

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._cache: dict[tuple[str, str, str], tuple[Subscription, ...]] = {}
        self.version = 0

    def add(self, sub: Subscription) -> None:
        """Routes matching events to ``sub`` from now on."""
        self._subs.append(sub)
        self._changed()

    def remove(self, sub: Subscription) -> None:
        """Stops routing to ``sub`` (no error when it is not routed)."""
        if sub in self._subs:
            self._subs.remove(sub)
            self._changed()

    def changed(self) -> None:
        """A routed subscription changed what it wants: route again from the next event."""
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def route(self, provider: str, symbol: str, event_type: str) -> tuple[Subscription, ...]:
        """The subscriptions that want this (venue, symbol, event type)."""
        key = (provider, symbol, event_type)
        subs = self._cache.get(key)
        if subs is None:
            subs = tuple(s for s in self._subs if s.wants(provider, symbol, event_type))
            self._cache[key] = subs
        return subs

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every routed subscription."""
        return tuple(self._subs)
