"""What a submit or a cancel returns: :class:`OrderHandle`."""

from __future__ import annotations

import asyncio
from typing import Protocol

from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.states import OrderState


class OrderSource(Protocol):
    """Where a handle reads its order (the order entry)."""

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order as recorded, or None."""

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """The order's recorded fills."""

    def changed(self, client_order_id: str) -> asyncio.Future[None]:
        """A future done at the order's next recorded change."""


class OrderHandle:
    """One order as the caller sees it: its record as it stands now (read on access), its
    fills, and waits for its state to change."""

    __slots__ = ("_entry", "client_order_id", "duplicate")

    def __init__(self, entry: OrderSource, client_order_id: str, *, duplicate: bool = False):
        self._entry = entry
        self.client_order_id = client_order_id
        self.duplicate = duplicate
        """True when the submit that returned this handle named an id already known (it
        sent nothing)."""

    @property
    def record(self) -> OrderRecord:
        """The order as the ledger holds it now."""
        record = self._entry.order(self.client_order_id)
        assert record is not None, "a handle exists only for a recorded order"
        return record

    @property
    def state(self) -> OrderState:
        """The order's state now."""
        return self.record.state

    def fills(self) -> list[FillRecord]:
        """The order's fills so far."""
        return self._entry.fills(self.client_order_id)

    async def wait(self, *states: OrderState) -> OrderRecord:
        """Waits until the order is in one of ``states`` (default: any terminal state) and
        returns it (bound the wait with ``asyncio.timeout``)."""
        wanted = frozenset(states)

        def reached(record: OrderRecord) -> bool:
            return record.state in wanted if wanted else record.state.terminal

        while True:
            record = self.record
            if reached(record):
                return record
            await self._entry.changed(self.client_order_id)

    def __repr__(self) -> str:
        return f"OrderHandle({self.client_order_id!r}, state={self.state})"


__all__ = ["OrderHandle", "OrderSource"]
