"""A private-stream gap is a warning only when orders are open: venues that report one at
every subscription (Coinbase's first included) put no warning on the console of a run that
has nothing open."""

from __future__ import annotations

import logging

import pytest

from tests.unit._orders import Rig

pytestmark = pytest.mark.timeout(20)


async def test_a_gap_with_nothing_open_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    rig = await Rig().start()
    try:
        with caplog.at_level(logging.INFO, logger="tradegw.orders"):
            rig.entry._on_stream_gap("fake")
        assert [r.levelno for r in caplog.records if "stream gap" in r.message] == [logging.INFO]
        caplog.clear()
        bid, _ = rig.best()
        await rig.submit(price=bid, qty="0.02")  # rests: open
        with caplog.at_level(logging.INFO, logger="tradegw.orders"):
            rig.entry._on_stream_gap("fake")
        gaps = [r for r in caplog.records if "stream gap" in r.message]
        assert [r.levelno for r in gaps] == [logging.WARNING]
        assert "reconciling 1 open orders" in gaps[0].message
    finally:
        await rig.stop()
