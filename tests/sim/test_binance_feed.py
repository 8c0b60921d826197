"""The Binance feed's clock-driven streams, stepped by hand with chosen times: stream names,
klines that close (also between two pushes), partial depth at the book's update id."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.sim.test_binance_client import Client
from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator
from tradegw.sim.binance.streams import StreamSpec, parse_stream
from tradegw.sim.market import NS_PER_MINUTE
from tradegw.sim.wire import DataFrame

pytestmark = pytest.mark.timeout(30)

T0 = 1_700_000_000 * 1_000_000_000 // NS_PER_MINUTE * NS_PER_MINUTE
"""A minute boundary."""


class Collector:
    """A subscriber that keeps the payloads it is sent."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def deliver(self, frame: DataFrame) -> None:
        self.frames.append(json.loads(frame.data))


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("btcusdt@depth", StreamSpec("btcusdt", "depth", "1000ms")),
        ("btcusdt@depth@100ms", StreamSpec("btcusdt", "depth", "100ms")),
        ("btcusdt@depth@1000ms", StreamSpec("btcusdt", "depth", "1000ms")),
        ("btcusdt@depth10@100ms", StreamSpec("btcusdt", "depth10", "100ms")),
        ("btcusdt@kline_1h", StreamSpec("btcusdt", "kline", "1h")),
        ("btcusdt@bookTicker", StreamSpec("btcusdt", "bookTicker", None)),
        ("nope@ticker", StreamSpec("nope", "ticker", None)),
    ],
)
def test_stream_names_parse_to_channel_and_key(name: str, spec: StreamSpec) -> None:
    assert parse_stream(name) == spec


@pytest.mark.parametrize(
    "name",
    [
        "btcusdt",
        "@trade",
        "btc-usdt@trade",
        "btcusdt@trade@100ms",
        "btcusdt@kline_7m",
        "btcusdt@kline_1m@100ms",
        "btcusdt@depth7",
        "btcusdt@depthx",
        "btcusdt@depth@250ms",
        "btcusdt@bookTickers",
    ],
)
def test_other_shapes_are_not_streams(name: str) -> None:
    assert parse_stream(name) is None


def test_stream_suffixes_are_the_frames_channels() -> None:
    names = ["x@depth", "x@depth@100ms", "x@depth5", "x@depth20@100ms", "x@kline_1m", "x@trade"]
    suffixes = []
    for name in names:
        spec = parse_stream(name)
        assert spec is not None
        suffixes.append(spec.suffix)
    assert suffixes == ["depth", "depth@100ms", "depth5", "depth20@100ms", "kline_1m", "trade"]


def _trades_until(sim: BinanceSimulator, name: str, at_ns: int, trades: int) -> None:
    """Step pair ``name`` at time ``at_ns`` until it has traded ``trades`` more times."""
    state = sim.market.state(name)
    target = state.next_trade_id + trades
    while state.next_trade_id < target:
        sim.feed.step(name, at_ns)


def test_klines_are_pushed_when_they_change_and_once_more_closed() -> None:
    sim = BinanceSimulator(BinanceSimConfig(pairs=["BTCUSDT"], rate=0))
    name = sim.market_name("BTCUSDT")
    sub = Collector()
    spec = parse_stream("btcusdt@kline_1m")
    assert spec is not None
    sim.feed.subscribe(sub, spec)
    _trades_until(sim, name, T0 + 5_000_000_000, 3)
    sim.feed.tick(20, T0 + 6_000_000_000)
    sim.feed.tick(40, T0 + 8_000_000_000)  # nothing new: nothing sent
    assert len(sub.frames) == 1
    k = sub.frames[0]["k"]
    assert (k["t"], k["T"], k["i"], k["x"]) == (
        T0 // 1_000_000,
        T0 // 1_000_000 + 59_999,
        "1m",
        False,
    )
    assert k["n"] >= 3
    assert k["L"] - k["f"] + 1 == k["n"]
    sim.feed.tick(60, T0 + 61_000_000_000)
    assert sub.frames[-1]["k"]["x"] is True
    assert len(sub.frames) == 2
    # Trades in the next minute, and a minute that closes between two pushes.
    _trades_until(sim, name, T0 + 62_000_000_000, 2)
    sim.feed.tick(80, T0 + 63_000_000_000)
    _trades_until(sim, name, T0 + 100_000_000_000, 2)
    _trades_until(sim, name, T0 + 125_000_000_000, 2)
    sim.feed.tick(100, T0 + 126_000_000_000)
    pushed = [(f["k"]["t"] - T0 // 1_000_000, f["k"]["x"]) for f in sub.frames[2:]]
    assert pushed == [(60_000, False), (60_000, True), (120_000, False)]
    second, third = sub.frames[3]["k"], sub.frames[4]["k"]
    assert third["f"] == second["L"] + 1
    assert float(second["V"]) <= float(second["v"])


def test_the_24h_ticker_and_partial_depth_come_on_the_clock() -> None:
    sim = BinanceSimulator(BinanceSimConfig(pairs=["ETHUSDT"], rate=0))
    name = sim.market_name("ETHUSDT")
    subs = {stream: Collector() for stream in ("ethusdt@ticker", "ethusdt@depth5@100ms")}
    for stream, sub in subs.items():
        spec = parse_stream(stream)
        assert spec is not None
        sim.feed.subscribe(sub, spec)
    sim.feed.tick(1, T0)
    assert subs["ethusdt@ticker"].frames == []
    sim.feed.tick(10, T0)
    ticker = subs["ethusdt@ticker"].frames[0]
    assert ticker["e"] == "24hrTicker"
    assert ticker["E"] == T0 // 1_000_000
    partial = subs["ethusdt@depth5@100ms"].frames
    assert len(partial) == 2
    assert partial[0]["lastUpdateId"] == sim.update_id("ETHUSDT")
    bids, asks = sim.book("ETHUSDT", 5)
    assert [(f"{float(p):.2f}", f"{float(q):.8f}") for p, q in partial[0]["bids"]] == bids
    assert len(partial[0]["asks"]) == len(asks) == 5
    sim.feed.step(name, T0)
    sim.feed.unsubscribe(
        subs["ethusdt@ticker"], parse_stream("ethusdt@ticker") or StreamSpec("", "", None)
    )
    sim.feed.tick(20, T0)
    assert len(subs["ethusdt@ticker"].frames) == 1


async def test_partial_depth_on_a_raw_connection() -> None:
    async with (
        BinanceSimulator(BinanceSimConfig(pairs=["MATICUSDT"], rate=200)) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}/ws/maticusdt@depth10@100ms") as ws,
    ):
        client = Client(ws)
        frame = await client.recv()
        assert list(frame) == ["lastUpdateId", "bids", "asks"]
        assert len(frame["bids"]) == len(frame["asks"]) == 10
        sim.pause()
        await client.collect(0.25)
        last = json.loads(client.texts[-1])
        assert last["lastUpdateId"] == sim.update_id("MATICUSDT")
        assert [(f"{float(p):.4f}", q) for p, q in last["asks"]] == [
            (p, f"{float(q):.8f}") for p, q in sim.book("MATICUSDT", 10)[1]
        ]
