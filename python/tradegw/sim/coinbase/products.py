"""Coinbase's names for the simulator's instruments: product ids, currency names and ids.

The instruments (precisions, sizes, start prices) are venue-neutral
(:mod:`tradegw.sim.instruments`); Coinbase names a spot product ``BASE-QUOTE`` after its
currencies' codes and describes it by increments: ``quote_increment`` is one price tick
(``"0.01"``), ``base_increment`` one size step (``"0.00000001"``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tradegw.sim.coinbase.wire import plain
from tradegw.sim.instruments import Instrument, build_instruments

FIAT = frozenset({"USD", "EUR", "GBP"})
"""Currencies Coinbase lists as fiat (``/v2/currencies``) rather than crypto."""

# code -> (name, brand colour) as the venue's currency endpoints give them
_CURRENCIES: dict[str, tuple[str, str]] = {
    "BTC": ("Bitcoin", "#F7931A"),
    "ETH": ("Ethereum", "#627EEA"),
    "SOL": ("Solana", "#9945FF"),
    "XRP": ("XRP", "#23292F"),
    "MATIC": ("Polygon", "#8247E5"),
    "ADA": ("Cardano", "#0033AD"),
    "LTC": ("Litecoin", "#A6A9AA"),
    "DOT": ("Polkadot", "#E6007A"),
    "LINK": ("Chainlink", "#2A5ADA"),
    "USDT": ("Tether", "#26A17B"),
    "SHIB": ("Shiba Inu", "#FFA409"),
    "AVAX": ("Avalanche", "#E84142"),
    "ATOM": ("Cosmos", "#2E3148"),
    "DOGE": ("Dogecoin", "#C2A633"),
    "USD": ("US Dollar", "#85BB65"),
    "EUR": ("Euro", "#0052B4"),
    "GBP": ("British Pound", "#012169"),
}

_BASE_MAX_UNITS = 1_000_000
"""Largest order size, in multiples of the largest level a pair's market creates."""
QUOTE_MAX_SIZE = "10000000"


def currency_name(code: str) -> str:
    """The display name of a currency (``Bitcoin``); made-up codes are their own name."""
    known = _CURRENCIES.get(code)
    return known[0] if known else code


def currency_color(code: str) -> str:
    """The brand colour ``/v2/currencies/crypto`` gives a currency."""
    known = _CURRENCIES.get(code)
    return known[1] if known else "#5B616E"


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """One spot product under Coinbase's names, with the instrument behind it.

    The reference data is written out once, as ``market/products`` and the ``status``
    channel give it; amounts are strings at the product's increments.
    """

    instrument: Instrument
    product_id: str
    """``BTC-USD``."""
    base: str
    """Base currency code (``BTC``)."""
    quote: str
    """Quote currency code (``USD``)."""
    price_precision: int
    """Decimals of prices: those of ``quote_increment``."""
    size_precision: int
    """Decimals of sizes: those of ``base_increment``."""
    quote_increment: str
    """One price tick (``"0.01"``)."""
    base_increment: str
    """One size step (``"0.00000001"``)."""
    base_min_size: str
    base_max_size: str
    quote_min_size: str
    """Smallest order value in the quote currency."""

    @classmethod
    def of(cls, instrument: Instrument) -> ProductInfo:
        """The product that lists ``instrument``."""
        pp, sp = instrument.price_precision, instrument.qty_precision
        return cls(
            instrument=instrument,
            product_id=f"{instrument.base}-{instrument.quote}",
            base=instrument.base,
            quote=instrument.quote,
            price_precision=pp,
            size_precision=sp,
            quote_increment=plain(1, pp),
            base_increment=plain(1, sp),
            base_min_size=plain(instrument.qty_min, sp),
            base_max_size=plain(instrument.qty_max * _BASE_MAX_UNITS, sp),
            quote_min_size=plain(instrument.min_notional, instrument.notional_precision),
        )

    @property
    def name(self) -> str:
        """The market's key of this product (the same text as the product id)."""
        return self.instrument.name


_PRODUCT_ID = re.compile(r"([A-Z0-9]+)-([A-Z0-9]+)")


def parse_product_id(product_id: str) -> tuple[str, str]:
    """``BTC-USD`` -> ``("BTC", "USD")``.

    Raises:
        ValueError: not ``BASE-QUOTE`` in upper-case letters and digits (futures such as
            ``BTC-PERP-INTX`` are not served).
    """
    match = _PRODUCT_ID.fullmatch(product_id)
    if match is None:
        raise ValueError(f"a spot product id looks like BASE-QUOTE: {product_id!r}")
    return match.group(1), match.group(2)


def build_products(spec: int | Sequence[str]) -> list[ProductInfo]:
    """The products of a run: the first ``spec`` instruments, or the named product ids.

    Raises:
        ValueError: a count below 1, an empty list, a duplicate, or a name that is not
            ``BASE-QUOTE``.
    """
    if isinstance(spec, int):
        instruments = build_instruments(spec)
    else:
        instruments = build_instruments([parse_product_id(p) for p in spec])
    return [ProductInfo.of(i) for i in instruments]


def currencies(products: Sequence[ProductInfo]) -> list[str]:
    """Every currency code the products use, in order of first use."""
    seen: dict[str, None] = {}
    for p in products:
        seen.setdefault(p.base)
        seen.setdefault(p.quote)
    return list(seen)
