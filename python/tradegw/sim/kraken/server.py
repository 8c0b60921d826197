"""The Kraken spot venue simulator: WebSocket v2 (``/v2``, and ``/ws-auth/v2`` for the
authenticated endpoint), the public REST endpoints and the private ones.

Usage in a test or an embedding process::

    async with KrakenSimulator(KrakenSimConfig(pairs=3, rate=2000, seed=7)) as sim:
        connect_to(sim.ws_url, sim.rest_url)
        ...
        bids, asks = sim.book("BTC/USD", depth=10)

Trading needs ``api_keys`` in the config (key -> base64 secret and account); orders then go
through :attr:`VenueSimulator.matching` with Kraken's txids (``OU22CG-KLAF2-FWUDD7``).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from aiohttp import web
from picows import WSListener, WSUpgradeRequest

from tradegw.sim.connection import SimConnection
from tradegw.sim.instruments import Instrument
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.feed import KrakenFeed
from tradegw.sim.kraken.orders import txid
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo, build_assets, build_pairs
from tradegw.sim.kraken.private_ws import AUTH_WS_PATH, KrakenPrivateWsConnection
from tradegw.sim.kraken.rest import KrakenRest
from tradegw.sim.kraken.trading import KrakenTrading
from tradegw.sim.kraken.ws import KrakenWsConnection
from tradegw.sim.matching import FeeSchedule, MatchingEngine
from tradegw.sim.server import VenueSimulator

WS_PATH = "/v2"


class KrakenSimulator(VenueSimulator[KrakenSimConfig]):
    """A Kraken spot venue on 127.0.0.1, driven by the seeded synthetic market.

    Pairs are named by their v2 symbols (``BTC/USD``). See :class:`VenueSimulator` for the
    lifecycle, the driver and the inspection helpers common to every venue.
    """

    venue: ClassVar[str] = "kraken"
    ws_path: ClassVar[str] = WS_PATH
    config_type: ClassVar[type[KrakenSimConfig]] = KrakenSimConfig

    feed: KrakenFeed

    def __init__(self, config: KrakenSimConfig | None = None, **overrides: Any) -> None:
        """Build the market (fast; no sockets yet). ``overrides`` are config fields.

        Raises:
            ValueError: an invalid config field or pair list.
        """
        self._pairs: dict[str, PairInfo] = {}
        self._assets: list[AssetInfo] = []
        self._trade_ids: dict[str, int] = {}
        self.trading: KrakenTrading
        """Orders in Kraken's terms and the private REST endpoints (built with the REST
        application)."""
        super().__init__(config, **overrides)
        self._connection_ids = random.Random(f"{self.config.seed}:connections")

    def _instruments(self) -> dict[str, Instrument]:
        pairs = build_pairs(self.config.pairs)
        self._pairs = {p.symbol: p for p in pairs}
        self._assets = build_assets(pairs)
        return {symbol: p.instrument for symbol, p in self._pairs.items()}

    def _make_feed(self) -> KrakenFeed:
        pairs = self.pairs
        return KrakenFeed(self.market, self._stats, pairs, self._assets, self.config.seed)

    def _make_matching(self) -> MatchingEngine:
        cfg = self.config
        salt = random.Random(f"{cfg.seed}:txids").getrandbits(40)
        trade_ids = self._trade_ids

        def exec_id(number: int) -> str:
            name = txid("T", number, salt)
            trade_ids[name] = number  # REST and the executions channel carry both
            return name

        return MatchingEngine(
            self.market,
            self.accounts,
            duplicate_policy=self.duplicate_client_order_ids,
            fees=FeeSchedule(cfg.maker_fee_ppm, cfg.taker_fee_ppm),
            injector=self._injector,
            order_id=lambda number: txid("O", number, salt),
            exec_id=exec_id,
        )

    def _make_rest_app(self) -> web.Application:
        self.trading = KrakenTrading(
            self.config, self.pairs, self._assets, self.matching, self._trade_ids
        )
        rest = KrakenRest(
            self.pairs, self._assets, self.market, self._stats, self._injector, self.trading
        )
        return rest.app

    def _connection_id(self) -> int:
        # Ids above 2**63, like the venue's (clients must read them as u64).
        return (1 << 63) | self._connection_ids.getrandbits(63)

    def new_connection(self) -> SimConnection:
        return KrakenWsConnection(self._ctx, self.feed, self._connection_id())

    def _accept(self, request: WSUpgradeRequest) -> WSListener | None:
        path = request.path.split(b"?", 1)[0].rstrip(b"/")
        if path == AUTH_WS_PATH.encode():
            return KrakenPrivateWsConnection(
                self._ctx, self.feed, self._connection_id(), self.trading
            )
        return super()._accept(request)

    async def stop(self) -> None:
        """Gives up REST answers held back (``order_ack_lost``), then stops as every
        simulator does."""
        self.trading.stopping.set()
        await super().stop()

    def drop_private_connections(self) -> int:
        """Closes every connection to the authenticated endpoint abruptly, as a venue-side
        outage would (tests); returns how many there were."""
        dropped = [c for c in self._ctx.connections if isinstance(c, KrakenPrivateWsConnection)]
        for conn in dropped:
            conn.abort()
        return len(dropped)

    @property
    def auth_ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws-auth/v2``: the authenticated endpoint (after start)."""
        return self.ws_url.removesuffix(WS_PATH) + AUTH_WS_PATH

    # ------------------------------------------------------------------ inspection

    @property
    def pairs(self) -> list[PairInfo]:
        """The pairs of this run, in order."""
        return list(self._pairs.values())

    def pair(self, symbol: str) -> PairInfo:
        """The reference data of v2 ``symbol``. Raises ``KeyError`` for an unknown one."""
        return self._pairs[symbol]

    def checksum(self, symbol: str) -> int:
        """The Kraken checksum of the current book of v2 ``symbol``.

        Raises:
            KeyError: a symbol this venue does not list.
        """
        return self.feed.checksum(self.market_name(symbol))
