"""Every fault the Binance simulator injects, as a client following the documented procedure
notices it: a lost, swapped or damaged depth event is a gap (``U > local + 1``), a repeated
one is old (``u <= local``), a stale REST snapshot is older than the first buffered event, a
stall is silence followed by a gap, and the rest end or break the connection."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from tests.sim.test_binance_client import LocalBook, payload, rest_json
from tradegw.sim.binance import BinanceFaultPlan, BinanceSimConfig, BinanceSimulator
from tradegw.sim.faults import FaultSpec

pytestmark = pytest.mark.timeout(30)

SYMBOL = "BTCUSDT"
STREAM = "btcusdt@depth@100ms"


@dataclass
class Seen:
    """What a client read over a while."""

    book: LocalBook
    fetches: int = 0
    texts: list[str] = field(default_factory=list)
    unparseable: int = 0
    closed: bool = False
    longest_silence: float = 0.0
    shutdown_notices: int = 0
    outcomes: list[str] = field(default_factory=list)


async def _watch(sim: BinanceSimulator, seconds: float) -> Seen:
    """Sync a book of BTCUSDT (refetching a too-old snapshot) and follow it for ``seconds``."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}/stream?streams={STREAM}") as ws,
    ):
        seen = Seen(LocalBook())
        last = time.monotonic()
        deadline = last + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(ws.receive(), left)
            except TimeoutError:
                break
            now = time.monotonic()
            if msg.type != aiohttp.WSMsgType.TEXT:
                seen.closed = True
                break
            seen.longest_silence = max(seen.longest_silence, now - last)
            last = now
            seen.texts.append(msg.data)
            try:
                frame = json.loads(msg.data)
            except ValueError:
                seen.unparseable += 1
                continue
            event = payload(frame)
            if event.get("e") == "serverShutdown":
                seen.shutdown_notices += 1
                continue
            outcome = seen.book.diff(event)
            seen.outcomes.append(outcome)
            if outcome == "gap":
                seen.book.diff(event)  # the event that showed the gap starts a new buffer
            if not seen.book.synced and len(seen.book.buffer) == 1:
                await _snapshot(session, sim, seen)
        return seen


async def _snapshot(session: aiohttp.ClientSession, sim: BinanceSimulator, seen: Seen) -> None:
    for _ in range(5):
        seen.fetches += 1
        snap = await rest_json(session, f"{sim.rest_url}/api/v3/depth", symbol=SYMBOL, limit=5000)
        if seen.book.snapshot(snap) != "refetch":
            return


async def _run(kind: str, seconds: float = 2.0, **spec: Any) -> tuple[BinanceSimulator, Seen]:
    spec.setdefault("after_messages", [8])
    plan = BinanceFaultPlan(faults=[FaultSpec(kind=kind, max_count=1, **spec)])
    sim = BinanceSimulator(
        BinanceSimConfig(pairs=[SYMBOL], rate=300, seed=5, faults=plan, shutdown_grace_s=0.3)
    )
    async with sim:
        seen = await _watch(sim, seconds)
    assert sim.stats()["faults"][kind] == 1, f"{kind} was not injected"
    return sim, seen


async def test_a_clean_feed_has_no_gap_no_repeat_and_one_snapshot() -> None:
    async with BinanceSimulator(BinanceSimConfig(pairs=[SYMBOL], rate=300, seed=5)) as sim:
        seen = await _watch(sim, 1.5)
    assert seen.book.synced
    assert seen.book.applied > 8
    assert (seen.book.gaps, seen.fetches, seen.unparseable) == (0, 1, 0)
    assert "stale" not in seen.outcomes


@pytest.mark.parametrize("kind", ["drop", "reorder", "corrupt_checksum"])
async def test_lost_swapped_or_damaged_depth_events_show_as_a_gap(kind: str) -> None:
    _, seen = await _run(kind)
    assert seen.book.gaps >= 1, seen.outcomes
    assert seen.unparseable == 0


async def test_corrupted_events_keep_U_at_or_below_u() -> None:
    _, seen = await _run("corrupt_checksum")
    events = [payload(json.loads(t)) for t in seen.texts]
    assert all(e["U"] <= e["u"] for e in events)
    # The damaged event claims ids one above the truth: it overlaps its successor.
    overlaps = [b for a, b in itertools.pairwise(events) if b["U"] <= a["u"]]
    assert len(overlaps) == 1


async def test_a_repeated_depth_event_is_old_and_ignored() -> None:
    _, seen = await _run("duplicate")
    assert seen.outcomes.count("stale") == 1
    assert seen.book.gaps == 0
    assert len(seen.texts) != len(set(seen.texts))


async def test_a_truncated_frame_cannot_be_parsed() -> None:
    _, seen = await _run("bad_json")
    assert seen.unparseable == 1
    assert seen.book.gaps == 0


async def test_a_stall_is_silence_then_a_gap() -> None:
    _, seen = await _run("stall", duration=0.6)
    assert seen.longest_silence >= 0.5
    assert seen.book.gaps >= 1


async def test_a_disconnect_ends_the_connection() -> None:
    _, seen = await _run("disconnect")
    assert seen.closed


async def test_a_stale_snapshot_is_older_than_the_first_buffered_event() -> None:
    _, seen = await _run("stale_snapshot", after_messages=[0])
    assert seen.fetches == 2, "the stale answer is fetched again"
    assert seen.book.synced
    assert seen.book.gaps == 0


async def test_server_shutdown_announces_the_close() -> None:
    sim, seen = await _run("server_shutdown", after_messages=[5])
    assert seen.shutdown_notices == 1
    assert seen.closed
    assert sim.stats()["shutdown_notices"] == 1
