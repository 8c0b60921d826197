"""The simulators' inspection endpoints (``inspect_port``): every order of an account with
its fills and the matching engine's counters, in process and over HTTP on a port of the
simulator's own that none of the venue's faults or limits touch; a child simulator prints
their URL for :class:`SimulatorProcess`."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator
from tradegw.sim.inspection import VenueOrderView, trading_stats, venue_orders
from tradegw.sim.kraken import KrakenSimConfig
from tradegw.sim.process import SimulatorProcess

pytestmark = pytest.mark.timeout(30)


def _sim(**fields: object) -> BinanceSimulator:
    fields.setdefault("pairs", ["BTCUSDT"])
    fields.setdefault("rate", 0)
    return BinanceSimulator(BinanceSimConfig.model_validate(fields))


def _take(sim: BinanceSimulator, cid: str, qty: int = 3) -> None:
    """A marketable buy of ``qty`` lots placed straight on the engine (no venue wire)."""
    name = sim.market_name("BTCUSDT")
    ask = sim.market.top(name, 1)[1][0][0]
    lot = sim.instrument("BTCUSDT").qty_min
    out = sim.matching.place(
        "default", name, "buy", "limit", qty * lot, price=ask, client_order_id=cid, now_ns=1
    )
    assert out.order is not None


async def test_orders_and_counters_in_process() -> None:
    sim = _sim()
    _take(sim, "a-1")
    _take(sim, "a-2", qty=1)
    orders = venue_orders(sim, "default")
    assert [o.client_order_id for o in orders] == ["a-1", "a-2"]
    first = orders[0]
    assert first.status == "filled"
    info = sim.instrument("BTCUSDT")
    assert first.filled == Decimal(3 * info.qty_min).scaleb(-info.qty_precision)
    assert first.fills == tuple(f.exec_id for f in sim.matching.fills(first.order_id))
    assert VenueOrderView.from_json(first.as_json()) == first
    stats = trading_stats(sim)
    assert stats["matching"]["place_requests"] == stats["matching"]["placed"] == 2
    assert "faults" in stats["sim"]
    assert venue_orders(sim, "nobody") == []


async def test_the_endpoints_serve_on_their_own_port_untouched_by_the_venues_faults() -> None:
    # Every REST request of the venue fails; the inspection port is not the venue's.
    faults = {"faults": [{"kind": "http_5xx", "rate": 1.0}]}
    async with _sim(inspect_port=0, faults=faults) as sim:
        _take(sim, "b-1")
        url = sim.inspect_url
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        assert url != sim.rest_url
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sim.rest_url}/api/v3/ping") as venue:
                assert venue.status == 503  # the venue's own port is faulty
            async with session.get(f"{url}/orders", params={"account": "default"}) as r:
                assert r.status == 200
                body = await r.json()
            (order,) = (VenueOrderView.from_json(o) for o in body["orders"])
            assert order.client_order_id == "b-1"
            assert order == venue_orders(sim, "default")[0]
            async with session.get(f"{url}/stats") as r:
                stats = await r.json()
            assert stats["matching"]["placed"] == 1
            assert stats["sim"]["faults"]["http_5xx"] == 1  # only the venue's request
            async with session.get(f"{url}/orders") as r:
                assert r.status == 400
                assert "account" in (await r.json())["error"]
            async with session.get(f"{url}/orders", params={"account": "ghost"}) as r:
                assert r.status == 404
            async with session.post(f"{url}/pause") as r:
                assert r.status == 200
            assert sim._paused
            async with session.post(f"{url}/resume") as r:
                assert r.status == 200
            assert not sim._paused
    assert sim.inspect_url is None


async def test_without_inspect_port_nothing_is_served() -> None:
    async with _sim() as sim:
        assert sim.inspect_url is None


def _modes(folder: Path) -> list[int]:
    return [stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()]


async def test_a_child_simulator_prints_its_inspection_url(tmp_path: Path) -> None:
    config = KrakenSimConfig(pairs=["ETH/USD"], rate=0, seed=5, inspect_port=0)
    proc = SimulatorProcess("kraken", config, workdir=tmp_path)
    try:
        await proc.start()
        # Its config file is in the folder given, readable by this user alone.
        assert _modes(tmp_path) == [0o600]
        assert proc.inspect_url.startswith("http://127.0.0.1:")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{proc.inspect_url}/stats") as r,
        ):
            assert (await r.json())["matching"]["place_requests"] == 0
    finally:
        await proc.stop()
    assert _modes(tmp_path) == []
    plain = SimulatorProcess("kraken", KrakenSimConfig(pairs=["ETH/USD"], rate=0))
    try:
        await plain.start()
        assert plain.inspect_url == ""
    finally:
        await plain.stop()
