"""The public REST endpoints a Coinbase client fetches at start, served by aiohttp.

Advanced Trade (``/api/v3/brokerage/...``): ``market/products`` (and one product),
``market/product_book`` and ``time``. Coinbase App v2 (``/v2/...``): ``currencies``,
``currencies/crypto``, ``exchange-rates`` and ``time``, which ccxt's ``load_markets`` reads
besides the products. Amounts are strings written as the venue writes them
(:func:`tradegw.sim.coinbase.wire.plain`).

Errors come in each API's shape: v3 ``{"error","code","message","details"}`` (gRPC status
names and codes), v2 ``{"errors":[{"id","message"}]}``. Public requests are limited per client
address (``rest_rate_limit`` a second, bursts of ``rest_burst``); past that the answer is 429
with a ``Retry-After`` in whole seconds. Injected ``http_429``/``http_5xx`` faults answer in the
v3 shape and without ``Retry-After``.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from tradegw.sim.coinbase.orders import PRIVATE_PREFIX, CoinbaseOrders
from tradegw.sim.coinbase.products import (
    FIAT,
    QUOTE_MAX_SIZE,
    ProductInfo,
    currencies,
    currency_color,
    currency_name,
)
from tradegw.sim.coinbase.wire import percent_change, plain, rfc3339_nano
from tradegw.sim.faults import FaultInjector, FaultSpec
from tradegw.sim.market import Market
from tradegw.sim.rest import fault_middleware
from tradegw.sim.stats import SimStats
from tradegw.sim.wire import div_round, dumps

V3 = "/api/v3/brokerage"
_RATE_DECIMALS = 18
"""Exchange rates are computed at this precision, then written without trailing zeros."""
# Fiat rates per US dollar where no product prices them.
_FIAT_PER_USD = {"USD": "1", "EUR": "0.92", "GBP": "0.79"}
_FIAT_MIN_SIZE = "0.01"
_CRYPTO_EXPONENT = 8
_ASSET_NAMESPACE = uuid.UUID("6f1c2f8e-8d0b-4c5e-9a51-0c0a1b2c3d4e")
"""Namespace of the made-up but stable ``asset_id`` of each crypto currency."""

_GRPC = {400: ("INVALID_ARGUMENT", 3), 404: ("NOT_FOUND", 5), 429: ("RESOURCE_EXHAUSTED", 8)}
_V2_IDS = {400: "invalid_request", 404: "not_found", 429: "rate_limit_exceeded"}


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=dumps(body), status=status, content_type="application/json", headers=headers
    )


def v3_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An Advanced Trade error answer."""
    name, code = _GRPC.get(status, ("UNAVAILABLE", 14) if status == 503 else ("INTERNAL", 13))
    body = {"error": name, "code": code, "message": message, "details": []}
    return _json(body, status, headers)


def v2_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A Coinbase App v2 error answer."""
    error_id = _V2_IDS.get(status, "internal_server_error")
    return _json({"errors": [{"id": error_id, "message": message}]}, status, headers)


def _error(
    path: str, status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    make = v2_error if path.startswith("/v2/") else v3_error
    return make(status, message, headers)


def _refuse(fault: FaultSpec) -> web.Response:
    """Coinbase's answers to the injected HTTP faults."""
    if fault.kind == "http_429":
        return v3_error(429, "too many requests")
    return v3_error(fault.status, "service unavailable")


class RateLimiter:
    """A token bucket per client address: ``rate`` requests a second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait(self, client: str, now: float) -> float:
        """Take a request's token now and return 0, or return the seconds until one is due."""
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate


class CoinbaseRest:
    """The REST side of one simulator run; :attr:`app` is the aiohttp application."""

    def __init__(
        self,
        products: Sequence[ProductInfo],
        market: Market,
        stats: SimStats,
        injector: FaultInjector | None,
        rate_limit: float,
        burst: int,
        orders: CoinbaseOrders | None = None,
    ) -> None:
        """``orders`` adds the private order endpoints (see
        :mod:`tradegw.sim.coinbase.orders`), limited per API key rather than per address."""
        self._products = {p.product_id: p for p in products}
        self._market = market
        self._currencies = currencies(products)
        self._limiter = RateLimiter(rate_limit, burst) if rate_limit > 0 else None
        self.app = web.Application(
            middlewares=[fault_middleware(stats, injector, _refuse), self._limit, self._errors]
        )
        routes = {
            f"{V3}/market/products": self._product_list,
            f"{V3}/market/products/{{product_id}}": self._product,
            f"{V3}/market/product_book": self._product_book,
            f"{V3}/time": self._time,
            "/v2/currencies": self._fiat,
            "/v2/currencies/crypto": self._crypto,
            "/v2/exchange-rates": self._exchange_rates,
            "/v2/time": self._v2_time,
        }
        for path, handler in routes.items():
            self.app.router.add_get(path, handler)
        if orders is not None:
            orders.add_routes(self.app)

    # ------------------------------------------------------------------ middlewares

    @web.middleware
    async def _limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The public rate limit, per client address (private paths have their own)."""
        if self._limiter is not None and not request.path.startswith(PRIVATE_PREFIX):
            wait = self._limiter.wait(request.remote or "", time.monotonic())
            if wait > 0:
                retry = {"Retry-After": str(max(1, math.ceil(wait)))}
                return _error(request.path, 429, "too many requests", retry)
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Unknown paths and methods answered in the API's error shape."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(request.path, 404, "Not Found")
        except web.HTTPMethodNotAllowed:
            return _error(request.path, 404, "Not Found")

    # ------------------------------------------------------------------ Advanced Trade

    async def _product_list(self, request: web.Request) -> web.Response:
        product_type = request.query.get("product_type", "SPOT").upper()
        wanted = request.query.getall("product_ids", [])
        if product_type != "SPOT":
            # Futures and perpetuals are not simulated: none listed.
            products: list[ProductInfo] = []
        elif wanted:
            products = [self._products[p] for p in wanted if p in self._products]
        else:
            products = list(self._products.values())
        body = [self._product_body(p) for p in products]
        return _json({"products": body, "num_products": len(body)})

    async def _product(self, request: web.Request) -> web.Response:
        product = self._products.get(request.match_info["product_id"])
        if product is None:
            return v3_error(404, "product not found")
        return _json(self._product_body(product))

    async def _product_book(self, request: web.Request) -> web.Response:
        product_id = request.query.get("product_id")
        if not product_id:
            return v3_error(400, "product_id is required")
        product = self._products.get(product_id)
        if product is None:
            return v3_error(404, "product not found")
        raw = request.query.get("limit")
        depth = None
        if raw is not None:
            if not raw.isdigit() or int(raw) < 1:
                return v3_error(400, "limit must be a positive integer")
            depth = int(raw)
        bids, asks = self._market.top(product.name, depth)
        pp, sp = product.price_precision, product.size_precision
        now = time.time_ns()
        (bid, _), (ask, _) = self._market.best(product.name)
        both = bid + ask
        return _json(
            {
                "pricebook": {
                    "product_id": product.product_id,
                    "bids": [{"price": plain(p, pp), "size": plain(q, sp)} for p, q in bids],
                    "asks": [{"price": plain(p, pp), "size": plain(q, sp)} for p, q in asks],
                    "time": rfc3339_nano(now),
                },
                "last": plain(self._market.state(product.name).last_price, pp),
                # The mid is half a tick finer than the book: (bid + ask) / 2 == (bid + ask) * 5
                # at one more decimal.
                "mid_market": plain(both * 5, pp + 1),
                "spread_bps": plain(div_round((ask - bid) * 20_000 * 10**8, both), 8),
                "spread_absolute": plain(ask - bid, pp),
            }
        )

    async def _time(self, request: web.Request) -> web.Response:
        now = time.time_ns()
        return _json(
            {
                "iso": rfc3339_nano(now - now % 1_000_000),
                "epochSeconds": str(now // 1_000_000_000),
                "epochMillis": str(now // 1_000_000),
            }
        )

    def _product_body(self, p: ProductInfo) -> dict[str, object]:
        """One product, fields in the venue's order."""
        st = self._market.state(p.name)
        return {
            "product_id": p.product_id,
            "price": plain(st.last_price, p.price_precision),
            "price_percentage_change_24h": percent_change(st.last_price, st.session.open),
            "volume_24h": plain(st.session.volume, p.size_precision),
            "volume_percentage_change_24h": "0",
            "base_increment": p.base_increment,
            "quote_increment": p.quote_increment,
            "quote_min_size": p.quote_min_size,
            "quote_max_size": QUOTE_MAX_SIZE,
            "base_min_size": p.base_min_size,
            "base_max_size": p.base_max_size,
            "base_name": currency_name(p.base),
            "quote_name": currency_name(p.quote),
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": p.quote,
            "base_currency_id": p.base,
            "fcm_trading_session_details": None,
            "mid_market_price": "",
            "alias": "",
            "alias_to": [],
            "base_display_symbol": p.base,
            "quote_display_symbol": p.quote,
            "view_only": False,
            "price_increment": p.quote_increment,
            "display_name": f"{p.base}/{p.quote}",
            "product_venue": "CBE",
        }

    # ------------------------------------------------------------------ v2

    async def _fiat(self, request: web.Request) -> web.Response:
        codes = dict.fromkeys(["USD", *(c for c in self._currencies if c in FIAT)])
        data = [{"id": c, "name": currency_name(c), "min_size": _FIAT_MIN_SIZE} for c in codes]
        return _json({"data": data})

    async def _crypto(self, request: web.Request) -> web.Response:
        crypto = [c for c in self._currencies if c not in FIAT]
        data = [
            {
                "asset_id": str(uuid.uuid5(_ASSET_NAMESPACE, code)),
                "code": code,
                "name": currency_name(code),
                "color": currency_color(code),
                "sort_index": 100 + i,
                "exponent": _CRYPTO_EXPONENT,
                "type": "crypto",
                "address_regex": "",
            }
            for i, code in enumerate(crypto)
        ]
        return _json({"data": data})

    def _usd_rates(self) -> dict[str, int]:
        """Units of each currency per US dollar, fixed-point at :data:`_RATE_DECIMALS`.

        Fiat rates are constants; a crypto currency is priced by its ``-USD`` product's last
        trade (those without one are left out)."""
        scale = 10**_RATE_DECIMALS
        rates: dict[str, int] = {}
        for code in ("USD", *self._currencies):
            if code in _FIAT_PER_USD:
                whole, _, frac = _FIAT_PER_USD[code].partition(".")
                rates[code] = int(whole + frac) * scale // 10 ** len(frac)
                continue
            product = self._products.get(f"{code}-USD")
            if product is not None:
                last = self._market.state(product.name).last_price
                rates[code] = div_round(10**product.price_precision * scale, last)
        return rates

    async def _exchange_rates(self, request: web.Request) -> web.Response:
        base = request.query.get("currency", "USD").upper()
        per_usd = self._usd_rates()
        if base not in per_usd:
            return v2_error(400, f"Invalid currency ({base})")
        scale = 10**_RATE_DECIMALS
        rates = {
            code: plain(div_round(rate * scale, per_usd[base]), _RATE_DECIMALS)
            for code, rate in per_usd.items()
        }
        return _json({"data": {"currency": base, "rates": rates}})

    async def _v2_time(self, request: web.Request) -> web.Response:
        now = time.time_ns()
        seconds = now // 1_000_000_000
        return _json({"data": {"iso": rfc3339_nano(seconds * 1_000_000_000), "epoch": seconds}})
