"""Coinbase Advanced Trade public REST: ``/api/v3/brokerage/market/products`` (precisions
for market data; increments and size limits for orders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradegw.providers.base import RestClient, RestError
from tradegw.providers.base.decode import step_decimals


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What the adapter needs of one product."""

    product_id: str
    status: str
    trading_disabled: bool
    price_precision: int
    """Decimals of ``quote_increment``."""
    qty_precision: int
    """Decimals of ``base_increment``."""
    price_increment: str = ""
    """The price tick (``price_increment``, else ``quote_increment``), as the venue wrote it."""
    base_increment: str = ""
    """The size step."""
    base_min_size: str = ""
    base_max_size: str = ""
    quote_min_size: str = ""
    """Smallest order value in the quote currency ("" when the venue gives none)."""
    base_currency: str = ""
    quote_currency: str = ""


def parse_product(raw: Any) -> ProductInfo:
    """One entry of ``products``. Raises ``RestError`` on a wrong shape."""
    try:
        return ProductInfo(
            product_id=str(raw["product_id"]),
            status=str(raw.get("status", "")),
            trading_disabled=bool(raw.get("trading_disabled", False)),
            price_precision=step_decimals(raw["quote_increment"]),
            qty_precision=step_decimals(raw["base_increment"]),
            price_increment=str(raw.get("price_increment") or raw["quote_increment"]),
            base_increment=str(raw["base_increment"]),
            base_min_size=str(raw.get("base_min_size") or ""),
            base_max_size=str(raw.get("base_max_size") or ""),
            quote_min_size=str(raw.get("quote_min_size") or ""),
            base_currency=str(raw.get("base_currency_id") or ""),
            quote_currency=str(raw.get("quote_currency_id") or ""),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise RestError(f"product of the wrong shape ({e}): {str(raw)[:200]}") from e


async def fetch_products(rest: RestClient) -> dict[str, ProductInfo]:
    """Every spot product, by product id."""
    body = await rest.get_json("/api/v3/brokerage/market/products", {"product_type": "SPOT"})
    if not isinstance(body, dict) or not isinstance(body.get("products"), list):
        raise RestError(f"products answered {str(body)[:200]}")
    products = [parse_product(raw) for raw in body["products"]]
    return {p.product_id: p for p in products}
