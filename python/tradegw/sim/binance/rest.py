"""The REST endpoints a Binance client uses: public ``/api/v3/depth``,
``/api/v3/exchangeInfo``, ``/api/v3/time`` and ``/api/v3/ping``, and the SIGNED order
endpoints ``/api/v3/order`` (``POST`` new, ``DELETE`` cancel, ``GET`` query),
``/api/v3/openOrders`` and ``/api/v3/myTrades``, with request weights.

SIGNED requests carry the key in ``X-MBX-APIKEY`` and ``timestamp``/``signature`` in the
query string or the form body; they are checked by
:class:`~tradegw.sim.binance.auth.Authenticator` over the query string and body exactly as
sent, and answered by :class:`~tradegw.sim.binance.trading.BinanceTrading`, as the WebSocket
API's twins are. The order faults hit ``POST /api/v3/order`` for an order the engine
accepted: ``order_ack_lost`` and ``order_response_lost`` close the connection without an
answer, ``order_5xx_after_accept`` answers the fault's status with ``-1007``.

Every response carries the weight its IP used in the current window (``X-MBX-USED-WEIGHT-1M``
and ``X-MBX-USED-WEIGHT``); over the limit the answer is 429, and 418 for requests during the
back-off (:mod:`tradegw.sim.binance.weights`). Depth levels are written at eight decimals
like every Binance amount; ``lastUpdateId`` is the pair's book update id, the same id space as
the diff events' ``U``/``u``. Errors use the venue's codes and texts
(``{"code":-1121,"msg":"Invalid symbol."}``).

For the ``stale_snapshot`` fault the pairs' books are kept every ``snapshot_retain_s``
(:class:`RetainedSnapshots`); the fault answers with the older of the two kept, which is at
least that old, with its own ``lastUpdateId``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from tradegw.sim.binance.auth import ApiError, Authenticator, Caller
from tradegw.sim.binance.config import BinanceSimConfig
from tradegw.sim.binance.symbols import SymbolInfo
from tradegw.sim.binance.trading import UNKNOWN_STATUS_MSG, BinanceTrading
from tradegw.sim.binance.weights import Verdict, WeightLimiter
from tradegw.sim.binance.wire import amount, levels_json
from tradegw.sim.faults import FaultInjector, FaultSpec
from tradegw.sim.market import Market
from tradegw.sim.rest import fault_middleware
from tradegw.sim.stats import SimStats
from tradegw.sim.wire import Level, dumps

API_KEY_HEADER = "X-MBX-APIKEY"
DEPTH_DEFAULT = 100
DEPTH_MAX = 5000
EXCHANGE_INFO_WEIGHT = 20
USED_WEIGHT_HEADERS = ("X-MBX-USED-WEIGHT-1M", "X-MBX-USED-WEIGHT")
_CONTENT_TYPE = "application/json"

_ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
_STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]


_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50))
"""``(up to this limit, weight)``; above the last, 250."""


def depth_weight(limit: int) -> int:
    """The documented weight of ``/api/v3/depth`` at ``limit`` levels."""
    return next((weight for most, weight in _DEPTH_WEIGHTS if limit <= most), 250)


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type=_CONTENT_TYPE)


def _error(code: int, msg: str, status: int = 400) -> web.Response:
    return _json({"code": code, "msg": msg}, status)


class _Refused(Exception):
    """A request the venue answers with an error object (HTTP 400 unless said)."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.response = _error(code, msg, status)


Snapshot = tuple[int, list[Level], list[Level]]
"""``(lastUpdateId, bids, asks)`` of a whole book."""


class RetainedSnapshots:
    """Two generations of every pair's whole book, for the ``stale_snapshot`` fault."""

    def __init__(self, market: Market) -> None:
        self._market = market
        self._kept: dict[str, deque[Snapshot]] = {name: deque(maxlen=2) for name in market.pairs}
        self.retain()

    def retain(self) -> None:
        """Keep every pair's book as it is now (the older generation is dropped)."""
        for name, kept in self._kept.items():
            bids, asks = self._market.top(name)
            kept.append((self._market.update_id(name), bids, asks))

    def oldest(self, name: str) -> Snapshot:
        """The older kept book of pair ``name``."""
        return self._kept[name][0]


class BinanceRest:
    """The REST side of one simulator run; :attr:`app` is the aiohttp application."""

    def __init__(
        self,
        symbols: Sequence[SymbolInfo],
        market: Market,
        stats: SimStats,
        injector: FaultInjector | None,
        config: BinanceSimConfig,
        trading: BinanceTrading,
        auth: Authenticator,
    ) -> None:
        self._symbols = {s.symbol: s for s in symbols}
        self._trading = trading
        self._auth = auth
        self._market = market
        self._stats = stats
        self._injector = injector
        self.limiter = WeightLimiter(config.weight_limit, config.weight_window_s, config.ban_s)
        self.retained = RetainedSnapshots(market)
        self._limit_text = f"{config.weight_limit} request weight per {_window_text(config)}"
        self._symbol_info = {s.symbol: _symbol_entry(s) for s in symbols}
        self._rate_limits = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": config.weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ]
        self.app = web.Application(
            middlewares=[
                self._weights,
                fault_middleware(stats, injector, self._refuse),
                self._errors,
            ]
        )
        routes = {
            "/api/v3/ping": self._ping,
            "/api/v3/time": self._time,
            "/api/v3/exchangeInfo": self._exchange_info,
            "/api/v3/depth": self._depth,
        }
        for path, handler in routes.items():
            self.app.router.add_route("GET", path, handler)
        signed = {
            ("GET", "/api/v3/order"): self._query_order,
            ("POST", "/api/v3/order"): self._new_order,
            ("DELETE", "/api/v3/order"): self._cancel_order,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
        }
        for (method, path), endpoint in signed.items():
            self.app.router.add_route(method, path, endpoint)

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def _weights(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Charge the request's weight; refuse it over the limit; report the weight used."""
        ip = request.remote or "?"
        verdict = self.limiter.charge(ip, _weight(request), time.time())
        if verdict.status != 200:
            # Refused here, before the middleware that counts requests sees it.
            self._stats.rest_requests += 1
            response: web.StreamResponse = self._rate_limited(verdict)
        else:
            response = await handler(request)
        for header in USED_WEIGHT_HEADERS:
            response.headers[header] = str(verdict.used)
        return response

    def _rate_limited(self, verdict: Verdict) -> web.Response:
        if verdict.status == 429:
            response = _error(
                -1003,
                f"Too much request weight used; current limit is {self._limit_text}. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                429,
            )
        else:
            response = _error(
                -1003,
                "Way too much request weight used; IP banned until "
                f"{int(verdict.banned_until * 1000)}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                418,
            )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response

    def _refuse(self, fault: FaultSpec) -> web.Response:
        """The venue's answers to the injected HTTP faults."""
        if fault.kind == "http_429":
            response = _error(
                -1003,
                f"Too much request weight used; current limit is {self._limit_text}. "
                "Please use WebSocket Streams for live updates to avoid polling the API.",
                429,
            )
            response.headers["Retry-After"] = "1"
            return response
        return _error(
            -1001, "Internal error; unable to process your request. Please try again.", fault.status
        )

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refused as refused:
            return refused.response
        except ApiError as error:
            return _error(error.code, error.msg, error.status)
        except web.HTTPException as exc:
            # Unknown paths and methods: an empty answer of that status (weight headers on).
            return web.Response(status=exc.status, text="")

    # ------------------------------------------------------------------ endpoints

    async def _ping(self, request: web.Request) -> web.Response:
        return _json({})

    async def _time(self, request: web.Request) -> web.Response:
        return _json({"serverTime": time.time_ns() // 1_000_000})

    def _symbol(self, text: str | None) -> SymbolInfo:
        if not text:
            raise _Refused(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        info = self._symbols.get(text)
        if info is None:
            raise _Refused(-1121, "Invalid symbol.")
        return info

    async def _exchange_info(self, request: web.Request) -> web.Response:
        query = request.query
        one, many = query.get("symbol"), query.get("symbols")
        if one is not None and many is not None:
            raise _Refused(-1128, "Combination of optional parameters invalid.")
        if one is not None:
            wanted = [self._symbol(one).symbol]
        elif many is not None:
            wanted = [self._symbol(name).symbol for name in _symbol_list(many)]
        else:
            wanted = list(self._symbols)
        return _json(
            {
                "timezone": "UTC",
                "serverTime": time.time_ns() // 1_000_000,
                "rateLimits": self._rate_limits,
                "exchangeFilters": [],
                "symbols": [self._symbol_info[name] for name in wanted],
            }
        )

    async def _depth(self, request: web.Request) -> web.Response:
        info = self._symbol(request.query.get("symbol"))
        limit = _limit(request.query.get("limit"))
        name = info.instrument.name
        injector = self._injector
        if injector is not None and injector.fire("stale_snapshot", info.symbol) is not None:
            update_id, bids, asks = self.retained.oldest(name)
            bids, asks = bids[:limit], asks[:limit]
        else:
            update_id = self._market.update_id(name)
            bids, asks = self._market.top(name, limit)
        pp, qp = info.precisions
        text = (
            f'{{"lastUpdateId":{update_id},"bids":{levels_json(bids, pp, qp)},'
            f'"asks":{levels_json(asks, pp, qp)}}}'
        )
        return web.Response(text=text, content_type=_CONTENT_TYPE)

    # ------------------------------------------------------------------ SIGNED endpoints

    async def _signed(self, request: web.Request) -> tuple[Caller, dict[str, str], int]:
        """The caller and parameters of a SIGNED request, and the time it arrived.

        Raises:
            ApiError: the venue's refusal.
        """
        query = request.raw_path.partition("?")[2]
        body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
        params = _params(body)
        # A parameter in both: the query string's is used.
        params.update(_params(query))
        now = time.time_ns()
        caller = self._auth.check_rest(
            request.headers.get(API_KEY_HEADER), params, query, body, Decimal(now) / 1_000_000
        )
        return caller, params, now

    async def _query_order(self, request: web.Request) -> web.StreamResponse:
        caller, params, _ = await self._signed(request)
        return _json(self._trading.status(caller, params))

    async def _cancel_order(self, request: web.Request) -> web.StreamResponse:
        caller, params, now = await self._signed(request)
        return _json(self._trading.cancel(caller, params, now))

    async def _open_orders(self, request: web.Request) -> web.StreamResponse:
        caller, params, _ = await self._signed(request)
        return _json(self._trading.open_orders(caller, params))

    async def _my_trades(self, request: web.Request) -> web.StreamResponse:
        caller, params, _ = await self._signed(request)
        return _json(self._trading.my_trades(caller, params))

    async def _new_order(self, request: web.Request) -> web.StreamResponse:
        caller, params, now = await self._signed(request)
        answer = self._trading.place(caller, params, now)
        injector = self._injector
        if injector is not None:
            symbol = answer["symbol"]
            lost = injector.fire("order_ack_lost", symbol) is not None
            if lost or injector.fire("order_response_lost", symbol) is not None:
                # The order stands; the client hears nothing but the connection closing.
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            fault = injector.fire("order_5xx_after_accept", symbol)
            if fault is not None:
                return _error(-1007, UNKNOWN_STATUS_MSG, fault.status)
        return _json(answer)


def _params(raw: str) -> dict[str, str]:
    """Form-encoded parameters; a name given twice is ``-1101``."""
    out: dict[str, str] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        raise ApiError(-1100, "Illegal characters found in a parameter.") from None
    for name, value in pairs:
        if name in out:
            raise ApiError(-1101, "Duplicate values for a parameter detected.")
        out[name] = value
    return out


def _window_text(config: BinanceSimConfig) -> str:
    if config.weight_window_s == 60.0:
        return "1 MINUTE"
    return f"{config.weight_window_s:g} SECOND"


def _limit(text: str | None) -> int:
    """The depth ``limit``: default 100, anything above 5000 served as 5000."""
    if text is None:
        return DEPTH_DEFAULT
    if not text.isdigit() or len(text) > 20:
        raise _Refused(
            -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."
        )
    return max(1, min(int(text), DEPTH_MAX))


def _weight(request: web.Request) -> int:
    path = request.path
    if path == "/api/v3/depth":
        text = request.query.get("limit")
        limit = int(text) if text is not None and text.isdigit() and len(text) <= 20 else 100
        return depth_weight(limit)
    if path == "/api/v3/exchangeInfo":
        return EXCHANGE_INFO_WEIGHT
    if path == "/api/v3/order":
        return 4 if request.method == "GET" else 1
    if path == "/api/v3/myTrades":
        return 5 if "orderId" in request.query else 20
    if path == "/api/v3/openOrders":
        return 6 if "symbol" in request.query else 80
    return 1


def _symbol_list(text: str) -> list[str]:
    """``symbols=["BTCUSDT","ETHUSDT"]`` (a JSON array of names)."""
    try:
        names = orjson.loads(text)
    except orjson.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _Refused(
            -1100,
            "Illegal characters found in parameter 'symbols'; legal range is "
            '\'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$\'.',
        )
    return [str(n) for n in names]


def _symbol_entry(s: SymbolInfo) -> dict[str, object]:
    """One ``exchangeInfo`` symbol, fields in the venue's order; tick and step carry the
    pair's real precision at the venue's eight decimals."""
    inst = s.instrument
    pp, qp = inst.price_precision, inst.qty_precision
    tick, step = amount(1, pp), amount(1, qp)
    return {
        "symbol": s.symbol,
        "status": "TRADING",
        "baseAsset": s.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": s.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": _ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": amount(10**pp * 1_000_000, pp),
                "tickSize": tick,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": amount(inst.qty_min, qp),
                "maxQty": amount(10**qp * 9_000_000, qp),
                "stepSize": step,
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": amount(10**qp * 100_000, qp),
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": amount(inst.min_notional, inst.notional_precision),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": _STP_MODES,
    }
