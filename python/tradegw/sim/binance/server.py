"""The Binance spot venue simulator: market streams, the WebSocket API (orders and the user
data stream, ``/ws-api/v3``), and the REST endpoints (public and SIGNED).

Usage in a test or an embedding process::

    async with BinanceSimulator(BinanceSimConfig(pairs=3, rate=300, seed=7)) as sim:
        connect_to(f"{sim.ws_url}/stream?streams=btcusdt@depth@100ms", sim.rest_url)
        ...
        bids, asks = sim.book("BTCUSDT", depth=10)

``ws_url`` is the base ``ws://127.0.0.1:PORT``: clients add the path, as they do on the venue
(``/ws``, ``/ws/<stream>``, ``/stream?streams=<s1>/<s2>``, ``/ws-api/v3``); any other path is
answered 404. Orders are signed with a key of ``config.api_keys`` (HMAC by its ``secret``,
Ed25519 by its ``public_key_pem``) and trade for its account.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar
from urllib.parse import parse_qs

from aiohttp import web
from picows import WSListener, WSUpgradeRequest

from tradegw.sim.binance.auth import Authenticator
from tradegw.sim.binance.config import BinanceSimConfig
from tradegw.sim.binance.feed import TICK_S, BinanceFeed
from tradegw.sim.binance.rest import BinanceRest
from tradegw.sim.binance.symbols import SymbolInfo, build_symbols
from tradegw.sim.binance.trading import BinanceTrading
from tradegw.sim.binance.ws import BinanceWsConnection, WsCounters
from tradegw.sim.binance.wsapi import WS_API_PATH, BinanceWsApiConnection
from tradegw.sim.instruments import Instrument
from tradegw.sim.server import VenueSimulator
from tradegw.sim.wire import now_ns

_STALE_LEAD_STEPS = 3
"""Steps every pair takes, unpublished, after its first book is kept for the
``stale_snapshot`` fault: that book is then older than any diff a client can receive."""


class BinanceSimulator(VenueSimulator[BinanceSimConfig]):
    """A Binance spot venue on 127.0.0.1, driven by the seeded synthetic market.

    Pairs are named by their Binance symbols (``BTCUSDT``). See :class:`VenueSimulator` for
    the lifecycle, the driver and the inspection helpers common to every venue.
    """

    feed: BinanceFeed
    venue: ClassVar[str] = "binance"
    # Empty: ws_url is the bare host and port, clients name the path (see _accept).
    ws_path: ClassVar[str] = ""
    config_type: ClassVar[type[BinanceSimConfig]] = BinanceSimConfig

    def __init__(self, config: BinanceSimConfig | None = None, **overrides: Any) -> None:
        """As :class:`VenueSimulator` builds it (``ValueError`` for a bad config), then every
        pair steps past the book kept for the ``stale_snapshot`` fault."""
        self._symbols: dict[str, SymbolInfo] = {}
        self._ws_counters = WsCounters()
        super().__init__(config, **overrides)
        now = now_ns()
        for name in self.market.pairs:
            for _ in range(_STALE_LEAD_STEPS):
                self.market.step(name, (), now)

    def _instruments(self) -> dict[str, Instrument]:
        self._symbols = {s.symbol: s for s in build_symbols(self.config.pairs)}
        return {symbol: s.instrument for symbol, s in self._symbols.items()}

    def _make_feed(self) -> BinanceFeed:
        return BinanceFeed(self.market, self._stats, list(self._symbols.values()))

    def _make_rest_app(self) -> web.Application:
        # Built here because the REST app needs them and is made once the engine exists.
        self.auth = Authenticator(self.config.api_keys)
        """Checks every SIGNED request (``config.api_keys``); counts refusals by code."""
        self.trading = BinanceTrading(list(self._symbols.values()), self.matching, self.config.seed)
        """Order entry in Binance's words, for the WebSocket API and REST alike."""
        self._rest = BinanceRest(
            list(self._symbols.values()),
            self.market,
            self._stats,
            self._injector,
            self.config,
            self.trading,
            self.auth,
        )
        return self._rest.app

    def new_connection(self) -> BinanceWsConnection:
        """A raw-stream connection with no streams yet (``/ws``)."""
        return self._connection(combined=False, streams=[])

    def _connection(self, *, combined: bool, streams: list[str]) -> BinanceWsConnection:
        return BinanceWsConnection(
            self._ctx, self.feed, self.config, self._ws_counters, combined=combined, streams=streams
        )

    def _accept(self, request: WSUpgradeRequest) -> WSListener | None:
        # Binance serves two shapes: raw streams named in the path, combined ones in the query.
        path, _, query = request.path.decode("latin-1").partition("?")
        path = path.rstrip("/")
        if path == WS_API_PATH:
            return BinanceWsApiConnection(
                self._ctx,
                self.feed,
                self.config,
                self._ws_counters,
                self.trading,
                self.auth,
                self._rest.limiter,
                self._injector,
            )
        if path == "/ws" or path.startswith("/ws/"):
            streams = [s for s in path[len("/ws/") :].split("/") if s]
            combined = False
        elif path == "/stream":
            values = parse_qs(query).get("streams", [])
            streams = [s for value in values for s in value.split("/") if s]
            combined = True
        else:
            return None
        if len(streams) > self.config.max_streams:
            return None
        return self._connection(combined=combined, streams=streams)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open both sockets, start the market driver and the streams' clock.

        Raises:
            RuntimeError: already started.
            OSError: a port cannot be bound.
        """
        await super().start()
        self._tasks.append(asyncio.create_task(self._clock(), name="binance-sim-clock"))

    async def _clock(self) -> None:
        """Every 100 ms: the timed streams, the ``server_shutdown`` fault, kept snapshots."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        retain_every = max(1, round(self.config.snapshot_retain_s / TICK_S))
        count = 0
        while True:
            count += 1
            # Sleep to the tick's planned time, so ticks do not drift with the work done.
            await asyncio.sleep(max(0.0, start + count * TICK_S - loop.time()))
            self.feed.tick(count, now_ns())
            if count % retain_every == 0:
                self._rest.retained.retain()
            if self._injector is not None and self._injector.fire("server_shutdown"):
                self.announce_shutdown()

    def announce_shutdown(self, grace_s: float | None = None) -> int:
        """Send ``serverShutdown`` to every open connection and close each ``grace_s`` later
        (``shutdown_grace_s`` by default); returns how many were told."""
        grace = self.config.shutdown_grace_s if grace_s is None else grace_s
        told = 0
        for conn in list(self._ctx.connections):
            if isinstance(conn, BinanceWsConnection) and not conn.closed:
                conn.announce_shutdown(grace)
                told += 1
        return told

    def flush(self) -> int:
        """Send every pending diff depth event now (for step-exact tests with ``rate=0``);
        returns the frames built."""
        now = now_ns()
        return self.feed.flush_depth("100ms", now) + self.feed.flush_depth("1000ms", now)

    # ------------------------------------------------------------------ inspection

    @property
    def symbol_infos(self) -> list[SymbolInfo]:
        """The symbols of this run, in order."""
        return list(self._symbols.values())

    def update_id(self, symbol: str) -> int:
        """The book update id of ``symbol`` now (a REST snapshot's ``lastUpdateId``).

        Raises:
            KeyError: a symbol this venue does not list.
        """
        return self.market.update_id(self.market_name(symbol))

    def stats(self) -> dict[str, Any]:
        """Every venue's counters, plus Binance's: pings, pongs, why connections ended,
        requests refused for their weight, SIGNED requests accepted and refused (by error
        code)."""
        out = super().stats()
        c = self._ws_counters
        out.update(
            pings_sent=c.pings_sent,
            pongs_received=c.pongs_received,
            pong_timeouts=c.pong_timeouts,
            lifetime_cuts=c.lifetime_cuts,
            shutdown_notices=c.shutdown_notices,
            rate_limit_cuts=c.rate_limit_cuts,
            refused_429=self._rest.limiter.refused_429,
            refused_418=self._rest.limiter.refused_418,
            weight_used=self._rest.limiter.used("127.0.0.1", time.time()),
            signed_accepted=self.auth.accepted,
            signed_refused=dict(self.auth.refused),
        )
        return out
