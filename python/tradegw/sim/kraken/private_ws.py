"""The simulator's authenticated WebSocket v2 endpoint (``/ws-auth/v2``, standing for
``wss://ws-auth.kraken.com/v2``): ``add_order``, ``cancel_order`` and the ``executions``
channel, on top of everything the public endpoint serves.

Every private request carries a token from ``GetWebSocketsToken``; an unknown or expired one
is refused with ``ESession:Invalid session``. Replies (protocols.md §3.6)::

    {"method":"add_order","req_id":42,"result":{"order_id":"OABCDE-...","cl_ord_id":"...",
     "order_userref":0},"success":true,"time_in":...,"time_out":...}
    {"error":"EOrder:Insufficient funds","method":"add_order","req_id":42,"success":false,...}

``cancel_order`` takes ``order_id`` or ``cl_ord_id`` lists and answers once per order.

``executions`` (``snap_orders`` default true, ``snap_trades`` default false): after the ack,
one ``snapshot`` message (the account's last 50 fills, then its open orders), then one
``update`` message per event (see :mod:`tradegw.sim.kraken.orders`), each with the
connection's next top-level ``sequence``.

Order faults: on an accepted ``add_order``, ``order_ack_lost`` sends no reply,
``order_response_lost`` closes the connection instead of replying, ``order_5xx_after_accept``
replies ``success:false`` with ``EService:Unavailable`` (the order stands). On a fill,
``private_stream_drop`` closes the connection of an ``executions`` subscriber just before the
``trade`` message, which is lost to it (REST ``QueryOrders``/``QueryTrades`` still list it).
Request bodies are read with exact decimals: ``order_qty`` and ``limit_price`` are JSON
numbers, never floats here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from tradegw.sim.connection import ConnectionContext
from tradegw.sim.kraken.auth import INVALID_SESSION, Caller
from tradegw.sim.kraken.feed import KrakenFeed
from tradegw.sim.kraken.orders import WS_STATUS, execution, executions_of
from tradegw.sim.kraken.trading import INVALID_ARGUMENTS, UNAVAILABLE, KrakenTrading
from tradegw.sim.kraken.ws import KrakenWsConnection
from tradegw.sim.matching import OrderEvent
from tradegw.sim.wire import dumps, now_ns

AUTH_WS_PATH: Final = "/ws-auth/v2"
"""Where the simulator serves what Kraken serves at ``wss://ws-auth.kraken.com/v2``."""

MAX_RATE_COUNT: Final = 125
"""The ``maxratecount`` the executions ack carries (Kraken's Intermediate tier)."""

SNAP_TRADES: Final = 50
"""Fills a ``snap_trades`` snapshot carries, newest last."""


class _Executions:
    """One connection's ``executions`` subscription."""

    __slots__ = ("caller", "sequence", "token", "unsubscribe")

    def __init__(self, token: str, caller: Caller, unsubscribe: Callable[[], None]) -> None:
        self.token = token
        self.caller = caller
        self.unsubscribe = unsubscribe
        self.sequence = 0


def _number(value: object) -> str | None:
    """A JSON number's exact text (an int or a Decimal read from the text); None for
    anything else (strings, booleans)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return None


class KrakenPrivateWsConnection(KrakenWsConnection):
    """The server side of one connection to the authenticated endpoint."""

    def __init__(
        self,
        ctx: ConnectionContext,
        feed: KrakenFeed,
        connection_id: int,
        trading: KrakenTrading,
    ) -> None:
        super().__init__(ctx, feed, connection_id)
        self._trading = trading
        self._executions: _Executions | None = None

    def on_close(self) -> None:
        """Ends the executions subscription too (its token ages again)."""
        super().on_close()
        self._end_executions()

    def on_text(self, payload: bytes) -> None:
        """The private methods here; everything else as on the public endpoint."""
        try:
            msg = json.loads(payload, parse_float=Decimal)
        except ValueError:
            msg = None
        if isinstance(msg, dict):
            method = msg.get("method")
            params = msg.get("params")
            private = method in ("add_order", "cancel_order") or (
                method in ("subscribe", "unsubscribe")
                and isinstance(params, dict)
                and params.get("channel") == "executions"
            )
            if private:
                assert isinstance(method, str)
                self._private(method, params, msg.get("req_id"))
                return
        super().on_text(payload)

    def _private(self, method: str, params: object, raw_req_id: object) -> None:
        time_in = now_ns()
        if raw_req_id is not None and type(raw_req_id) is not int:
            self._reply(method, time_in, None, error="req_id must be an integer")
            return
        req_id = raw_req_id if isinstance(raw_req_id, int) else None
        if not isinstance(params, dict):
            self._reply(method, time_in, req_id, error=INVALID_ARGUMENTS)
            return
        caller = self._trading.tokens.caller(params.get("token"))
        if caller is None:
            self._reply(method, time_in, req_id, error=INVALID_SESSION)
            return
        if method == "add_order":
            self._add_order(params, caller, req_id, time_in)
        elif method == "cancel_order":
            self._cancel_order(params, caller, req_id, time_in)
        elif method == "subscribe":
            self._subscribe(params, caller, req_id, time_in)
        else:
            self._unsubscribe(req_id, time_in)

    # ------------------------------------------------------------------ orders

    def _add_order(
        self, params: dict[str, Any], caller: Caller, req_id: int | None, time_in: int
    ) -> None:
        trading = self._trading
        symbol = params.get("symbol")
        pair = trading.v2_pair(symbol) if isinstance(symbol, str) else None
        if pair is None:
            self._reply("add_order", time_in, req_id, error="EQuery:Unknown asset pair")
            return
        qty = _number(params.get("order_qty"))
        price_raw = params.get("limit_price")
        price = None if price_raw is None else _number(price_raw)
        post_only = params.get("post_only", False)
        tif = params.get("time_in_force")
        cl_ord_id = params.get("cl_ord_id")
        side, order_type = params.get("side"), params.get("order_type")
        problem = None
        if qty is None:
            problem = f"{INVALID_ARGUMENTS}:order_qty"
        elif price_raw is not None and price is None:
            problem = f"{INVALID_ARGUMENTS}:limit_price"
        elif not isinstance(post_only, bool):
            problem = f"{INVALID_ARGUMENTS}:post_only"
        elif tif is not None and not isinstance(tif, str):
            problem = f"{INVALID_ARGUMENTS}:time_in_force"
        elif cl_ord_id is not None and not isinstance(cl_ord_id, str):
            problem = f"{INVALID_ARGUMENTS}:cl_ord_id"
        elif not isinstance(side, str) or not isinstance(order_type, str):
            problem = INVALID_ARGUMENTS
        if problem is not None:
            self._reply("add_order", time_in, req_id, error=problem)
            return
        assert qty is not None
        assert isinstance(side, str)
        assert isinstance(order_type, str)
        placed = trading.place(
            caller.account,
            pair,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=tif if isinstance(tif, str) else None,
            post_only=post_only is True,
            cl_ord_id=cl_ord_id if isinstance(cl_ord_id, str) else None,
        )
        if isinstance(placed, str):
            self._reply("add_order", time_in, req_id, error=placed)
            return
        fault = trading.order_fault(pair)
        if fault == "order_ack_lost":
            return
        if fault == "order_response_lost":
            self.abort()
            return
        if fault == "order_5xx_after_accept":
            self._reply("add_order", time_in, req_id, error=UNAVAILABLE)
            return
        result: dict[str, object] = {"order_id": placed.order_id}
        if placed.client_order_id is not None:
            result["cl_ord_id"] = placed.client_order_id
        result["order_userref"] = 0
        self._reply("add_order", time_in, req_id, result=result)

    def _cancel_order(
        self, params: dict[str, Any], caller: Caller, req_id: int | None, time_in: int
    ) -> None:
        order_ids, cl_ord_ids = params.get("order_id"), params.get("cl_ord_id")
        if (order_ids is None) == (cl_ord_ids is None):
            self._reply("cancel_order", time_in, req_id, error=INVALID_ARGUMENTS)
            return
        named = order_ids if order_ids is not None else cl_ord_ids
        if not isinstance(named, list) or not named or not all(isinstance(i, str) for i in named):
            self._reply("cancel_order", time_in, req_id, error=INVALID_ARGUMENTS)
            return
        for ident in named:
            if order_ids is not None:
                out = self._trading.cancel(caller.account, order_id=ident)
            else:
                out = self._trading.cancel(caller.account, cl_ord_id=ident)
            if isinstance(out, str):
                self._reply("cancel_order", time_in, req_id, error=out)
                continue
            result: dict[str, object] = {"order_id": out.order_id}
            if out.client_order_id is not None:
                result["cl_ord_id"] = out.client_order_id
            self._reply("cancel_order", time_in, req_id, result=result)

    # ------------------------------------------------------------------ executions

    def _subscribe(
        self, params: dict[str, Any], caller: Caller, req_id: int | None, time_in: int
    ) -> None:
        if self._executions is not None:
            self._reply("subscribe", time_in, req_id, error="Already subscribed")
            return
        snap_orders = params.get("snap_orders", True)
        snap_trades = params.get("snap_trades", False)
        if not isinstance(snap_orders, bool) or not isinstance(snap_trades, bool):
            self._reply("subscribe", time_in, req_id, error=INVALID_ARGUMENTS)
            return
        token = params["token"]
        self._trading.tokens.hold(token)
        unsubscribe = self._trading.matching.subscribe(caller.account, self._on_event)
        self._executions = _Executions(token, caller, unsubscribe)
        self.heartbeats = True
        result = {
            "channel": "executions",
            "maxratecount": MAX_RATE_COUNT,
            "snapshot": snap_orders or snap_trades,
        }
        self._reply("subscribe", time_in, req_id, result=result)
        self._send_executions("snapshot", self._snapshot(caller, snap_orders, snap_trades))

    def _unsubscribe(self, req_id: int | None, time_in: int) -> None:
        if self._executions is None:
            self._reply("unsubscribe", time_in, req_id, error="Subscription Not Found")
            return
        self._end_executions()
        self._reply("unsubscribe", time_in, req_id, result={"channel": "executions"})

    def _end_executions(self) -> None:
        subscription, self._executions = self._executions, None
        if subscription is not None:
            subscription.unsubscribe()
            self._trading.tokens.release(subscription.token)

    def _snapshot(self, caller: Caller, orders: bool, trades: bool) -> list[dict[str, Any]]:
        trading = self._trading
        matching = trading.matching
        out: list[dict[str, Any]] = []
        if trades:
            for order_id, exec_id in trading.fills_of(caller.account)[-SNAP_TRADES:]:
                order = matching.order(caller.account, order_id=order_id)
                assert order is not None
                fill = next(f for f in matching.fills(order_id) if f.exec_id == exec_id)
                pair = trading.market_pair(order.symbol)
                status = WS_STATUS[order.status]
                out.append(
                    execution(
                        order,
                        pair,
                        "trade",
                        status,
                        fill=fill,
                        trade_id=trading.trade_id(exec_id),
                    )
                )
        if orders:
            for order in matching.open_orders(caller.account):
                pair = trading.market_pair(order.symbol)
                out.append(execution(order, pair, "new", WS_STATUS[order.status]))
        return out

    def _on_event(self, event: OrderEvent) -> None:
        if self._executions is None or self.closed:
            return
        trading = self._trading
        pair = trading.market_pair(event.order.symbol)
        fill = event.fill
        if fill is not None and trading.matching.fault("private_stream_drop", pair.symbol):
            # Mid-fill: this connection never sees the trade; only REST can tell of it.
            self.abort()
            return
        trade_id = None if fill is None else trading.trade_id(fill.exec_id)
        for entry in executions_of(event, pair, trade_id):
            self._send_executions("update", [entry])

    def _send_executions(self, kind: str, data: list[dict[str, Any]]) -> None:
        subscription = self._executions
        assert subscription is not None
        subscription.sequence += 1
        frame = {
            "channel": "executions",
            "type": kind,
            "data": data,
            "sequence": subscription.sequence,
        }
        self.send_control(dumps(frame).encode())


__all__ = ["AUTH_WS_PATH", "KrakenPrivateWsConnection"]
