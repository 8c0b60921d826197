"""The Coinbase Advanced Trade simulator: market data and ``user`` WebSocket (``/``), public
REST, and the private order endpoints (:mod:`tradegw.sim.coinbase.orders`).

API keys (``config.api_keys``) are CDP key names with the PEM of their public key
(``public_key_pem``, EC P-256 for ES256 or Ed25519 for EdDSA) and the account they trade
for. A client_order_id an account used before creates nothing: the answer is the existing
order (``DuplicatePolicy.RETURN_EXISTING``).

Usage in a test or an embedding process::

    async with CoinbaseSimulator(CoinbaseSimConfig(pairs=["BTC-USD"], rate=500)) as sim:
        connect_to(sim.ws_url, sim.rest_url)
        ...
        bids, asks = sim.book("BTC-USD", depth=10)
"""

from __future__ import annotations

import time
from typing import ClassVar

from aiohttp import web

from tradegw.sim.coinbase.auth import JwtVerifier
from tradegw.sim.coinbase.config import CoinbaseSimConfig
from tradegw.sim.coinbase.feed import CoinbaseFeed
from tradegw.sim.coinbase.orders import CoinbaseOrders, order_id_format, trade_id_format
from tradegw.sim.coinbase.products import ProductInfo, build_products
from tradegw.sim.coinbase.rest import CoinbaseRest
from tradegw.sim.coinbase.ws import CoinbaseWsConnection, ConnectionRules
from tradegw.sim.connection import SimConnection
from tradegw.sim.instruments import Instrument
from tradegw.sim.matching import DuplicatePolicy, FeeSchedule, MatchingEngine
from tradegw.sim.server import VenueSimulator

WS_PATH = "/"
"""Like ``wss://advanced-trade-ws.coinbase.com``: the market data feed at the root."""


class CoinbaseSimulator(VenueSimulator[CoinbaseSimConfig]):
    """A Coinbase Advanced Trade venue on 127.0.0.1, driven by the seeded synthetic market.

    Products are named by their product ids (``BTC-USD``). See :class:`VenueSimulator` for the
    lifecycle, the driver and the inspection helpers common to every venue.
    """

    venue: ClassVar[str] = "coinbase"
    ws_path: ClassVar[str] = WS_PATH
    config_type: ClassVar[type[CoinbaseSimConfig]] = CoinbaseSimConfig
    duplicate_client_order_ids: ClassVar[DuplicatePolicy] = DuplicatePolicy.RETURN_EXISTING

    feed: CoinbaseFeed
    orders: CoinbaseOrders
    products: list[ProductInfo]
    """The products of this run, in order."""
    _by_id: dict[str, ProductInfo]
    _rules: ConnectionRules | None = None
    """What connections are held to, fixed when the server starts (heartbeats count from
    then)."""

    def _instruments(self) -> dict[str, Instrument]:
        self.products = build_products(self.config.pairs)
        self._by_id = {p.product_id: p for p in self.products}
        return {p.product_id: p.instrument for p in self.products}

    def _make_feed(self) -> CoinbaseFeed:
        return CoinbaseFeed(self.market, self._stats, self.products)

    def _make_matching(self) -> MatchingEngine:
        cfg = self.config
        return MatchingEngine(
            self.market,
            self.accounts,
            duplicate_policy=self.duplicate_client_order_ids,
            fees=FeeSchedule(cfg.maker_fee_ppm, cfg.taker_fee_ppm),
            injector=self._injector,
            order_id=order_id_format(cfg.seed),
            exec_id=trade_id_format(cfg.seed),
        )

    def _make_rest_app(self) -> web.Application:
        cfg = self.config
        self.orders = CoinbaseOrders(
            self.products,
            self.matching,
            JwtVerifier(cfg.api_keys, leeway_s=cfg.jwt_leeway_s),
            private_rate_limit=cfg.private_rate_limit,
            private_burst=cfg.private_burst,
            ack_lost_hold_s=cfg.order_ack_lost_hold_s,
        )
        """Order entry: the private endpoints and the ``user`` channel's rendering."""
        rest = CoinbaseRest(
            self.products,
            self.market,
            self._stats,
            self._injector,
            cfg.rest_rate_limit,
            cfg.rest_burst,
            self.orders,
        )
        return rest.app

    async def start(self) -> None:
        """Open both sockets and start the market; heartbeats count from now.

        Raises:
            RuntimeError: already started.
            OSError: a port cannot be bound.
        """
        cfg = self.config
        self._rules = ConnectionRules(
            started_ns=time.monotonic_ns(),
            heartbeat_interval=cfg.heartbeat_interval,
            subscribe_deadline_s=cfg.subscribe_deadline_s,
            idle_timeout_s=cfg.idle_timeout_s,
            ticker_batch_interval_s=cfg.ticker_batch_interval_s,
        )
        await super().start()

    async def stop(self) -> None:
        """Answer nothing more (held order requests end now), then close everything."""
        self.orders.close()
        await super().stop()

    def new_connection(self) -> SimConnection:
        # Connections arrive only once start() has set the rules.
        assert self._rules is not None
        return CoinbaseWsConnection(self._ctx, self.feed, self._rules, self.orders)

    def product(self, product_id: str) -> ProductInfo:
        """The reference data of ``product_id``. Raises ``KeyError`` for an unknown one."""
        return self._by_id[product_id]
