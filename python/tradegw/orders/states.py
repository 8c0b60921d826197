"""An order's lifecycle in the gateway: the canonical ExecReport states plus the three that
only the gateway knows (NEW, SENT, UNKNOWN), and the rule that a state never moves back.

::

    NEW ──► SENT ──► ACK ──► PARTIAL ──► FILLED
     │        │       │        │
     │        │       └────────┴──► CANCELLED / EXPIRED
     │        ├──► REJECTED
     │        └──► UNKNOWN ──(query: found)──► the venue's state
     │                 └──(query: not found)──► SENT again (same client_order_id)
     └──► REJECTED (the trading switch, a failed check: nothing sent)

``NEW``: written to the ledger, nothing sent yet. ``SENT``: written *before* the request goes
out, so after a crash SENT means "may have reached the venue". ``UNKNOWN``: the request may
have reached the venue but no answer says what became of it (a timeout, a 5xx, a lost
connection). Only the six canonical states are published as
:class:`~tradegw.schema.ExecReport` events; NEW, SENT and UNKNOWN are visible through the
order's handle, its status on the control bus and the logs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from tradegw.schema import ExecState


class OrderState(StrEnum):
    """Where an order stands, as the ledger records it."""

    NEW = "NEW"
    """Recorded; no byte has gone to the venue."""
    SENT = "SENT"
    """The request is going or has gone out; no answer yet."""
    UNKNOWN = "UNKNOWN"
    """Sent, and the answer was lost (timeout, 5xx, lost connection): reconciled by query."""
    ACK = "ACK"
    """The venue accepted the order; it is working."""
    PARTIAL = "PARTIAL"
    """Partly filled and still working."""
    FILLED = "FILLED"
    """Completely filled (terminal)."""
    CANCELLED = "CANCELLED"
    """Cancelled, possibly after partial fills (terminal)."""
    REJECTED = "REJECTED"
    """Refused by the venue, or by the gateway before anything was sent (terminal)."""
    EXPIRED = "EXPIRED"
    """Ended by its time in force, or a market order's unfilled rest (terminal)."""

    @property
    def terminal(self) -> bool:
        """Whether the order can change no more (a late fill is still recorded, see
        :func:`advances`)."""
        return self in TERMINAL_ORDER_STATES

    @property
    def exec_state(self) -> ExecState | None:
        """The ExecReport state this is, or None for NEW, SENT and UNKNOWN (never
        published)."""
        return _EXEC.get(self)

    @classmethod
    def of(cls, state: ExecState) -> OrderState:
        """The order state of a canonical ExecReport state."""
        return cls(state.value)


TERMINAL_ORDER_STATES: Final = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)
"""The same four as :data:`tradegw.schema.TERMINAL_EXEC_STATES`."""

OPEN_ORDER_STATES: Final = frozenset(
    {OrderState.NEW, OrderState.SENT, OrderState.UNKNOWN, OrderState.ACK, OrderState.PARTIAL}
)
"""States in which an order may still change: reconciled on start-up."""

UNSETTLED_ORDER_STATES: Final = frozenset({OrderState.SENT, OrderState.UNKNOWN})
"""States in which nobody knows whether the venue has the order: never re-sent before a
query says it has not."""

_EXEC: Final = {s: ExecState(s.value) for s in OrderState if s.value in ExecState.__members__}

# How far along each state is. A report may only move an order to a higher rank, except that
# PARTIAL may follow PARTIAL (one more fill). SENT and UNKNOWN share a rank: either may follow
# the other (a re-send after "not found", an answer lost again).
_RANK: Final = {
    OrderState.NEW: 0,
    OrderState.SENT: 1,
    OrderState.UNKNOWN: 1,
    OrderState.ACK: 2,
    OrderState.PARTIAL: 3,
    OrderState.FILLED: 4,
    OrderState.CANCELLED: 4,
    OrderState.REJECTED: 4,
    OrderState.EXPIRED: 4,
}


def advances(current: OrderState, new: OrderState) -> bool:
    """Whether moving from ``current`` to ``new`` is forward.

    Terminal states absorb everything (a late ACK after FILLED is not a change); a state of
    the same rank is no change either, except SENT <-> UNKNOWN, which the gateway itself
    moves between. Fills are judged apart from states: a fill reported after a terminal
    state is still applied once (the state stays).
    """
    if current.terminal:
        return False
    if {current, new} == {OrderState.SENT, OrderState.UNKNOWN}:
        return True
    return _RANK[new] > _RANK[current]


__all__ = [
    "OPEN_ORDER_STATES",
    "TERMINAL_ORDER_STATES",
    "UNSETTLED_ORDER_STATES",
    "OrderState",
    "advances",
]
