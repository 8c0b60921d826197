"""The control bus's messages and its answer, typed at this edge with pydantic.

A message is a JSON object whose ``type`` names it: ``Subscribe``, ``Unsubscribe``,
``MergedSubscribe``, ``SetTradingMode`` (the plan's four) and ``State`` (what the gateway
holds now, for tools). Every message may carry a ``request_id`` that its :class:`Ack` echoes.
Nothing here touches the gateway: :class:`tradegw.bus.control.ControlBus` applies them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tradegw.config.models import BudgetConfig, EventTypeName, TradingMode
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


ControlMessage = Annotated[
    Subscribe | Unsubscribe | MergedSubscribe | SetTradingMode | State,
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
