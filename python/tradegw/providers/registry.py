"""Venue adapters by name. The gateway, the runner and the config schema look venues up
here and never import one directly; adding a venue is one line below plus its package.

Entries are import paths, loaded on first use, so that reading a config does not import
every adapter's WebSocket and REST code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tradegw.orders.credentials import VenueCredentials
    from tradegw.orders.venue import OrderVenue
    from tradegw.providers.base import VenueConfig, VenueProvider


class OrderVenueFactory(Protocol):
    """``(venue config, its market-data provider) -> OrderVenue``, or None when the config
    has no enabled ``trading`` section. Without ``credentials`` it reads the venue's
    (:func:`tradegw.orders.credentials.load_credentials`) and may raise
    :class:`~tradegw.errors.CredentialError`; the provider gives it the venue's URLs (the
    simulator's order endpoints are found from them) and its instruments."""

    def __call__(
        self,
        config: VenueConfig,
        provider: VenueProvider,
        *,
        credentials: VenueCredentials | None = None,
    ) -> OrderVenue | None: ...


@dataclass(frozen=True, slots=True)
class _Entry:
    config: str
    provider: str
    orders: str | None = None
    """``module:function`` making the venue's :class:`~tradegw.orders.venue.OrderVenue`
    (:data:`OrderVenueFactory`), once the venue has an order adapter."""


_VENUES: dict[str, _Entry] = {
    "binance": _Entry(
        "tradegw.providers.binance.config:BinanceVenueConfig",
        "tradegw.providers.binance.provider:BinanceProvider",
        "tradegw.providers.binance.orders:order_venue",
    ),
    "coinbase": _Entry(
        "tradegw.providers.coinbase.config:CoinbaseVenueConfig",
        "tradegw.providers.coinbase.provider:CoinbaseProvider",
        orders="tradegw.providers.coinbase.orders:make_order_venue",
    ),
    "kraken": _Entry(
        "tradegw.providers.kraken.config:KrakenVenueConfig",
        "tradegw.providers.kraken.provider:KrakenProvider",
        "tradegw.providers.kraken.orders:make_order_venue",
    ),
}


def venue_names() -> tuple[str, ...]:
    """Every registered venue, in registry order."""
    return tuple(_VENUES)


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def config_model(venue: str) -> type[VenueConfig]:
    """The config model of ``venue``. Raises ``KeyError`` for an unknown venue."""
    model: type[VenueConfig] = _load(_VENUES[venue].config)
    return model


@cache
def provider_class(venue: str) -> type[VenueProvider]:
    """The adapter class of ``venue``. Raises ``KeyError`` for an unknown venue."""
    cls: type[VenueProvider] = _load(_VENUES[venue].provider)
    return cls


def order_venue_factory(venue: str) -> OrderVenueFactory | None:
    """How to make ``venue``'s order adapter, or None when it has none yet. Raises
    ``KeyError`` for an unknown venue."""
    path = _VENUES[venue].orders
    if path is None:
        return None
    factory: OrderVenueFactory = _load(path)
    return factory
