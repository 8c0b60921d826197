"""What the NATS tests share: a gateway on the Kraken and Coinbase simulators (and an in-process
fake order venue) with the NATS sink on, orders that make ExecReports, and book comparisons."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from tests.natsbus.server import NatsServer
from tests.unit._orders import best
from tradegw.config import GatewayConfig
from tradegw.gateway import Gateway
from tradegw.orders.fake import FakeOrderVenue
from tradegw.remote import RemoteGateway
from tradegw.sim.coinbase.config import CoinbaseSimConfig
from tradegw.sim.coinbase.server import CoinbaseSimulator
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.server import KrakenSimulator

KRAKEN = ["BTC/USD", "ETH/USD"]
COINBASE = ["BTC-USD", "ETH-USD"]
DEPTH = 10


class Sims:
    """The two simulators, on 127.0.0.1."""

    def __init__(self, rate: float = 400.0) -> None:
        self.kraken = KrakenSimulator(KrakenSimConfig(pairs=KRAKEN, rate=rate, seed=3))
        self.coinbase = CoinbaseSimulator(CoinbaseSimConfig(pairs=COINBASE, rate=rate, seed=3))

    async def start(self) -> None:
        await self.kraken.start()
        await self.coinbase.start()

    async def stop(self) -> None:
        await self.kraken.stop()
        await self.coinbase.stop()

    def pause(self) -> None:
        self.kraken.pause()
        self.coinbase.pause()

    def resume(self) -> None:
        self.kraken.resume()
        self.coinbase.resume()


def gateway(
    sims: Sims, server: NatsServer, state: Path, *, venues: bool = True, **nats: Any
) -> Gateway:
    """A gateway publishing to ``server``; its files in ``state``; orders to a fake venue."""
    config = GatewayConfig.model_validate(
        {
            "venues": {
                "kraken": {"symbols": KRAKEN, "book_depth": DEPTH},
                "coinbase": {"symbols": COINBASE, "book_depth": DEPTH},
            }
            if venues
            else {},
            "control": {"state_path": str(state / "state.sqlite")},
            "orders": {"ledger_path": str(state / "orders.sqlite"), "request_timeout_s": 2},
            "telemetry": {"dlq_path": None},
            "sinks": {
                "nats": {
                    "enabled": True,
                    "servers": [server.url],
                    "ack_timeout_s": 1.0,
                    "reconnect_wait_s": 0.1,
                    **nats,
                }
            },
        }
    )
    gw = Gateway(
        config,
        urls={"kraken": sims.kraken.ws_url, "coinbase": sims.coinbase.ws_url} if venues else {},
        rest_urls={"kraken": "", "coinbase": sims.coinbase.rest_url} if venues else {},
    )
    gw.register_order_venue("fake", FakeOrderVenue())
    return gw


_ids = itertools.count(1)


async def place_orders(gw: Gateway, n: int, *, prefix: str = "o", pause_s: float = 0.0) -> int:
    """Submits ``n`` orders on the fake venue — every third one crosses the book and fills,
    the others rest and every other one of those is cancelled — so each makes 2 ExecReports
    (ACK then FILLED or CANCELLED) or 1 (ACK, resting). Returns how many orders were placed."""
    venue = gw.order_entry.venue("fake")
    assert isinstance(venue, FakeOrderVenue)
    for i in range(n):
        symbol = ("BTC-USD", "ETH-USD")[i % 2]
        bid, ask = best(venue, symbol)
        cid = f"{prefix}-{next(_ids)}"
        cross = i % 3 == 0
        await gw.submit(
            {
                "venue": "fake",
                "symbol": symbol,
                "side": "buy",
                "type": "limit",
                "qty": "0.01",
                "price": ask if cross else bid,
                "client_order_id": cid,
            }
        )
        if not cross and i % 2 == 0:
            await gw.cancel(cid)
        if pause_s:
            await asyncio.sleep(pause_s)
    return n


def remote_book_mismatches(gw: Gateway, remote: RemoteGateway) -> list[str]:
    """(venue, symbol) books whose remote copy differs from the gateway's assembled book
    (top ``DEPTH``), or that either side does not hold synced."""
    bad = []
    for venue, provider in gw.providers.items():
        for symbol, (status, asm) in provider.books().items():
            mine = remote.books.book(venue, symbol)
            state = remote.books.state(venue, symbol)
            if status != "synced" or state != "synced" or mine is None:
                bad.append(f"{venue} {symbol}: gateway {status}, remote {state}")
            elif mine.top(DEPTH) != asm.book.top(DEPTH):
                bad.append(f"{venue} {symbol}: levels differ")
    return bad


async def settled_mismatches(
    sims: Sims, gw: Gateway, remote: RemoteGateway, within_s: float
) -> list[str]:
    """Freezes the markets and waits until the remote books equal the gateway's."""
    sims.pause()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    bad = remote_book_mismatches(gw, remote)
    while bad and loop.time() < deadline:
        await asyncio.sleep(0.05)
        bad = remote_book_mismatches(gw, remote)
    return bad
