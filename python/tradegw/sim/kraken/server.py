"""The Kraken spot venue simulator: WebSocket v2 (``/v2``) and the public REST endpoints.

Usage in a test or an embedding process::

    async with KrakenSimulator(KrakenSimConfig(pairs=3, rate=2000, seed=7)) as sim:
        connect_to(sim.ws_url, sim.rest_url)
        ...
        bids, asks = sim.book("BTC/USD", depth=10)
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from aiohttp import web

from tradegw.sim.connection import SimConnection
from tradegw.sim.instruments import Instrument
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.feed import KrakenFeed
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo, build_assets, build_pairs
from tradegw.sim.kraken.rest import KrakenRest
from tradegw.sim.kraken.ws import KrakenWsConnection
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

    def _make_rest_app(self) -> web.Application:
        rest = KrakenRest(self.pairs, self._assets, self.market, self._stats, self._injector)
        return rest.app

    def new_connection(self) -> SimConnection:
        # Ids above 2**63, like the venue's (clients must read them as u64).
        connection_id = (1 << 63) | self._connection_ids.getrandbits(63)
        return KrakenWsConnection(self._ctx, self.feed, connection_id)

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
