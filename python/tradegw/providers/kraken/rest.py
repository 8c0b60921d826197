"""Kraken public REST, used at start-up for reference data: ``/0/public/AssetPairs``.

The WebSocket ``instrument`` channel is the authority for precisions (the checksum depends on
them); AssetPairs lets the provider check its configured symbols before it connects and
cross-check the precisions. The order adapter reads its trading rules from the same call
(:func:`tradegw.providers.kraken.orders.fetch_order_instruments`).
"""

from __future__ import annotations

from typing import Any

from tradegw.providers.base.rest import RestClient, RestError

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
