"""Venue adapters by name. The gateway, the runner and the config schema look venues up
here and never import one directly; adding a venue is one line below plus its package.

Entries are import paths, loaded on first use, so that reading a config does not import
every adapter's WebSocket and REST code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradegw.providers.base import VenueConfig, VenueProvider


@dataclass(frozen=True, slots=True)
class _Entry:
    config: str
    provider: str


_VENUES: dict[str, _Entry] = {
    "binance": _Entry(
        "tradegw.providers.binance.config:BinanceVenueConfig",
        "tradegw.providers.binance.provider:BinanceProvider",
    ),
    "coinbase": _Entry(
        "tradegw.providers.coinbase.config:CoinbaseVenueConfig",
        "tradegw.providers.coinbase.provider:CoinbaseProvider",
    ),
    "kraken": _Entry(
        "tradegw.providers.kraken.config:KrakenVenueConfig",
        "tradegw.providers.kraken.provider:KrakenProvider",
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
