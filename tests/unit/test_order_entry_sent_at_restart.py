"""An order the ledger holds as SENT at start-up (the process died between writing SENT and
the request leaving) that the venue proves it never got is sent again, like an UNKNOWN one;
it used to be queried for ever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.unit._orders import Rig
from tradegw.orders.fake import FakeOrderVenue
from tradegw.orders.states import OrderState

pytestmark = pytest.mark.timeout(20)


async def test_an_order_left_sent_by_a_crash_before_the_send_is_sent_again(
    tmp_path: Path,
) -> None:
    # The request is on its way (the venue's latency) when the entry dies.
    venue = FakeOrderVenue(latency_s=0.5)
    rig = await Rig(path=tmp_path / "ledger.sqlite", venue=venue).start()
    bid, _ = rig.best()
    submit = asyncio.create_task(rig.submit(client_order_id="sent-at-crash", price=bid))
    await asyncio.sleep(0.05)
    assert rig.entry.order("sent-at-crash").state is OrderState.SENT  # type: ignore[union-attr]
    await rig.restart()
    with pytest.raises((asyncio.CancelledError, RuntimeError)):
        await submit
    assert venue.venue_state("sent-at-crash") is None, "it never reached the venue"
    venue.latency_s = 0.0
    await asyncio.wait_for(rig.entry.drain(), 10)
    record = rig.entry.order("sent-at-crash")
    assert record is not None
    assert record.state is OrderState.ACK
    assert record.send_attempts == 2
    assert venue.engine.stats.placed == 1
    await rig.stop()
