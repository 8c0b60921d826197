"""Every fault kind of the Kraken simulator, observed on the wire.

Message-level faults are checked against a clean run with the same seed: with one subscriber
and ``rate=0`` (steps driven by ``advance``) the frame sequence is deterministic, so a faulty
run must differ from the clean one in exactly the way the fault says.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.sim.kraken_helpers import Client, MirrorBook, parse, strip_times
from tradegw.sim.kraken import FaultPlan, FaultSpec, KrakenSimConfig, KrakenSimulator

pytestmark = pytest.mark.timeout(15)

STEPS = 150


@asynccontextmanager
async def book_client(
    faults: list[dict[str, Any]], read_ack: bool = True, **config: Any
) -> AsyncIterator[tuple[KrakenSimulator, Client]]:
    """A simulator with ``faults`` and a client subscribed to BTC/USD depth 10."""
    plan = FaultPlan.model_validate({"faults": faults})
    settings = {"pairs": 1, "rate": 0, "seed": 31, "faults": plan, **config}
    async with (
        KrakenSimulator(KrakenSimConfig.model_validate(settings)) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.ws_url) as ws,
    ):
        client = Client(ws)
        await client.recv()  # status
        await client.subscribe("book", ["BTC/USD"])
        if read_ack:
            ack = await client.recv()
            assert ack["success"] is True
        yield sim, client


async def _book_texts(faults: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    async with book_client(faults) as (sim, client):
        sim.advance("BTC/USD", STEPS)
        await client.drain()
        texts = [strip_times(t) for t in client.texts[2:]]  # from the snapshot on
        return texts, sim.stats()["faults"]


@pytest.fixture(scope="module")
def clean() -> list[str]:
    texts, counts = asyncio.run(_book_texts([]))
    assert not any(counts.values())
    assert len(texts) > 100
    return texts


async def test_drop_skips_one_update_and_breaks_the_checksum(clean: list[str]) -> None:
    faulty, counts = await _book_texts([{"kind": "drop", "after_messages": [20]}])
    assert counts["drop"] == 1
    assert len(faulty) == len(clean) - 1
    i = next(i for i, (a, b) in enumerate(zip(clean, faulty, strict=False)) if a != b)
    assert i > 19
    assert faulty[i:] == clean[i + 1 :]
    # A client notices: the book it rebuilds fails a later checksum.
    mirror = MirrorBook(10, 1, 8)
    mirror.snapshot(parse(faulty[0])["data"][0])
    results = [mirror.apply(parse(text)["data"][0]) for text in faulty[1:]]
    assert all(results[: i - 1])
    assert not all(results[i - 1 :])


async def test_duplicate_sends_a_frame_twice(clean: list[str]) -> None:
    faulty, counts = await _book_texts([{"kind": "duplicate", "after_messages": [10, 30]}])
    assert counts["duplicate"] == 2
    assert len(faulty) == len(clean) + 2
    twins = [i for i in range(1, len(faulty)) if faulty[i] == faulty[i - 1]]
    assert len(twins) == 2
    for i in reversed(twins):
        del faulty[i]
    assert faulty == clean


async def test_reorder_swaps_two_book_frames(clean: list[str]) -> None:
    faulty, counts = await _book_texts([{"kind": "reorder", "after_messages": [40]}])
    assert counts["reorder"] == 1
    assert len(faulty) == len(clean)
    diff = [i for i, (a, b) in enumerate(zip(clean, faulty, strict=True)) if a != b]
    assert len(diff) == 2
    i, j = diff
    assert j == i + 1
    assert (faulty[i], faulty[j]) == (clean[j], clean[i])


async def test_corrupt_checksum_changes_only_the_checksum(clean: list[str]) -> None:
    faulty, counts = await _book_texts([{"kind": "corrupt_checksum", "after_messages": [0]}])
    assert counts["corrupt_checksum"] == 1
    # after_messages [0] hits the very first frame: the snapshot.
    snapshot, good = parse(faulty[0])["data"][0], parse(clean[0])["data"][0]
    assert snapshot["checksum"] != good["checksum"]
    assert snapshot["bids"] == good["bids"]
    assert not MirrorBook(10, 1, 8).snapshot(snapshot)
    assert faulty[1:] == clean[1:]


async def test_corrupt_checksum_by_rate_and_symbol_filter() -> None:
    faults = [{"kind": "corrupt_checksum", "rate": 1.0, "symbols": ["BTC/USD"], "max_count": 3}]
    async with book_client(faults) as (sim, client):
        sim.advance("BTC/USD", 20)
        frames = [parse(t) for t in client.texts[2:]] + await client.drain()
        mirror = MirrorBook(10, 1, 8)
        results = [mirror.snapshot(frames[0]["data"][0])]
        results += [mirror.apply(f["data"][0]) for f in frames[1:]]
        assert results[:3] == [False, False, False]
        assert all(results[3:])
        assert sim.stats()["faults"]["corrupt_checksum"] == 3


async def test_stall_silences_the_connection() -> None:
    faults = [{"kind": "stall", "at_seconds": [0.3], "duration": 0.6}]
    async with book_client(faults, rate=400, heartbeat_interval=0.1) as (sim, client):
        arrivals = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            await client.recv(1.0)
            arrivals.append(time.monotonic())
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert max(gaps) > 0.5, "no heartbeat, no data during the stall"
        assert sorted(gaps)[-2] < 0.2, "only one silence"
        stats = sim.stats()
        assert stats["faults"]["stall"] == 1
        assert stats["suppressed"] > 50


async def test_stall_by_message_count() -> None:
    faults = [{"kind": "stall", "after_messages": [3], "duration": 0.3}]
    async with book_client(faults) as (sim, client):
        sim.advance("BTC/USD", 30)
        assert await client.drain(0.1) != []
        before = sim.stats()["suppressed"]
        sim.advance("BTC/USD", 30)
        assert await client.drain(0.1) == []
        assert sim.stats()["suppressed"] > before
        await asyncio.sleep(0.3)
        sim.advance("BTC/USD", 30)
        assert await client.drain(0.1) != []


@pytest.mark.parametrize(
    "spec", [{"after_messages": [5]}, {"at_seconds": [0.2]}, {"rate": 1.0}], ids=str
)
async def test_disconnect_drops_the_socket_without_a_close_frame(spec: dict[str, Any]) -> None:
    faults = [{"kind": "disconnect", **spec}]
    async with book_client(faults, read_ack=False, rate=200) as (sim, client):
        while True:
            msg = await asyncio.wait_for(client.ws.receive(), 2)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert client.ws.close_code == 1006  # abnormal closure: no close frame came
        assert sim.stats()["faults"]["disconnect"] == 1
        await asyncio.sleep(0.05)
        assert sim.stats()["connections_open"] == 0


@pytest.mark.parametrize("spec", [{"after_messages": [2]}, {"at_seconds": [0.1]}], ids=str)
async def test_bad_json_sends_a_malformed_frame(spec: dict[str, Any]) -> None:
    async with book_client([{"kind": "bad_json", "max_count": 1, **spec}], rate=300) as (
        sim,
        client,
    ):
        bad = []
        for _ in range(60):
            text = await client.recv_text()
            try:
                json.loads(text)
            except json.JSONDecodeError:
                bad.append(text)
        # Kraken's own frame, cut off mid-string.
        assert bad == ['{"channel":"book","type":"update","data":[{"symbol":"']
        assert sim.stats()["faults"]["bad_json"] == 1


async def test_http_429_and_5xx() -> None:
    faults = [
        {"kind": "http_429", "after_messages": [1]},
        {"kind": "http_5xx", "after_messages": [2], "status": 502},
    ]
    plan = FaultPlan.model_validate({"faults": faults})
    async with (
        KrakenSimulator(rate=0, faults=plan) as sim,
        aiohttp.ClientSession(sim.rest_url) as session,
    ):
        statuses, bodies = [], []
        for _ in range(4):
            async with session.get("/0/public/Time") as resp:
                statuses.append(resp.status)
                bodies.append(await resp.json())
        assert statuses == [200, 429, 502, 200]
        assert bodies[1] == {"error": ["EAPI:Rate limit exceeded"]}
        assert bodies[2] == {"error": ["EService:Unavailable"]}
        assert sim.stats()["faults"]["http_429"] == 1
        assert sim.stats()["faults"]["http_5xx"] == 1


async def test_http_faults_by_rate() -> None:
    plan = FaultPlan(faults=[FaultSpec(kind="http_5xx", rate=1.0)])
    async with (
        KrakenSimulator(rate=0, faults=plan) as sim,
        aiohttp.ClientSession(sim.rest_url) as session,
    ):
        for _ in range(3):
            async with session.get("/0/public/AssetPairs") as resp:
                assert resp.status == 503
        assert sim.stats()["faults"]["http_5xx"] == 3


async def test_reordered_frame_is_released_when_no_successor_comes() -> None:
    async with book_client([{"kind": "reorder", "after_messages": [1]}]) as (sim, client):
        await client.recv()  # snapshot
        while sim.stats()["faults"]["reorder"] == 0:
            sim.advance("BTC/USD", 1)  # stop right after the held frame: no successor
        held_at = time.monotonic()
        late = await client.recv_until(lambda f: f.get("channel") == "book")
        assert time.monotonic() - held_at > 0.7  # released by housekeeping after ~1 s
        assert late["type"] == "update"
        assert sim.stats()["faults"]["reorder"] == 1
