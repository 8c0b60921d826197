"""An order the previous process left SENT (its request still on the way when it died) and
that the venue never received is sent again after the restart, once, with the same id:
found by the Kraken 1,000-order run, where such orders stayed SENT for ever."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.unit._orders import Rig
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.states import OrderState

pytestmark = pytest.mark.timeout(10)


async def test_an_order_left_sent_that_never_arrived_is_sent_again(tmp_path: Path) -> None:
    venue = FakeOrderVenue(latency_s=0.3)
    rig = await Rig(path=tmp_path / "ledger.sqlite", venue=venue).start()
    bid, _ = rig.best()
    submit = asyncio.ensure_future(rig.submit(client_order_id="crash-1", price=bid))
    await asyncio.sleep(0.05)  # the request is on its way: the crash lands here
    record = rig.entry.order("crash-1")
    assert record is not None
    assert record.state is OrderState.SENT
    venue.latency_s = 0.0
    await rig.restart()
    with contextlib.suppress(asyncio.CancelledError, RuntimeError):
        await submit
    await asyncio.wait_for(rig.entry.drain(), 5)
    record = rig.entry.order("crash-1")
    assert record is not None
    assert (record.state, record.send_attempts) == (OrderState.ACK, 2)
    assert venue.calls["place"] == 1
    assert venue.engine.stats.duplicate_orders == 0
    await rig.stop()
