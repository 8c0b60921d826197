"""Binance's WebSocket API (``/ws-api/v3`` on the simulator's WebSocket port): signed order
requests and the user data stream, as ``web-socket-api.md`` describes them.

Requests are ``{"id":..,"method":..,"params":{..}}`` text frames; every answer is
``{"id":..,"status":200,"result":..,"rateLimits":[..]}`` or ``{"id":..,"status":4xx/5xx,
"error":{"code":..,"msg":..},"rateLimits":[..]}`` (``rateLimits`` left out when the request
says ``"returnRateLimits": false``). Methods (a ``v3/`` prefix is allowed): ``ping``,
``time``, ``order.place``, ``order.cancel``, ``order.status``, ``openOrders.status``,
``myTrades`` (all but the first two SIGNED, checked by :class:`~tradegw.sim.binance.auth.
Authenticator`), ``userDataStream.subscribe.signature``, ``userDataStream.unsubscribe`` and
``session.subscriptions``. Request weight is charged to the client's IP in the same window
as REST (a 429/418 answer past the limit).

User data: a signature subscription (one per account per connection, ``-2035`` for a second)
gets ``{"subscriptionId":N,"event":{"e":"executionReport",..}}`` for every change of the
account's orders; unsubscribing ends it with ``eventStreamTerminated``.

The order faults of the run's plan, for an order the engine accepted (``order.place`` only):

* ``order_ack_lost`` - no answer at all; the connection stays up;
* ``order_response_lost`` - the connection is dropped instead of the answer;
* ``order_5xx_after_accept`` - the answer is the fault's ``status`` with ``-1007 Timeout
  waiting for response from backend server. Send status unknown; execution status unknown.``;
* ``private_stream_drop`` - asked before each fill (``x=TRADE``) is sent on a subscription:
  the report is lost and the stream ends, as ``stream_drop`` says: ``disconnect`` drops the
  connection, ``terminate`` sends ``eventStreamTerminated`` and ends the subscription,
  ``alternate`` takes turns.

Unlike the market streams, the WebSocket API does not count incoming messages per second
(its limits are request weight); pings, pongs and the connection's lifetime are the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import orjson

from tradegw.sim.binance.auth import ApiError, Authenticator, Caller, mandatory
from tradegw.sim.binance.config import BinanceSimConfig
from tradegw.sim.binance.feed import BinanceFeed
from tradegw.sim.binance.trading import UNKNOWN_STATUS_MSG, BinanceTrading
from tradegw.sim.binance.weights import WeightLimiter
from tradegw.sim.binance.wire import ms
from tradegw.sim.binance.ws import BinanceWsConnection, WsCounters
from tradegw.sim.connection import ConnectionContext
from tradegw.sim.faults import FaultInjector
from tradegw.sim.matching import OrderEvent
from tradegw.sim.wire import dumps, now_ns

WS_API_PATH: Final = "/ws-api/v3"

MAX_SUBSCRIPTIONS: Final = 1000
"""Active user data subscriptions per connection."""

_WEIGHTS: Final = {
    "ping": 1,
    "time": 1,
    "order.place": 1,
    "order.cancel": 1,
    "order.status": 4,
    "myTrades": 20,
    "openOrders.status": 6,
    "userDataStream.subscribe.signature": 2,
    "userDataStream.unsubscribe": 2,
    "session.subscriptions": 2,
}
_SIGNED: Final = frozenset(
    {"order.place", "order.cancel", "order.status", "openOrders.status", "myTrades"}
)


class _Subscription:
    __slots__ = ("account", "sub_id", "unsubscribe")

    def __init__(self, sub_id: int, account: str, unsubscribe: Callable[[], None]) -> None:
        self.sub_id = sub_id
        self.account = account
        self.unsubscribe = unsubscribe


class BinanceWsApiConnection(BinanceWsConnection):
    """The server side of one WebSocket API connection."""

    def __init__(
        self,
        ctx: ConnectionContext,
        feed: BinanceFeed,
        config: BinanceSimConfig,
        counters: WsCounters,
        trading: BinanceTrading,
        auth: Authenticator,
        limiter: WeightLimiter,
        injector: FaultInjector | None,
    ) -> None:
        super().__init__(ctx, feed, config, counters, combined=False, streams=[])
        self._trading = trading
        self._auth = auth
        self._limiter = limiter
        self._injector = injector
        self._subscriptions: dict[int, _Subscription] = {}
        self._next_subscription = 0
        self._drops = 0

    # ------------------------------------------------------------------ lifecycle

    def on_close(self) -> None:
        """End every user data subscription."""
        super().on_close()
        for sub in self._subscriptions.values():
            sub.unsubscribe()
        self._subscriptions.clear()

    def _count_incoming(self) -> bool:
        # The WebSocket API is limited by request weight, not by messages per second.
        return True

    # ------------------------------------------------------------------ requests

    def on_text(self, payload: bytes) -> None:
        """Answer one request."""
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._reply(None, None, ApiError(-1102, "Field value was empty or malformed."))
            return
        if not isinstance(msg, dict):
            self._reply(None, None, ApiError(-1102, "Field value was empty or malformed."))
            return
        req_id = msg.get("id")
        if not _valid_id(req_id):
            self._reply(None, None, mandatory("id"))
            return
        method = msg.get("method")
        params = msg.get("params", {})
        if params is None:
            params = {}
        if not isinstance(method, str) or not isinstance(params, dict):
            self._reply(req_id, params, ApiError(-1102, "Field value was empty or malformed."))
            return
        method = method.removeprefix("v3/")
        weight = _weight(method, params)
        verdict = self._limiter.charge(self._ip(), weight, time.time())
        if verdict.status != 200:
            refusal = ApiError(-1003, _limit_text(verdict.status, self._limiter), verdict.status)
            self._reply(req_id, params, refusal, used=verdict.used)
            return
        try:
            result = self._call(method, params)
        except ApiError as error:
            self._reply(req_id, params, error, used=verdict.used)
            return
        if result is _NO_ANSWER:
            return
        self._reply(req_id, params, None, result, used=verdict.used)

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        now = now_ns()
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": ms(now)}
        if method == "userDataStream.subscribe.signature":
            return self._subscribe(self._auth.check_ws(params, _now_ms(now)))
        if method == "userDataStream.unsubscribe":
            return self._unsubscribe(params)
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in self._subscriptions]
        if method not in _SIGNED:
            raise ApiError(-1020, "This operation is not supported.")
        caller = self._auth.check_ws(params, _now_ms(now))
        trading = self._trading
        if method == "order.place":
            return self._place(caller, params, now)
        if method == "order.cancel":
            return trading.cancel(caller, params, now)
        if method == "order.status":
            return trading.status(caller, params)
        if method == "openOrders.status":
            return trading.open_orders(caller, params)
        return trading.my_trades(caller, params)

    def _place(self, caller: Caller, params: dict[str, Any], now: int) -> Any:
        result = self._trading.place(caller, params, now)
        injector = self._injector
        if injector is None:
            return result
        symbol = result["symbol"]
        if injector.fire("order_ack_lost", symbol) is not None:
            return _NO_ANSWER
        if injector.fire("order_response_lost", symbol) is not None:
            self.abort()
            return _NO_ANSWER
        fault = injector.fire("order_5xx_after_accept", symbol)
        if fault is not None:
            raise ApiError(-1007, UNKNOWN_STATUS_MSG, fault.status)
        return result

    # ------------------------------------------------------------------ the user stream

    def _subscribe(self, caller: Caller) -> dict[str, int]:
        if any(s.account == caller.account for s in self._subscriptions.values()):
            raise ApiError(-2035, "User Data Stream subscription already active.")
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS or self._next_subscription > 65_535:
            raise ApiError(-2042, "Maximum subscription ID reached for this connection.")
        sub_id = self._next_subscription
        self._next_subscription += 1

        def listener(event: OrderEvent) -> None:
            self._on_order_event(sub_id, event)

        stop = self._trading.matching.subscribe(caller.account, listener)
        self._subscriptions[sub_id] = _Subscription(sub_id, caller.account, stop)
        return {"subscriptionId": sub_id}

    def _unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("subscriptionId")
        if wanted is None:
            ids = list(self._subscriptions)
        elif isinstance(wanted, int) and not isinstance(wanted, bool):
            if wanted not in self._subscriptions:
                raise ApiError(-2036, "User Data Stream subscription not active.")
            ids = [wanted]
        else:
            raise mandatory("subscriptionId")
        for sub_id in ids:
            self._end_subscription(sub_id)
        return {}

    def _end_subscription(self, sub_id: int) -> None:
        sub = self._subscriptions.pop(sub_id, None)
        if sub is None:
            return
        sub.unsubscribe()
        self.send_control(
            dumps(
                {
                    "subscriptionId": sub_id,
                    "event": {"e": "eventStreamTerminated", "E": ms(now_ns())},
                }
            ).encode()
        )

    def _on_order_event(self, sub_id: int, event: OrderEvent) -> None:
        if self.closed or sub_id not in self._subscriptions:
            return
        if event.kind == "trade" and self._stream_drop(event):
            return
        report = self._trading.execution_report(event)
        self.send_control(dumps({"subscriptionId": sub_id, "event": report}).encode())

    def _stream_drop(self, event: OrderEvent) -> bool:
        """Whether the ``private_stream_drop`` fault ends the stream before this fill; if
        so, it has ended it."""
        injector = self._injector
        if injector is None:
            return False
        symbol = self._trading.symbol_of(event.order)
        if injector.fire("private_stream_drop", symbol) is None:
            return False
        mode = self._cfg.stream_drop
        if mode == "alternate":
            mode = "disconnect" if self._drops % 2 == 0 else "terminate"
        self._drops += 1
        if mode == "disconnect":
            self.abort()
        else:
            for sub_id in list(self._subscriptions):
                self._end_subscription(sub_id)
        return True

    # ------------------------------------------------------------------ answers

    def _reply(
        self,
        req_id: object,
        params: object,
        error: ApiError | None,
        result: Any = None,
        *,
        used: int | None = None,
    ) -> None:
        out: dict[str, Any] = {"id": req_id}
        if error is None:
            out["status"] = 200
            out["result"] = result
        else:
            out["status"] = error.status
            out["error"] = {"code": error.code, "msg": error.msg}
        wants_limits = not (isinstance(params, dict) and params.get("returnRateLimits") is False)
        if used is not None and wants_limits:
            out["rateLimits"] = [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self._limiter.limit,
                    "count": used,
                }
            ]
        self.send_control(dumps(out).encode())

    def _ip(self) -> str:
        transport = self._transport
        if transport is None:
            return "?"
        peer = transport.underlying_transport.get_extra_info("peername")
        return str(peer[0]) if peer else "?"


_NO_ANSWER: Final = object()
"""What a handler returns when the fault it ran means no answer goes out."""


def _now_ms(ns: int) -> Decimal:
    return Decimal(ns) / 1_000_000


def _valid_id(req_id: object) -> bool:
    """An id is null, an integer or a string (the venue echoes it and reads nothing into it)."""
    if req_id is None or isinstance(req_id, str):
        return req_id is None or len(req_id) <= 256
    return isinstance(req_id, int) and not isinstance(req_id, bool)


def _weight(method: str, params: dict[str, Any]) -> int:
    weight = _WEIGHTS.get(method, 1)
    if method == "myTrades" and params.get("orderId") is not None:
        return 5
    if method == "openOrders.status" and params.get("symbol") is None:
        return 80
    return weight


def _limit_text(status: int, limiter: WeightLimiter) -> str:
    if status == 429:
        return (
            f"Too much request weight used; current limit is {limiter.limit} request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
            "the API."
        )
    return (
        "Way too much request weight used; IP banned. Please use WebSocket Streams for live "
        "updates to avoid bans."
    )


__all__ = ["WS_API_PATH", "BinanceWsApiConnection"]
