"""The NATS server killed mid-stream and started again on the same store: no ExecReport is
lost (they wait in the order ledger's outbox and the sink publishes what JetStream lacks, in
order, when it is back), the remote consumer's books resync and equal the gateway's; and while
NATS is gone, in-process consumers are not slowed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration._loopback import wait_for
from tests.natsbus.rig import Sims, gateway, place_orders, settled_mismatches
from tests.natsbus.server import NatsServer
from tradegw.remote import connect
from tradegw.schema import Event, ExecReport
from tradegw.telemetry.prometheus import MetricReadings, metrics_registry

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    s = Sims()
    await s.start()
    yield s
    await s.stop()


async def test_nats_killed_and_restarted_loses_no_exec_report_and_books_resync(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(sims, nats_server, tmp_path / "gw")
    truth_sub = gw.subscribe(types=["ExecReport"], name="truth")
    await gw.start()
    assert gw.nats is not None
    await gw.nats.wait_connected(10)
    remote = await connect(nats_server.url, state_path=tmp_path / "r.sqlite", ack_wait_s=2.0)
    seen: list[tuple[str, str, int]] = []
    kinds: Counter[str] = Counter()

    async def consume() -> None:
        async for ev in remote.subscribe(durable="ops", name="ops"):
            kinds[ev.event_type] += 1
            if isinstance(ev, ExecReport):
                assert ev.seq_provider is not None
                seen.append((ev.provider, ev.symbol, ev.seq_provider))

    task = asyncio.create_task(consume())
    orders = asyncio.create_task(place_orders(gw, 150, prefix="out", pause_s=0.01))
    try:
        assert await wait_for(lambda: len(seen) >= 40 and kinds["BookUpdate"] > 50, 30)
        nats_server.kill()
        # The gateway trades on: its reports wait in the ledger's outbox for JetStream.
        assert await wait_for(lambda: gw.nats is not None and gw.nats.outbox.pending() > 0, 20)
        updates_before = kinds["BookUpdate"]
        await asyncio.sleep(1.0)
        nats_server.start()
        await orders
        truth = []
        while (ev := truth_sub.get_nowait()) is not None:
            assert isinstance(ev, ExecReport)
            assert ev.seq_provider is not None
            truth.append((ev.provider, ev.symbol, ev.seq_provider))
        assert await wait_for(lambda: len(set(seen)) >= len(truth), 40), (
            f"{len(set(seen))} of {len(truth)}; missing {sorted(set(truth) - set(seen))[:5]}"
        )
        assert sorted(seen) == sorted(truth)  # each once: none lost, none twice
        for stream in {(v, s) for v, s, _ in truth}:
            mine = [q for v, s, q in seen if (v, s) == stream]
            assert mine == sorted(mine)
        assert gw.nats.stats.reconnects >= 1
        assert gw.nats.outbox.pending() == 0
        assert gw.nats.outbox.catchup > 0  # found lacking at the reconnection
        # Market data flows again and the books are the gateway's.
        assert await wait_for(lambda: kinds["BookUpdate"] > updates_before + 50, 20)
        assert await settled_mismatches(sims, gw, remote, 15) == []
        assert remote.books.stats.lost + remote.books.stats.gaps > 0  # it did resync
        readings = MetricReadings(metrics_registry(gw))
        assert readings.total("tradegw_nats_exec_catchup_total") == gw.nats.outbox.catchup
        assert readings.value("tradegw_nats_pending") == 0.0
        assert readings.total("tradegw_nats_reconnects_total") >= 1
        assert readings.total("tradegw_nats_published_total", kind="exec") == len(truth)
        assert gw.telemetry.ops.emitted.get("nats.exec_backlog", 0) >= 1
    finally:
        orders.cancel()
        task.cancel()
        await remote.close()
        await gw.stop()


async def test_with_nats_gone_the_sink_never_slows_an_in_process_consumer(
    sims: Sims, nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(sims, nats_server, tmp_path / "gw", max_pending=200)
    local = gw.subscribe(name="local", max_pending=1_000)
    got: list[Event] = []

    async def take() -> None:
        async for batch in local.batches():
            got.extend(batch)

    await gw.start()
    task = asyncio.create_task(take())
    try:
        assert gw.nats is not None
        await gw.nats.wait_connected(10)
        await asyncio.sleep(1.5)
        before = len(got)
        nats_server.kill()
        await asyncio.sleep(1.5)
        during = len(got) - before
        # Generous: the same feed for the same time, whatever NATS does.
        assert during > before // 2
        assert local.stats.snapshots_for_backlog == 0
        assert local.stats.spilled == 0
        assert len(local) < 100
        assert gw.nats.stats.dropped["disconnected"] > 0
        assert not gw.nats.connected
        readings = MetricReadings(metrics_registry(gw))
        assert readings.value("tradegw_nats_connected") == 0.0
    finally:
        task.cancel()
        await gw.stop()
