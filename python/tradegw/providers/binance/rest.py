"""Binance spot public REST: ``/api/v3/exchangeInfo`` (symbols, filters) and ``/api/v3/depth``.

Request weights are those of the venue's documentation; the shared
:class:`~tradegw.providers.base.RestClient` spends them from its bucket, corrected by the
``X-MBX-USED-WEIGHT-1M`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tradegw.providers.base import RestClient, RestError
from tradegw.providers.base.decode import FrameError, as_int, step_decimals

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """What the adapter needs of one ``exchangeInfo`` symbol."""

    symbol: str
    base: str
    quote: str
    status: str
    price_precision: int
    """Decimals of PRICE_FILTER ``tickSize``."""
    qty_precision: int
    """Decimals of LOT_SIZE ``stepSize``."""

    @property
    def canonical(self) -> str:
        """``BTC-USDT``."""
        return f"{self.base}-{self.quote}"


def parse_symbol(raw: Any) -> SymbolInfo:
    """One entry of ``exchangeInfo.symbols``. Raises ``RestError`` on a wrong shape."""
    try:
        filters = {f["filterType"]: f for f in raw["filters"]}
        return SymbolInfo(
            symbol=str(raw["symbol"]),
            base=str(raw["baseAsset"]),
            quote=str(raw["quoteAsset"]),
            status=str(raw["status"]),
            price_precision=step_decimals(filters["PRICE_FILTER"]["tickSize"]),
            qty_precision=step_decimals(filters["LOT_SIZE"]["stepSize"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RestError(f"exchangeInfo symbol of the wrong shape ({e}): {str(raw)[:200]}") from e


async def fetch_symbols(rest: RestClient, symbols: list[str]) -> dict[str, SymbolInfo]:
    """``exchangeInfo`` for ``symbols`` (weight 20), by symbol."""
    body = await rest.get_json(
        "/api/v3/exchangeInfo",
        {"symbols": orjson.dumps(symbols).decode()},
        weight=20,
    )
    if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
        raise RestError(f"exchangeInfo answered {str(body)[:200]}")
    infos = [parse_symbol(raw) for raw in body["symbols"]]
    return {info.symbol: info for info in infos}


def depth_weight(limit: int) -> int:
    """The documented request weight of ``/api/v3/depth`` at ``limit``."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A REST depth snapshot."""

    last_update_id: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


async def fetch_depth(rest: RestClient, symbol: str, limit: int) -> DepthSnapshot:
    """``/api/v3/depth`` of ``symbol``. Raises ``RestError`` on a wrong shape."""
    body = await rest.get_json(
        "/api/v3/depth", {"symbol": symbol, "limit": limit}, weight=depth_weight(limit)
    )
    try:
        return DepthSnapshot(
            as_int(body["lastUpdateId"], "lastUpdateId"),
            levels(body["bids"], "bids"),
            levels(body["asks"], "asks"),
        )
    except (KeyError, TypeError, FrameError) as e:
        raise RestError(f"depth of {symbol} of the wrong shape ({e}): {str(body)[:200]}") from e


def levels(raw: Any, side: str) -> list[tuple[str, str]]:
    """``[["0.0024", "10"], ...]`` → ``[("0.0024", "10"), ...]`` (strings as the venue wrote
    them; the book refuses anything that is not a decimal)."""
    if not isinstance(raw, list):
        raise FrameError(f"{side} is not a list")
    out = []
    for lv in raw:
        if not isinstance(lv, list) or len(lv) < 2:
            raise FrameError(f"{side} level is not [price, qty]: {lv!r:.40}")
        p, q = lv[0], lv[1]
        if not isinstance(p, str) or not isinstance(q, str):
            raise FrameError(f"{side} price/qty are not strings: {lv!r:.40}")
        out.append((p, q))
    return out
