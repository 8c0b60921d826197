"""Gateway shards on one NATS server: each publishes and answers for the streams it owns, the
remote consumer sees one namespace, control messages reach the shard they are about (every
shard answers, Ack or skip), and a stream two shards own is published by one only, the
other standing by and taking over when the first stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import orjson
import pytest

from tests.integration._loopback import wait_for
from tests.natsbus.rig import COINBASE, DEPTH, KRAKEN, Sims, place_orders
from tests.natsbus.server import NatsServer
from tradegw.bus.messages import Ack
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.natsbus.control_client import ShardAnswers, ask, request, run_over_nats
from tradegw.natsbus.shard import live_shards, open_bucket
from tradegw.natsbus.wire import HEADER_EPOCH
from tradegw.orders.fake import FakeOrderVenue
from tradegw.remote import RemoteGateway, connect
from tradegw.telemetry.prometheus import MetricReadings, metrics_registry

pytestmark = pytest.mark.timeout(120)

TTL_S = 3.0
"""Claims lapse after 3 s (renewed every second): takeovers within a test's patience."""


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    s = Sims()
    await s.start()
    yield s
    await s.stop()


def shard_gateway(
    sims: Sims, server: NatsServer, state: Path, name: str, owns: dict[str, Any]
) -> Gateway:
    """A gateway on both simulators' config running as shard ``name`` owning ``owns``."""
    state.mkdir(parents=True, exist_ok=True)
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": KRAKEN, "book_depth": DEPTH},
                "coinbase": {"symbols": COINBASE, "book_depth": DEPTH},
            },
            "shard": {"name": name, "owns": owns, "claim_ttl_s": TTL_S},
            "telemetry": {"dlq_path": None},
            "sinks": {
                "nats": {
                    "enabled": True,
                    "servers": [server.url],
                    "reconnect_wait_s": 0.1,
                }
            },
        }
    )
    gw = Gateway(
        config,
        urls={"kraken": sims.kraken.ws_url, "coinbase": sims.coinbase.ws_url},
        rest_urls={"kraken": "", "coinbase": sims.coinbase.rest_url},
    )
    gw.register_order_venue("fake", FakeOrderVenue())
    return gw


async def started(gw: Gateway) -> Gateway:
    await gw.start()
    assert gw.nats is not None
    assert gw.shard is not None
    await gw.nats.wait_connected(10)
    async with asyncio.timeout(10):
        await gw.shard.claimed.wait()
    return gw


def sim_mismatches(sims: Sims, remote: RemoteGateway, venues: dict[str, list[str]]) -> list[str]:
    bad = []
    for venue, symbols in venues.items():
        sim = sims.kraken if venue == "kraken" else sims.coinbase
        for symbol in symbols:
            mine = remote.books.book(venue, symbol.replace("/", "-"))
            if mine is None or mine.top(DEPTH) != sim.book(symbol, DEPTH):
                bad.append(f"{venue} {symbol}")
    return bad


async def settled(sims: Sims, remote: RemoteGateway, venues: dict[str, list[str]]) -> list[str]:
    """Freezes the markets and waits for the remote books to equal the simulators'."""
    sims.pause()
    try:
        await wait_for(lambda: not sim_mismatches(sims, remote, venues), 15, poll_s=0.05)
        return sim_mismatches(sims, remote, venues)
    finally:
        sims.resume()


async def epochs_on_the_wire(url: str, subject: str, for_s: float) -> set[str]:
    """The ``Tradegw-Epoch`` of every message on ``subject`` for ``for_s`` seconds."""
    seen: set[str] = set()
    nc = await nats.connect(url)

    async def take(msg: Any) -> None:
        seen.add((msg.headers or {}).get(HEADER_EPOCH, "?"))

    try:
        await nc.subscribe(subject, cb=take)
        await asyncio.sleep(for_s)
    finally:
        await nc.close()
    return seen


async def snapshot_epoch(url: str, venue: str, symbol: str) -> str:
    nc = await nats.connect(url)
    try:
        reply = await nc.request(f"tradegw.snapshot.{venue}.{symbol}", b"", timeout=5)
    finally:
        await nc.close()
    return (reply.headers or {})[HEADER_EPOCH]


async def test_two_shards_make_one_namespace_each_answering_for_its_own_streams(
    sims: Sims, nats_server: NatsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = shard_gateway(sims, nats_server, tmp_path / "a", "a", {"kraken": "all"})
    b = shard_gateway(sims, nats_server, tmp_path / "b", "b", {"coinbase": ["ETH-USD"]})
    assert set(a.providers) == {"kraken"}
    assert set(b.providers) == {"coinbase"}
    assert b.config.venues.coinbase is not None
    assert b.config.venues.coinbase.symbols == ["ETH-USD"]
    remote: RemoteGateway | None = None
    try:
        await started(a)
        await started(b)
        remote = await connect(nats_server.url, state_path=None)
        sub = remote.subscribe(types=["BookUpdate", "BookStatus"], name="all")
        await sub.ready()
        task = asyncio.create_task(_drain(sub))
        venues = {"kraken": KRAKEN, "coinbase": ["ETH-USD"]}
        assert await wait_for(lambda: not sim_mismatches(sims, remote, venues), 15)
        assert await settled(sims, remote, venues) == []
        task.cancel()
        # Snapshots: each from the shard that owns the stream; nobody runs Binance.
        assert a.nats is not None
        assert b.nats is not None
        assert await snapshot_epoch(nats_server.url, "kraken", "ETH-USD") == a.nats.epoch
        assert await snapshot_epoch(nats_server.url, "coinbase", "ETH-USD") == b.nats.epoch
        nc = await nats.connect(nats_server.url)
        try:
            with pytest.raises(nats.errors.NoRespondersError):
                await nc.request("tradegw.snapshot.binance.BTC-USDT", b"", timeout=5)
            kv = await open_bucket(nc.jetstream(), "TRADEGW_SHARDS", TTL_S, 1, create=False)
            registry = await live_shards(kv)
        finally:
            await nc.close()
        assert registry["a"]["streams"] == {"kraken": ["BTC-USD", "ETH-USD"]}
        assert registry["b"]["streams"] == {"coinbase": ["ETH-USD"]}
        assert registry["b"]["role"] == "gateway"

        # Control: every shard answers; a message is applied where it is about.
        state = await ask(nats_server.url, {"type": "State"}, 5)
        assert isinstance(state, ShardAnswers)
        assert set(state.acks) == {"a", "b"}
        assert state.ok
        sub_k = await ask(
            nats_server.url, {"type": "Subscribe", "consumer": "k", "venues": ["kraken"]}, 5
        )
        assert isinstance(sub_k, ShardAnswers)
        assert set(sub_k.acks) == {"a"}
        assert sub_k.skipped == {"b": "no_venue"}
        assert a.find_consumer("k") is not None
        assert b.find_consumer("k") is None
        both = await ask(
            nats_server.url,
            {
                "type": "Subscribe",
                "consumer": "x",
                "venues": ["kraken", "coinbase"],
                "symbols": ["ETH-USD", "BTC-USD"],
            },
            5,
        )
        assert isinstance(both, ShardAnswers)
        assert set(both.acks) == {"a", "b"}
        assert both.ok
        x_a, x_b = a.find_consumer("x"), b.find_consumer("x")
        assert x_a is not None
        assert x_b is not None
        (f_b,) = (f for sid, f in x_b.filters.items() if sid)
        assert f_b.venues == {"coinbase"}
        assert f_b.symbols == {"ETH-USD"}  # narrowed to what shard b runs
        nobody = await ask(nats_server.url, {"type": "OrderStatus", "client_order_id": "nope"}, 5)
        assert isinstance(nobody, ShardAnswers)
        assert nobody.acks == {}
        assert nobody.skipped == {"a": "unknown_order", "b": "unknown_order"}
        assert not nobody.ok
        bad = await ask(nats_server.url, b'{"type": "Bogus"}', 5)
        assert isinstance(bad, ShardAnswers)
        assert set(bad.acks) == {"a", "b"}
        assert all(not ack.ok and "Bogus" in (ack.error or "") for ack in bad.acks.values())
        one = await request(
            nats_server.url, {"type": "SetTradingMode", "mode": "disabled"}, 5, shard="b"
        )
        assert isinstance(one, Ack)
        assert one.ok
        assert b.trading_mode == "disabled"
        assert a.trading_mode == "enabled"
        readings = MetricReadings(metrics_registry(a))
        assert readings.value("tradegw_nats_shard_streams", state="held") == 2.0
        assert readings.value("tradegw_nats_shard_streams", state="contested") == 0.0

        # tradegw ctl --nats: every shard's answer, its exit status (from a thread: it runs
        # a loop of its own, as the command does).
        def ctl(message: Any, shard: str | None = None) -> tuple[int, str, str]:
            capsys.readouterr()
            code = run_over_nats(nats_server.url, message, 5, "tradegw ctl", shard)
            out, err = capsys.readouterr()
            return code, out, err

        code, out, _ = await asyncio.to_thread(ctl, {"type": "State"})
        assert code == 0
        printed = orjson.loads(out)
        assert printed["ok"]
        assert set(printed["shards"]) == {"a", "b"}
        assert printed["missing"] == []
        code, out, err = await asyncio.to_thread(
            ctl, {"type": "CancelOrder", "client_order_id": "nope"}
        )
        assert code == 1
        assert "no shard took it" in err
        assert orjson.loads(out)["skipped"] == {"a": "unknown_order", "b": "unknown_order"}
        code, out, _ = await asyncio.to_thread(ctl, {"type": "State"}, "a")
        assert code == 0
        assert orjson.loads(out)["state"]["trading_mode"] == "enabled"
        code, _, err = await asyncio.to_thread(ctl, {"type": "State"}, "zz")
        assert code == 2
        assert "shard zz answers" in err
    finally:
        if remote is not None:
            await remote.close()
        await a.stop()
        await b.stop()


async def test_a_stream_two_shards_own_goes_out_once_and_a_standby_takes_it_over(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    a = shard_gateway(sims, nats_server, tmp_path / "a", "a", {"kraken": "all"})
    b = shard_gateway(sims, nats_server, tmp_path / "b", "b", {"kraken": ["BTC/USD"]})
    gateways = [a, b]
    remote: RemoteGateway | None = None
    try:
        await started(a)
        await started(b)
        assert a.shard is not None
        assert b.shard is not None
        assert a.nats is not None
        assert b.nats is not None
        assert b.shard.contested == {("kraken", "BTC/USD"): "a"}
        assert b.shard.stats.conflicts == 1
        assert b.telemetry.ops.emitted.get("shard.conflict", 0) == 1
        # Only a's numbering reaches the wire and the snapshot replies.
        assert await epochs_on_the_wire(url, "tradegw.md.kraken.BTC-USD.>", 1.0) == {a.nats.epoch}
        for _ in range(5):
            assert await snapshot_epoch(url, "kraken", "BTC-USD") == a.nats.epoch
        assert b.nats.stats.requests["snapshot", "not_holder"] >= 5
        # Its ExecReports still go out: only market data is held back.
        await place_orders(b, 3, prefix="standby")
        assert await wait_for(
            lambda: b.nats is not None and b.nats.stats.published["exec"] >= 4, 10
        )
        readings = MetricReadings(metrics_registry(b))
        assert readings.value("tradegw_nats_shard_streams", state="contested") == 1.0
        assert readings.total("tradegw_nats_shard_conflicts_total") == 1.0

        remote = await connect(url, state_path=None)
        sub = remote.subscribe(venues=["kraken"], types=["BookUpdate"], name="k")
        await sub.ready()
        task = asyncio.create_task(_drain(sub))
        venues = {"kraken": ["BTC/USD"]}
        assert await wait_for(lambda: not sim_mismatches(sims, remote, venues), 15)

        # a stops (its claims deleted): b takes the stream over at its next renewal.
        await a.stop()
        gateways.remove(a)
        assert await wait_for(lambda: b.shard is not None and not b.shard.contested, 3 * TTL_S)
        assert b.shard.stats.takeovers == 1
        assert b.telemetry.ops.emitted.get("shard.takeover", 0) == 1
        assert await epochs_on_the_wire(url, "tradegw.md.kraken.BTC-USD.>", 1.0) == {b.nats.epoch}
        assert await snapshot_epoch(url, "kraken", "BTC-USD") == b.nats.epoch
        # The remote books followed: the new epoch made them resync from b's snapshot.
        assert await settled(sims, remote, venues) == []
        assert remote.books.stats.restarts >= 1
        task.cancel()

        # a, back under its own name, finds b holding the stream and stands by for it;
        # ETH-USD, which only a owns, it claims again.
        a2 = shard_gateway(sims, nats_server, tmp_path / "a2", "a", {"kraken": "all"})
        gateways.append(a2)
        await started(a2)
        assert a2.shard is not None
        assert a2.shard.contested == {("kraken", "BTC/USD"): "b"}
        assert a2.shard.holds("kraken", "ETH-USD") or await wait_for(
            lambda: a2.shard is not None and a2.shard.holds("kraken", "ETH-USD"), 5
        )

        # b "crashes" (its claims stay until they lapse); b restarted under its own name
        # takes them back at once instead of waiting for the TTL.
        assert b.shard is not None
        await _crash(b.shard)
        await b.stop()
        gateways.remove(b)
        b2 = shard_gateway(sims, nats_server, tmp_path / "b2", "b", {"kraken": ["BTC/USD"]})
        gateways.append(b2)
        await started(b2)
        assert b2.shard is not None
        assert b2.shard.holds("kraken", "BTC-USD")
        assert b2.shard.contested == {}
        assert b2.shard.stats.rounds == 1
    finally:
        if remote is not None:
            await remote.close()
        for gw in gateways:
            await gw.stop()


async def _drain(sub: Any) -> None:
    async for _ in sub:
        pass


async def _crash(shard: Any) -> None:
    """Stops a shard's renewals and makes its stop release nothing: its claims stay until
    they lapse, as a killed process leaves them."""
    task = shard._task
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    shard._kv = None
