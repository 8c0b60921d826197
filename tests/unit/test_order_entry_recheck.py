"""A reconciliation asked for while one of the same order is running is not lost: the
running one goes round once more. Before, the second request was dropped, so a stream gap
(or a report counting fills never seen) that came while the query's answer was on its way
left the order at the stale state that answer described, its fills never recovered (the
Binance and Coinbase 1,000-order tests failed on it now and then)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.unit._orders import FAST, Rig, assert_streams_gapless
from tradegw.orders.record import OrderRecord
from tradegw.orders.states import OrderState
from tradegw.orders.venue import VenueOrderStatus
from tradegw.schema import ExecState

pytestmark = pytest.mark.timeout(20)


async def test_a_gap_during_a_running_reconciliation_is_reconciled_again() -> None:
    rig = await Rig(config=FAST.model_copy(update={"request_timeout_s": 5.0})).start()
    venue = rig.venue
    bid, _ = rig.best()
    h = await rig.submit(price=bid, qty="0.02")
    assert h.state is OrderState.ACK
    cid = h.client_order_id

    # The venue reads the order, then its answer takes a while to come back: what it says
    # is already old when it arrives.
    real_query = venue.query
    answering = asyncio.Event()
    release = asyncio.Event()

    async def slow_answer(order: OrderRecord) -> VenueOrderStatus | None:
        status = await real_query(order)
        if not answering.is_set():  # the first answer only
            answering.set()
            await release.wait()
        return status

    venue.query = slow_answer  # type: ignore[method-assign]
    venue.announce_gap()  # a reconnect: the entry reconciles the open order
    await asyncio.wait_for(answering.wait(), 5)

    # Meanwhile the order fills and the stream drops every update: the venue announces
    # another gap while the first reconciliation's stale answer is still on its way.
    venue.faults.report_dropped = 1.0
    for _ in range(3000):
        venue.advance("BTC-USD")
        if venue.venue_state(cid) is ExecState.FILLED:
            break
    assert venue.venue_state(cid) is ExecState.FILLED
    await asyncio.sleep(venue.faults.gap_after_s * 2)  # the gap is announced
    venue.faults.report_dropped = 0.0
    release.set()

    await asyncio.wait_for(rig.entry.drain(), 10)
    record = rig.entry.order(cid)
    assert record is not None
    assert record.state is OrderState.FILLED, record
    assert Decimal(record.filled_qty) == Decimal(venue.venue_filled(cid) or "nan")
    sim = venue.engine.order("gateway", client_order_id=cid)
    assert sim is not None
    assert [f.venue_exec_id for f in h.fills()] == [
        f.exec_id for f in venue.engine.fills(sim.order_id)
    ]
    assert rig.reports()[-1].state is ExecState.FILLED
    assert_streams_gapless(rig.reports())
    await rig.stop()
