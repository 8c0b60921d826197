"""The common server of every venue simulator: sockets, the market driver, housekeeping.

A venue subclasses :class:`VenueSimulator` and supplies its instruments (under its own
names), its feed, its WebSocket connection class and its REST application; everything else
(the lifecycle on 127.0.0.1, the rate-paced driver, pause/resume/advance, statistics) is here.

Usage in a test or an embedding process::

    async with KrakenSimulator(KrakenSimConfig(pairs=3, rate=2000, seed=7)) as sim:
        connect_to(sim.ws_url, sim.rest_url)
        ...
        bids, asks = sim.book("BTC/USD", depth=10)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from aiohttp import web
from picows import WSListener, WSUpgradeRequest, ws_create_server

from tradegw.sim.accounts import Accounts
from tradegw.sim.config import SimConfig, resolve_config
from tradegw.sim.connection import ConnectionContext, SimConnection
from tradegw.sim.faults import FaultInjector
from tradegw.sim.feed import MarketFeed
from tradegw.sim.inspection import InspectionServer
from tradegw.sim.instruments import Instrument
from tradegw.sim.market import Market
from tradegw.sim.matching import DuplicatePolicy, FeeSchedule, MatchingEngine
from tradegw.sim.stats import SimStats
from tradegw.sim.wire import fixed, now_ns

ConfigT = TypeVar("ConfigT", bound=SimConfig)

_EMPTY_STEP_COST = 0.05
"""Budget a step costs when it builds no frame, so the driver cannot spin on such steps."""

_BACKLOG_SECONDS = 0.05
"""After a hiccup the driver catches up at most this much time's worth of messages at once,
so a stalled loop does not turn into a burst far above the configured rate."""

_MIN_SLEEP = 0.001
"""uvloop rounds timers to whole milliseconds: a shorter sleep becomes a 0 ms timer and the
loop spins a full core."""


class VenueSimulator(ABC, Generic[ConfigT]):
    """A venue on 127.0.0.1, driven by a seeded synthetic market.

    The market only moves pairs that someone subscribed to, at ``config.rate`` data messages
    per second in total. Each pair's sequence of events depends only on the seed and on how
    many steps it has taken.
    """

    venue: ClassVar[str]
    """The venue's registry name (``kraken``)."""
    ws_path: ClassVar[str]
    """The WebSocket path clients connect to (``/v2``); any other path is answered 404."""
    config_type: ClassVar[type[SimConfig]]
    """The venue's config class, used when no config is given."""
    duplicate_client_order_ids: ClassVar[DuplicatePolicy] = DuplicatePolicy.REJECT_WHILE_OPEN
    """How the venue answers an order whose client id is in use (Coinbase: return the
    existing order)."""

    def __init__(self, config: ConfigT | None = None, **overrides: Any) -> None:
        """Build the market (fast; no sockets yet). ``overrides`` are config fields.

        Raises:
            ValueError: an invalid config field or pair list.
        """
        self.config: ConfigT = cast(ConfigT, resolve_config(self.config_type, config, overrides))
        cfg = self.config
        instruments = self._instruments()
        self._instruments_by_symbol = dict(instruments)
        self._stats = SimStats()
        self.market = Market(
            list(instruments.values()), cfg.seed, cfg.book_levels, cfg.warmup_steps, now_ns()
        )
        self._injector = FaultInjector(cfg.faults, cfg.seed) if cfg.faults.faults else None
        assets = sorted({a for i in instruments.values() for a in (i.base, i.quote)})
        self.accounts = Accounts(
            {name: account.balances for name, account in cfg.accounts.items()},
            assets=assets,
            starting_balance=cfg.starting_balance,
        )
        """The run's trading accounts (``config.accounts``)."""
        self.matching = self._make_matching()
        """Our orders against the market (see :mod:`tradegw.sim.matching`)."""
        self._ctx = ConnectionContext(
            stats=self._stats,
            injector=self._injector,
            stamp_send_ns=cfg.stamp_send_ns,
            max_write_buffer=cfg.max_write_buffer,
            heartbeat_interval=cfg.heartbeat_interval,
        )
        self.feed = self._make_feed()
        self.feed.step_observers.append(self.matching.on_market_step)
        self._rest_app = self._make_rest_app()
        self._ws_server: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ws_port = 0
        self._rest_port = 0
        self._paused = False
        self._inspection: InspectionServer | None = None

    # ------------------------------------------------------------------ venue hooks

    @abstractmethod
    def _instruments(self) -> dict[str, Instrument]:
        """The pairs of this run (from ``self.config.pairs``) as ``{venue symbol:
        instrument}``, in the venue's order. Called once, before the market is built.

        Raises:
            ValueError: the configured pairs are invalid.
        """

    @abstractmethod
    def _make_feed(self) -> MarketFeed:
        """The venue's feed over ``self.market`` and ``self._stats``."""

    @abstractmethod
    def _make_rest_app(self) -> web.Application:
        """The venue's REST application (see :func:`tradegw.sim.rest.fault_middleware`)."""

    def _make_matching(self) -> MatchingEngine:
        """The run's matching engine over ``self.market`` and ``self.accounts``; a venue
        overrides this to give its order and execution ids their venue's format."""
        cfg = self.config
        return MatchingEngine(
            self.market,
            self.accounts,
            duplicate_policy=self.duplicate_client_order_ids,
            fees=FeeSchedule(cfg.maker_fee_ppm, cfg.taker_fee_ppm),
            injector=self._injector,
        )

    @abstractmethod
    def new_connection(self) -> SimConnection:
        """A listener for one new WebSocket client, sharing ``self._ctx``."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open both listening sockets and start the market driver.

        Raises:
            RuntimeError: already started.
            OSError: a port cannot be bound.
        """
        if self._ws_server is not None:
            raise RuntimeError("simulator already started")
        cfg = self.config
        self._ws_server = await ws_create_server(
            self._accept,
            cfg.host,
            cfg.ws_port,
            # Venues ping idle clients at the protocol level too.
            enable_auto_ping=True,
            auto_ping_idle_timeout=30,
            auto_ping_reply_timeout=30,
        )
        self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        runner = web.AppRunner(self._rest_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, cfg.host, cfg.rest_port)
        await site.start()
        self._runner = runner
        self._rest_port = runner.addresses[0][1]
        if cfg.inspect_port is not None:
            self._inspection = InspectionServer(self, cfg.host, cfg.inspect_port)
            await self._inspection.start()
        if self._injector is not None:
            self._injector.restart_clock()
        self._tasks = [
            asyncio.create_task(self._drive(), name=f"{self.venue}-sim-driver"),
            asyncio.create_task(self._housekeep(), name=f"{self.venue}-sim-housekeeping"),
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
        if self._inspection is not None:
            await self._inspection.stop()
            self._inspection = None

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
        # None makes picows answer 404, as a venue does for any other path.
        # Trailing slashes are ignored on both sides, so a venue served at the root ("/")
        # matches too.
        path = request.path.split(b"?", 1)[0].rstrip(b"/")
        if path != self.ws_path.encode().rstrip(b"/"):
            return None
        return self.new_connection()

    # ------------------------------------------------------------------ the market

    async def _drive(self) -> None:
        rate = self.config.rate
        if rate <= 0:
            return
        loop = asyncio.get_running_loop()
        budget, last, turn = 0.0, loop.time(), 0
        cap = max(1.0, rate * _BACKLOG_SECONDS)
        feed = self.feed
        subs = feed.subscriptions
        while True:
            now = loop.time()
            if self._paused or not subs.active:
                budget, last = 0.0, now
                await asyncio.sleep(0.01)
                continue
            budget = min(budget + (now - last) * rate, cap)
            last = now
            stamp = now_ns()
            while budget >= 1.0 and subs.active:
                active = subs.active
                name = active[turn % len(active)]
                turn += 1
                # A step nobody sees a frame of (a change below every subscribed depth, no
                # trade for a trades-only subscriber) still costs a little, so the loop cannot
                # spin on such subscribers.
                budget -= feed.step(name, stamp) or _EMPTY_STEP_COST
            await asyncio.sleep(min(0.05, max(_MIN_SLEEP, (1.0 - budget) / rate)))

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
            KeyError: a symbol this venue does not list.
        """
        name = self.market_name(symbol)
        return sum(self.feed.step(name, now_ns()) for _ in range(steps))

    # ------------------------------------------------------------------ inspection

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/<path>`` (after :meth:`start`)."""
        return f"ws://{self.config.host}:{self._ws_port}{self.ws_path}"

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after :meth:`start`)."""
        return f"http://{self.config.host}:{self._rest_port}"

    @property
    def inspect_url(self) -> str | None:
        """``http://127.0.0.1:PORT`` of the inspection endpoints (see
        :mod:`tradegw.sim.inspection`) while they are served (``inspect_port`` set), else
        None."""
        return self._inspection.url if self._inspection is not None else None

    @property
    def symbols(self) -> list[str]:
        """The venue symbols of this run, in order."""
        return list(self._instruments_by_symbol)

    def instrument(self, symbol: str) -> Instrument:
        """The instrument behind a venue symbol. Raises ``KeyError`` for an unknown one."""
        return self._instruments_by_symbol[symbol]

    def market_name(self, symbol: str) -> str:
        """The market's name of a venue symbol. Raises ``KeyError`` for an unknown one."""
        return self._instruments_by_symbol[symbol].name

    def book(
        self, symbol: str, depth: int | None = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The full book (or its top ``depth``) as fixed-precision strings.

        Returns ``(bids descending, asks ascending)`` of ``(price, qty)``, rendered with exactly
        the pair's price and qty precision (``("0.5660", "4831.75496356")``).

        Raises:
            KeyError: a symbol this venue does not list.
        """
        inst = self._instruments_by_symbol[symbol]
        bids, asks = self.market.top(inst.name, depth)
        pp, qp = inst.price_precision, inst.qty_precision
        return (
            [(fixed(p, pp), fixed(q, qp)) for p, q in bids],
            [(fixed(p, pp), fixed(q, qp)) for p, q in asks],
        )

    def stats(self) -> dict[str, Any]:
        """Counters of the run, plus ``faults``: injections per fault kind."""
        out: dict[str, Any] = self._stats.as_dict()
        if self._injector is not None:
            out["faults"] = dict(self._injector.counts)
        else:
            out["faults"] = dict.fromkeys(type(self.config.faults).kinds(), 0)
        return out
