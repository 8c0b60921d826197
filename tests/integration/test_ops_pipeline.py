"""Operations end to end against the Kraken simulator: ``/metrics`` parsed with
prometheus_client's parser, ``/healthz`` turning 503 within a second of a stall and 200 after
recovery, and each injected fault visible in the metrics, the ops events, the DLQ and the
console, and in no consumer's stream."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from rich.console import Console

from tests.integration._loopback import wait_for
from tradegw.config import GatewayConfig
from tradegw.console import LiveConsole
from tradegw.consumers.demo import BookConsumer
from tradegw.gateway import Gateway
from tradegw.runner import DemoConsumer
from tradegw.schema import EVENT_TYPES, Event
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.faults import FaultPlan, FaultSpec
from tradegw.sim.kraken.server import KrakenSimulator
from tradegw.telemetry.dlq import read_entries
from tradegw.telemetry.ops_events import OpsEvent

PAIRS = ["BTC/USD", "ETH/USD", "MATIC/USD"]
SYMBOLS = [p.replace("/", "-") for p in PAIRS]
CANONICAL_TYPES = {t.__name__ for t in EVENT_TYPES}

FAMILIES = {
    # family (as the parser names it) -> type
    "tradegw_frames": "counter",
    "tradegw_events": "counter",
    "tradegw_checksum_ok": "counter",
    "tradegw_checksum_failed": "counter",
    "tradegw_verification_success_ratio": "gauge",
    "tradegw_resyncs": "counter",
    "tradegw_resync_duration_seconds": "histogram",
    "tradegw_reconnects": "counter",
    "tradegw_feed_stale": "counter",
    "tradegw_feed_quiet_seconds": "gauge",
    "tradegw_book_state": "gauge",
    "tradegw_book_quiet_seconds": "gauge",
    "tradegw_consumer_queue_depth": "gauge",
    "tradegw_consumer_delivered": "counter",
    "tradegw_consumer_coalesced": "counter",
    "tradegw_consumer_spilled": "counter",
    "tradegw_consumer_throttled": "counter",
    "tradegw_delivery_latency_seconds": "histogram",
    "tradegw_rest_weight_used": "counter",
    "tradegw_dlq_entries": "counter",
    "tradegw_ops_events": "counter",
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
}


@dataclass
class Rig:
    sim: KrakenSimulator
    gw: Gateway
    http: aiohttp.ClientSession
    streams: dict[str, list[Event]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ops: list[OpsEvent] = field(default_factory=list)

    @property
    def base(self) -> str:
        assert self.gw.ops_server is not None
        return self.gw.ops_server.url

    async def metrics(self) -> dict[str, Any]:
        async with self.http.get(self.base + "/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
        return {f.name: f for f in text_string_to_metric_families(text)}

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.base + "/healthz") as resp:
            return resp.status, await resp.json()

    def ops_events(self) -> list[OpsEvent]:
        self.ops.extend(self.gw.telemetry.ops.drain())
        return self.ops


def samples(families: dict[str, Any], name: str, suffix: str = "", **labels: str) -> list[Sample]:
    """The samples of one family (with ``suffix``: ``_total``, ``_count``, ...) whose labels
    include ``labels``."""
    out = []
    for s in families[name].samples:
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            out.append(s)
    return out


def total(families: dict[str, Any], name: str, suffix: str = "_total", **labels: str) -> float:
    return sum(s.value for s in samples(families, name, suffix, **labels))


async def _collect(sub: Any, into: list[Event]) -> None:
    async for event in sub:
        into.append(event)


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[Rig] = []

    async def make(faults: Iterable[FaultSpec] = (), **venue: Any) -> Rig:
        sim = KrakenSimulator(
            KrakenSimConfig(
                pairs=PAIRS,
                rate=600.0,
                seed=5,
                heartbeat_interval=0.2,
                faults=FaultPlan(faults=list(faults)),
            )
        )
        await sim.start()
        config = GatewayConfig.model_validate(
            {
                "venues": {
                    "kraken": {
                        "symbols": PAIRS,
                        "book_depth": 10,
                        "resync_timeout_s": 2.0,
                        "reconnect": {"initial_s": 0.05, "max_s": 0.3},
                        **venue,
                    }
                },
                "ops": {"port": 0},
                "telemetry": {"dlq_path": str(tmp_path / "dlq")},
            }
        )
        gw = Gateway(config, urls={"kraken": sim.ws_url}, rest_urls={"kraken": sim.rest_url})
        rig = Rig(sim, gw, aiohttp.ClientSession())
        made.append(rig)
        # Consumers: every event, books only, and a budgeted one that must wait.
        everything = gw.subscribe(name="everything", max_pending=100_000)
        books = gw.subscribe(
            name="books", types=["BookSnapshot", "BookUpdate", "BookStatus"], max_pending=100_000
        )
        budgeted = gw.subscribe(name="budgeted", types=["Ticker", "Trade"], budget=(20.0, 2.0))
        await gw.start()
        for name, sub in (("everything", everything), ("books", books), ("budgeted", budgeted)):
            rig.streams[name] = []
            rig.tasks.append(asyncio.create_task(_collect(sub, rig.streams[name])))
        return rig

    yield make
    for rig in made:
        await rig.gw.stop()
        for task in rig.tasks:
            task.cancel()  # the budgeted one would take its time draining
        await asyncio.gather(*rig.tasks, return_exceptions=True)
        await rig.http.close()
        await rig.sim.stop()


def synced(rig: Rig) -> bool:
    books = rig.gw.providers["kraken"].books()
    return len(books) == len(PAIRS) and all(s == "synced" for s, _ in books.values())


@pytest.mark.timeout(40)
async def test_metrics_parse_and_every_family_is_there_with_plausible_values(make_rig: Any) -> None:
    rig = await make_rig()
    assert await wait_for(lambda: synced(rig) and rig.gw.telemetry.counters.get("frames") > 300, 15)
    await asyncio.sleep(1.0)  # the budgeted consumer runs out of tokens meanwhile
    families = await rig.metrics()
    missing = [name for name in FAMILIES if name not in families]
    assert missing == []
    for name, kind in FAMILIES.items():
        assert families[name].type == kind, name
        if not name.startswith("process_"):
            assert families[name].documentation, name  # every family says what it is
    assert total(families, "tradegw_frames", venue="kraken") > 300
    for symbol in SYMBOLS:
        assert total(families, "tradegw_events", venue="kraken", symbol=symbol) > 0
        assert total(families, "tradegw_checksum_ok", venue="kraken", symbol=symbol) > 0
        (state,) = samples(families, "tradegw_book_state", symbol=symbol, state="synced")
        assert state.value == 1.0
        (quiet,) = samples(families, "tradegw_book_quiet_seconds", symbol=symbol)
        assert 0 <= quiet.value < 5
    assert total(families, "tradegw_checksum_failed") == 0
    (ratio,) = samples(families, "tradegw_verification_success_ratio", venue="kraken")
    assert ratio.value == 1.0
    assert total(families, "tradegw_rest_weight_used", venue="kraken") >= 1
    (quiet,) = samples(families, "tradegw_feed_quiet_seconds", venue="kraken")
    assert 0 <= quiet.value < 1
    # Consumers: delivered, latency (one sample per delivery), budget throttling.
    delivered = total(families, "tradegw_consumer_delivered", consumer="everything")
    assert delivered > 300
    count = total(families, "tradegw_delivery_latency_seconds", "_count", consumer="everything")
    assert count == delivered
    buckets = samples(
        families, "tradegw_delivery_latency_seconds", "_bucket", consumer="everything"
    )
    values = [b.value for b in buckets]
    assert values == sorted(values)
    assert buckets[-1].labels["le"] == "+Inf"
    assert values[-1] == count
    assert total(families, "tradegw_consumer_throttled", consumer="budgeted") > 0
    assert samples(families, "tradegw_consumer_queue_depth", consumer="budgeted")
    # Every label set is bounded: no label carries a trace id or an event's own value.
    for family in families.values():
        for s in family.samples:
            assert set(s.labels) <= {
                "venue", "symbol", "type", "reason", "state", "scope", "consumer",
                "merge_id", "outcome", "event", "le",
            }, (family.name, s.labels)  # fmt: skip
    # The process.
    assert total(families, "process_cpu_seconds") > 0
    assert total(families, "process_resident_memory_bytes", "") > 10 * 1024 * 1024


@pytest.mark.timeout(40)
async def test_healthz_is_503_within_a_second_of_a_stall_and_200_after_recovery(
    make_rig: Any,
) -> None:
    rig = await make_rig(stale_after_s=0.5)
    assert await wait_for(lambda: synced(rig), 15)
    status, body = await rig.health()
    assert (status, body["status"]) == (200, "ok")
    assert body["venues"]["kraken"]["synced"] == len(PAIRS)
    # The simulator goes silent on every connection: no data, no heartbeats.
    for conn in list(rig.sim._ctx.connections):
        conn.stall(3.0)
    stalled = time.monotonic()
    while True:
        status, body = await rig.health()
        if status == 503:
            break
        assert time.monotonic() - stalled < 1.0, "still healthy a second after the stall"
        await asyncio.sleep(0.05)
    assert time.monotonic() - stalled < 1.0
    assert body["status"] == "unhealthy"
    assert body["problems"][0]["venue"] == "kraken"
    assert body["problems"][0]["problem"] in ("feed quiet", "not connected", "resyncing")
    # The provider reconnects (a new connection is not stalled) and resyncs every book.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, body = await rig.health()
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert status == 200, body
    assert rig.gw.telemetry.counters.get("stale") >= 1


def console_text(rig: Rig) -> str:
    consumers = [
        DemoConsumer("books", "book", rig.gw.find_consumer("books"), BookConsumer())  # type: ignore[arg-type]
    ]
    live = LiveConsole(rig.gw, consumers, time.monotonic() - 5, enabled=False)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(live.render())
    return out.getvalue()


@pytest.mark.timeout(60)
async def test_each_fault_shows_in_metrics_ops_events_dlq_and_console_and_never_to_consumers(
    make_rig: Any, tmp_path: Path
) -> None:
    faults = [
        FaultSpec(kind="corrupt_checksum", after_messages=[400], max_count=1),  # type: ignore[arg-type]
        FaultSpec(kind="bad_json", after_messages=[900], max_count=1),  # type: ignore[arg-type]
        FaultSpec(kind="disconnect", after_messages=[1500], max_count=1),  # type: ignore[arg-type]
    ]
    rig = await make_rig(faults, stale_after_s=1.0)
    ops = rig.gw.telemetry.ops

    def injected() -> bool:
        counts = rig.sim.stats()["faults"]
        return all(counts.get(f.kind, 0) >= 1 for f in faults)

    assert await wait_for(injected, 20), rig.sim.stats()["faults"]
    assert await wait_for(lambda: synced(rig) and rig.gw.telemetry.counters.get("reconnects"), 10)
    # A stall last: the connection goes quiet past stale_after_s.
    for conn in list(rig.sim._ctx.connections):
        conn.stall(2.0)
    assert await wait_for(lambda: rig.gw.telemetry.counters.get("stale") >= 1, 5)
    assert await wait_for(lambda: synced(rig), 10)
    assert rig.gw.telemetry.dlq.flush()

    # /metrics
    families = await rig.metrics()
    assert total(families, "tradegw_checksum_failed", venue="kraken") >= 1
    assert total(families, "tradegw_resyncs", venue="kraken", reason="checksum") >= 1
    assert total(families, "tradegw_resync_duration_seconds", "_count", reason="checksum") >= 1
    assert total(families, "tradegw_reconnects", venue="kraken") >= 2  # disconnect, stall
    assert total(families, "tradegw_feed_stale", venue="kraken", scope="connection") >= 1
    assert total(families, "tradegw_dlq_entries", venue="kraken", reason="malformed") >= 1
    assert total(families, "tradegw_dlq_entries", venue="kraken", reason="checksum_mismatch") >= 1
    (ratio,) = samples(families, "tradegw_verification_success_ratio", venue="kraken")
    assert 0.9 < ratio.value < 1.0
    assert total(families, "tradegw_ops_events", event="book.resync") >= 1

    # The ops events, with trace ids tying them to the DLQ.
    names = {e.name for e in rig.ops_events()}
    assert {"book.checksum_mismatch", "book.resync", "feed.reconnect", "feed.stale"} <= names
    mismatch = next(e for e in rig.ops if e.name == "book.checksum_mismatch")
    resync = next(e for e in rig.ops if e.name == "book.resync" and e.trace_id == mismatch.trace_id)
    assert resync.fields["reason"] == "checksum"
    assert resync.decision_id is not None
    assert ops.dropped == 0

    # The DLQ on disk: the bad frame and the frame that failed its checksum.
    entries = list(read_entries(tmp_path / "dlq"))
    by_reason = {e["reason"]: e for e in entries}
    assert {"malformed", "checksum_mismatch"} <= set(by_reason)
    assert by_reason["checksum_mismatch"]["trace_id"] == mismatch.trace_id
    assert by_reason["checksum_mismatch"]["raw"].startswith('{"channel":"book"')

    # The console.
    text = console_text(rig)
    assert "kraken" in text
    assert "reconnects 2" in text or "reconnects 3" in text
    assert "checksum failed 1" in text or "verified 9" in text
    assert f"dlq {rig.gw.telemetry.dlq.count}" in text
    assert rig.gw.metrics_url in text

    # No consumer saw any of it: only canonical events, none of them an ops event.
    await asyncio.sleep(0.2)
    for name, stream in rig.streams.items():
        assert stream, name
        assert not any(isinstance(e, OpsEvent) for e in stream), name
        assert {e.event_type for e in stream} <= CANONICAL_TYPES, name
        assert all(isinstance(e, tuple(EVENT_TYPES)) for e in stream), name
