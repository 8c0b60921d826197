"""The Binance slice end to end over loopback: simulator → provider → dispatcher → consumers.

Each test runs the real simulator (its own sequence code, not the core's) and the real
gateway on 127.0.0.1, then freezes the market and compares every consumer's book, built only
from the events it received, with the simulator's book. Faults are each detected by their
own gateway counter, and the time from injection until every book is synced again is printed
(``pytest -s``) and held to 5 s.
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
from tradegw.sim.binance import BinanceFaultPlan, BinanceSimConfig, BinanceSimulator
from tradegw.sim.faults import FaultSpec

SYMBOLS = ["BTCUSDT", "ETHUSDT", "MATICUSDT"]
DEPTH = 10
RECOVERY_S = 5.0


@dataclass
class Rig:
    sim: BinanceSimulator
    gw: Gateway
    books: BookConsumer
    book_sub: Subscription
    all_sub: Subscription
    seen: dict[str, int]
    tasks: list[asyncio.Task[None]]

    def counter(self, name: str, *labels: str) -> int:
        if labels:
            return self.gw.telemetry.counters.get(name, "binance", *labels)
        return self.gw.telemetry.counters.total(name, "binance")

    def statuses(self) -> list[str]:
        return [status for status, _ in self.gw.providers["binance"].books().values()]


async def _make_rig(
    *,
    rate: float = 300.0,
    channels: list[str] | None = None,
    faults: list[FaultSpec] | None = None,
    stale_after_s: float = 5.0,
    rest: dict[str, Any] | None = None,
    **sim_fields: Any,
) -> Rig:
    sim = BinanceSimulator(
        BinanceSimConfig(
            pairs=SYMBOLS,
            rate=rate,
            seed=11,
            faults=BinanceFaultPlan(faults=faults or []),
            **sim_fields,
        )
    )
    await sim.start()
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "binance": {
                    "symbols": SYMBOLS,
                    "channels": channels or ["depth", "trade", "bookTicker", "ticker", "kline"],
                    "book_depth": DEPTH,
                    "stale_after_s": stale_after_s,
                    "resync_timeout_s": 2.0,
                    "reconnect": {"initial_s": 0.1, "max_s": 0.5},
                    "rest": {"initial_backoff_s": 0.1, **(rest or {})},
                }
            },
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(config, urls={"binance": sim.ws_url}, rest_urls={"binance": sim.rest_url})
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
    bases = {i.symbol: f"{i.base_asset}-{i.quote_asset}" for i in rig.sim.symbol_infos}
    return book_mismatches(rig.gw, "binance", rig.books, rig.sim, DEPTH, bases.__getitem__)


async def _settle(rig: Rig, within_s: float) -> list[str]:
    """Freezes the market and waits until every consumer book equals the simulator's (the
    last merged depth events go out within a tick of the pause)."""
    return await settle(rig.sim, lambda: _mismatches(rig), within_s)


def _all_synced(rig: Rig) -> bool:
    statuses = rig.statuses()
    return bool(statuses) and all(s == "synced" for s in statuses)


@pytest.mark.timeout(30)
async def test_clean_feed_every_consumer_book_equals_the_simulators(rigs: Any) -> None:
    rig = await rigs()
    assert await wait_for(lambda: rig.seen.get("BookUpdate", 0) > 60, 10)
    # Klines come every two seconds.
    assert await wait_for(lambda: rig.seen.get("KlineSummary", 0) > 0, 5)
    assert await _settle(rig, 3.0) == []
    assert rig.counter("sequence_gaps") == 0
    assert rig.counter("resyncs") == 0
    assert rig.counter("bbo_checked") > 20, "bookTickers checked against the book at their u"
    assert rig.counter("bbo_mismatches") == 0
    assert rig.gw.telemetry.dlq.count == 0
    for sub in (rig.book_sub, rig.all_sub):
        assert sub.stats.out_of_order == 0
    for etype in ("BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary"):
        assert rig.seen.get(etype, 0) > 0, f"no {etype} delivered: {rig.seen}"


FAULT_EVIDENCE = [
    ("drop", "sequence_gaps"),
    ("reorder", "sequence_gaps"),
    ("corrupt_checksum", "sequence_gaps"),
    ("duplicate", "stale_book_messages"),
    ("bad_json", "dlq"),
    ("disconnect", "reconnects"),
    ("stall", "stale"),
    ("stale_snapshot", "snapshot_refetches"),
    ("server_shutdown", "server_shutdowns"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("kind", "evidence"), FAULT_EVIDENCE)
async def test_each_fault_is_detected_and_books_recover_within_5s(
    rigs: Any, kind: str, evidence: str
) -> None:
    # Depth only, so every data frame the simulator may hit is a depth event.
    # Depth events come ten a second per symbol: the 20th is well after the books synced.
    trigger = [1] if kind == "stale_snapshot" else [20]
    spec = FaultSpec(kind=kind, after_messages=trigger, max_count=1, duration=2.0)
    # A short silence counts as stale only where a stall is under test: a paused market is
    # silent too (depth only), and settling must not race a reconnect.
    stale_after_s = 1.0 if kind == "stall" else 5.0
    rig = await rigs(
        channels=["depth"], faults=[spec], stale_after_s=stale_after_s, shutdown_grace_s=0.5
    )
    assert await wait_for(lambda: rig.sim.stats()["faults"][kind] >= 1, 10), "not injected"
    injected_at = time.monotonic()

    def detected() -> bool:
        return evidence_count(rig.gw, evidence) >= 1

    # The market keeps moving, so the next event reveals the damage.
    assert await wait_for(detected, RECOVERY_S), f"{kind} not detected via {evidence}"
    detected_after = time.monotonic() - injected_at
    assert await wait_for(lambda: _all_synced(rig), RECOVERY_S - detected_after), (
        f"books not synced again after {kind}"
    )
    synced_after = time.monotonic() - injected_at
    print(
        f"\nbinance {kind}: detected via {evidence} after {detected_after * 1000:.0f} ms, "
        f"every book synced {synced_after * 1000:.0f} ms after injection"
    )
    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - injected_at)))
    remaining = RECOVERY_S - (time.monotonic() - injected_at)
    assert await _settle(rig, remaining) == [], f"books not correct {RECOVERY_S}s after {kind}"
    assert rig.book_sub.stats.out_of_order == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["http_429", "http_5xx"])
async def test_injected_rest_errors_are_retried_and_the_feed_starts(rigs: Any, kind: str) -> None:
    spec = FaultSpec(kind=kind, after_messages=[0, 1], max_count=2)
    rig = await rigs(faults=[spec], channels=["depth"])
    assert await wait_for(lambda: rig.counter("rest_retries") >= 2, 10)
    assert rig.sim.stats()["faults"][kind] == 2
    assert await wait_for(lambda: _all_synced(rig), 10)
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(50)
async def test_request_weight_429_and_418_are_honoured(rigs: Any) -> None:
    # exchangeInfo (20) + one depth (5) fill the window; the next depth is refused with 429
    # and the retry during the back-off earns a 418 ban. The simulator's windows are fixed
    # slices of the wall clock (as Binance's minutes are): start-up begins just after a
    # boundary, so that all of it falls inside one window even on a loaded machine (begun
    # late in a window, the depth requests would land in a fresh one and never be refused).
    window_s = 6.0
    await asyncio.sleep(window_s - time.time() % window_s + 0.05)
    rig = await rigs(
        channels=["depth"],
        weight_limit=25,
        weight_window_s=window_s,
        ban_s=1.0,
        rest={"max_retry_after_s": 3.0, "attempts": 8},
    )
    assert await wait_for(lambda: rig.counter("rest_retries", "429") >= 1, 10)
    assert await wait_for(lambda: rig.counter("rest_retries", "418") >= 1, 10)
    stats = rig.sim.stats()
    assert stats["refused_429"] >= 1
    assert stats["refused_418"] >= 1
    assert await wait_for(lambda: _all_synced(rig), 20)
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(30)
async def test_server_pings_are_answered_and_the_connection_survives_them(rigs: Any) -> None:
    rig = await rigs(channels=["depth"], ping_interval_s=0.25, pong_timeout_s=1.0)
    assert await wait_for(lambda: rig.sim.stats()["pings_sent"] >= 8, 10)
    stats = rig.sim.stats()
    assert stats["pongs_received"] >= 7
    assert stats["pong_timeouts"] == 0
    assert stats["connections_total"] == 1
    assert rig.counter("reconnects") == 0
    assert _all_synced(rig)
    assert await _settle(rig, RECOVERY_S) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notice", [False, True])
async def test_lifetime_cuts_are_survived_with_no_wrong_book(rigs: Any, notice: bool) -> None:
    rig = await rigs(
        channels=["depth", "bookTicker"],
        connection_lifetime_s=1.5,
        shutdown_notice_at_lifetime=notice,
        shutdown_grace_s=0.3,
    )
    assert await wait_for(lambda: rig.counter("reconnects") >= 2, 10)
    stats = rig.sim.stats()
    if notice:
        # The gateway leaves on the notice, before the cut.
        assert stats["shutdown_notices"] >= 2
        assert rig.counter("server_shutdowns") >= 2
    else:
        assert stats["lifetime_cuts"] >= 2
        assert rig.counter("server_shutdowns") == 0
    assert rig.counter("bbo_mismatches") == 0
    # Between cuts every book is served again, and right again.
    assert await wait_for(lambda: _all_synced(rig), RECOVERY_S)
    assert await _settle(rig, RECOVERY_S) == []
