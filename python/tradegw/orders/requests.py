"""What a caller asks of the order entry, typed with pydantic at this edge.

An :class:`OrderRequest` that cannot be built (a float for a quantity, a limit order without
a price, an id no venue accepts) raises pydantic's ``ValidationError`` naming the field, and
never reaches the ledger. Checks that need the venue's reference data (tick, lot, minimum
size) come later, in :func:`tradegw.orders.instrument.check_order`, and end in a REJECTED
order with a reason naming the field.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradegw.schema import Side

OrderType: TypeAlias = Literal["limit", "market"]
TimeInForce: TypeAlias = Literal["GTC", "IOC", "FOK"]
"""``GTC``: rests until filled or cancelled; ``IOC``: what cannot fill at once expires;
``FOK``: fills entirely at once or expires without a fill."""

CLIENT_ORDER_ID_PATTERN: Final = (
    r"^(?:[A-Za-z0-9_-]{1,18}"
    r"|[0-9a-fA-F]{32}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
"""Ids every venue accepts: Kraken takes free ASCII text of at most 18 characters or a UUID
(32 hex digits, or the 36-character form), Binance ``^[a-zA-Z0-9-_]{1,36}$``, Coinbase up
to 128 characters. So: 1-18 of ``A-Z a-z 0-9 _ -``, or a UUID in either form."""

_CLIENT_ORDER_ID_RE: Final = re.compile(CLIENT_ORDER_ID_PATTERN)

DECIMAL_PATTERN: Final = r"^(?:0|[1-9][0-9]{0,19})(?:\.[0-9]{1,18})?$"
"""A plain non-negative decimal: no sign, exponent, leading zeros or spaces (``"0.0100"``,
``"45000"``); at most 20 integer and 18 fractional digits."""

ClientOrderId = Annotated[str, Field(pattern=CLIENT_ORDER_ID_PATTERN)]
"""An order's idempotency key (see :data:`CLIENT_ORDER_ID_PATTERN`)."""
DecimalText = Annotated[str, Field(pattern=DECIMAL_PATTERN)]
"""A price or quantity as decimal text (see :data:`DECIMAL_PATTERN`); never a float."""
VenueName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
SymbolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9./_-]{1,32}$")]
"""A canonical symbol (``BTC-USD``)."""
DecisionId = Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,128}$")]
"""The caller's id of the decision behind an order (printable ASCII, no spaces), carried into
the logs and telemetry of everything that happens to the order."""


def new_client_order_id() -> str:
    """A fresh id every venue accepts: a random UUID as 32 lowercase hex digits (the form
    Coinbase's SDK generates and Kraken calls a short UUID; Binance takes it as it is)."""
    return uuid.uuid4().hex


def is_client_order_id(text: str) -> bool:
    """Whether ``text`` is an id every venue accepts."""
    return _CLIENT_ORDER_ID_RE.fullmatch(text) is not None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OrderRequest(_Request):
    """A new order.

    ``time_in_force`` defaults to ``GTC`` for a limit order and ``IOC`` for a market order
    (a market order cannot rest; ``GTC`` is refused for it). ``post_only`` needs a ``GTC``
    limit order. ``client_order_id`` is generated when absent; submitting a request with an
    id the gateway has seen returns that order and sends nothing.
    """

    venue: VenueName
    symbol: SymbolName
    side: Side
    type: OrderType
    qty: DecimalText
    """Quantity in base units."""
    price: DecimalText | None = None
    """Limit price; required for limit orders, refused for market orders."""
    time_in_force: TimeInForce = "GTC"
    post_only: bool = False
    client_order_id: ClientOrderId = Field(default_factory=new_client_order_id)
    decision_id: DecisionId | None = None

    @model_validator(mode="before")
    @classmethod
    def _market_defaults_to_ioc(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "market" and "time_in_force" not in data:
            return {**data, "time_in_force": "IOC"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        if Decimal(self.qty) <= 0:
            raise ValueError("qty must be greater than zero")
        if self.type == "limit":
            if self.price is None:
                raise ValueError("price is required for a limit order")
            if Decimal(self.price) <= 0:
                raise ValueError("price must be greater than zero")
        else:
            if self.price is not None:
                raise ValueError("price must not be given for a market order")
            if self.time_in_force == "GTC":
                raise ValueError("time_in_force of a market order is IOC or FOK")
        if self.post_only and (self.type != "limit" or self.time_in_force != "GTC"):
            raise ValueError("post_only needs a GTC limit order")
        return self


class CancelRequest(_Request):
    """Cancel the order ``client_order_id``."""

    client_order_id: ClientOrderId


__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "DECIMAL_PATTERN",
    "CancelRequest",
    "ClientOrderId",
    "DecimalText",
    "DecisionId",
    "OrderRequest",
    "OrderType",
    "Side",
    "SymbolName",
    "TimeInForce",
    "VenueName",
    "is_client_order_id",
    "new_client_order_id",
]
