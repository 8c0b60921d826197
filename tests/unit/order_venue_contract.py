"""What every :class:`~tradegw.orders.venue.OrderVenue` must do, as tests a venue adapter
inherits: subclass :class:`OrderVenueContract` as ``TestMyVenue`` and give it a
``venue_under_test`` fixture yielding a started :class:`VenueUnderTest` (the adapter against
its simulator). ``tests/unit/test_fake_order_venue.py`` runs it on the fake venue.

The checks are the entry's assumptions: an accepted order is found by ``query`` with the
same venue id; ``query`` answers None only for an order the venue never had; a second send
of the same client order id never makes a second order; ``fills`` lists every execution
once, adding up to the filled quantity, with the ids the private stream used; every change
is reported on the private stream; a refusal is ``rejected`` with the venue's reason, and a
cancel of an unknown order is answered, not raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from tradegw.orders.record import OrderRecord
from tradegw.orders.requests import new_client_order_id
from tradegw.orders.states import OrderState
from tradegw.orders.venue import (
    CancelOutcome,
    OrderVenue,
    PlaceOutcome,
    VenueReport,
)
from tradegw.schema import ExecState

WAIT_S = 10.0
"""How long a report or a state may take to show (a real adapter talks to a socket)."""


@dataclass
class VenueUnderTest:
    """A started venue and what orders on it should look like."""

    venue: OrderVenue
    symbol: str
    """A canonical symbol the venue lists."""
    qty: str
    """A quantity the venue accepts for it (small: several orders must fit the funds)."""
    resting_price: str
    """A buy limit price that rests (below the book)."""
    taking_price: str
    """A buy limit price that takes at once (through the asks)."""
    reports: list[VenueReport] = field(default_factory=list)
    """What the venue's private stream reported (the fixture passes :meth:`on_report`)."""
    gaps: int = 0

    def on_report(self, report: VenueReport) -> None:
        self.reports.append(report)

    def on_stream_gap(self) -> None:
        self.gaps += 1

    def order(self, price: str, *, tif: str = "GTC", post_only: bool = False) -> OrderRecord:
        """A buy limit order as the entry hands it to ``place`` (SENT, attempt 1)."""
        now = time.time_ns()
        instrument = self.venue.instrument(self.symbol)
        assert instrument is not None
        return OrderRecord(
            client_order_id=new_client_order_id(),
            venue=self.venue.name,
            symbol=self.symbol,
            venue_symbol=instrument.venue_symbol,
            side="buy",
            type="limit",
            qty=self.qty,
            price=price,
            time_in_force=tif,  # type: ignore[arg-type]
            post_only=post_only,
            state=OrderState.SENT,
            created_ns=now,
            updated_ns=now,
            send_attempts=1,
            last_sent_ns=now,
        )

    async def reported(self, cid: str, done: Callable[[VenueReport], bool]) -> VenueReport:
        """The first report of ``cid`` that ``done`` accepts, waiting for it."""
        async with asyncio.timeout(WAIT_S):
            while True:
                for r in self.reports:
                    if r.client_order_id == cid and done(r):
                        return r
                await asyncio.sleep(0.01)


class OrderVenueContract:
    """The checks; a subclass provides the ``venue_under_test`` fixture."""

    pytestmark = pytest.mark.timeout(60)

    async def test_an_accepted_order_is_found_by_query_and_reported(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        order = v.order(v.resting_price)
        result = await v.venue.place(order)
        assert result.outcome is PlaceOutcome.ACCEPTED, result
        status = await v.venue.query(order)
        assert status is not None
        assert status.venue_order_id == result.venue_order_id
        assert status.state is ExecState.ACK
        assert Decimal(status.filled_qty) == 0
        ack = await v.reported(order.client_order_id, lambda r: r.state is ExecState.ACK)
        assert ack.venue_order_id in (None, result.venue_order_id)

    async def test_query_of_an_order_never_sent_is_none(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        assert await v.venue.query(v.order(v.resting_price)) is None

    async def test_the_same_client_order_id_twice_makes_one_order(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        order = v.order(v.resting_price)
        first = await v.venue.place(order)
        assert first.outcome is PlaceOutcome.ACCEPTED
        second = await v.venue.place(order)
        # Either "in use" (unknown: the entry then queries) or the existing order itself.
        assert second.outcome is not PlaceOutcome.REJECTED, second
        if second.outcome is PlaceOutcome.ACCEPTED:
            assert second.venue_order_id == first.venue_order_id
        status = await v.venue.query(order)
        assert status is not None
        assert status.venue_order_id == first.venue_order_id

    async def test_a_cancelled_order_is_cancelled_and_reported(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        order = v.order(v.resting_price)
        assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
        result = await v.venue.cancel(order)
        assert result.outcome in (CancelOutcome.CANCELLED, CancelOutcome.PENDING), result
        await v.reported(order.client_order_id, lambda r: r.state is ExecState.CANCELLED)
        status = await v.venue.query(order)
        assert status is not None
        assert status.state is ExecState.CANCELLED

    async def test_a_cancel_of_an_unknown_order_is_answered(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        result = await v.venue.cancel(v.order(v.resting_price))
        assert result.outcome is CancelOutcome.REJECTED
        assert result.reason

    async def test_fills_list_every_execution_once_with_the_streams_ids(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        order = v.order(v.taking_price, tif="IOC")
        assert (await v.venue.place(order)).outcome is PlaceOutcome.ACCEPTED
        final = await v.reported(
            order.client_order_id, lambda r: r.state in (ExecState.FILLED, ExecState.EXPIRED)
        )
        fills = await v.venue.fills(order)
        assert fills, "an order through the asks fills"
        ids = [f.venue_exec_id for f in fills]
        assert len(set(ids)) == len(ids)
        assert sum(Decimal(f.qty) for f in fills) == Decimal(final.filled_qty)
        streamed = {
            r.venue_exec_id for r in v.reports if r.client_order_id == order.client_order_id
        }
        assert set(ids) <= streamed
        status = await v.venue.query(order)
        assert status is not None
        assert Decimal(status.filled_qty) == Decimal(final.filled_qty)

    async def test_a_refused_order_is_rejected_with_a_reason_and_not_found(
        self, venue_under_test: VenueUnderTest
    ) -> None:
        v = venue_under_test
        order = v.order(v.taking_price, post_only=True)
        result = await v.venue.place(order)
        assert result.outcome is PlaceOutcome.REJECTED
        assert result.reason
        assert await v.venue.query(order) is None

    async def test_instruments(self, venue_under_test: VenueUnderTest) -> None:
        v = venue_under_test
        inst = v.venue.instrument(v.symbol)
        assert inst is not None
        assert inst.symbol == v.symbol
        assert Decimal(v.qty) % inst.qty_increment == 0
        assert v.venue.instrument("NOPE-NOPE") is None
