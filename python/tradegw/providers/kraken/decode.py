"""Kraken v2 specifics of decoding: symbols with a slash (frames are read natively, see
``_core.KrakenFrameDecoder``)."""

from __future__ import annotations


def canonical_symbol(venue_symbol: str) -> str:
    """``BTC/USD`` → ``BTC-USD``."""
    return venue_symbol.replace("/", "-")
