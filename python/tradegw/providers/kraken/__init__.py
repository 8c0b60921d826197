"""Kraken spot, WebSocket v2 (public market data)."""

from tradegw.providers.kraken.config import KrakenVenueConfig
from tradegw.providers.kraken.provider import KrakenProvider

__all__ = ["KrakenProvider", "KrakenVenueConfig"]
