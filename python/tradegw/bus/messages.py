"""The control bus's messages and its answer, typed at this edge with pydantic.

A message is a JSON object whose ``type`` names it: ``Subscribe``, ``Unsubscribe``,
``MergedSubscribe``, ``SetTradingMode`` (the plan's four), ``State`` (what the gateway
holds now, for tools), and the orders' ``SubmitOrder``, ``CancelOrder``, ``OrderStatus`` and
``ListOrders``. Every message may carry a ``request_id`` that its :class:`Ack` echoes.
Nothing here touches the gateway: :class:`tradegw.bus.control.ControlBus` applies them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tradegw.config.models import BudgetConfig, EventTypeName, TradingMode
from tradegw.orders.requests import ClientOrderId, OrderRequest
from tradegw.providers.base.config import StrictModel

ConsumerName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""A consumer's name: 1-64 letters, digits and ``_ . : -``."""
SymbolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9./_-]{1,32}$")]
"""A canonical symbol (``BTC-USD``)."""
VenueName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
RequestId = Annotated[str, Field(min_length=1, max_length=128)]
SubscriptionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class _Message(StrictModel):
    request_id: RequestId | None = None


class Subscribe(_Message):
    """Routes events of any of ``venues``, ``symbols`` and ``types`` (each None = any) to
    ``consumer``, made if it does not exist yet, from the next event. ``budget`` replaces the
    consumer's budget when given. The answer carries the ``subscription_id`` (the one given,
    or a new one) that an :class:`Unsubscribe` names."""

    type: Literal["Subscribe"]
    consumer: ConsumerName
    venues: list[VenueName] | None = Field(None, max_length=16)
    symbols: list[SymbolName] | None = Field(None, max_length=1_000)
    types: list[EventTypeName] | None = Field(None, max_length=16)
    budget: BudgetConfig | None = None
    subscription_id: SubscriptionId | None = None


class Unsubscribe(_Message):
    """Stops one subscription of ``consumer`` (``subscription_id``), or all of them (None).
    The consumer keeps what is queued for it."""

    type: Literal["Unsubscribe"]
    consumer: ConsumerName
    subscription_id: SubscriptionId | None = None


class MergedSubscribe(_Message):
    """Merges ``symbol``'s books on ``venues`` in windows (closing at ``window_s`` or
    ``max_events`` fragments) and routes the merged events to ``consumer``."""

    type: Literal["MergedSubscribe"]
    consumer: ConsumerName
    symbol: SymbolName
    venues: list[VenueName] = Field(min_length=2, max_length=16)
    window_s: float = Field(10.0, gt=0, le=3_600)
    max_events: int = Field(1_000, ge=1, le=1_000_000)
    depth: int = Field(10, ge=1, le=1_000)
    subscription_id: SubscriptionId | None = None


class SetTradingMode(_Message):
    """Sets the trading switch that every order passes."""

    type: Literal["SetTradingMode"]
    mode: TradingMode


class State(_Message):
    """Asks what the gateway holds: consumers and their subscriptions, merges, the trading
    mode, the routing version."""

    type: Literal["State"]


class SubmitOrder(_Message):
    """Submits ``order`` through the gateway's order entry (the trading switch, the checks,
    the ledger). Answered once the venue's first answer is in: the Ack's ``order`` is the
    order as recorded then (``state`` ACK or beyond, REJECTED with its ``reason``, or
    UNKNOWN while it is being reconciled), with ``duplicate`` true when the
    ``client_order_id`` was known already (nothing was sent)."""

    type: Literal["SubmitOrder"]
    order: OrderRequest


class CancelOrder(_Message):
    """Cancels the order ``client_order_id``; the Ack's ``order`` is the order after the
    venue's answer. Refused while trading is ``disabled``."""

    type: Literal["CancelOrder"]
    client_order_id: ClientOrderId


class OrderStatus(_Message):
    """Asks for the order ``client_order_id`` as recorded, with its fills."""

    type: Literal["OrderStatus"]
    client_order_id: ClientOrderId


class ListOrders(_Message):
    """Asks for recorded orders, newest first, of ``venue`` and ``symbol`` (None: any),
    only the open ones if ``open_only``, at most ``limit``."""

    type: Literal["ListOrders"]
    venue: VenueName | None = None
    symbol: SymbolName | None = None
    open_only: bool = False
    limit: int = Field(100, ge=1, le=10_000)


ORDER_MESSAGES = (SubmitOrder, CancelOrder, OrderStatus, ListOrders)
"""The messages about orders."""

ControlMessage = Annotated[
    Subscribe
    | Unsubscribe
    | MergedSubscribe
    | SetTradingMode
    | State
    | SubmitOrder
    | CancelOrder
    | OrderStatus
    | ListOrders,
    Field(discriminator="type"),
]
CONTROL_MESSAGE: TypeAdapter[ControlMessage] = TypeAdapter(ControlMessage)
"""Validates a control message from a dict or JSON text."""


class Ack(BaseModel):
    """The answer to every control message: ``ok`` with the routing version now in force
    (a routing change applies from the next event), or not ``ok`` with ``error`` saying what
    was wrong; nothing changed then."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    type: str | None = None
    """The type of the message answered (None when it could not be read)."""
    request_id: str | None = None
    routing_version: int
    error: str | None = None
    subscription_id: str | None = None
    merge_id: str | None = None
    trading_mode: TradingMode | None = None
    state: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    """The order a SubmitOrder, CancelOrder or OrderStatus is about, as recorded (see
    :meth:`tradegw.orders.record.OrderRecord.as_dict`)."""
    orders: list[dict[str, Any]] | None = None
    """The orders a ListOrders asked for."""
