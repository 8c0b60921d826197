"""Every fault kind of the Coinbase simulator, as a client reading ``sequence_num`` sees it.

With one subscriber and ``rate=0`` (steps driven by ``advance``) the frames are deterministic,
so each faulty run is compared with a clean run of the same seed: the frames' contents must
match except where the fault says, and the numbers must show the fault.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.sim.coinbase_helpers import Client, MirrorBook, gaps, strip_volatile
from tradegw.sim.coinbase import (
    SKIP_SEQUENCE,
    CoinbaseFaultPlan,
    CoinbaseSimConfig,
    CoinbaseSimulator,
)

pytestmark = pytest.mark.timeout(15)

STEPS = 120
PRODUCT = "BTC-USD"


@asynccontextmanager
async def subscribed(
    faults: list[dict[str, Any]], **config: Any
) -> AsyncIterator[tuple[CoinbaseSimulator, Client]]:
    """A simulator with ``faults`` and a client subscribed to BTC-USD level2 and trades."""
    plan = CoinbaseFaultPlan.model_validate({"faults": faults})
    settings = {"pairs": 1, "rate": 0, "seed": 31, "faults": plan, **config}
    async with (
        CoinbaseSimulator(CoinbaseSimConfig.model_validate(settings)) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.ws_url) as ws,
    ):
        client = Client(ws)
        await client.subscribe("level2", [PRODUCT])
        await client.subscribe("market_trades", [PRODUCT])
        # Both snapshots and acks (kept in client.texts) before the market moves.
        await client.ack()
        await client.ack()
        yield sim, client


async def _texts(client: Client, quiet: float = 0.2) -> list[str]:
    """Raw text frames until nothing arrives for ``quiet`` seconds."""
    out = []
    while True:
        try:
            msg = await asyncio.wait_for(client.ws.receive(), quiet)
        except TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        out.append(msg.data)


async def _run(faults: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    async with subscribed(faults) as (sim, client):
        sim.advance(PRODUCT, STEPS)
        texts = client.texts + await _texts(client)
        return texts, sim.stats()["faults"]


@pytest.fixture(scope="module")
def clean() -> list[str]:
    texts, counts = asyncio.run(_run([]))
    assert not any(counts.values())
    assert [json.loads(t)["sequence_num"] for t in texts] == list(range(len(texts)))
    assert len(texts) > STEPS
    return texts


def _seqs(texts: list[str]) -> list[int]:
    return [json.loads(t)["sequence_num"] for t in texts]


def _contents(texts: list[str]) -> list[str]:
    return [strip_volatile(t) for t in texts]


def _book(texts: list[str]) -> MirrorBook:
    book = MirrorBook()
    for text in texts:
        frame = json.loads(text)
        if frame["channel"] == "l2_data":
            for event in frame["events"]:
                book.apply(event)
    return book


async def test_drop_loses_one_level2_update_and_leaves_a_gap(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": "drop", "after_messages": [20]}])
    assert counts["drop"] == 1
    ((before, after),) = gaps(_seqs(faulty))
    assert after == before + 2
    lost = clean[before + 1]
    assert json.loads(lost)["channel"] == "l2_data"
    assert json.loads(lost)["events"][0]["type"] == "update"
    assert _contents(faulty) == _contents(clean[: before + 1] + clean[before + 2 :])


async def test_duplicate_sends_one_frame_twice_with_its_number(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": "duplicate", "after_messages": [20]}])
    assert counts["duplicate"] == 1
    seqs = _seqs(faulty)
    (i,) = [i for i in range(1, len(seqs)) if seqs[i] == seqs[i - 1]]
    assert faulty[i] == faulty[i - 1]
    assert _contents(faulty[:i] + faulty[i + 1 :]) == _contents(clean)
    assert seqs[:i] + seqs[i + 1 :] == list(range(len(clean)))


async def test_reorder_swaps_two_updates_and_the_numbers_show_it(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": "reorder", "after_messages": [20]}])
    assert counts["reorder"] == 1
    seqs = _seqs(faulty)
    (i,) = [i for i in range(1, len(seqs)) if seqs[i] < seqs[i - 1]]
    assert seqs[i - 1] > seqs[i]
    assert sorted(seqs) == list(range(len(clean)))
    # The client sees a gap, then a number it has passed already.
    assert gaps(seqs)[0] == (seqs[i - 2], seqs[i - 1])
    reordered = clean[:]
    a, b = seqs[i], seqs[i - 1]
    reordered[a], reordered[b] = reordered[b], reordered[a]
    assert _contents(faulty) == _contents(reordered)
    assert json.loads(faulty[i])["events"][0]["type"] == "update"


async def test_corrupt_checksum_damages_one_sequence_num(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": "corrupt_checksum", "after_messages": [20]}])
    assert counts["corrupt_checksum"] == 1
    seqs = _seqs(faulty)
    wrong = [i for i, seq in enumerate(seqs) if seq != i]
    assert len(wrong) == 1
    assert seqs[wrong[0]] == wrong[0] ^ 1
    assert gaps(seqs)
    # Only the number is damaged: the data is the clean run's.
    assert _contents(faulty) == _contents(clean)


async def test_skip_sequence_skips_a_number_and_loses_nothing(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": SKIP_SEQUENCE, "after_messages": [20]}])
    assert counts[SKIP_SEQUENCE] == 1
    ((before, after),) = gaps(_seqs(faulty))
    assert after == before + 2
    assert _contents(faulty) == _contents(clean)
    bids, asks = _book(faulty).top(10_000, 1, 8)
    assert (bids, asks) == _book(clean).top(10_000, 1, 8)


async def test_stall_sends_nothing_for_a_while_and_the_numbers_move_on(
    clean: list[str],
) -> None:
    spec = {"kind": "stall", "after_messages": [20], "duration": 0.4}
    async with subscribed([spec]) as (sim, client):
        sim.advance(PRODUCT, STEPS // 2)
        first = client.texts + await _texts(client)
        await asyncio.sleep(0.5)
        sim.advance(PRODUCT, STEPS - STEPS // 2)
        faulty = first + await _texts(client)
        assert sim.stats()["faults"]["stall"] == 1
        assert sim.stats()["suppressed"] > 0
    ((before, after),) = gaps(_seqs(faulty))
    lost = set(range(before + 1, after))
    # The frame that set the stall off is lost too, besides the ones suppressed during it.
    assert len(lost) == sim.stats()["suppressed"] + 1
    kept = [text for seq, text in enumerate(clean) if seq not in lost]
    assert _contents(faulty) == _contents(kept)


async def test_disconnect_drops_the_line_and_numbering_restarts(clean: list[str]) -> None:
    async with subscribed([{"kind": "disconnect", "after_messages": [20]}]) as (sim, client):
        sim.advance(PRODUCT, STEPS)
        received = client.texts[:]
        while True:
            msg = await asyncio.wait_for(client.ws.receive(), 2)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            received.append(msg.data)
        # No close frame: the line just went.
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert sim.stats()["faults"]["disconnect"] == 1
        assert _contents(received) == _contents(clean[: len(received)])
        assert 15 < len(received) < len(clean)
        async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_url) as ws:
            again = Client(ws)
            await again.subscribe("heartbeats")
            (ack,) = await again.ack()
            assert ack["sequence_num"] == 0


async def test_bad_json_is_an_extra_unreadable_frame_without_a_number(clean: list[str]) -> None:
    faulty, counts = await _run([{"kind": "bad_json", "after_messages": [20]}])
    assert counts["bad_json"] == 1
    readable = []
    broken = []
    for text in faulty:
        try:
            readable.append(json.loads(text))
        except json.JSONDecodeError:
            broken.append(text)
    assert len(broken) == 1
    assert broken[0].startswith('{"channel":"l2_data"')
    assert [f["sequence_num"] for f in readable] == list(range(len(clean)))
    assert _contents([t for t in faulty if t not in broken]) == _contents(clean)


async def test_faults_can_target_a_product_and_stop_after_max_count() -> None:
    faults = [
        {"kind": SKIP_SEQUENCE, "rate": 1.0, "symbols": ["ETH-USD"]},
        {"kind": "drop", "rate": 1.0, "max_count": 2},
    ]
    async with subscribed(faults) as (sim, client):
        sim.advance(PRODUCT, 40)
        texts = client.texts + await _texts(client)
        counts = sim.stats()["faults"]
    assert counts[SKIP_SEQUENCE] == 0
    assert counts["drop"] == 2
    assert sum(b - a - 1 for a, b in gaps(_seqs(texts))) == 2


def test_plans_know_coinbases_own_kind() -> None:
    assert SKIP_SEQUENCE in CoinbaseFaultPlan.kinds()
    assert CoinbaseFaultPlan.scope(SKIP_SEQUENCE) == "ws"
    with pytest.raises(ValueError, match="unknown fault kind"):
        CoinbaseFaultPlan.model_validate({"faults": [{"kind": "checksum", "rate": 1.0}]})
