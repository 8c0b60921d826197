"""Kraken v2 specifics of decoding: book levels as objects, symbols with a slash."""

from __future__ import annotations

from typing import Any

from tradegw.providers.base.decode import FrameError


def levels(raw: Any, side: str) -> list[tuple[str, str]]:
    """``[{"price": "0.5666", "qty": "4831.75"}, ...]`` → ``[("0.5666", "4831.75"), ...]``."""
    if not isinstance(raw, list):
        raise FrameError(f"{side} is not a list")
    try:
        out = [(lv["price"], lv["qty"]) for lv in raw]
    except (TypeError, KeyError) as e:
        raise FrameError(f"{side} level without price/qty: {e}") from e
    for p, q in out:
        if not isinstance(p, str) or not isinstance(q, str):
            raise FrameError(f"{side} level price/qty are not numbers")
    return out


def canonical_symbol(venue_symbol: str) -> str:
    """``BTC/USD`` → ``BTC-USD``."""
    return venue_symbol.replace("/", "-")
