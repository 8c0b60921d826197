"""The subscription index every venue's feed uses."""

from __future__ import annotations

import pytest

from tradegw.sim.subscriptions import Subscriptions, fan_out
from tradegw.sim.wire import DataFrame

pytestmark = pytest.mark.timeout(10)


class _Sub:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def deliver(self, frame: DataFrame) -> None:
        self.got.append(frame.data)


def test_streams_and_active_pairs_follow_subscriptions() -> None:
    index = Subscriptions(["BTC-USD", "ETH-USD", "SOL-USD"])
    a, b = _Sub(), _Sub()
    index.add(a, "book", "SOL-USD", 10)
    index.add(b, "trade", "BTC-USD", None)
    index.add(b, "book", "SOL-USD", 25)
    assert index.active == ["BTC-USD", "SOL-USD"], "pair order, not subscription order"
    streams = index.table.get(("book", "SOL-USD"))
    assert streams is not None
    assert list(streams) == [10, 25]
    index.remove(a, "book", "SOL-USD", 10)
    index.remove(a, "book", "SOL-USD", 10)  # twice is harmless
    index.remove(a, "ticker", "ETH-USD", "bbo")  # never subscribed
    assert index.table.get(("book", "SOL-USD")) == {25: {b: None}}
    index.remove(b, "book", "SOL-USD", 25)
    assert index.table.get(("book", "SOL-USD")) is None, "empty streams must go"
    assert index.active == ["BTC-USD"]


def test_fan_out_delivers_once_to_each_subscriber() -> None:
    index = Subscriptions(["BTC-USD"])
    subs = [_Sub(), _Sub()]
    for sub in subs:
        index.add(sub, "trade", "BTC-USD", None)
    streams = index.table.get(("trade", "BTC-USD"))
    assert streams is not None
    assert fan_out(streams[None], DataFrame("trade", "BTC/USD", b"x")) == 1
    assert [s.got for s in subs] == [[b"x"], [b"x"]]
