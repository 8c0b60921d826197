"""A remote consumer's books over a real NATS server equal the gateway's, the simulators' and
an in-process consumer's; the snapshot service answers with the book and the last diff in
it, or says why not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.errors
import pytest

from tests.integration._loopback import drain_books, wait_for
from tests.natsbus.rig import DEPTH, Sims, gateway, settled_mismatches
from tests.natsbus.server import NatsServer
from tradegw.consumers.demo import BookConsumer
from tradegw.natsbus.wire import HEADER_ERROR, HEADER_UPDATE_SEQ
from tradegw.remote import connect
from tradegw.schema import BookSnapshot, from_json

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    s = Sims()
    await s.start()
    yield s
    await s.stop()


async def test_remote_books_equal_the_gateways_the_simulators_and_an_in_process_consumers(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(sims, nats_server, tmp_path)
    local = BookConsumer()
    local_sub = gw.subscribe(types=["BookSnapshot", "BookUpdate", "BookStatus"], name="local")
    await gw.start()
    local_task = asyncio.create_task(drain_books(local_sub, local))
    assert gw.nats is not None
    await gw.nats.wait_connected(10)
    remote = await connect(nats_server.url, state_path=None)
    try:
        sub = remote.subscribe(types=["BookUpdate", "BookStatus", "Trade"], name="r")
        got: dict[str, int] = {}

        async def count() -> None:
            async for ev in sub:
                got[ev.event_type] = got.get(ev.event_type, 0) + 1

        task = asyncio.create_task(count())
        await sub.ready()
        await asyncio.sleep(3.0)
        assert await settled_mismatches(sims, gw, remote, 10) == []

        def differ() -> list[str]:
            """Books whose remote copy is not the simulator's and the in-process one's."""
            bad = []
            for sim, venue, canonical in (
                (sims.kraken, "kraken", lambda s: s.replace("/", "-")),
                (sims.coinbase, "coinbase", lambda s: s),
            ):
                for symbol in sim.symbols:
                    mine = remote.books.book(venue, canonical(symbol))
                    theirs = local.books.get((venue, canonical(symbol)))
                    want = sim.book(symbol, DEPTH)
                    if (
                        mine is None
                        or theirs is None
                        or not (mine.top(DEPTH) == want == theirs.top(DEPTH))
                    ):
                        bad.append(f"{venue} {symbol}")
            return bad

        assert await wait_for(lambda: not differ(), 10), differ()
        # It joined mid-stream: each book began with a snapshot asked for, then diffs.
        assert remote.books.stats.replies_used >= 4
        assert got.get("BookSnapshot", 0) >= 4
        assert got.get("BookUpdate", 0) > 100
        assert got.get("Trade", 0) > 0
        assert remote.stats.malformed == 0
        assert gw.nats.stats.published["md"] > 0
        task.cancel()
    finally:
        await remote.close()
        await gw.stop()
        local_task.cancel()


async def test_the_snapshot_service_answers_with_the_book_or_says_why_not(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(sims, nats_server, tmp_path)
    await gw.start()
    nc = await nats.connect(nats_server.url)
    try:
        assert gw.nats is not None
        await gw.nats.wait_connected(10)
        provider = gw.providers["kraken"]
        for _ in range(200):
            if provider.books().get("BTC-USD", ("", None))[0] == "synced":
                break
            await asyncio.sleep(0.05)
        sims.pause()
        await asyncio.sleep(0.3)
        reply = await nc.request("tradegw.snapshot.kraken.BTC-USD", b"", timeout=5)
        snap = from_json(reply.data)
        assert isinstance(snap, BookSnapshot)
        assert reply.headers is not None
        assert snap.seq_provider == int(reply.headers[HEADER_UPDATE_SEQ])
        assert snap.seq_provider == provider.last_update_seq("BTC-USD") > 0
        assert (snap.bids, snap.asks) == provider.books()["BTC-USD"][1].book.top(DEPTH)
        assert sims.kraken.book("BTC/USD", DEPTH) == (snap.bids, snap.asks)

        reply = await nc.request("tradegw.snapshot.kraken.DOGE-USD", b"", timeout=5)
        assert reply.headers is not None
        assert reply.headers[HEADER_ERROR] == "unknown_symbol"
        assert reply.data == b""
        # No gateway runs that venue: NATS itself says no one answers, at once.
        with pytest.raises(nats.errors.NoRespondersError):
            await nc.request("tradegw.snapshot.binance.BTC-USDT", b"", timeout=5)
        assert gw.nats.stats.requests["snapshot", "ok"] == 1
        assert gw.nats.stats.requests["snapshot", "unknown_symbol"] == 1
    finally:
        await nc.close()
        await gw.stop()


async def test_a_remote_diff_subscription_gets_its_books_snapshots_and_only_what_it_asked(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(sims, nats_server, tmp_path)
    await gw.start()
    assert gw.nats is not None
    await gw.nats.wait_connected(10)
    remote = await connect(nats_server.url, state_path=None)
    try:
        sub = remote.subscribe(venues=["coinbase"], symbols=["ETH-USD"], types=["BookUpdate"])
        seen: list[tuple[str, str, str]] = []

        async def take() -> None:
            async for ev in sub:
                seen.append((ev.provider, ev.symbol, ev.event_type))

        task = asyncio.create_task(take())
        await sub.ready()
        await asyncio.sleep(2.0)
        task.cancel()
        assert set(seen) == {
            ("coinbase", "ETH-USD", "BookSnapshot"),
            ("coinbase", "ETH-USD", "BookUpdate"),
        }
        first = seen.index(("coinbase", "ETH-USD", "BookUpdate"))
        assert seen[:first] == [("coinbase", "ETH-USD", "BookSnapshot")]
        assert remote.books.state("kraken", "BTC-USD") == "unknown"  # never asked for
        assert remote.stats.snapshot_requests["ok"] == 1
    finally:
        await remote.close()
        await gw.stop()
