"""An order left SENT by a crash that the venue never got is sent again after the restart
(once a query proves the venue has none), not reconciled forever: the state SENT, like
UNKNOWN, is one a re-send may start from."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.unit._orders import Rig, best
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.states import OrderState


@pytest.mark.timeout(10)
async def test_an_order_left_sent_by_a_crash_is_sent_again(tmp_path: Path) -> None:
    venue = FakeOrderVenue(latency_s=0.05)  # the request is on its way for 50 ms
    rig = await Rig(path=tmp_path / "ledger.sqlite", venue=venue).start()
    bid, _ = best(venue, "BTC-USD")
    submit = asyncio.ensure_future(rig.submit(client_order_id="lost-1", price=bid))
    await asyncio.sleep(0.01)
    order = rig.entry.order("lost-1")
    assert order is not None
    assert order.state is OrderState.SENT
    await rig.restart()  # the crash: the request never reached the venue
    with pytest.raises(asyncio.CancelledError):
        await submit
    assert venue.venue_state("lost-1") is None
    await asyncio.wait_for(rig.entry.drain(), 5)
    order = rig.entry.order("lost-1")
    assert order is not None
    assert (order.state, order.send_attempts) == (OrderState.ACK, 2)
    assert venue.calls["place"] == 1
    assert venue.engine.stats.duplicate_orders == 0
    await rig.stop()
