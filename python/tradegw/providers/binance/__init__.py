"""Binance spot (public market streams and REST depth snapshots)."""

from tradegw.providers.binance.config import BinanceVenueConfig
from tradegw.providers.binance.provider import BinanceProvider

__all__ = ["BinanceProvider", "BinanceVenueConfig"]
