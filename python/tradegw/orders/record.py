"""What the ledger holds about one order and each of its fills.

Both are frozen: the order entry makes a changed copy (:func:`dataclasses.replace`) and
writes it, so a venue adapter handed an :class:`OrderRecord` can never change the ledger's
view behind its back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tradegw.orders.requests import OrderType, TimeInForce
from tradegw.orders.states import OrderState
from tradegw.schema import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One order, keyed by ``client_order_id``; prices and quantities are decimal text."""

    client_order_id: str
    """The idempotency key; the venue knows the order by it too."""
    venue: str
    """The venue's registry name (``binance``)."""
    symbol: str
    """Canonical symbol (``BTC-USD``)."""
    venue_symbol: str
    """The venue's own symbol (``BTCUSDT``); the canonical one when the venue is unknown."""
    side: Side
    type: OrderType
    qty: str
    """Quantity in base units, as the request gave it."""
    price: str | None
    """Limit price as the request gave it; None for a market order."""
    time_in_force: TimeInForce
    post_only: bool
    state: OrderState
    venue_order_id: str | None = None
    """The venue's id, once an answer, report or query has named it."""
    filled_qty: str = "0"
    """Cumulative filled quantity: the larger of what the venue reported and the sum of the
    fills recorded."""
    avg_price: str | None = None
    """Average fill price over the recorded fills (None before the first)."""
    reason: str | None = None
    """Why it was rejected, cancelled or expired, or why it is UNKNOWN."""
    decision_id: str | None = None
    """The caller's decision id, carried into logs and telemetry."""
    created_ns: int
    """Wall-clock ns when the order was first recorded."""
    updated_ns: int
    """Wall-clock ns of the last change."""
    send_attempts: int = 0
    """How many times the order request was sent (1 unless a query proved the venue never
    had it and it was sent again)."""
    last_sent_ns: int | None = None
    """Wall-clock ns of the last send: a query only counts as "not found" once the venue's
    grace period after it has passed."""
    cancel_requested: bool = False
    """A cancel was asked for; it is sent (again) once the venue is known to have the order."""

    @property
    def open(self) -> bool:
        """Whether the order may still change."""
        return not self.state.terminal

    def as_dict(self) -> dict[str, Any]:
        """Every field, the state as its name: what the control bus answers with."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["state"] = self.state.value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FillRecord:
    """One execution of an order, keyed by ``(client_order_id, venue_exec_id)``: a fill
    reported twice (the private stream and a REST recovery) is recorded once."""

    client_order_id: str
    venue_exec_id: str
    """The venue's id of the execution (its trade id). When a venue names none, the entry
    uses ``"cum:<cumulative filled qty>"``, which a second report of the same fill repeats."""
    qty: str
    price: str
    fee: str | None = None
    fee_asset: str | None = None
    exchange_ts: int | None = None
    recorded_ns: int
    """Wall-clock ns when the gateway recorded it."""

    def as_dict(self) -> dict[str, Any]:
        """Every field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


__all__ = ["FillRecord", "OrderRecord"]
