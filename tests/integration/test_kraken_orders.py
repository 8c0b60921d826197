"""Kraken's order adapter against the Kraken simulator: the order-venue contract, keys the
venue refuses, and the private stream's reconnects announced as gaps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.integration.kraken_trading import (
    API_KEY,
    API_SECRET,
    credentials,
    order_venue,
    trading_sim,
    until,
)
from tests.unit.order_venue_contract import OrderVenueContract, VenueUnderTest
from tradegw.errors import VenueUnavailable
from tradegw.orders.venue import CancelOutcome, PlaceOutcome
from tradegw.schema import ExecState
from tradegw.sim.kraken import KrakenSimulator

pytestmark = pytest.mark.timeout(30)


async def started_venue(sim: KrakenSimulator) -> VenueUnderTest:
    venue = order_venue(sim)
    bids, asks = sim.book("BTC/USD", 1)
    v = VenueUnderTest(
        venue=venue,
        symbol="BTC-USD",
        qty="0.01",
        resting_price=str(Decimal(bids[0][0]) - 100),
        taking_price=str(Decimal(asks[0][0]) + 100),
    )
    await venue.start(v.on_report, v.on_stream_gap)
    await until(lambda: venue.connected, what="the private stream")
    return v


class TestKrakenOrderVenue(OrderVenueContract):
    @pytest.fixture
    async def venue_under_test(self) -> AsyncIterator[VenueUnderTest]:
        async with trading_sim() as sim:
            v = await started_venue(sim)
            yield v
            await v.venue.stop()


@pytest.fixture
async def sim() -> AsyncIterator[KrakenSimulator]:
    async with trading_sim() as s:
        yield s


@pytest.fixture
async def connected(sim: KrakenSimulator) -> AsyncIterator[VenueUnderTest]:
    v = await started_venue(sim)
    yield v
    await v.venue.stop()


async def test_instruments_come_from_asset_pairs(connected: VenueUnderTest) -> None:
    btc = connected.venue.instrument("BTC-USD")
    assert btc is not None
    assert btc.venue_symbol == "BTC/USD"
    assert (btc.price_increment, btc.qty_increment) == (Decimal("0.1"), Decimal("1e-8"))
    assert (btc.min_qty, btc.min_notional) == (Decimal("0.0001"), Decimal("0.5"))
    eth = connected.venue.instrument("ETH-USD")
    assert eth is not None
    assert eth.price_increment == Decimal("0.01")


@pytest.mark.parametrize(
    ("key", "secret", "error"),
    [
        ("no-such-key", API_SECRET, "EAPI:Invalid key"),
        (API_KEY, API_SECRET[::-1].replace("=", "A") + "==", "EAPI:Invalid signature"),
    ],
)
async def test_a_key_the_venue_refuses_sends_nothing_and_says_why_without_secrets(
    sim: KrakenSimulator, key: str, secret: str, error: str
) -> None:
    venue = order_venue(sim, credentials(key, secret), request_timeout_s=0.3)
    v = VenueUnderTest(venue, "BTC-USD", "0.01", "100.0", "100.0")
    await venue.start(v.on_report, v.on_stream_gap)
    try:
        answer = await venue.place(v.order("100.0"))
        assert answer.outcome is PlaceOutcome.UNKNOWN
        assert answer.reason is not None
        assert "nothing was sent" in answer.reason
        with pytest.raises(VenueUnavailable) as caught:
            await venue.query(v.order("100.0"))
        assert error in str(caught.value)
        for text in (str(caught.value), answer.reason, repr(venue)):
            assert secret not in text
            assert key not in text or key == "no-such-key"
        assert sim.trading.auth.refused[error] >= 2
        assert sim.matching.stats.placed == 0
    finally:
        await venue.stop()


async def test_a_lost_connection_is_a_gap_and_orders_flow_again(
    sim: KrakenSimulator, connected: VenueUnderTest
) -> None:
    v = connected
    venue = v.venue
    first = v.order(v.resting_price)
    assert (await venue.place(first)).outcome is PlaceOutcome.ACCEPTED
    assert v.gaps == 0
    assert sim.drop_private_connections() == 1
    await until(lambda: v.gaps == 1, what="the gap")
    await until(lambda: venue.connected, what="the reconnect")
    # The snapshot after the reconnect restates the open order (ACK, no fill).
    restated = [r for r in v.reports if r.client_order_id == first.client_order_id]
    assert [r.state for r in restated] == [ExecState.ACK, ExecState.ACK]
    second = v.order(v.resting_price)
    assert (await venue.place(second)).outcome is PlaceOutcome.ACCEPTED
    assert (await venue.cancel(second)).outcome is CancelOutcome.PENDING
    await v.reported(second.client_order_id, lambda r: r.state is ExecState.CANCELLED)
    assert len(sim.trading.tokens.issued) == 2  # a fresh token per connection
