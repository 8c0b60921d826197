"""ExecReports over JetStream: orders placed through a gateway on a fake venue reach a remote
consumer on a durable JetStream consumer; killed mid-stream and started again on the same
durable and de-dup file, it sees every report exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

import pytest

from tests.integration._loopback import wait_for
from tests.natsbus.rig import Sims, gateway, place_orders
from tests.natsbus.server import NatsServer
from tradegw.consumers.subscription import Subscription
from tradegw.remote import RemoteGateway, connect
from tradegw.schema import ExecReport

pytestmark = pytest.mark.timeout(90)

Key = tuple[str, str, int]


def key(ev: ExecReport) -> Key:
    assert ev.seq_provider is not None
    return (ev.provider, ev.symbol, ev.seq_provider)


async def crash(remote: RemoteGateway, task: asyncio.Task[None]) -> None:
    """What a killed process leaves: the consumer stops wherever it is, nothing is
    flushed or acknowledged on the way out, the connection just goes."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for feed in remote._feeds:
        for t in feed._tasks:
            t.cancel()
    remote._closed = True
    await remote.nc.close()


async def test_a_remote_consumer_killed_mid_stream_sees_every_report_exactly_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    gw = gateway(Sims(), nats_server, tmp_path / "gw", venues=False)
    published = gw.subscribe(types=["ExecReport"], name="truth")
    await gw.start()
    assert gw.nats is not None
    await gw.nats.wait_connected(10)
    state = tmp_path / "remote.sqlite"
    seen: list[Key] = []

    async def consume(remote: RemoteGateway) -> None:
        async for ev in remote.subscribe(types=["ExecReport"], durable="alpha", name="alpha"):
            assert isinstance(ev, ExecReport)
            seen.append(key(ev))

    first = await connect(nats_server.url, state_path=state, ack_wait_s=1.0)
    task = asyncio.create_task(consume(first))
    orders = asyncio.create_task(place_orders(gw, 240, pause_s=0.004))
    try:
        assert await wait_for(lambda: len(seen) >= 100, 30)
        await crash(first, task)
        crashed_at = len(seen)
        await asyncio.sleep(0.3)  # reports keep coming, with nobody to take them
        second = await connect(nats_server.url, state_path=state, ack_wait_s=1.0)
        task = asyncio.create_task(consume(second))
        await orders
        truth = [key(ev) async for ev in _drain(published)]
        assert len(truth) >= 240
        for _ in range(600):
            if len(set(seen)) >= len(truth):
                break
            await asyncio.sleep(0.05)
        assert len(set(seen)) == len(truth), (
            f"saw {len(set(seen))} of {len(truth)} (crashed at {crashed_at}); feed "
            f"{second._feeds[0].stats if second._feeds else None}; "
            f"pending {gw.nats.outbox.pending()}"
            f" missing {sorted(set(truth) - set(seen))} first {first._feeds[0].stats} "
            f"published {gw.nats.stats.published} dup {gw.nats.stats.exec_duplicates} "
            f"seen-at-crash-tail {seen[crashed_at - 3 : crashed_at + 3]}"
        )
        await asyncio.sleep(1.5)  # room for any report to come twice (ack_wait is 1 s)
        twice = {k: n for k, n in Counter(seen).items() if n > 1}
        assert twice == {}
        assert set(seen) == set(truth)
        assert crashed_at < len(truth)
        # Per stream, in order.
        for stream in {(v, s) for v, s, _ in truth}:
            mine = [q for v, s, q in seen if (v, s) == stream]
            assert mine == sorted(mine)
        feed = second._feeds[0]
        assert feed.stats.gaps == 0
        assert gw.nats.stats.published["exec"] == len(truth)
        task.cancel()
        await second.close()
    finally:
        orders.cancel()
        await gw.stop()


async def _drain(sub):  # type: ignore[no-untyped-def]
    while len(sub):
        ev = sub.get_nowait()
        if ev is None:
            break
        yield ev


async def test_reports_made_while_nats_was_away_go_out_from_the_next_run(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nats_server.stop()
    state = tmp_path / "gw"
    first = gateway(Sims(), nats_server, state, venues=False)
    truth_first = first.subscribe(types=["ExecReport"], name="truth")
    await first.start()
    try:
        await place_orders(first, 20, prefix="away")
    finally:
        await first.stop()  # NATS never came: every report waits in the ledger's outbox
    truth = [key(ev) for ev in _taken(truth_first)]
    assert len(truth) >= 20
    assert first.nats is not None
    assert first.nats.stats.published["exec"] == 0

    nats_server.start()
    remote = await connect(nats_server.url, state_path=tmp_path / "r.sqlite")
    seen: list[Key] = []

    async def consume() -> None:
        sub = remote.subscribe(types=["ExecReport"], durable="late", deliver="all")
        async for ev in sub:
            assert isinstance(ev, ExecReport)
            seen.append(key(ev))

    task = asyncio.create_task(consume())
    second = gateway(Sims(), nats_server, state, venues=False)
    truth_second = second.subscribe(types=["ExecReport"], name="truth")
    await second.start()
    try:
        assert second.nats is not None
        made_away = len(truth)
        assert second.nats.outbox.pending() == made_away  # all of them, in the ledger
        await place_orders(second, 10, prefix="back")
        truth += [key(ev) for ev in _taken(truth_second)]
        assert await wait_for(lambda: len(seen) >= len(truth), 30)
        await asyncio.sleep(0.3)
        assert sorted(seen) == sorted(truth)
        for stream in {(v, s) for v, s, _ in truth}:
            mine = [q for v, s, q in seen if (v, s) == stream]
            assert mine == list(range(1, len(mine) + 1))  # the ledger's numbering, unbroken
        assert second.nats.outbox.catchup >= made_away  # found lacking, from the ledger
    finally:
        task.cancel()
        await remote.close()
        await second.stop()


def _taken(sub: Subscription) -> list[ExecReport]:
    out = []
    while (ev := sub.get_nowait()) is not None:
        assert isinstance(ev, ExecReport)
        out.append(ev)
    return out
