"""The telemetry queue: bounded, never waiting, typed events emitted where the gateway notices
or decides something (resyncs, stale feeds, merges, coalescing, spills, control messages)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import orjson
import pytest

from tests.unit._factories import make_dispatcher, ticker, trade
from tests.unit.test_merge_engine import Rig, spec
from tradegw._core import BookAssembler
from tradegw.bus.control import ControlBus
from tradegw.bus.store import ControlStore
from tradegw.config import DispatcherConfig, GatewayConfig
from tradegw.dispatch import Dispatcher
from tradegw.gateway import Gateway
from tradegw.providers.kraken import KrakenProvider, KrakenVenueConfig
from tradegw.telemetry import Telemetry
from tradegw.telemetry.logs import JsonFormatter
from tradegw.telemetry.ops_events import (
    OPS_EVENT_NAMES,
    OpsEvent,
    OpsEventQueue,
    log_ops_events,
)

pytestmark = pytest.mark.timeout(30)

HEX16 = re.compile(r"[0-9a-f]{16}")


def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    q = OpsEventQueue(capacity=3, history=2)
    for i in range(5):
        q.emit("feed.reconnect", venue="kraken", attempt=i)
    assert q.dropped == 2
    assert [e.fields["attempt"] for e in q.drain()] == [2, 3, 4]
    assert len(q) == 0
    assert q.emitted == {"feed.reconnect": 5}
    assert [e.fields["attempt"] for e in q.recent] == [3, 4]


def test_names_are_the_documented_ones_or_under_a_reserved_prefix() -> None:
    q = OpsEventQueue()
    for name in (*OPS_EVENT_NAMES, "control.subscribe", "order.rejected"):
        q.emit(name)
    with pytest.raises(ValueError, match="unknown ops event"):
        q.emit("book.resynced")  # a typo is an error, not a new family
    # Every event has a trace id; decision ids only where given.
    events = q.drain()
    assert all(HEX16.fullmatch(e.trace_id) for e in events)
    assert all(e.decision_id is None for e in events)
    assert events[0].to_dict()["event"] == events[0].name


def test_every_schema_in_the_docs_is_an_event_name() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ops-events.md").read_text()
    documented = set(re.findall(r"^### `([a-z_.*]+)`", doc, re.M))
    assert documented >= OPS_EVENT_NAMES
    assert {"control.*", "order.*"} <= documented


async def test_batches_wake_the_reader_and_keep_order() -> None:
    q = OpsEventQueue()
    got: list[OpsEvent] = []

    async def read() -> None:
        async for batch in q.batches():
            got.extend(batch)
            if len(got) >= 3:
                return

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    q.emit("feed.stale", venue="a")
    await asyncio.sleep(0)
    q.emit("feed.stale", venue="b")
    q.emit("feed.stale", venue="c")
    await asyncio.wait_for(reader, 5)
    assert [e.venue for e in got] == ["a", "b", "c"]


def _kraken(telemetry: Telemetry, dispatcher: Dispatcher, **cfg: object) -> KrakenProvider:
    config = KrakenVenueConfig(symbols=["BTC/USD"], **cfg)  # type: ignore[arg-type]
    provider = KrakenProvider(config, dispatcher, telemetry, ws_url="ws://127.0.0.1:1/v2")
    provider.request_snapshot = lambda book, token: None  # type: ignore[method-assign]
    return provider


def test_a_stale_book_emits_feed_stale_then_book_resync_with_one_trace() -> None:
    telemetry = Telemetry()
    provider = _kraken(telemetry, Dispatcher(DispatcherConfig(), telemetry), book_stale_after_s=2.0)
    asm = BookAssembler("kraken", 1, 8, 10)
    asm.on_snapshot([("100.0", "1")], [("101.0", "1")], None)
    book = provider.add_book("BTC/USD", "BTC-USD", asm)
    now = time.monotonic()
    book.status, book.synced_at, book.last_update = "synced", now - 10.0, now - 3.0
    provider._last_rx = provider._last_ping = now
    assert provider._tick(now)
    stale, resync = telemetry.ops.drain()
    assert (stale.name, stale.venue, stale.symbol) == ("feed.stale", "kraken", "BTC-USD")
    assert stale.fields["scope"] == "book"
    assert stale.fields["quiet_s"] >= 3.0
    assert resync.name == "book.resync"
    assert resync.fields["reason"] == "stale"
    assert resync.trace_id == stale.trace_id
    assert resync.decision_id is not None
    assert HEX16.fullmatch(resync.decision_id)
    # Back in sync: the time it took is in the (venue, reason) histogram.
    book.asm.on_snapshot([("100.0", "1")], [("101.0", "1")], None)
    provider.on_book_outcome(
        book,
        "applied",
        snapshot=True,
        bids=[],
        asks=[],
        checksum=None,
        exchange_ts=None,
        ingest_ts=time.time_ns(),
        trace_id="0" * 16,
    )
    assert book.status == "synced"
    assert telemetry.resync_ns[("kraken", "stale")].count == 1


def test_a_checksum_mismatch_is_an_ops_event_a_dlq_entry_and_a_resync() -> None:
    telemetry = Telemetry()
    provider = _kraken(telemetry, Dispatcher(DispatcherConfig(), telemetry))
    book = provider.add_book("BTC/USD", "BTC-USD", BookAssembler("kraken", 1, 8, 10))
    book.status = "synced"
    provider.on_book_outcome(
        book,
        "checksum_mismatch",
        snapshot=False,
        bids=[],
        asks=[],
        checksum=1234,
        exchange_ts=None,
        ingest_ts=time.time_ns(),
        trace_id="ab" * 8,
        raw=b'{"channel":"book"}',
    )
    names = [(e.name, e.trace_id) for e in telemetry.ops.drain()]
    assert names == [("book.checksum_mismatch", "ab" * 8), ("book.resync", "ab" * 8)]
    (entry,) = telemetry.dlq.recent
    assert (entry["reason"], entry["trace_id"], entry["raw"]) == (
        "checksum_mismatch",
        "ab" * 8,
        '{"channel":"book"}',
    )


def test_merge_late_and_suppressed_windows_are_ops_events() -> None:
    rig = Rig(spec(window_s=1.0))
    rig.engine._ops = rig.telemetry.ops
    rig.synced_books("coinbase", "kraken")
    opener = rig.fragment("kraken")
    rig.clock.advance(1.0)  # coinbase sent nothing: suppressed
    late = rig.fragment("coinbase", ingest_ts=opener.ingest_ts)
    suppressed, dropped = rig.telemetry.ops.drain()
    assert suppressed.name == "merge.suppressed_partial"
    assert suppressed.trace_id == opener.trace_id
    assert suppressed.decision_id is not None
    assert suppressed.fields["missing"] == ["coinbase"]
    assert suppressed.fields["merge_id"] == "m1"
    assert (dropped.name, dropped.trace_id, dropped.venue) == (
        "merge.late_dropped",
        late.trace_id,
        "coinbase",
    )


async def test_coalescing_and_spilling_are_said_once_per_backlog_episode() -> None:
    d = make_dispatcher()
    sub = d.subscribe(name="slow", max_pending=2)
    first = ticker()
    d.publish(first)
    for _ in range(5):
        d.publish(ticker())  # latest wins: coalesced four times... one decision
    for i in range(12):
        d.publish(trade(trade_id=str(i)))  # past 4 * max_pending: spilled
    events = d.telemetry.ops.drain()
    assert [e.name for e in events] == ["dispatch.coalesced", "dispatch.spilled"]
    coalesced, spilled = events
    assert coalesced.fields["consumer"] == "slow"
    assert coalesced.fields["policy"] == "latest_wins"
    assert coalesced.decision_id is not None
    assert spilled.fields["consumer"] == "slow"
    assert sub.stats.coalesced == 5
    assert sub.stats.spilled > 0
    # Still behind: more coalescing says nothing new.
    d.publish(ticker())
    assert d.telemetry.ops.drain() == []

    # The consumer drains everything and waits: the episode is over, the next one is said.
    async def take_all() -> None:
        async for _ in sub:
            pass

    task = asyncio.create_task(take_all())
    await asyncio.sleep(0.05)
    assert len(sub) == 0
    d.publish(ticker())
    d.publish(ticker())  # replaces the one just queued, before the consumer woke
    (again,) = d.telemetry.ops.drain()
    assert again.name == "dispatch.coalesced"
    assert again.decision_id != coalesced.decision_id
    sub.close()
    await asyncio.wait_for(task, 5)


def test_control_messages_are_ops_events_with_a_decision_when_applied() -> None:
    config = GatewayConfig.model_validate(
        {
            "venues": {"kraken": {"ws_url": "ws://127.0.0.1:1/v2", "symbols": ["BTC/USD"]}},
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(config)
    assert isinstance(gw.control_bus, ControlBus)
    ops = gw.telemetry.ops
    ops.drain()
    assert gw.control({"type": "SetTradingMode", "mode": "disabled"}).ok
    assert not gw.control({"type": "Unsubscribe", "consumer": "nobody"}).ok
    assert not gw.control(b"{not json").ok
    gw.control_bus.refuse("line too long")
    applied, refused, unreadable, overlong = ops.drain()
    assert applied.name == "control.set_trading_mode"
    assert applied.fields["ok"] is True
    assert applied.fields["trading_mode"] == "disabled"
    assert applied.decision_id is not None
    assert refused.name == "control.unsubscribe"
    assert refused.fields["consumer"] == "nobody"
    assert "unknown consumer" in refused.fields["error"]
    assert refused.decision_id is None
    assert unreadable.name == overlong.name == "control.invalid"
    assert isinstance(gw.control_store, ControlStore)
    gw.control_store.close()


async def test_the_runs_reader_logs_each_event_as_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tradegw.test.ops")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    q = OpsEventQueue()
    reader = asyncio.create_task(log_ops_events(q, logger))
    try:
        q.emit(
            "book.resync",
            trace_id="ab" * 8,
            decision_id="cd" * 8,
            venue="kraken",
            symbol="BTC-USD",
            reason="gap",
        )
        q.emit("control.state", ok=True, msg="clashes with LogRecord.msg")
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(path.read_bytes().splitlines()) == 2:
                break
    finally:
        reader.cancel()
        logger.removeHandler(handler)
        handler.close()
    first, second = (orjson.loads(line) for line in path.read_bytes().splitlines())
    assert first["message"] == first["event"] == "book.resync"
    assert (first["trace_id"], first["decision_id"]) == ("ab" * 8, "cd" * 8)
    assert (first["venue"], first["symbol"], first["reason"]) == ("kraken", "BTC-USD", "gap")
    assert second["ops_msg"] == "clashes with LogRecord.msg"
    assert len(second["trace_id"]) == 16
