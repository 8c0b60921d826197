"""The Kraken spot venue simulator: WebSocket v2 on picows, REST on aiohttp, one market.

Usage in a test or an embedding process::

    async with KrakenSimulator(KrakenSimConfig(pairs=3, rate=2000, seed=7)) as sim:
        connect_to(sim.ws_url, sim.rest_url)
        ...
        bids, asks = sim.book("BTC/USD", depth=10)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from picows import WSListener, WSUpgradeRequest, ws_create_server

from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.faults import FAULT_KINDS, FaultInjector
from tradegw.sim.kraken.feed import Feed
from tradegw.sim.kraken.market import Market
from tradegw.sim.kraken.pairs import PairInfo, build_assets, build_pairs
from tradegw.sim.kraken.rest import KrakenRest
from tradegw.sim.kraken.stats import SimStats
from tradegw.sim.kraken.wire import fixed, now_ns
from tradegw.sim.kraken.ws import KrakenWsConnection, WsContext

WS_PATH = "/v2"

_EMPTY_STEP_COST = 0.05

_BACKLOG_SECONDS = 0.05
"""After a hiccup the driver catches up at most this much time's worth of messages at once,
so a stalled loop does not turn into a burst far above the configured rate."""


class KrakenSimulator:
    """A Kraken spot venue on 127.0.0.1, driven by a seeded synthetic market.

    The market only moves pairs that someone subscribed to (book, trade, ticker or ohlc), at
    ``config.rate`` data messages per second in total. Each pair's sequence of events depends
    only on the seed and on how many steps it has taken.
    """

    def __init__(self, config: KrakenSimConfig | None = None, **overrides: Any) -> None:
        """Build the market (fast; no sockets yet). ``overrides`` are config fields."""
        if config is None:
            config = KrakenSimConfig(**overrides)
        elif overrides:
            config = config.model_copy(update=overrides)
        self.config = config
        pairs = build_pairs(config.pairs)
        self._pairs = {p.symbol: p for p in pairs}
        assets = build_assets(pairs)
        self._stats = SimStats()
        self.market = Market(pairs, config.seed, config.book_levels, config.warmup_steps, now_ns())
        self._injector = FaultInjector(config.faults, config.seed) if config.faults.faults else None
        self.feed = Feed(self.market, pairs, assets, self._stats)
        self._ctx = WsContext(
            feed=self.feed,
            stats=self._stats,
            injector=self._injector,
            stamp_send_ns=config.stamp_send_ns,
            max_write_buffer=config.max_write_buffer,
            heartbeat_interval=config.heartbeat_interval,
            ids=random.Random(f"{config.seed}:connections"),
        )
        self._rest = KrakenRest(pairs, assets, self.market, self._stats, self._injector)
        self._ws_server: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ws_port = 0
        self._rest_port = 0
        self._paused = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open both listening sockets and start the market driver."""
        if self._ws_server is not None:
            raise RuntimeError("simulator already started")
        cfg = self.config
        self._ws_server = await ws_create_server(
            self._accept,
            cfg.host,
            cfg.ws_port,
            # Kraken pings idle clients at the protocol level too.
            enable_auto_ping=True,
            auto_ping_idle_timeout=30,
            auto_ping_reply_timeout=30,
        )
        self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        runner = web.AppRunner(self._rest.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, cfg.host, cfg.rest_port)
        await site.start()
        self._runner = runner
        self._rest_port = runner.addresses[0][1]
        if self._injector is not None:
            self._injector.restart_clock()
        self._tasks = [
            asyncio.create_task(self._drive(), name="kraken-sim-driver"),
            asyncio.create_task(self._housekeep(), name="kraken-sim-housekeeping"),
        ]

    async def stop(self) -> None:
        """Close every connection and both listening sockets. Safe to call twice."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for conn in list(self._ctx.connections):
            conn.close()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _accept(self, request: WSUpgradeRequest) -> WSListener | None:
        # None makes picows answer 404, as the venue does for any other path.
        path = request.path.split(b"?", 1)[0].rstrip(b"/")
        if path != WS_PATH.encode():
            return None
        return KrakenWsConnection(self._ctx)

    # ------------------------------------------------------------------ the market

    async def _drive(self) -> None:
        rate = self.config.rate
        if rate <= 0:
            return
        loop = asyncio.get_running_loop()
        budget, last, turn = 0.0, loop.time(), 0
        cap = max(1.0, rate * _BACKLOG_SECONDS)
        feed = self.feed
        while True:
            now = loop.time()
            if self._paused or not feed.active:
                budget, last = 0.0, now
                await asyncio.sleep(0.01)
                continue
            budget = min(budget + (now - last) * rate, cap)
            last = now
            stamp = now_ns()
            while budget >= 1.0 and feed.active:
                active = feed.active
                symbol = active[turn % len(active)]
                turn += 1
                # A step nobody sees a frame of (a change below every subscribed depth, no
                # trade for a trades-only subscriber) still costs a little, so the loop cannot
                # spin on such subscribers.
                budget -= feed.step(symbol, stamp) or _EMPTY_STEP_COST
            # uvloop rounds timers to whole milliseconds: a shorter sleep becomes a 0 ms
            # timer and the loop spins a full core.
            await asyncio.sleep(min(0.05, max(0.001, (1.0 - budget) / rate)))

    async def _housekeep(self) -> None:
        period = min(0.1, self.config.heartbeat_interval / 4)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self._ctx.connections):
                conn.housekeep(now)
            if self._injector is not None:
                self._injector.tick(list(self._ctx.connections))

    def pause(self) -> None:
        """Freeze the market: no more steps until :meth:`resume` (requests still answered)."""
        self._paused = True

    def resume(self) -> None:
        """Let the market move again."""
        self._paused = False

    def advance(self, symbol: str, steps: int = 1) -> int:
        """Apply ``steps`` market events to ``symbol`` now and publish them (rate-independent).

        Returns the number of frames built. Useful with ``rate=0`` for step-exact tests.

        Raises:
            KeyError: unknown symbol.
        """
        if symbol not in self._pairs:
            raise KeyError(symbol)
        return sum(self.feed.step(symbol, now_ns()) for _ in range(steps))

    # ------------------------------------------------------------------ inspection

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/v2`` (after :meth:`start`)."""
        return f"ws://{self.config.host}:{self._ws_port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after :meth:`start`); endpoints live under ``/0/public``."""
        return f"http://{self.config.host}:{self._rest_port}"

    @property
    def pairs(self) -> list[PairInfo]:
        """The pairs of this run, in order."""
        return list(self._pairs.values())

    def pair(self, symbol: str) -> PairInfo:
        """The reference data of ``symbol``. Raises ``KeyError`` for an unknown one."""
        return self._pairs[symbol]

    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The full book (or its top ``depth``) as fixed-precision strings.

        Returns ``(bids descending, asks ascending)`` of ``(price, qty)``, rendered with exactly
        the pair's price and qty precision (``("0.5660", "4831.75496356")``).
        """
        info = self._pairs[symbol]
        bids, asks = self.market.top(symbol, depth)
        pp, qp = info.price_precision, info.qty_precision
        return (
            [(fixed(p, pp), fixed(q, qp)) for p, q in bids],
            [(fixed(p, pp), fixed(q, qp)) for p, q in asks],
        )

    def checksum(self, symbol: str) -> int:
        """The Kraken checksum of the current book of ``symbol``."""
        return self.market.checksum(symbol)

    def stats(self) -> dict[str, Any]:
        """Counters of the run, plus ``faults``: injections per fault kind."""
        out: dict[str, Any] = self._stats.as_dict()
        counts = self._injector.counts if self._injector else dict.fromkeys(FAULT_KINDS, 0)
        out["faults"] = dict(counts)
        return out
