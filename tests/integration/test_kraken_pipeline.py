"""The Kraken slice end to end over loopback: simulator → provider → dispatcher → consumers.

Each test runs the real simulator (its own checksum code, not the core's) and the real
gateway on 127.0.0.1, then freezes the market and compares every consumer's book, built only
from the events it received, with the simulator's book.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration._loopback import (
    book_mismatches,
    evidence_count,
    settle,
    start_consumers,
    stop_rig,
    wait_for,
)
from tradegw.config import GatewayConfig
from tradegw.consumers.demo import BookConsumer
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.faults import FaultPlan, FaultSpec
from tradegw.sim.kraken.server import KrakenSimulator

PAIRS = ["BTC/USD", "ETH/USD", "MATIC/USD"]
DEPTH = 10
RECOVERY_S = 5.0


@dataclass
class Rig:
    sim: KrakenSimulator
    gw: Gateway
    books: BookConsumer
    book_sub: Subscription
    all_sub: Subscription
    seen: dict[str, int]
    tasks: list[asyncio.Task[None]]

    def counter(self, name: str) -> int:
        return self.gw.telemetry.counters.get(name)


async def _make_rig(
    *,
    rate: float = 600.0,
    pairs: list[str] = PAIRS,
    channels: list[str] | None = None,
    faults: list[FaultSpec] | None = None,
    stale_after_s: float = 5.0,
    refresh_interval_s: float = 180.0,
    with_rest: bool = False,
) -> Rig:
    sim = KrakenSimulator(
        KrakenSimConfig(
            pairs=pairs,
            rate=rate,
            seed=11,
            heartbeat_interval=0.2,
            faults=FaultPlan(faults=faults or []),
        )
    )
    await sim.start()
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {
                    "symbols": pairs,
                    "channels": channels or ["book", "trade", "ticker", "ohlc"],
                    "book_depth": DEPTH,
                    "stale_after_s": stale_after_s,
                    "refresh_interval_s": refresh_interval_s,
                    "resync_timeout_s": 2.0,
                    "reconnect": {"initial_s": 0.1, "max_s": 0.5},
                }
            },
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(
        config,
        urls={"kraken": sim.ws_url},
        rest_urls={"kraken": sim.rest_url if with_rest else ""},
    )
    await gw.start()
    c = start_consumers(gw)
    return Rig(sim, gw, c.books, c.book_sub, c.all_sub, c.seen, c.tasks)


@pytest.fixture
async def rigs() -> AsyncIterator[Any]:
    """A factory of rigs, each stopped (gateway, consumers, simulator) after the test."""
    made: list[Rig] = []

    async def make(**kw: Any) -> Rig:
        rig = await _make_rig(**kw)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await stop_rig(rig.gw, rig.tasks)
        await rig.sim.stop()


def _mismatches(rig: Rig) -> list[str]:
    """Symbols whose consumer book differs from the simulator's, or that are not synced."""
    return book_mismatches(
        rig.gw, "kraken", rig.books, rig.sim, DEPTH, lambda s: s.replace("/", "-")
    )


async def _settle(rig: Rig, within_s: float) -> list[str]:
    """Freezes the market and waits until every consumer book equals the simulator's."""
    return await settle(rig.sim, lambda: _mismatches(rig), within_s)


@pytest.mark.timeout(30)
async def test_clean_feed_every_consumer_book_equals_the_simulators(rigs: Any) -> None:
    rig = await rigs(rate=1500.0)
    assert await wait_for(lambda: rig.counter("checksum_ok") > 600, 10)
    assert await _settle(rig, 3.0) == []
    assert rig.counter("checksum_failed") == 0
    assert rig.counter("resyncs") == 0
    assert rig.gw.telemetry.dlq.count == 0
    for sub in (rig.book_sub, rig.all_sub):
        assert sub.stats.out_of_order == 0
    for etype in ("BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary"):
        assert rig.seen.get(etype, 0) > 0, f"no {etype} delivered: {rig.seen}"
    # Latency was measured for every delivery.
    assert rig.all_sub.stats.latency.count == rig.all_sub.stats.delivered


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("kind", "evidence"),
    [
        ("drop", "checksum_failed"),
        ("reorder", "checksum_failed"),
        ("corrupt_checksum", "checksum_failed"),
        ("duplicate", "duplicate_frames"),
        ("bad_json", "dlq"),
        ("disconnect", "reconnects"),
        ("stall", "stale"),
    ],
)
async def test_each_wire_fault_is_detected_and_books_recover_within_5s(
    rigs: Any, kind: str, evidence: str
) -> None:
    # Book channel only, so every data frame the simulator may hit is a book frame.
    spec = FaultSpec(kind=kind, after_messages=[300], max_count=1, duration=2.0)  # type: ignore[arg-type]
    rig = await rigs(rate=800.0, channels=["book"], faults=[spec], stale_after_s=1.0)
    assert await wait_for(lambda: rig.sim.stats()["faults"][kind] >= 1, 10), "fault not injected"
    injected_at = time.monotonic()

    def detected() -> bool:
        return evidence_count(rig.gw, evidence) >= 1

    # Keep the market moving so the next update reveals the damage.
    assert await wait_for(detected, RECOVERY_S), f"{kind} not detected via {evidence}"
    await asyncio.sleep(max(0.0, 1.5 - (time.monotonic() - injected_at)))
    remaining = RECOVERY_S - (time.monotonic() - injected_at)
    assert await _settle(rig, remaining) == [], f"books not correct {RECOVERY_S}s after {kind}"
    assert rig.book_sub.stats.out_of_order == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["http_429", "http_5xx"])
async def test_rest_errors_are_retried_and_the_feed_starts(rigs: Any, kind: str) -> None:
    spec = FaultSpec(kind=kind, after_messages=[0, 1], max_count=2)  # type: ignore[arg-type]
    rig = await rigs(rate=600.0, faults=[spec], with_rest=True)
    assert await wait_for(lambda: rig.counter("rest_retries") >= 2, 10)
    assert rig.sim.stats()["faults"][kind] == 2
    assert await wait_for(lambda: rig.counter("checksum_ok") > 100, 10)
    provider = rig.gw.providers["kraken"]
    assert set(provider.rest_precision) >= set(PAIRS)
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(30)
async def test_killed_connection_reconnects_and_resubscribes_every_channel(rigs: Any) -> None:
    rig = await rigs(rate=800.0)
    assert await wait_for(lambda: rig.counter("checksum_ok") > 100, 10)
    provider = rig.gw.providers["kraken"]
    transport = provider._transport
    assert transport is not None
    before = dict(rig.seen)
    transport.disconnect()  # as if the network dropped us
    assert await wait_for(lambda: rig.counter("reconnects") >= 1, 5)
    assert await wait_for(lambda: provider._transport not in (None, transport), 5)
    # Every channel flows again on the new connection.
    assert await wait_for(
        lambda: all(rig.seen.get(t, 0) > before.get(t, 0) for t in ("Trade", "Ticker")), 5
    )
    assert await _settle(rig, RECOVERY_S) == []
    # Consumers were told: resyncing (reconnect) then synced again, per book.
    assert await wait_for(lambda: rig.seen["BookStatus"] >= 3 * len(PAIRS), 5)


@pytest.mark.timeout(30)
async def test_bad_frames_go_to_the_dlq_with_trace_ids_and_the_feed_continues(rigs: Any) -> None:
    rig = await rigs(rate=800.0, faults=[FaultSpec(kind="bad_json", rate=0.02)])
    assert await wait_for(lambda: rig.gw.telemetry.dlq.count >= 3, 10)
    ok_then = rig.counter("checksum_ok")
    assert await wait_for(lambda: rig.counter("checksum_ok") > ok_then + 100, 10)
    entries = list(rig.gw.telemetry.dlq.recent)
    assert all(e["reason"] == "malformed" and len(e["trace_id"]) == 16 for e in entries)
    assert all(e["raw"] for e in entries)
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(30)
async def test_periodic_refresh_replaces_books_without_a_gap_in_service(rigs: Any) -> None:
    rig = await rigs(rate=800.0, channels=["book"], refresh_interval_s=1.0)
    by_type = rig.book_sub.stats.by_type
    assert await wait_for(lambda: rig.counter("refreshes") >= len(PAIRS), 10)
    # Each refresh ends with a fresh snapshot delivered to the consumer.
    assert await wait_for(lambda: by_type.get("BookSnapshot", 0) > len(PAIRS), 5)
    # A refresh keeps serving the old book: no book ever went to "resyncing".
    assert by_type.get("BookStatus", 0) == len(PAIRS), "only the initial 'synced' per book"
    assert rig.counter("resyncs") == 0
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(30)
async def test_callback_consumers_and_routing_by_symbol(rigs: Any) -> None:
    rig = await rigs(rate=800.0)
    got: list[tuple[str, str]] = []
    async_got: list[str] = []

    def on_event(event: Any) -> None:
        got.append((event.symbol, event.event_type))

    async def on_event_async(event: Any) -> None:
        async_got.append(event.symbol)

    rig.gw.subscribe(symbols=["ETH-USD"], types=["Trade", "Ticker"], callback=on_event)
    rig.gw.subscribe(symbols=["BTC-USD"], callback=on_event_async)
    assert await wait_for(lambda: len(got) > 20 and len(async_got) > 20, 10)
    assert {s for s, _ in got} == {"ETH-USD"}
    assert {t for _, t in got} <= {"Trade", "Ticker"}
    assert set(async_got) == {"BTC-USD"}
