"""Coinbase Advanced Trade (public market data channels and REST products)."""

from tradegw.providers.coinbase.config import CoinbaseVenueConfig
from tradegw.providers.coinbase.provider import CoinbaseProvider

__all__ = ["CoinbaseProvider", "CoinbaseVenueConfig"]
