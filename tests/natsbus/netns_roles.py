"""The two programs of the cluster test, each run in a network namespace of its own:

- ``gateway DIR URL...``: the Kraken and Coinbase simulators and a gateway on them publishing
  to the NATS cluster (ExecReports to an R3 stream), placing orders on a fake venue without
  pause; it writes ``gateway.json`` (where it is connected, what it published) every 0.1 s.
  ``DIR/stop-orders``: it stops placing orders, waits until JetStream has every report, and
  writes ``truth.json`` (every ExecReport it published); ``DIR/pause``: it freezes the
  markets and writes the simulators' books to ``sim-books.json``.
- ``consumer DIR URL...``: a remote consumer (:mod:`tradegw.remote`) of every book and, on a
  durable consumer, every ExecReport; it writes ``consumer.json`` (each report it handled, in
  order, and its books) every 0.1 s.

Both stop on SIGTERM or ``DIR/exit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import orjson
import uvloop

from tests.natsbus.rig import COINBASE, DEPTH, KRAKEN, Sims, place_orders
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue
from tradegw.remote import connect
from tradegw.schema import ExecReport

_TICK_S = 0.1


def _write(path: Path, value: Any) -> None:
    """Atomically: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(value))
    tmp.replace(path)


def _stop_on_sigterm(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)


async def gateway(folder: Path, servers: list[str]) -> None:
    stop = asyncio.Event()
    _stop_on_sigterm(stop)
    sims = Sims(rate=300.0)
    await sims.start()
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": KRAKEN, "book_depth": DEPTH},
                "coinbase": {"symbols": COINBASE, "book_depth": DEPTH},
            },
            "orders": {"ledger_path": str(folder / "orders.sqlite"), "request_timeout_s": 2},
            "telemetry": {"dlq_path": None, "log_level": "INFO"},
            "sinks": {
                "nats": {
                    "enabled": True,
                    "servers": servers,
                    "stream_replicas": 3,
                    "ack_timeout_s": 1.0,
                    "connect_timeout_s": 1.0,
                    "reconnect_wait_s": 0.1,
                }
            },
        }
    )
    gw = Gateway(
        config,
        urls={"kraken": sims.kraken.ws_url, "coinbase": sims.coinbase.ws_url},
        rest_urls={"kraken": sims.kraken.rest_url, "coinbase": sims.coinbase.rest_url},
    )
    gw.register_order_venue("fake", FakeOrderVenue())
    truth_sub = gw.subscribe(types=["ExecReport"], name="truth")
    truth: list[list[Any]] = []
    placed = 0
    await gw.start()
    bridge = gw.nats
    assert bridge is not None

    async def trade() -> None:
        nonlocal placed
        while not (folder / "stop-orders").exists():
            placed += await place_orders(gw, 1, prefix="ns", pause_s=0.02)

    async def take_truth() -> None:
        async for ev in truth_sub:
            assert isinstance(ev, ExecReport)
            truth.append([ev.provider, ev.symbol, ev.seq_provider])

    tasks = [asyncio.create_task(trade()), asyncio.create_task(take_truth())]
    finished = paused = False
    try:
        while not stop.is_set() and not (folder / "exit").exists():
            nc = bridge.nc
            url = nc.connected_url if nc is not None and nc.is_connected else None
            _write(
                folder / "gateway.json",
                {
                    "connected": f"{url.hostname}:{url.port}" if url is not None else None,
                    "ready": bridge.ready.is_set(),
                    "reconnects": bridge.stats.reconnects,
                    "published_exec": bridge.stats.published["exec"],
                    "outbox": bridge.outbox.pending(),
                    "placed": placed,
                    "reports": len(truth),
                },
            )
            if not finished and tasks[0].done():
                tasks[0].result()
                if bridge.ready.is_set() and bridge.outbox.pending() == 0:
                    await asyncio.sleep(0.2)  # the last reports reach the truth subscription
                    _write(folder / "truth.json", truth)
                    finished = True
            if not paused and (folder / "pause").exists():
                sims.pause()
                await asyncio.sleep(0.5)  # what was sent reaches the gateway
                books = {}
                for sim, venue in ((sims.kraken, "kraken"), (sims.coinbase, "coinbase")):
                    for symbol in sim.symbols:
                        books[f"{venue} {symbol.replace('/', '-')}"] = sim.book(symbol, DEPTH)
                _write(folder / "sim-books.json", books)
                paused = True
            await asyncio.sleep(_TICK_S)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await gw.stop()
        await sims.stop()


async def consumer(folder: Path, servers: list[str]) -> None:
    stop = asyncio.Event()
    _stop_on_sigterm(stop)
    remote = await connect(servers, state_path=folder / "remote.sqlite", ack_wait_s=2.0)
    handled: list[list[Any]] = []
    sub = remote.subscribe(
        types=["BookUpdate", "BookStatus", "ExecReport"], durable="netns", deliver="all", name="c"
    )

    async def take() -> None:
        async for ev in sub:
            if isinstance(ev, ExecReport):
                handled.append([ev.provider, ev.symbol, ev.seq_provider])

    task = asyncio.create_task(take())
    try:
        while not stop.is_set() and not (folder / "exit").exists():
            books = {}
            for venue, symbol in remote.books.synced():
                book = remote.books.book(venue, symbol)
                if book is not None:
                    books[f"{venue} {symbol}"] = book.top(DEPTH)
            url = remote.nc.connected_url if remote.nc.is_connected else None
            _write(
                folder / "consumer.json",
                {
                    "connected": f"{url.hostname}:{url.port}" if url is not None else None,
                    "handled": handled,
                    "books": books,
                    "book_gaps": remote.books.stats.gaps + remote.books.stats.lost,
                },
            )
            await asyncio.sleep(_TICK_S)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await remote.close()


def main(argv: list[str]) -> int:
    role, folder, *servers = argv
    program = {"gateway": gateway, "consumer": consumer}[role]
    uvloop.run(program(Path(folder), servers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
