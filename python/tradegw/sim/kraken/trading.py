"""Trading on the Kraken simulator: the private REST endpoints and what the WebSocket order
methods share with them.

Private REST (``POST /0/private/<Method>``, body form-encoded or JSON, headers ``API-Key`` and
``API-Sign``; every call checked by :class:`~tradegw.sim.kraken.auth.PrivateAuth`)::

    GetWebSocketsToken   {"token": ..., "expires": 900}
    AddOrder             pair type ordertype volume [price timeinforce oflags cl_ord_id validate]
    CancelOrder          txid | cl_ord_id                 -> {"count": 1, "pending": false}
    OpenOrders           [trades cl_ord_id]               -> {"open": {txid: order}}
    ClosedOrders         [trades cl_ord_id start end ofs] -> {"closed": {...}, "count": n}
    QueryOrders          txid (comma list) [trades]       -> {txid: order}
    QueryTrades          txid (comma list of trade txids) -> {txid: trade}
    TradesHistory        [start end ofs]                  -> {"trades": {...}, "count": n}
    Balance                                               -> {asset: amount}

Orders go through the run's matching engine for the account the key trades for. A
``cl_ord_id`` in use by an open order of the account is refused with
``KrakenSimConfig.duplicate_order_error``; a closed order's id may be used again. The order
faults of the run's plan hit an order the engine accepted (``matching.fault``): on REST,
``order_ack_lost`` holds the request without an answer (until the client gives up, at most
``ack_hold_s``), ``order_response_lost`` closes the connection instead of answering,
``order_5xx_after_accept`` answers HTTP 503 ``EService:Unavailable``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from tradegw.sim.accounts import DECIMALS
from tradegw.sim.kraken.auth import Caller, PrivateAuth, Tokens
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.orders import (
    REJECT_ERRORS,
    description,
    rest_order,
    rest_trade,
)
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.matching import (
    MatchingEngine,
    OrderEvent,
    RejectReason,
    SimOrder,
    SimOrderType,
    SimSide,
    SimTimeInForce,
)
from tradegw.sim.wire import dumps, fixed, parse_fixed

ORDER_FAULTS: Final = ("order_ack_lost", "order_response_lost", "order_5xx_after_accept")
"""The order faults that hit an accepted order's answer, in the order they are asked."""

UNAVAILABLE: Final = "EService:Unavailable"
"""The answer of ``order_5xx_after_accept``: the order was placed all the same."""

INVALID_ARGUMENTS: Final = "EGeneral:Invalid arguments"

_PAGE: Final = 50
"""Orders or trades per ``ClosedOrders``/``TradesHistory`` page, as on the venue."""

_CL_ORD_ID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x20-\x7e]{1,18}"
)
"""Kraken's client order ids: a long UUID, a short (32 hex) UUID, or 1-18 ASCII chars."""

_TIME_IN_FORCE: Final[dict[str, SimTimeInForce]] = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK"}


def answer(result: object = None, errors: Sequence[str] = (), status: int = 200) -> web.Response:
    """Kraken's REST envelope: ``{"error": [], "result": ...}`` or ``{"error": [...]}``."""
    body = {"error": list(errors)} if errors else {"error": [], "result": result}
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def valid_cl_ord_id(value: str) -> bool:
    """Whether Kraken accepts ``value`` as a ``cl_ord_id``."""
    return _CL_ORD_ID_RE.fullmatch(value) is not None


class KrakenTrading:
    """The run's orders in Kraken's terms: placing, cancelling, looking up, rendering, and
    the private REST endpoints (:meth:`add_routes`)."""

    def __init__(
        self,
        config: KrakenSimConfig,
        pairs: Sequence[PairInfo],
        assets: Sequence[AssetInfo],
        matching: MatchingEngine,
        trade_ids: Mapping[str, int],
    ) -> None:
        """``trade_ids`` maps each fill's txid to its integer ``trade_id`` (the engine's
        execution counter, filled in as the engine names fills)."""
        self.config = config
        self.matching = matching
        self.auth = PrivateAuth(config.api_keys)
        self.tokens = Tokens(config.ws_token_ttl_s)
        self._trade_ids = trade_ids
        self._assets = list(assets)
        self._pair_names: dict[str, PairInfo] = {}
        for p in pairs:
            for name in (p.rest_name, p.altname, p.wsname, p.symbol):
                self._pair_names.setdefault(name.upper(), p)
        self._by_market = {p.instrument.name: p for p in pairs}
        self._by_symbol = {p.symbol: p for p in pairs}
        # Every order and fill per account, oldest first, and the orders per client id (ids
        # of closed orders may be used again): what the queries list, without copying every
        # order of the engine on each call.
        self._orders: dict[str, list[str]] = {}
        self._fills: dict[str, list[tuple[str, str]]] = {}
        self._by_client_id: dict[tuple[str, str], list[str]] = {}
        for account in config.accounts:
            matching.subscribe(account, self._index)
        self.stopping = asyncio.Event()
        """Set when the simulator stops: held REST answers give up."""
        self.held = 0
        """REST order answers being held back (order_ack_lost) now."""

    # ------------------------------------------------------------------ lookups

    def pair(self, name: str) -> PairInfo | None:
        """A pair by any of its names (``XXBTZUSD``, ``XBTUSD``, ``XBT/USD``, ``BTC/USD``)."""
        return self._pair_names.get(name.upper())

    def v2_pair(self, symbol: str) -> PairInfo | None:
        """A pair by its v2 symbol only (``BTC/USD``), as the WebSocket API names pairs."""
        return self._by_symbol.get(symbol)

    def market_pair(self, market_name: str) -> PairInfo:
        """The pair of the market's name (``BTC-USD``)."""
        return self._by_market[market_name]

    def trade_id(self, exec_id: str) -> int:
        """The integer ``trade_id`` of a fill's txid."""
        return self._trade_ids[exec_id]

    def _index(self, event: OrderEvent) -> None:
        order = event.order
        if event.kind == "new":
            self._orders.setdefault(order.account, []).append(order.order_id)
            if order.client_order_id is not None:
                key = (order.account, order.client_order_id)
                self._by_client_id.setdefault(key, []).append(order.order_id)
        elif event.kind == "trade" and event.fill is not None:
            self._fills.setdefault(order.account, []).append(
                (event.fill.order_id, event.fill.exec_id)
            )

    def orders_of(self, account: str, cl_ord_id: str | None = None) -> list[SimOrder]:
        """Copies of ``account``'s orders (with that client id), oldest first."""
        if cl_ord_id is None:
            ids: Iterable[str] = self._orders.get(account, ())
        else:
            ids = self._by_client_id.get((account, cl_ord_id), ())
        out = []
        for order_id in ids:
            order = self.matching.order(account, order_id=order_id)
            if order is not None:
                out.append(order)
        return out

    def fills_of(self, account: str) -> list[tuple[str, str]]:
        """``(order txid, fill txid)`` of every fill of ``account``, oldest first."""
        return list(self._fills.get(account, ()))

    def fill_txids(self, order: SimOrder) -> list[str]:
        """The txids of an order's fills, oldest first."""
        return [f.exec_id for f in self.matching.fills(order.order_id)]

    # ------------------------------------------------------------------ orders

    def place(
        self,
        account: str,
        pair: PairInfo,
        *,
        side: str,
        order_type: str,
        qty: str,
        price: str | None,
        time_in_force: str | None,
        post_only: bool,
        cl_ord_id: str | None,
    ) -> SimOrder | str:
        """Places an order (amounts as decimal text); the order as placed, or the error
        that refuses it."""
        if side not in ("buy", "sell"):
            return f"{INVALID_ARGUMENTS}:type"
        if order_type not in ("limit", "market"):
            return f"{INVALID_ARGUMENTS}:ordertype"
        tif = _TIME_IN_FORCE.get((time_in_force or "GTC").upper())
        if tif is None:
            return f"{INVALID_ARGUMENTS}:timeinforce"
        if order_type == "market" and time_in_force is None:
            tif = "IOC"  # a market order never rests
        if cl_ord_id is not None and not valid_cl_ord_id(cl_ord_id):
            return f"{INVALID_ARGUMENTS}:cl_ord_id"
        try:
            qty_fixed = parse_fixed(qty, pair.qty_precision)
        except ValueError:
            return f"{INVALID_ARGUMENTS}:volume"
        if qty_fixed <= 0:
            return f"{INVALID_ARGUMENTS}:volume"
        price_fixed: int | None = None
        if order_type == "limit":
            if price is None:
                return f"{INVALID_ARGUMENTS}:price"
            try:
                price_fixed = parse_fixed(price, pair.price_precision)
            except ValueError:
                return f"{INVALID_ARGUMENTS}:price"
        engine_side: SimSide = "buy" if side == "buy" else "sell"
        engine_type: SimOrderType = "limit" if order_type == "limit" else "market"
        out = self.matching.place(
            account,
            pair.instrument.name,
            engine_side,
            engine_type,
            qty_fixed,
            price=price_fixed,
            time_in_force=tif,
            post_only=post_only,
            client_order_id=cl_ord_id,
            now_ns=time.time_ns(),
        )
        if out.rejected is RejectReason.DUPLICATE_CLIENT_ORDER_ID:
            return self.config.duplicate_order_error
        if out.rejected is not None:
            return REJECT_ERRORS[out.rejected]
        assert out.order is not None
        return out.order

    def cancel(
        self, account: str, *, order_id: str | None = None, cl_ord_id: str | None = None
    ) -> SimOrder | str:
        """Cancels an open order of ``account`` by txid or client id; the order after the
        cancel, or the error."""
        out = self.matching.cancel(
            account, order_id=order_id, client_order_id=cl_ord_id, now_ns=time.time_ns()
        )
        if out.rejected is not None:
            return REJECT_ERRORS[out.rejected]
        assert out.order is not None
        return out.order

    def order_fault(self, pair: PairInfo) -> str | None:
        """The order fault that hits the answer to an order just accepted, if one fires."""
        for kind in ORDER_FAULTS:
            if self.matching.fault(kind, pair.symbol):
                return kind
        return None

    # ------------------------------------------------------------------ private REST

    def add_routes(self, app: web.Application) -> None:
        """Serves the private endpoints on ``app`` (POST only, as on the venue)."""
        routes: dict[str, Callable[[Caller, dict[str, str], web.Request], Any]] = {
            "GetWebSocketsToken": self._get_token,
            "AddOrder": self._add_order,
            "CancelOrder": self._cancel_order,
            "OpenOrders": self._open_orders,
            "ClosedOrders": self._closed_orders,
            "QueryOrders": self._query_orders,
            "QueryTrades": self._query_trades,
            "TradesHistory": self._trades_history,
            "Balance": self._balance,
        }
        for name, handler in routes.items():
            app.router.add_route("POST", f"/0/private/{name}", self._private(handler))

    def _private(
        self, handler: Callable[[Caller, dict[str, str], web.Request], Any]
    ) -> Callable[[web.Request], Any]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            params = _params(body, request.content_type)
            if params is None:
                return answer(errors=[INVALID_ARGUMENTS])
            caller = self.auth.check(
                request.path,
                request.headers.get("API-Key"),
                request.headers.get("API-Sign"),
                params.get("nonce"),
                body,
            )
            if isinstance(caller, str):
                return answer(errors=[caller])
            response: web.StreamResponse = await handler(caller, params, request)
            return response

        return endpoint

    async def _get_token(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        token = self.tokens.issue(caller)
        return answer({"token": token, "expires": int(self.config.ws_token_ttl_s)})

    async def _add_order(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.StreamResponse:
        required = ("pair", "type", "ordertype", "volume")
        if any(not params.get(name) for name in required):
            return answer(errors=[INVALID_ARGUMENTS])
        pair = self.pair(params["pair"])
        if pair is None:
            return answer(errors=["EQuery:Unknown asset pair"])
        flags = {f.strip() for f in params.get("oflags", "").split(",") if f.strip()}
        if _true(params.get("validate")):
            return answer({"descr": {"order": f"{params['type']} {params['volume']}"}})
        placed = self.place(
            caller.account,
            pair,
            side=params["type"],
            order_type=params["ordertype"],
            qty=params["volume"],
            price=params.get("price"),
            time_in_force=params.get("timeinforce"),
            post_only="post" in flags,
            cl_ord_id=params.get("cl_ord_id"),
        )
        if isinstance(placed, str):
            return answer(errors=[placed])
        fault = self.order_fault(pair)
        if fault == "order_ack_lost":
            await self._hold(request)
        elif fault == "order_response_lost":
            _drop(request)
        elif fault == "order_5xx_after_accept":
            return answer(errors=[UNAVAILABLE], status=503)
        return answer({"descr": {"order": description(placed, pair)}, "txid": [placed.order_id]})

    async def _hold(self, request: web.Request) -> None:
        """Keeps the request unanswered until the client gives up, the simulator stops or
        ``ack_hold_s`` passes; then the connection is closed without an answer."""
        self.held += 1
        try:
            deadline = time.monotonic() + self.config.ack_hold_s
            while time.monotonic() < deadline and not self.stopping.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                await asyncio.sleep(0.02)
        finally:
            self.held -= 1
        _drop(request)

    async def _cancel_order(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        cl_ord_id = params.get("cl_ord_id")
        txid = params.get("txid")
        if bool(cl_ord_id) == bool(txid):
            return answer(errors=[INVALID_ARGUMENTS])
        out = self.cancel(caller.account, order_id=txid or None, cl_ord_id=cl_ord_id or None)
        if isinstance(out, str):
            return answer(errors=[out])
        return answer({"count": 1, "pending": False})

    def _render(self, order: SimOrder, trades: bool) -> dict[str, Any]:
        pair = self.market_pair(order.symbol)
        return rest_order(order, pair, self.fill_txids(order) if trades else None)

    async def _open_orders(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        trades = _true(params.get("trades"))
        orders = [o for o in self._listed(caller, params) if o.open]
        return answer({"open": {o.order_id: self._render(o, trades) for o in reversed(orders)}})

    async def _closed_orders(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        trades = _true(params.get("trades"))
        start, end = _time_ns(params.get("start")), _time_ns(params.get("end"))
        orders = [
            o
            for o in reversed(self._listed(caller, params))
            if not o.open
            and (start is None or o.updated_ns > start)
            and (end is None or o.updated_ns <= end)
        ]
        offset = _offset(params.get("ofs"))
        page = orders[offset : offset + _PAGE]
        return answer(
            {"closed": {o.order_id: self._render(o, trades) for o in page}, "count": len(orders)}
        )

    def _listed(self, caller: Caller, params: dict[str, str]) -> list[SimOrder]:
        return self.orders_of(caller.account, params.get("cl_ord_id") or None)

    async def _query_orders(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        ids = [t.strip() for t in params.get("txid", "").split(",") if t.strip()]
        if not ids or len(ids) > _PAGE:
            return answer(errors=[INVALID_ARGUMENTS])
        trades = _true(params.get("trades"))
        out: dict[str, Any] = {}
        for txid in ids:
            order = self.matching.order(caller.account, order_id=txid)
            if order is None:
                return answer(errors=["EOrder:Invalid order"])
            out[txid] = self._render(order, trades)
        return answer(out)

    async def _query_trades(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        ids = [t.strip() for t in params.get("txid", "").split(",") if t.strip()]
        if not ids or len(ids) > 20:
            return answer(errors=[INVALID_ARGUMENTS])
        out: dict[str, Any] = {}
        for trade_txid in ids:
            rendered = self._trade(caller.account, trade_txid)
            if rendered is None:
                return answer(errors=[f"{INVALID_ARGUMENTS}:txid"])
            out[trade_txid] = rendered
        return answer(out)

    def _trade(self, account: str, trade_txid: str, order_id: str | None = None) -> Any:
        if trade_txid not in self._trade_ids:
            return None
        if order_id is None:
            order_id = next((o for o, t in self.fills_of(account) if t == trade_txid), None)
        order = None if order_id is None else self.matching.order(account, order_id=order_id)
        if order is None:
            return None
        fill = next(f for f in self.matching.fills(order.order_id) if f.exec_id == trade_txid)
        return rest_trade(fill, order, self.market_pair(order.symbol), self.trade_id(trade_txid))

    async def _trades_history(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        fills = list(reversed(self.fills_of(caller.account)))
        offset = _offset(params.get("ofs"))
        page = fills[offset : offset + _PAGE]
        trades = {t: self._trade(caller.account, t, o) for o, t in page}
        return answer({"trades": trades, "count": len(fills)})

    async def _balance(
        self, caller: Caller, params: dict[str, str], request: web.Request
    ) -> web.Response:
        account = self.matching.accounts.get(caller.account)
        out = {}
        for asset in self._assets:
            units = account.balance(asset.name).total
            decimals = min(asset.decimals, DECIMALS)
            out[asset.rest_name] = fixed(units // 10 ** (DECIMALS - decimals), decimals)
        return answer(out)


def _params(body: bytes, content_type: str) -> dict[str, str] | None:
    """A private call's parameters as text (JSON numbers keep their digits), or None when
    the body cannot be read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if content_type == "application/json":
        try:
            data = json.loads(text or "{}", parse_float=str, parse_int=str)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): _text(v) for k, v in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def _text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _true(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


def _time_ns(value: str | None) -> int | None:
    """A ``start``/``end`` parameter (Unix seconds, maybe with decimals) as ns; None when
    absent or unreadable (a txid there is not supported)."""
    if not value:
        return None
    try:
        return int(Decimal(value) * 10**9)
    except ArithmeticError:
        return None


def _offset(value: str | None) -> int:
    """An ``ofs`` parameter; 0 when absent or unreadable."""
    return int(value) if value and value.isdigit() else 0


def _drop(request: web.Request) -> None:
    """Closes the request's connection without an answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()


__all__ = [
    "INVALID_ARGUMENTS",
    "ORDER_FAULTS",
    "UNAVAILABLE",
    "KrakenTrading",
    "answer",
    "valid_cl_ord_id",
]
