"""Coinbase Advanced Trade order entry on the simulator: the REST order endpoints and the
``user`` channel's order objects (protocols.md sections 2.1, 2.3 and 2.4).

Endpoints (every one needs ``Authorization: Bearer <CDP JWT>``, checked by
:class:`~tradegw.sim.coinbase.auth.JwtVerifier` with the token's ``uri`` bound to the method,
the host the client called and the path):

* ``POST /api/v3/brokerage/orders`` with ``client_order_id``, ``product_id``, ``side``
  (``BUY``/``SELL``) and one ``order_configuration``: ``limit_limit_gtc`` (``base_size``,
  ``limit_price``, ``post_only``), ``limit_limit_fok``, ``sor_limit_ioc``,
  ``market_market_ioc`` and ``market_market_fok`` (``base_size``; ``quote_size`` is not
  simulated). Answered 200 ``{"success": true, "success_response": {...},
  "order_configuration": {...}}`` or 200 ``{"success": false, "error_response": {...}}``.
  **A client_order_id the account used before creates nothing: the answer is the existing
  order**, its own product, side and configuration (Coinbase's rule, which the matching
  engine keeps with ``DuplicatePolicy.RETURN_EXISTING``).
* ``POST /api/v3/brokerage/orders/batch_cancel`` ``{"order_ids": [...]}`` -> ``{"results":
  [{"success", "failure_reason", "order_id"}]}``; a cancel is by venue order id only.
* ``GET /api/v3/brokerage/orders/historical/{order_id}`` -> ``{"order": {...}}``.
* ``GET /api/v3/brokerage/orders/historical/batch`` (list orders, newest first) with
  ``order_ids``, ``product_ids``, ``order_status``, ``order_side``, ``start_date``,
  ``end_date``, ``limit``, ``cursor``; like the venue it has no client-id filter.
* ``GET /api/v3/brokerage/orders/historical/fills`` with ``order_ids`` (or ``order_id``),
  ``product_ids``, ``trade_ids``, ``limit``, ``cursor`` -> ``{"fills": [...], "cursor"}``.
* ``GET /api/v3/brokerage/transaction_summary``: the fee tier (the run's maker and taker
  fees), which clients read at start.

A token the venue would refuse is answered HTTP 401 with the body ``Unauthorized`` (what
the venue sends, as captured in client bug reports); :attr:`CoinbaseOrders.refusals`
counts why. Private requests are limited per API key (``private_rate_limit`` a second).

Order faults, asked of the matching engine once an order is accepted (or returned as the
existing one): ``order_ack_lost`` holds the request unanswered (the client times out; the
connection is closed after ``order_ack_lost_hold_s`` or when the simulator stops),
``order_response_lost`` closes the connection instead of answering, and
``order_5xx_after_accept`` answers the fault's 5xx in the v3 error shape. On the ``user``
channel, ``private_stream_drop`` closes the connection just before a fill's update, which
that connection then never gets (see :mod:`tradegw.sim.coinbase.ws`).

States: the engine's new and partially filled orders are ``OPEN``, then ``FILLED``,
``CANCELLED``, or ``EXPIRED`` (IOC, FOK and market remainders). Refused orders are never
created, so ``FAILED`` does not occur.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson
from aiohttp import web

from tradegw.sim.accounts import units_text
from tradegw.sim.coinbase.auth import AuthRefused, JwtVerifier, Principal
from tradegw.sim.coinbase.products import ProductInfo
from tradegw.sim.coinbase.wire import plain, rfc3339_nano
from tradegw.sim.matching import (
    MatchingEngine,
    RejectReason,
    SimFill,
    SimOrder,
    SimOrderStatus,
    SimOrderType,
    SimTimeInForce,
)
from tradegw.sim.wire import div_round

V3: Final = "/api/v3/brokerage"
ORDERS_PATH: Final = f"{V3}/orders"
CANCEL_PATH: Final = f"{V3}/orders/batch_cancel"
LIST_PATH: Final = f"{V3}/orders/historical/batch"
FILLS_PATH: Final = f"{V3}/orders/historical/fills"
ORDER_PATH: Final = f"{V3}/orders/historical/{{order_id}}"
SUMMARY_PATH: Final = f"{V3}/transaction_summary"
PRIVATE_PREFIX: Final = f"{V3}/orders"
"""Every private path starts so; the public limiter leaves them to the private one."""

MAX_CLIENT_ORDER_ID: Final = 128
_DEFAULT_PAGE = 100
_MAX_PAGE = 1000
_ID_NAMESPACE = uuid.UUID("4b0d6a3c-3c55-4e0a-9c1e-6a1f2e7d9b10")

_CONFIGS: Final[dict[str, tuple[SimOrderType, SimTimeInForce, bool]]] = {
    # configuration -> (type, time in force, has a limit price)
    "limit_limit_gtc": ("limit", "GTC", True),
    "limit_limit_fok": ("limit", "FOK", True),
    "sor_limit_ioc": ("limit", "IOC", True),
    "market_market_ioc": ("market", "IOC", False),
    "market_market_fok": ("market", "FOK", False),
}
_CONFIG_OF: Final = {(t, tif): name for name, (t, tif, _) in _CONFIGS.items()}
_TIF_NAMES: Final = {
    "GTC": "GOOD_UNTIL_CANCELLED",
    "IOC": "IMMEDIATE_OR_CANCEL",
    "FOK": "FILL_OR_KILL",
}
_STATUS: Final = {
    SimOrderStatus.NEW: "OPEN",
    SimOrderStatus.PARTIALLY_FILLED: "OPEN",
    SimOrderStatus.FILLED: "FILLED",
    SimOrderStatus.CANCELLED: "CANCELLED",
    SimOrderStatus.EXPIRED: "EXPIRED",
}
# The engine's refusal -> (error, message) of an error_response; error is also the
# new_order_failure_reason. Names from the venue's failure reasons where one fits.
_FAILURES: Final[dict[str, tuple[str, str]]] = {
    RejectReason.UNKNOWN_SYMBOL: ("INVALID_PRODUCT_ID", "Invalid product_id"),
    RejectReason.INVALID_QTY: ("INVALID_SIZE", "base_size is below the product's minimum"),
    RejectReason.INVALID_PRICE: ("INVALID_LIMIT_PRICE", "Invalid limit price"),
    RejectReason.INVALID_ORDER: ("UNSUPPORTED_ORDER_CONFIGURATION", "Unsupported order"),
    RejectReason.BELOW_MIN_NOTIONAL: ("INVALID_SIZE", "order value is below quote_min_size"),
    RejectReason.INSUFFICIENT_FUNDS: (
        "INSUFFICIENT_FUND",
        "Insufficient balance in source account",
    ),
    RejectReason.POST_ONLY_WOULD_TAKE: (
        "INVALID_LIMIT_PRICE_POST_ONLY",
        "Post only order would cross the book",
    ),
    RejectReason.UNKNOWN_ACCOUNT: ("ORDER_ENTRY_DISABLED", "Account cannot trade"),
}
_CANCEL_FAILURES: Final = {
    SimOrderStatus.FILLED: "ORDER_IS_FULLY_FILLED",
    SimOrderStatus.CANCELLED: "DUPLICATE_CANCEL_REQUEST",
    SimOrderStatus.EXPIRED: "INVALID_CANCEL_REQUEST",
}
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"


def _stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, ":".join(str(p) for p in parts)))


def user_id(account: str) -> str:
    """The ``user_id`` the venue shows for an account (a UUID, stable per name)."""
    return _stable_uuid("user", account)


def order_id_format(seed: int) -> Callable[[int], str]:
    """The engine's order numbers as Coinbase order ids (UUIDs, stable for a seed)."""
    return lambda n: _stable_uuid(seed, "order", n)


def trade_id_format(seed: int) -> Callable[[int], str]:
    """The engine's execution numbers as Coinbase fill ``trade_id`` values."""
    return lambda n: _stable_uuid(seed, "trade", n)


def _json(body: object, status: int = 200) -> web.Response:
    # Every amount is already a string: orjson writes the same text, many times faster
    # than the market data's own encoder (a page of orders is a few hundred objects).
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _v3_error(status: int, error: str, code: int, message: str) -> web.Response:
    return _json({"error": error, "code": code, "message": message, "details": []}, status)


def _invalid(message: str) -> web.Response:
    return _v3_error(400, "INVALID_ARGUMENT", 3, message)


def unauthorized() -> web.Response:
    """The venue's answer to a token it refuses, whatever the reason."""
    return web.Response(text="Unauthorized\n", status=401, content_type="text/plain")


class OrderRequestError(ValueError):
    """A create-order body the venue answers with ``success: false`` (``error`` is the
    failure reason)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


def _amount(text: object, precision: int, name: str, reason: str) -> int:
    """A positive decimal string at most ``precision`` decimals, as a fixed-point int."""
    if not isinstance(text, str):
        raise OrderRequestError("INVALID_REQUEST", f"{name} must be a decimal string")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise OrderRequestError("INVALID_REQUEST", f"{name} is not a decimal") from None
    if not value.is_finite() or value <= 0:
        raise OrderRequestError("INVALID_REQUEST", f"{name} must be positive")
    scaled = value.scaleb(precision)
    if scaled != scaled.to_integral_value():
        raise OrderRequestError(reason, f"{name} {text} has more than {precision} decimals")
    return int(scaled)


class CoinbaseOrders:
    """Order entry of one simulator run: REST handlers, rendering, the private limiter."""

    def __init__(
        self,
        products: Sequence[ProductInfo],
        matching: MatchingEngine,
        verifier: JwtVerifier,
        *,
        private_rate_limit: float,
        private_burst: int,
        ack_lost_hold_s: float,
    ) -> None:
        self._products = {p.product_id: p for p in products}
        self._by_name = {p.name: p for p in products}
        self.matching = matching
        self.verifier = verifier
        self._rate = private_rate_limit
        self._burst = float(private_burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._hold_s = ack_lost_hold_s
        self._closing = asyncio.Event()
        self.refusals: Counter[str] = Counter()
        """Tokens refused, by :class:`~tradegw.sim.coinbase.auth.AuthRefused` reason
        (REST and WebSocket together)."""
        self.held = 0
        """Order requests being held unanswered now (``order_ack_lost``)."""

    # ------------------------------------------------------------------ wiring

    def add_routes(self, app: web.Application) -> None:
        """The private endpoints (plain paths before the ``{order_id}`` one)."""
        app.router.add_post(ORDERS_PATH, self._create)
        app.router.add_post(CANCEL_PATH, self._cancel)
        app.router.add_get(LIST_PATH, self._list)
        app.router.add_get(FILLS_PATH, self._fills)
        app.router.add_get(ORDER_PATH, self._get)
        app.router.add_get(SUMMARY_PATH, self._summary)

    def close(self) -> None:
        """Ends every held request now (the simulator stops)."""
        self._closing.set()

    def product_of(self, order: SimOrder) -> ProductInfo:
        """The product an engine order trades."""
        return self._by_name[order.symbol]

    # ------------------------------------------------------------------ auth

    def authenticate(self, token: str, uri: str | None) -> Principal:
        """The principal of ``token`` (see :meth:`JwtVerifier.verify`); refusals counted.

        Raises:
            AuthRefused: the venue would refuse it.
        """
        try:
            return self.verifier.verify(token, uri=uri)
        except AuthRefused as e:
            self.refusals[e.reason] += 1
            raise

    def _principal(self, request: web.Request) -> Principal | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.refusals["missing"] += 1
            return unauthorized()
        # The JWT names the host the client called (no scheme, no query string).
        uri = f"{request.method} {request.host}{request.path}"
        try:
            principal = self.authenticate(token.strip(), uri)
        except AuthRefused:
            return unauthorized()
        if self._rate > 0 and not self._take(principal.key_name):
            return _v3_error(429, "RESOURCE_EXHAUSTED", 8, "too many requests")
        return principal

    def _take(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True

    # ------------------------------------------------------------------ create

    async def _create(self, request: web.Request) -> web.StreamResponse:
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _invalid("body is not JSON")
        if not isinstance(body, dict):
            return _invalid("body is not a JSON object")
        try:
            return await self._place(request, who, body)
        except OrderRequestError as e:
            return _json(self._failure(e.error, e.message, body.get("order_configuration")))

    async def _place(
        self, request: web.Request, who: Principal, body: dict[str, Any]
    ) -> web.StreamResponse:
        cid = body.get("client_order_id")
        if not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ORDER_ID:
            raise OrderRequestError(
                "INVALID_REQUEST", f"client_order_id must be 1-{MAX_CLIENT_ORDER_ID} characters"
            )
        product = self._products.get(body.get("product_id"))  # type: ignore[arg-type]
        if product is None:
            raise OrderRequestError("INVALID_PRODUCT_ID", "Invalid product_id")
        side = body.get("side")
        if side not in ("BUY", "SELL"):
            raise OrderRequestError("INVALID_SIDE", "side must be BUY or SELL")
        config = body.get("order_configuration")
        if not isinstance(config, dict) or len(config) != 1:
            raise OrderRequestError(
                "UNSUPPORTED_ORDER_CONFIGURATION", "order_configuration must hold one order type"
            )
        ((name, fields),) = config.items()
        shape = _CONFIGS.get(name)
        if shape is None or not isinstance(fields, dict):
            raise OrderRequestError("UNSUPPORTED_ORDER_CONFIGURATION", f"{name} is not simulated")
        order_type, tif, limited = shape
        if "quote_size" in fields:
            raise OrderRequestError(
                "UNSUPPORTED_ORDER_CONFIGURATION", "quote_size is not simulated; give base_size"
            )
        qty = _amount(
            fields.get("base_size"), product.size_precision, "base_size", "INVALID_SIZE_PRECISION"
        )
        price = None
        if limited:
            price = _amount(
                fields.get("limit_price"),
                product.price_precision,
                "limit_price",
                "INVALID_PRICE_PRECISION",
            )
        post_only = fields.get("post_only", False)
        if not isinstance(post_only, bool):
            raise OrderRequestError("INVALID_REQUEST", "post_only must be true or false")
        out = self.matching.place(
            who.account,
            product.name,
            "buy" if side == "BUY" else "sell",
            order_type,
            qty,
            price=price,
            time_in_force=tif,
            post_only=post_only,
            client_order_id=cid,
            now_ns=time.time_ns(),
        )
        if out.rejected is not None or out.order is None:
            error, message = _FAILURES.get(
                out.rejected or "", ("UNKNOWN_FAILURE_REASON", str(out.rejected))
            )
            raise OrderRequestError(error, message)
        # Accepted (or answered with the order that already has this client id).
        answer = _json(self._success(out.order))
        symbol = product.product_id
        if self.matching.fault("order_ack_lost", symbol):
            return await self._no_answer(request, self._hold_s)
        if self.matching.fault("order_response_lost", symbol):
            return await self._no_answer(request, 0.0)
        if self.matching.fault("order_5xx_after_accept", symbol):
            return _v3_error(503, "UNAVAILABLE", 14, "service unavailable")
        return answer

    async def _no_answer(self, request: web.Request, hold_s: float) -> web.StreamResponse:
        """Closes the connection without an answer, after ``hold_s`` (or at stop)."""
        if hold_s > 0:
            self.held += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), hold_s)
            finally:
                self.held -= 1
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing is written to an aborted transport; aiohttp drops this response.
        return web.Response(status=204)

    def _success(self, order: SimOrder) -> dict[str, Any]:
        product = self.product_of(order)
        side = order.side.upper()
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": order.order_id,
            "success_response": {
                "order_id": order.order_id,
                "product_id": product.product_id,
                "side": side,
                "client_order_id": order.client_order_id or "",
            },
            "order_configuration": self.configuration(order),
        }

    @staticmethod
    def _failure(error: str, message: str, config: object) -> dict[str, Any]:
        out: dict[str, Any] = {
            "success": False,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": "",
            "error_response": {
                "error": error,
                "message": message,
                "error_details": message,
                "new_order_failure_reason": error,
            },
        }
        if isinstance(config, dict):
            out["order_configuration"] = config
        return out

    # ------------------------------------------------------------------ cancel

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _invalid("body is not JSON")
        ids = body.get("order_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return _invalid("order_ids must be a non-empty list of order ids")
        results = []
        for order_id in ids:
            out = self.matching.cancel(who.account, order_id=order_id, now_ns=time.time_ns())
            if out.rejected is None:
                reason = "UNKNOWN_CANCEL_FAILURE_REASON"
            elif out.order is None:
                reason = "UNKNOWN_CANCEL_ORDER"
            else:
                reason = _CANCEL_FAILURES.get(out.order.status, "INVALID_CANCEL_REQUEST")
            results.append(
                {"success": out.rejected is None, "failure_reason": reason, "order_id": order_id}
            )
        return _json({"results": results})

    # ------------------------------------------------------------------ queries

    async def _get(self, request: web.Request) -> web.StreamResponse:
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        order = self.matching.order(who.account, order_id=request.match_info["order_id"])
        if order is None:
            return _v3_error(404, "NOT_FOUND", 5, "order with this orderID was not found")
        return _json({"order": self.rest_order(order)})

    async def _list(self, request: web.Request) -> web.StreamResponse:
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        q = request.query
        try:
            start = _time_param(q.get("start_date"))
            end = _time_param(q.get("end_date"))
            offset, limit = _page(q.get("cursor"), q.get("limit"))
        except ValueError as e:
            return _invalid(str(e))
        order_ids = set(q.getall("order_ids", []))
        product_ids = set(q.getall("product_ids", []))
        statuses = set(q.getall("order_status", []))
        side = q.get("order_side")
        picked = []
        # Newest first, as the venue sorts by creation time.
        for order in reversed(self.matching.orders(who.account)):
            if order_ids and order.order_id not in order_ids:
                continue
            if product_ids and self.product_of(order).product_id not in product_ids:
                continue
            if statuses and _STATUS[order.status] not in statuses:
                continue
            if side and order.side.upper() != side:
                continue
            if start is not None and order.created_ns < start:
                continue
            if end is not None and order.created_ns >= end:
                continue
            picked.append(order)
        page = picked[offset : offset + limit]
        more = offset + limit < len(picked)
        return _json(
            {
                "orders": [self.rest_order(o) for o in page],
                "sequence": "0",
                "has_next": more,
                "cursor": str(offset + limit) if more else "",
            }
        )

    async def _fills(self, request: web.Request) -> web.StreamResponse:
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        q = request.query
        try:
            offset, limit = _page(q.get("cursor"), q.get("limit"))
        except ValueError as e:
            return _invalid(str(e))
        order_ids = {*q.getall("order_ids", []), *q.getall("order_id", [])}
        product_ids = {*q.getall("product_ids", []), *q.getall("product_id", [])}
        trade_ids = set(q.getall("trade_ids", []))
        orders: Iterable[SimOrder]
        if order_ids:
            found = (self.matching.order(who.account, order_id=i) for i in order_ids)
            orders = [o for o in found if o is not None]
        else:
            orders = self.matching.orders(who.account)
        fills: list[tuple[SimFill, ProductInfo]] = []
        for order in orders:
            product = self.product_of(order)
            if product_ids and product.product_id not in product_ids:
                continue
            fills.extend(
                (f, product)
                for f in self.matching.fills(order.order_id)
                if not trade_ids or f.exec_id in trade_ids
            )
        # Newest first, as the venue lists them.
        fills.sort(key=lambda fp: (fp[0].ts_ns, fp[0].exec_id), reverse=True)
        page = fills[offset : offset + limit]
        more = offset + limit < len(fills)
        return _json(
            {
                "fills": [self.rest_fill(f, p) for f, p in page],
                "cursor": str(offset + limit) if more else "",
            }
        )

    async def _summary(self, request: web.Request) -> web.StreamResponse:
        """The account's fee tier (what clients such as ccxt read for their fees)."""
        who = self._principal(request)
        if isinstance(who, web.Response):
            return who
        fees = self.matching.fees
        return _json(
            {
                "total_volume": 0,
                "total_fees": 0,
                "fee_tier": {
                    "pricing_tier": "Advanced 1",
                    "usd_from": "0",
                    "usd_to": "10000",
                    "taker_fee_rate": _dec_text(Decimal(fees.taker_ppm).scaleb(-6)),
                    "maker_fee_rate": _dec_text(Decimal(fees.maker_ppm).scaleb(-6)),
                    "aop_from": "",
                    "aop_to": "",
                },
                "margin_rate": {"value": "0"},
                "goods_and_services_tax": {"rate": "0", "type": "INCLUSIVE"},
                "advanced_trade_only_volume": 0,
                "advanced_trade_only_fees": 0,
                "coinbase_pro_volume": 0,
                "coinbase_pro_fees": 0,
                "total_balance": "",
                "has_promo_fee": False,
                "volume_breakdown": [],
            }
        )

    # ------------------------------------------------------------------ rendering

    def configuration(self, order: SimOrder) -> dict[str, Any]:
        """The order's ``order_configuration`` as the venue writes it."""
        product = self.product_of(order)
        name = _CONFIG_OF[(order.type, order.time_in_force)]
        fields: dict[str, Any] = {"base_size": plain(order.qty, product.size_precision)}
        if order.price is not None:
            fields["limit_price"] = plain(order.price, product.price_precision)
        if name == "limit_limit_gtc":
            fields["post_only"] = order.post_only
        return {name: fields}

    def _figures(self, order: SimOrder) -> dict[str, str]:
        """Amounts both renderings share, as decimal text."""
        product = self.product_of(order)
        pp, sp = product.price_precision, product.size_precision
        value_dp = pp + sp
        fee = units_text(order.fee)
        filled_value = plain(order.quote_filled, value_dp)
        fee_dec = Decimal(fee)
        value_dec = Decimal(filled_value)
        after = value_dec + fee_dec if order.side == "buy" else value_dec - fee_dec
        avg = "0"
        if order.filled:
            avg = plain(div_round(order.quote_filled * 10**sp, order.filled), value_dp)
        completion = plain(div_round(order.filled * 100 * 10**2, order.qty), 2)
        return {
            "filled": plain(order.filled, sp),
            "leaves": plain(order.remaining if order.open else 0, sp),
            "avg": avg,
            "fee": fee,
            "filled_value": filled_value,
            "after_fees": _dec_text(after),
            "completion": completion,
            "hold": units_text(order.reserved),
            "fills": str(len(self.matching.fills(order.order_id))),
        }

    def rest_order(self, order: SimOrder) -> dict[str, Any]:
        """The order as get order and list orders give it."""
        product = self.product_of(order)
        f = self._figures(order)
        fills = self.matching.fills(order.order_id)
        return {
            "order_id": order.order_id,
            "product_id": product.product_id,
            "user_id": user_id(order.account),
            "order_configuration": self.configuration(order),
            "side": order.side.upper(),
            "client_order_id": order.client_order_id or "",
            "status": _STATUS[order.status],
            "time_in_force": _TIF_NAMES[order.time_in_force],
            "created_time": rfc3339_nano(order.created_ns),
            "completion_percentage": f["completion"],
            "filled_size": f["filled"],
            "average_filled_price": f["avg"],
            "fee": "",
            "number_of_fills": f["fills"],
            "filled_value": f["filled_value"],
            "pending_cancel": False,
            "size_in_quote": False,
            "total_fees": f["fee"],
            "size_inclusive_of_fees": False,
            "total_value_after_fees": f["after_fees"],
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.type.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": not order.open,
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": _cancel_message(order),
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": f["hold"],
            "is_liquidation": False,
            "last_fill_time": rfc3339_nano(fills[-1].ts_ns) if fills else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": _stable_uuid("portfolio", order.account),
            "originating_order_id": "",
            "attached_order_id": "",
        }

    def rest_fill(self, fill: SimFill, product: ProductInfo) -> dict[str, Any]:
        """One fill as list fills gives it (``commission`` in the quote currency)."""
        at = rfc3339_nano(fill.ts_ns)
        return {
            "entry_id": _stable_uuid("entry", fill.exec_id),
            "trade_id": fill.exec_id,
            "order_id": fill.order_id,
            "trade_time": at,
            "trade_type": "FILL",
            "price": plain(fill.price, product.price_precision),
            "size": plain(fill.qty, product.size_precision),
            "commission": units_text(fill.fee),
            "product_id": product.product_id,
            "sequence_timestamp": at,
            "liquidity_indicator": fill.liquidity.upper(),
            "size_in_quote": False,
            "user_id": user_id(fill.account),
            "side": fill.side.upper(),
            "retail_portfolio_id": _stable_uuid("portfolio", fill.account),
        }

    def user_order(self, order: SimOrder) -> dict[str, str]:
        """The order as the ``user`` channel gives it: every field a string."""
        product = self.product_of(order)
        f = self._figures(order)
        cancel_reason = ""
        if order.status is SimOrderStatus.CANCELLED:
            cancel_reason = "User requested cancel"
        return {
            "avg_price": f["avg"],
            "cancel_reason": cancel_reason,
            "client_order_id": order.client_order_id or "",
            "completion_percentage": f["completion"],
            "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
            "cumulative_quantity": f["filled"],
            "filled_value": f["filled_value"],
            "leaves_quantity": f["leaves"],
            "limit_price": ""
            if order.price is None
            else plain(order.price, product.price_precision),
            "number_of_fills": f["fills"],
            "order_id": order.order_id,
            "order_side": order.side.upper(),
            "order_type": order.type.capitalize(),
            "outstanding_hold_amount": f["hold"],
            "post_only": "true" if order.post_only else "false",
            "product_id": product.product_id,
            "product_type": "SPOT",
            "reject_reason": "",
            "retail_portfolio_id": _stable_uuid("portfolio", order.account),
            "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
            "status": _STATUS[order.status],
            "stop_price": "",
            "time_in_force": _TIF_NAMES[order.time_in_force],
            "total_fees": f["fee"],
            "total_value_after_fees": f["after_fees"],
            "trigger_status": "INVALID_ORDER_TYPE",
            "creation_time": rfc3339_nano(order.created_ns),
            "end_time": _ZERO_TIME,
            "start_time": _ZERO_TIME,
        }


def _cancel_message(order: SimOrder) -> str:
    if order.status is SimOrderStatus.CANCELLED:
        return "User requested cancel"
    return ""


def _dec_text(value: Decimal) -> str:
    """A Decimal as plain text without trailing zeros (``"12.5"``, ``"0"``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _time_param(text: str | None) -> int | None:
    """An RFC 3339 query parameter as ns since the epoch (None when absent)."""
    if text is None or text == "":
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text[:40]!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"an RFC 3339 time needs its offset: {text[:40]!r}")
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def _page(cursor: str | None, limit: str | None) -> tuple[int, int]:
    """``(offset, limit)`` of a paged request: the cursor is the offset the previous page
    handed out."""
    offset = 0
    if cursor:
        if not cursor.isdigit():
            raise ValueError("cursor is not one this venue handed out")
        offset = int(cursor)
    size = _DEFAULT_PAGE
    if limit:
        if not limit.isdigit() or not 1 <= int(limit) <= _MAX_PAGE:
            raise ValueError(f"limit must be 1-{_MAX_PAGE}")
        size = int(limit)
    return offset, size


__all__ = [
    "CANCEL_PATH",
    "FILLS_PATH",
    "LIST_PATH",
    "ORDERS_PATH",
    "PRIVATE_PREFIX",
    "CoinbaseOrders",
    "OrderRequestError",
    "order_id_format",
    "trade_id_format",
    "unauthorized",
    "user_id",
]
