"""A gateway killed hard mid-stream loses no ExecReport: ``tradegw run`` trading on the Kraken
simulator (the demo strategy) with the NATS sink on is SIGKILLed while JetStream holds back
its acks (the server paused), so reports it made are in its order ledger and nowhere else; a
new ``tradegw run`` on the same ledger publishes what JetStream lacks before its own, and a
remote ExecReport consumer receives every report exactly once, gapless per stream, byte for
byte the ledger's outbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nats
import pytest

from tests.integration._loopback import wait_for
from tests.natsbus.server import NatsServer
from tradegw.orders.ledger import OrderLedger, OutboxRow
from tradegw.remote import RemoteGateway, connect
from tradegw.schema import ExecReport, to_json

pytestmark = pytest.mark.timeout(180)

CONFIG = """\
venues:
  kraken:
    ws_url: sim
    rest_url: sim
    symbols: [BTC/USD, ETH/USD]
    book_depth: 10
simulators:
  kraken: {{pairs: 2, rate: 100, seed: 7}}
demo_strategy: {{enabled: true, interval_s: 0.05, rest_s: 0.3, cross_every: 2}}
control: {{state_path: state.sqlite, port: null}}
orders: {{ledger_path: orders.sqlite}}
telemetry: {{dlq_path: null, log_level: WARNING}}
sinks:
  nats: {{enabled: true, servers: ["{url}"], ack_timeout_s: 1, reconnect_wait_s: 0.1}}
"""

Key = tuple[str, str, int]


def _tradegw() -> list[str]:
    script = Path(sys.executable).with_name("tradegw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradegw.cli"]


def run(folder: Path, log: str, *args: str) -> subprocess.Popen[bytes]:
    """``tradegw run`` on ``folder``'s config, in a process group of its own (its simulator
    child dies with it: PR_SET_PDEATHSIG)."""
    with (folder / log).open("wb") as out:
        return subprocess.Popen(
            [*_tradegw(), "run", "--config", "gw.yaml", "--no-live", *args],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def outbox(folder: Path) -> list[OutboxRow]:
    """Every report the ledger kept (the ledger is free: no gateway runs on it)."""
    ledger = OrderLedger(folder / "orders.sqlite", holder="the crash test")
    try:
        return ledger.outbox_after(0, 1_000_000)
    finally:
        ledger.close()


async def stored_in_jetstream(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info("TRADEGW_EXEC")
        return int(info.state.messages)
    finally:
        await nc.close()


def key(ev: ExecReport) -> Key:
    assert ev.seq_provider is not None
    return (ev.provider, ev.symbol, ev.seq_provider)


async def test_a_gateway_killed_mid_stream_then_restarted_loses_no_exec_report(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    (tmp_path / "gw.yaml").write_text(CONFIG.format(url=nats_server.url))
    remote: RemoteGateway = await connect(
        nats_server.url, state_path=tmp_path / "remote.sqlite", ack_wait_s=1.0
    )
    seen: list[ExecReport] = []

    async def consume() -> None:
        sub = remote.subscribe(types=["ExecReport"], durable="desk", deliver="all")
        async for ev in sub:
            assert isinstance(ev, ExecReport)
            seen.append(ev)

    task = asyncio.create_task(consume())
    first = run(tmp_path, "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        assert await wait_for(lambda: len(seen) >= 30, 60), (tmp_path / "first.log").read_text()
        # JetStream stops acking; the gateway trades on, its reports kept by its ledger only.
        nats_server.pause()
        await asyncio.sleep(1.5)
        os.killpg(first.pid, signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        nats_server.resume()
        await asyncio.sleep(0.5)  # what the dead connection had sent is taken now
        made = outbox(tmp_path)
        stored = await stored_in_jetstream(nats_server.url)
        assert stored < len(made) - 5, (stored, len(made))  # the crash kept reports from it
        assert len(seen) <= stored

        second = run(tmp_path, "second.log", "--duration", "5")
        rc = await asyncio.to_thread(second.wait, 60)
        second_log = (tmp_path / "second.log").read_text()
        assert rc == 0, second_log
        assert "JetStream lacks" in second_log  # it found them, and published them first
        rows = outbox(tmp_path)
        assert len(rows) > len(made)  # and made reports of its own after them
        assert [r.report for r in rows[: len(made)]] == [r.report for r in made]

        assert await wait_for(lambda: len(seen) >= len(rows), 30), (len(seen), len(rows))
        await asyncio.sleep(1.5)  # room for a report to come twice (ack_wait is 1 s)
        twice = {k: n for k, n in Counter(key(e) for e in seen).items() if n > 1}
        assert twice == {}
        # Every report the ledger kept, byte for byte, and nothing else.
        assert sorted((key(e), to_json(e)) for e in seen) == sorted(
            ((r.venue, r.symbol, r.seq), r.report) for r in rows
        )
        for stream in {(r.venue, r.symbol) for r in rows}:
            got = [key(e)[2] for e in seen if (e.provider, e.symbol) == stream]
            assert got == list(range(1, len(got) + 1)), stream  # in order, no gap
        assert all(feed.stats.gaps == 0 for feed in remote._feeds)
    finally:
        nats_server.resume()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        task.cancel()
        await remote.close()
