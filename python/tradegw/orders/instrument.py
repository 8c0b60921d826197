"""A venue's trading rules for one symbol, and the check every order passes before it is sent.

The venue adapter builds an :class:`OrderInstrument` from its reference data (Binance
``exchangeInfo`` filters ``PRICE_FILTER``/``LOT_SIZE``/``NOTIONAL``, Kraken ``AssetPairs``
``tick_size``/``lot_decimals``/``ordermin``/``costmin``, Coinbase products'
``price_increment``/``base_increment``/``base_min_size``/``quote_min_size``). Everything is
:class:`decimal.Decimal`: a tick test on floats would pass ``0.30000000000000004``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradegw.orders.requests import OrderRequest


@dataclass(frozen=True, slots=True)
class OrderInstrument:
    """What an order on ``symbol`` must respect at its venue."""

    symbol: str
    """Canonical symbol (``BTC-USD``)."""
    venue_symbol: str
    """The venue's own name for it (``BTCUSDT``, ``BTC/USD``); carried into ExecReports."""
    price_increment: Decimal
    """Tick: a limit price must be a whole multiple of it."""
    qty_increment: Decimal
    """Lot: a quantity must be a whole multiple of it."""
    min_qty: Decimal
    """Smallest quantity accepted."""
    min_notional: Decimal | None = None
    """Smallest ``price * qty`` of a limit order, in the quote asset; None = no minimum.
    Market orders have no price to check it with; the venue checks them."""
    max_qty: Decimal | None = None
    """Largest quantity accepted; None = no maximum."""

    def __post_init__(self) -> None:
        for name in ("price_increment", "qty_increment"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValueError(f"{name} must be a positive finite Decimal, got {value!r}")
        for name in ("min_qty", "min_notional", "max_qty"):
            value = getattr(self, name)
            if value is None and name != "min_qty":
                continue
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a non-negative finite Decimal, got {value!r}")

    @classmethod
    def of(
        cls,
        symbol: str,
        venue_symbol: str,
        *,
        price_increment: str,
        qty_increment: str,
        min_qty: str,
        min_notional: str | None = None,
        max_qty: str | None = None,
    ) -> OrderInstrument:
        """Builds one from decimal text, as venues publish these figures.

        Raises:
            ValueError: a figure is not a decimal, or out of range.
        """
        return cls(
            symbol,
            venue_symbol,
            _decimal("price_increment", price_increment),
            _decimal("qty_increment", qty_increment),
            _decimal("min_qty", min_qty),
            None if min_notional is None else _decimal("min_notional", min_notional),
            None if max_qty is None else _decimal("max_qty", max_qty),
        )


def _decimal(name: str, text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{name} is not a decimal: {text!r}") from None


# Enough digits for a 20-digit quantity divided by an 18-decimal increment: the default 28
# would make ``%`` raise DivisionImpossible on large values instead of answering.
_EXACT = Context(prec=80)


def check_order(request: OrderRequest, instrument: OrderInstrument) -> str | None:
    """None when ``request`` fits ``instrument``; otherwise the reason, naming the field
    (``"qty 0.00015 is not a multiple of qty_increment 0.0001"``)."""
    with localcontext(_EXACT):
        return _check(request, instrument)


def _check(request: OrderRequest, instrument: OrderInstrument) -> str | None:
    qty = Decimal(request.qty)
    if qty % instrument.qty_increment:
        return f"qty {request.qty} is not a multiple of qty_increment {instrument.qty_increment}"
    if qty < instrument.min_qty:
        return f"qty {request.qty} is below min_qty {instrument.min_qty}"
    if instrument.max_qty is not None and qty > instrument.max_qty:
        return f"qty {request.qty} is above max_qty {instrument.max_qty}"
    if request.price is None:
        return None
    price = Decimal(request.price)
    if price % instrument.price_increment:
        return (
            f"price {request.price} is not a multiple of price_increment "
            f"{instrument.price_increment}"
        )
    notional = price * qty
    if instrument.min_notional is not None and notional < instrument.min_notional:
        return f"notional {notional} (price * qty) is below min_notional {instrument.min_notional}"
    return None


__all__ = ["OrderInstrument", "check_order"]
