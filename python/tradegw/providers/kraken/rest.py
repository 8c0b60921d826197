"""Kraken public REST, used at start-up for reference data: ``/0/public/AssetPairs``.

The WebSocket ``instrument`` channel is the authority for precisions (the checksum depends on
them); AssetPairs lets the provider check its configured symbols before it connects and
cross-check the precisions. The order adapter reads its trading rules from the same call
(:func:`fetch_order_instruments`): ``tick_size``, ``lot_decimals``, ``ordermin``, ``costmin``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradegw.orders.instrument import OrderInstrument
from tradegw.providers.base.rest import RestClient, RestError
from tradegw.providers.kraken.decode import canonical_symbol

# Kraken's REST names some assets the old way; WebSocket v2 uses the common codes.
_V2_ASSET = {"XBT": "BTC", "XDG": "DOGE"}


def v2_symbol(wsname: str) -> str:
    """AssetPairs ``wsname`` (``XBT/USD``) → WebSocket v2 symbol (``BTC/USD``)."""
    base, _, quote = wsname.partition("/")
    return f"{_V2_ASSET.get(base, base)}/{_V2_ASSET.get(quote, quote)}"


async def fetch_asset_pairs(rest: RestClient) -> dict[str, tuple[int, int]]:
    """``{v2 symbol: (pair_decimals, lot_decimals)}`` from AssetPairs.

    Raises:
        RestError: the venue answered with errors or a body of the wrong shape
            (``RestUnavailable`` when it kept failing).
    """
    body: Any = await rest.get_json("/0/public/AssetPairs")
    if not isinstance(body, dict) or body.get("error") or not isinstance(body.get("result"), dict):
        raise RestError(f"AssetPairs answered {str(body)[:200]}")
    out: dict[str, tuple[int, int]] = {}
    try:
        for info in body["result"].values():
            wsname = info.get("wsname")
            if wsname:
                out[v2_symbol(wsname)] = (int(info["pair_decimals"]), int(info["lot_decimals"]))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise RestError(f"AssetPairs entry of the wrong shape: {e}") from e
    return out


async def fetch_order_instruments(rest: RestClient) -> dict[str, OrderInstrument]:
    """``{canonical symbol: OrderInstrument}`` from AssetPairs: the price step is
    ``tick_size`` (``pair_decimals`` where an entry has none), the quantity step
    ``10**-lot_decimals``, the minimums ``ordermin`` and ``costmin``; the venue symbol is
    the v2 one (``BTC/USD``).

    Raises:
        RestError: the venue answered with errors or a body of the wrong shape
            (``RestUnavailable`` when it kept failing).
    """
    body: Any = await rest.get_json("/0/public/AssetPairs")
    if not isinstance(body, dict) or body.get("error") or not isinstance(body.get("result"), dict):
        raise RestError(f"AssetPairs answered {str(body)[:200]}")
    out: dict[str, OrderInstrument] = {}
    try:
        for info in body["result"].values():
            wsname = info.get("wsname")
            if not wsname:
                continue
            symbol = v2_symbol(wsname)
            tick = info.get("tick_size") or _step(int(info["pair_decimals"]))
            costmin = info.get("costmin")
            out[canonical_symbol(symbol)] = OrderInstrument.of(
                canonical_symbol(symbol),
                symbol,
                price_increment=str(tick),
                qty_increment=_step(int(info["lot_decimals"])),
                min_qty=str(info.get("ordermin") or "0"),
                min_notional=None if costmin is None else str(costmin),
            )
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise RestError(f"AssetPairs entry of the wrong shape: {e}") from e
    return out


def _step(decimals: int) -> str:
    """``10**-decimals`` as plain decimal text (``8`` -> ``0.00000001``)."""
    return format(Decimal(1).scaleb(-decimals), "f")
