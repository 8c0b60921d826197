"""The fake order venue meets the order-venue contract, under both duplicate-id policies;
its faults do what they say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.unit._orders import best
from tests.unit.order_venue_contract import OrderVenueContract, VenueUnderTest
from tradegw.errors import VenueUnavailable
from tradegw.orders.fake import FakeFaults, FakeOrderVenue
from tradegw.orders.venue import PlaceOutcome
from tradegw.sim.matching import DuplicatePolicy


async def started(venue: FakeOrderVenue) -> VenueUnderTest:
    bid, ask = best(venue, "BTC-USD")
    v = VenueUnderTest(
        venue=venue,
        symbol="BTC-USD",
        qty="0.01",
        resting_price=str(Decimal(bid) - 100),
        taking_price=str(Decimal(ask) + 100),
    )
    await venue.start(v.on_report, v.on_stream_gap)
    return v


class TestFakeVenueRejectingDuplicates(OrderVenueContract):
    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        venue = FakeOrderVenue()
        yield await started(venue)
        await venue.stop()


class TestFakeVenueReturningExisting(OrderVenueContract):
    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        venue = FakeOrderVenue(duplicate_policy=DuplicatePolicy.RETURN_EXISTING)
        yield await started(venue)
        await venue.stop()


@pytest.mark.timeout(10)
async def test_faults_after_accept_leave_the_order_placed() -> None:
    venue = FakeOrderVenue(faults=FakeFaults(ack_lost=1.0))
    v = await started(venue)
    order = v.order(v.resting_price)
    with pytest.raises(TimeoutError):
        await venue.place(order)
    assert venue.calls["place"] == 1
    assert await venue.query(order) is not None
    venue.faults = FakeFaults(request_lost=1.0)
    lost = v.order(v.resting_price)
    with pytest.raises(TimeoutError):
        await venue.place(lost)
    assert venue.calls["place"] == 1
    assert await venue.query(lost) is None
    venue.faults = FakeFaults(error_5xx=1.0, query_fails=1.0)
    answer = await venue.place(v.order(v.resting_price))
    assert answer.outcome is PlaceOutcome.UNKNOWN
    with pytest.raises(VenueUnavailable):
        await venue.query(order)
    with pytest.raises(VenueUnavailable):
        await venue.fills(order)
    assert venue.injected == {"ack_lost": 1, "request_lost": 1, "error_5xx": 1, "query_fails": 2}
    await venue.stop()


@pytest.mark.timeout(10)
async def test_a_dropped_report_is_followed_by_a_gap() -> None:
    venue = FakeOrderVenue(faults=FakeFaults(report_dropped=1.0, gap_after_s=0.01))
    v = await started(venue)
    await venue.place(v.order(v.resting_price))
    assert v.reports == []
    await asyncio.sleep(0.05)
    assert v.gaps == 1
    await venue.stop()
