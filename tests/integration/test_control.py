"""The control bus against a running gateway on the simulators: over the socket and the
command line, routing from the next event (SC-005), error Acks that leave the gateway
running, and a restart that brings subscriptions and merges back."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration._loopback import wait_for
from tradegw.bus.client import ControlClient, read_address
from tradegw.bus.control import MAX_MESSAGE_BYTES
from tradegw.config import GatewayConfig
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.schema import Event
from tradegw.sim.coinbase.config import CoinbaseSimConfig
from tradegw.sim.coinbase.server import CoinbaseSimulator
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.server import KrakenSimulator

KRAKEN = ["BTC/USD", "ETH/USD"]
COINBASE = ["BTC-USD", "ETH-USD"]


class Sims:
    def __init__(self) -> None:
        self.kraken = KrakenSimulator(KrakenSimConfig(pairs=KRAKEN, rate=400.0, seed=3))
        self.coinbase = CoinbaseSimulator(CoinbaseSimConfig(pairs=COINBASE, rate=400.0, seed=3))

    async def start(self) -> None:
        await self.kraken.start()
        await self.coinbase.start()

    async def stop(self) -> None:
        await self.kraken.stop()
        await self.coinbase.stop()

    def gateway(self, state: Path) -> Gateway:
        config = GatewayConfig.model_validate(
            {
                "venues": {
                    "kraken": {"symbols": KRAKEN, "book_depth": 10},
                    "coinbase": {"symbols": COINBASE, "book_depth": 10},
                },
                "control": {
                    "state_path": str(state / "state.sqlite"),
                    "port": 0,
                    "address_path": str(state / "control.addr"),
                },
                "telemetry": {"dlq_path": None},
            }
        )
        return Gateway(
            config,
            urls={"kraken": self.kraken.ws_url, "coinbase": self.coinbase.ws_url},
            rest_urls={"kraken": "", "coinbase": self.coinbase.rest_url},
        )


@pytest.fixture
async def sims() -> AsyncIterator[Sims]:
    s = Sims()
    await s.start()
    yield s
    await s.stop()


async def ready(gw: Gateway) -> None:
    """Waits until both venues have loaded their symbols (a Subscribe can name them)."""
    symbols = gw.venue_symbols
    assert await wait_for(lambda: all(symbols().get(v) for v in ("kraken", "coinbase")), 10)


def collect(sub: Subscription, into: list[tuple[int, Event]]) -> asyncio.Task[None]:
    """Drains ``sub`` in the background, noting when each event was taken."""

    async def run() -> None:
        async for batch in sub.batches():
            now = time.monotonic_ns()
            into.extend((now, ev) for ev in batch)

    return asyncio.create_task(run())


@pytest.mark.timeout(60)
async def test_a_subscription_over_the_socket_routes_from_the_next_event(
    sims: Sims, tmp_path: Path
) -> None:
    gw = sims.gateway(tmp_path)
    await gw.start()
    got: list[tuple[int, Event]] = []
    task = collect(gw.consumer("alpha"), got)
    try:
        await ready(gw)
        address = read_address(tmp_path / "control.addr")
        async with ControlClient(*address) as client:
            sent = time.monotonic_ns()
            ack = await client.request(
                {
                    "type": "Subscribe",
                    "consumer": "alpha",
                    "venues": ["kraken"],
                    "symbols": ["BTC-USD"],
                    "types": ["Trade", "BookUpdate"],
                    "request_id": "one",
                }
            )
            assert ack.ok, ack.error
            assert ack.request_id == "one"
            assert await wait_for(lambda: len(got) >= 20, 10)
            # Nothing from before the change, and only what it asked for.
            assert all(ev.routing_version >= ack.routing_version for _, ev in got)
            assert {(ev.provider, ev.symbol) for _, ev in got} == {("kraken", "BTC-USD")}
            assert {ev.event_type for _, ev in got} <= {"Trade", "BookUpdate"}
            first_ms = (got[0][0] - sent) / 1e6
            print(f"SC-005: first routed event {first_ms:.1f} ms after the Subscribe was sent")
            assert first_ms < 1000

            ack = await client.request(
                {"type": "Unsubscribe", "consumer": "alpha", "subscription_id": ack.subscription_id}
            )
            assert ack.ok, ack.error
            await asyncio.sleep(0.3)  # whatever was already queued is taken
            n = len(got)
            await asyncio.sleep(0.5)
            assert len(got) == n  # nothing more is routed to it
    finally:
        task.cancel()
        await gw.stop()
    assert not (tmp_path / "control.addr").exists()


@pytest.mark.timeout(60)
async def test_bad_messages_get_error_acks_and_the_gateway_keeps_running(
    sims: Sims, tmp_path: Path
) -> None:
    gw = sims.gateway(tmp_path)
    await gw.start()
    watcher = gw.subscribe(name="watcher", types=["Trade", "BookUpdate"])
    got: list[tuple[int, Event]] = []
    task = collect(watcher, got)
    try:
        await ready(gw)
        address = read_address(tmp_path / "control.addr")
        async with ControlClient(*address) as client:
            for raw in (
                b"{oops",
                b'"just a string"',
                b'{"type": "Subscribe", "consumer": "", "venues": "x", "symbols": [1], '
                b'"types": ["Q"], "budget": {"rate": "fast"}, "extra": 1}',
                b'{"type": "Unsubscribe", "consumer": "ghost"}',
                b'{"type": "MergedSubscribe", "consumer": "m", "symbol": "BTC-USD", '
                b'"venues": ["kraken", "coinbase"], "window_s": -1}',
                b'{"type": "SetTradingMode", "mode": 3}',
            ):
                ack = await client.request(raw)
                assert not ack.ok
                assert ack.error
        # A line too long to be a message: refused, that connection closed, others fine.
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"x" * (MAX_MESSAGE_BYTES + 10) + b"\n")
        await writer.drain()
        line = await reader.readline()
        assert b"longer than" in line
        assert await reader.read() == b""
        writer.close()
        n = len(got)
        assert await wait_for(lambda: len(got) > n + 20, 10)  # still flowing
        async with ControlClient(*address) as client:
            assert (await client.request({"type": "State"})).ok
        assert gw.control_bus.refused >= 7
    finally:
        task.cancel()
        await gw.stop()


@pytest.mark.timeout(90)
async def test_a_restart_brings_back_subscriptions_merges_and_the_trading_mode(
    sims: Sims, tmp_path: Path
) -> None:
    gw = sims.gateway(tmp_path)
    await gw.start()
    try:
        await ready(gw)
        sub = gw.control(
            {
                "type": "Subscribe",
                "consumer": "alpha",
                "venues": ["coinbase"],
                "symbols": ["ETH-USD"],
                "types": ["Trade", "Ticker"],
                "budget": {"rate": 1000, "burst": 100},
            }
        )
        assert sub.ok, sub.error
        merged = gw.control(
            {
                "type": "MergedSubscribe",
                "consumer": "spread",
                "symbol": "BTC-USD",
                "venues": ["kraken", "coinbase"],
                "window_s": 0.5,
            }
        )
        assert merged.ok, merged.error
        assert gw.control({"type": "SetTradingMode", "mode": "disabled"}).ok
    finally:
        await gw.stop()

    # A new gateway on the same state file: nobody sends a control message.
    gw = sims.gateway(tmp_path)
    await gw.start()
    alpha: list[tuple[int, Event]] = []
    spread: list[tuple[int, Event]] = []
    tasks = [collect(gw.consumer("alpha"), alpha), collect(gw.consumer("spread"), spread)]
    try:
        assert gw.trading_mode == "disabled"
        assert gw.consumer("alpha").budget == (1000.0, 100.0)
        assert await wait_for(lambda: len(alpha) > 10 and len(spread) >= 2, 20)
        assert {(e.provider, e.symbol) for _, e in alpha} == {("coinbase", "ETH-USD")}
        assert {e.event_type for _, e in alpha} <= {"Trade", "Ticker"}
        kinds = {e.event_type for _, e in spread}
        assert "MergedBookSnapshot" in kinds
        assert all(e.provider == "merged" and e.symbol == "BTC-USD" for _, e in spread)
        # Events are never replayed: everything alpha got is from after this start.
        state = gw.control({"type": "State"}).state
        assert state is not None
        (merge,) = state["merges"].values()
        assert merge["venues"] == ["coinbase", "kraken"]
    finally:
        for t in tasks:
            t.cancel()
        await gw.stop()


async def ctl(addr: Path, *args: str) -> tuple[int, str]:
    """``tradegw ctl --address-file addr ARGS`` in a process of its own: status, stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradegw",
        "ctl",
        "--address-file",
        str(addr),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.timeout(90)
async def test_tradegw_ctl_talks_to_a_running_gateway(sims: Sims, tmp_path: Path) -> None:
    gw = sims.gateway(tmp_path)
    await gw.start()
    addr = tmp_path / "control.addr"
    try:
        await ready(gw)
        code, out = await ctl(
            addr, "subscribe", "--consumer", "cli", "--venue", "kraken", "--symbol", "ETH-USD"
        )
        assert code == 0, out
        assert '"ok": true' in out
        assert gw.consumer("cli").wants("kraken", "ETH-USD", "Trade")
        code, out = await ctl(addr, "subscribe", "--consumer", "cli", "--symbol", "NOPE-USD")
        assert code == 1, out
        assert "unknown symbol 'NOPE-USD'" in out
        code, out = await ctl(addr, "trading-mode", "cancel_only")
        assert code == 0, out
        assert gw.trading_mode == "cancel_only"
        code, out = await ctl(
            addr, "merge", "--consumer", "m", "--symbol", "BTC-USD",
            "--venue", "kraken", "--venue", "coinbase", "--window-s", "2",
        )  # fmt: skip
        assert code == 0, out
        assert '"merge_id"' in out
        code, out = await ctl(addr, "state")
        assert code == 0, out
        assert '"cli"' in out
        assert '"cancel_only"' in out
    finally:
        await gw.stop()
    code, out = await ctl(addr, "state")
    assert code == 2, out  # no gateway any more
    assert "no gateway address" in out
