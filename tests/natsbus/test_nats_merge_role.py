"""Two gateway shards (``tradegw run``, one per venue, on the simulators), a merge-role process
(``tradegw run --role merge``) and a remote consumer, each on its own, through one NATS
server: the remote books equal the simulators', and merged events appear only while every
venue of the merge is there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from tests.integration._loopback import wait_for
from tests.natsbus.procs import Child, tradegw, write_config
from tests.natsbus.rig import COINBASE, DEPTH, KRAKEN, Sims
from tests.natsbus.server import NatsServer
from tests.natsbus.test_nats_shards import shard_gateway, started
from tradegw.conductor.role import MergeGateway, run_merge, summarize, summary_text
from tradegw.config import GatewayConfig
from tradegw.natsbus.control_client import request
from tradegw.remote import RemoteGateway, connect
from tradegw.schema import Event, MergedBBO, MergedBookSnapshot
from tradegw.stopping import StopRequest

pytestmark = pytest.mark.timeout(180)

WINDOW_S = 0.5


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    s = Sims(rate=200.0)
    await s.start()
    yield s
    await s.stop()


def shard_config(sims: Sims, server: NatsServer, name: str, venue: str) -> dict[str, Any]:
    sim = sims.kraken if venue == "kraken" else sims.coinbase
    symbols = KRAKEN if venue == "kraken" else COINBASE
    return {
        "venues": {
            venue: {
                "symbols": symbols,
                "book_depth": DEPTH,
                "ws_url": sim.ws_url,
                "rest_url": sim.rest_url,
            }
        },
        "shard": {"name": name, "owns": {venue: "all"}, "claim_ttl_s": 3},
        "telemetry": {"dlq_path": None},
        "sinks": {
            "nats": {
                "enabled": True,
                "servers": [server.url],
                "reconnect_wait_s": 0.1,
            }
        },
    }


def merge_config(server: NatsServer) -> dict[str, Any]:
    return {
        "merges": [
            {
                "merge_id": "btc",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
                "window_s": WINDOW_S,
                "max_events": 10_000,
                "depth": 5,
            }
        ],
        "telemetry": {"dlq_path": None},
        "sinks": {"nats": {"enabled": True, "servers": [server.url], "reconnect_wait_s": 0.1}},
    }


def sim_mismatches(sims: Sims, remote: RemoteGateway) -> list[str]:
    bad = []
    for sim, venue in ((sims.kraken, "kraken"), (sims.coinbase, "coinbase")):
        for symbol in sim.symbols:
            mine = remote.books.book(venue, symbol.replace("/", "-"))
            if mine is None or mine.top(DEPTH) != sim.book(symbol, DEPTH):
                bad.append(f"{venue} {symbol}")
    return bad


def check_merged(snap: MergedBookSnapshot) -> None:
    """A merged book as the engine must build it: both venues sent fragments, levels in
    order, each level's quantity exactly the sum of its venues'."""
    assert snap.venues == ["coinbase", "kraken"]
    assert set(snap.fragments) == {"coinbase", "kraken"}
    assert all(n > 0 for n in snap.fragments.values())
    assert snap.window_close_ts >= snap.window_open_ts
    for side, descending in ((snap.bids, True), (snap.asks, False)):
        prices = [Decimal(level.price) for level in side]
        assert prices == sorted(prices, reverse=descending)
        assert len(set(prices)) == len(prices)
        for level in side:
            assert set(level.venues) <= {"coinbase", "kraken"}
            assert Decimal(level.qty) == sum(Decimal(q) for q in level.venues.values())


async def test_two_shards_a_merge_role_and_a_remote_consumer_through_one_nats(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    a = Child(
        "shard-a",
        tradegw(
            "run",
            "--no-live",
            "--config",
            str(write_config(tmp_path / "a.json", shard_config(sims, nats_server, "a", "kraken"))),
        ),
        tmp_path / "a.log",
    )
    b = Child(
        "shard-b",
        tradegw(
            "run",
            "--no-live",
            "--config",
            str(
                write_config(tmp_path / "b.json", shard_config(sims, nats_server, "b", "coinbase"))
            ),
        ),
        tmp_path / "b.log",
    )
    summary = tmp_path / "merge-summary.json"
    m = Child(
        "merge",
        tradegw(
            "run",
            "--role",
            "merge",
            "--config",
            str(write_config(tmp_path / "m.json", merge_config(nats_server))),
            "--summary-json",
            str(summary),
        ),
        tmp_path / "m.log",
    )
    children = [a, b, m]
    remote: RemoteGateway | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        for child in children:
            await child.start()
        remote = await connect(nats_server.url, state_path=None)
        books = remote.subscribe(types=["BookUpdate", "BookStatus"], name="books")
        merged = remote.subscribe(venues=["merged"], name="merged")
        got: list[Event] = []

        async def drain(sub: Any, into: list[Event] | None) -> None:
            async for ev in sub:
                if into is not None:
                    into.append(ev)

        await books.ready()
        await merged.ready()
        tasks = [
            asyncio.create_task(drain(books, None)),
            asyncio.create_task(drain(merged, got)),
        ]

        def snaps(merge_id: str = "btc") -> list[MergedBookSnapshot]:
            return [e for e in got if isinstance(e, MergedBookSnapshot) and e.merge_id == merge_id]

        # Books from two processes, merged windows from a third.
        assert await wait_for(lambda: not sim_mismatches(sims, remote), 30), (
            f"{sim_mismatches(sims, remote)}\n{a.output()}\n{b.output()}"
        )
        assert await wait_for(lambda: len(snaps()) >= 4, 30), m.output()
        sims.pause()
        try:
            assert await wait_for(lambda: not sim_mismatches(sims, remote), 15), sim_mismatches(
                sims, remote
            )
        finally:
            sims.resume()
        for snap in snaps():
            check_merged(snap)
        bbo = [e for e in got if isinstance(e, MergedBBO) and e.merge_id == "btc"]
        assert len(bbo) >= len(snaps()) - 1
        by_window = {s.window_seq: s for s in snaps()}
        for quote in bbo:
            snap = by_window.get(quote.window_seq)
            if snap is not None and snap.bids:
                assert quote.bid == snap.bids[0].price
        seqs = [s.window_seq for s in snaps()]
        assert seqs == sorted(seqs)

        # A merge asked for at run time, of a symbol the shards publish.
        eth = {
            "type": "MergedSubscribe",
            "consumer": "eth",
            "symbol": "ETH-USD",
            "venues": ["kraken", "coinbase"],
            "window_s": WINDOW_S,
        }
        ack = await request(nats_server.url, eth, 5, shard="merge")
        for _ in range(20):  # until it has read that the shards publish ETH-USD (~1 s)
            if ack.ok or "try again" not in (ack.error or ""):
                break
            await asyncio.sleep(0.5)
            ack = await request(nats_server.url, eth, 5, shard="merge")
        assert ack.ok, ack.error
        assert ack.merge_id is not None
        assert await wait_for(lambda: len(snaps(str(ack.merge_id))) >= 2, 20), m.output()
        for snap in snaps(str(ack.merge_id)):
            check_merged(snap)
            assert snap.symbol == "ETH-USD"
        refused = await request(
            nats_server.url,
            {
                "type": "MergedSubscribe",
                "consumer": "x",
                "symbol": "SOL-USD",
                "venues": ["kraken", "coinbase"],
            },
            5,
            shard="merge",
        )
        assert not refused.ok
        assert "SOL-USD" in (refused.error or "")

        # Coinbase's shard goes away: no window is complete any more, none is emitted.
        assert await b.stop() == 0, b.output()
        await asyncio.sleep(3 * WINDOW_S)
        emitted = len(snaps())
        await asyncio.sleep(2.5)
        assert len(snaps()) == emitted
        assert a.running
        assert m.running
    finally:
        for task in tasks:
            task.cancel()
        if remote is not None:
            await remote.close()
        statuses = {c.name: await c.stop() for c in children}
    assert statuses["merge"] == 0, m.output()
    report = orjson.loads(summary.read_bytes())
    figures = report["merges"]["btc"]
    assert figures["emitted"] >= 4
    assert figures["suppressed_partial"] >= 1  # kraken kept opening windows alone
    assert figures["venues"] == ["coinbase", "kraken"]
    assert report["feed"]["books_synced"] >= 2
    assert report["published"]["md"] >= 2 * figures["emitted"]
    assert report["shard"] == "merge"


async def test_the_merge_role_in_process_reads_proven_books_and_reports_its_windows(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    a = shard_gateway(sims, nats_server, tmp_path / "a", "a", {"kraken": "all"})
    b = shard_gateway(sims, nats_server, tmp_path / "b", "b", {"coinbase": "all"})
    config = GatewayConfig.model_validate(merge_config(nats_server), context={"role": "merge"})
    mg = MergeGateway(config)
    assert mg.providers == {}
    assert mg.order_ledger is not None
    merged = mg.subscribe(venues=["merged"], name="local")
    got: list[Event] = []

    async def drain() -> None:
        async for ev in merged:
            got.append(ev)

    task = asyncio.create_task(drain())
    try:
        await started(a)
        await started(b)
        await mg.start()
        await mg.wait_feeding(10)
        assert mg.shard is not None
        assert mg.shard.role == "merge"
        assert await wait_for(lambda: sum(isinstance(e, MergedBookSnapshot) for e in got) >= 3, 20)
        for ev in got:
            if isinstance(ev, MergedBookSnapshot):
                check_merged(ev)
        # The books a close reads are the venues' books, proven over the wire.
        sims.pause()
        try:
            for venue, sim, symbol in (
                ("kraken", sims.kraken, "BTC/USD"),
                ("coinbase", sims.coinbase, "BTC-USD"),
            ):
                assert await wait_for(
                    lambda v=venue, s=sim, n=symbol: (
                        (book := mg._book(v, "BTC-USD")) is not None
                        and (book.bids, book.asks) == s.book(n, DEPTH)
                    ),
                    10,
                ), venue
        finally:
            sims.resume()
        # A venue whose last BookStatus is not synced has no book for a close.
        mg._status["kraken", "BTC-USD"] = "resyncing"
        assert mg._book("kraken", "BTC-USD") is None
        mg._status["kraken", "BTC-USD"] = "synced"
        # What the shards publish, for merges asked for at run time.
        assert await wait_for(
            lambda: (mg.venue_symbols().get("coinbase") or frozenset()) >= {"BTC-USD", "ETH-USD"},
            10,
        )
        assert mg.venue_symbols()["merged"] == frozenset({"BTC-USD"})
        mid = mg.merge("ETH-USD", ["kraken", "coinbase"], window_s=WINDOW_S)
        assert await wait_for(lambda: any(e.merge_id == mid for e in got), 20)
        mg.unmerge(mid)
        with pytest.raises(ValueError, match="venues"):
            mg.merge("ETH-USD", "kraken")
        report = summarize(mg, 1.0)
        assert report["merges"]["btc"]["emitted"] >= 3
        assert report["feed"]["books_synced"] >= 2
        assert "btc BTC-USD over coinbase+kraken: emitted" in summary_text(report)
    finally:
        task.cancel()
        await mg.stop()
        await a.stop()
        await b.stop()


async def test_run_merge_runs_until_its_duration_and_writes_its_summary(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    a = shard_gateway(sims, nats_server, tmp_path / "a", "a", {"kraken": "all"})
    b = shard_gateway(sims, nats_server, tmp_path / "b", "b", {"coinbase": "all"})
    said: list[str] = []
    try:
        await started(a)
        await started(b)
        config = GatewayConfig.model_validate(merge_config(nats_server), context={"role": "merge"})
        path = tmp_path / "summary.json"
        # It stops when its first merged book is out (a fixed duration raced the books'
        # sync on a loaded box), or at its duration at the latest.
        stop = StopRequest()
        watcher = await nats.connect(nats_server.url)

        async def first_merged(_msg: Any) -> None:
            stop.trigger()

        await watcher.subscribe("tradegw.md.merged.BTC-USD.book", cb=first_merged)
        try:
            report = await run_merge(
                config, duration_s=60.0, summary_path=path, say=said.append, stop_request=stop
            )
        finally:
            await watcher.close()
    finally:
        await a.stop()
        await b.stop()
    assert said[0].startswith("merge role merge: 1 merges")
    assert orjson.loads(path.read_bytes()) == report
    assert report["merges"]["btc"]["emitted"] >= 1
    assert report["role"] == "merge"
