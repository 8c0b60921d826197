"""Binance spot order entry over the simulator's matching engine, in the venue's words: the
requests ``order.place``/``order.cancel``/``order.status``/``openOrders.status``/``myTrades``
(WebSocket API) and their REST twins take the same parameters and answer the same objects,
so both front ends (:mod:`tradegw.sim.binance.wsapi`, :mod:`tradegw.sim.binance.rest`) call
one :class:`BinanceTrading`.

What is checked, in the venue's codes and texts (``errors.md``, ``web-socket-api.md``):

* parameters: ``symbol`` (``-1121 Invalid symbol.``), ``side`` (``-1117``), ``type``
  (``LIMIT``, ``LIMIT_MAKER``, ``MARKET``; others ``-1116 Invalid orderType.``: the engine has
  no stop orders), ``timeInForce`` (``-1115``; mandatory for ``LIMIT``, ``-1106`` when sent for
  the others), ``price``/``quantity`` as decimal text (``-1100``, ``-1111`` beyond eight
  decimals, mandatory ones ``-1102``), ``newClientOrderId`` against the venue's pattern;
* filters: ``PRICE_FILTER`` (tick, min, max), ``LOT_SIZE`` (step, min, max),
  ``MARKET_LOT_SIZE``, ``NOTIONAL`` on limit orders -> ``-1013 Filter failure: <FILTER>``;
* the matching engine's refusals -> ``-2010`` with the engine's message ("Duplicate order
  sent." while an order with that client id is open, "Account has insufficient balance for
  requested action.", "Order would immediately match and take." for ``LIMIT_MAKER``);
* cancels of an order that does not exist or is closed -> ``-2011 Unknown order sent.``;
  queries of one that does not exist -> ``-2013 Order does not exist.`` (rejected orders are
  never created, so they are not found either, as on the venue).

Order ids and trade ids are the engine's counters as integers; every ``executionReport``
gets the next execution id (``I``). A cancel's own client id (its ``newClientOrderId``, or a
generated one) is the report's ``c`` and the canceled order's is ``C``, as on the venue.
Amounts are written with eight decimals, commissions in the quote asset.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from tradegw.sim.accounts import DECIMALS
from tradegw.sim.binance.auth import ApiError, Caller, mandatory, param_text
from tradegw.sim.binance.symbols import SymbolInfo
from tradegw.sim.binance.wire import amount, ms
from tradegw.sim.matching import (
    MatchingEngine,
    OrderEvent,
    RejectReason,
    SimFill,
    SimOrder,
    SimOrderStatus,
)
from tradegw.sim.wire import parse_fixed

_AMOUNT_TEXT = re.compile(r"([0-9]{1,20})(?:\.([0-9]{1,20}))?")
_AMOUNT_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
_CLIENT_ID_RANGE = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"
_WIRE_DECIMALS = 8
MAX_PRICE: Final = 1_000_000
"""``PRICE_FILTER.maxPrice`` of every symbol (whole quote units), as exchangeInfo says."""
MAX_QTY: Final = 9_000_000
"""``LOT_SIZE.maxQty``."""
MAX_MARKET_QTY: Final = 100_000
"""``MARKET_LOT_SIZE.maxQty``."""
MAX_NOTIONAL: Final = 9_000_000
"""``NOTIONAL.maxNotional`` (applied to limit orders only)."""
UNKNOWN_STATUS_MSG: Final = (
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown."
)
"""``-1007``: what the venue answers when it cannot say whether an order went through."""
MY_TRADES_DEFAULT: Final = 500
MY_TRADES_MAX: Final = 1000

STATUS: Final = {
    SimOrderStatus.NEW: "NEW",
    SimOrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    SimOrderStatus.FILLED: "FILLED",
    SimOrderStatus.CANCELLED: "CANCELED",
    SimOrderStatus.EXPIRED: "EXPIRED",
}
"""The engine's statuses in Binance's words."""

EXPIRY_REASONS: Final = {
    "ioc_remainder": "UNFILLED_IOC_QUANTITY_EXPIRED",
    "fok_unfilled": "UNFILLED_FOK_ORDER_EXPIRED",
    "market_remainder": "INSUFFICIENT_LIQUIDITY",
}
"""The engine's expiry reasons as ``expiryReason``/``eR``."""

_REJECTIONS: Final = {
    RejectReason.UNKNOWN_SYMBOL: (-1121, "Invalid symbol."),
    RejectReason.INVALID_QTY: (-1013, "Filter failure: LOT_SIZE"),
    RejectReason.INVALID_PRICE: (-1013, "Filter failure: PRICE_FILTER"),
    RejectReason.BELOW_MIN_NOTIONAL: (-1013, "Filter failure: NOTIONAL"),
    RejectReason.INVALID_ORDER: (-2010, "Unsupported order combination"),
    RejectReason.INSUFFICIENT_FUNDS: (
        -2010,
        "Account has insufficient balance for requested action.",
    ),
    RejectReason.POST_ONLY_WOULD_TAKE: (-2010, "Order would immediately match and take."),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (-2010, "Duplicate order sent."),
    RejectReason.UNKNOWN_ACCOUNT: (-2015, "Invalid API-key, IP, or permissions for action."),
}
"""The engine's refusals of a new order in the venue's codes and texts."""

_ORDER_TYPES: Final = ("LIMIT", "LIMIT_MAKER", "MARKET")
_RESPONSE_TYPES: Final = ("ACK", "RESULT", "FULL")
_ZERO: Final = "0.00000000"
_GENERATED_ID_CHARS: Final = string.ascii_letters + string.digits


def binance_type(order: SimOrder) -> str:
    """``LIMIT``, ``LIMIT_MAKER`` (post-only) or ``MARKET``."""
    if order.type == "market":
        return "MARKET"
    return "LIMIT_MAKER" if order.post_only else "LIMIT"


class BinanceTrading:
    """Orders of a run's API keys' accounts on ``matching``, answered as Binance answers."""

    def __init__(
        self, symbols: Sequence[SymbolInfo], matching: MatchingEngine, seed: int = 1
    ) -> None:
        self._symbols = {s.symbol: s for s in symbols}
        self._by_name = {s.instrument.name: s for s in symbols}
        self.matching = matching
        self._rng = random.Random(f"{seed}:binance-client-ids")
        self._next_execution = 0
        self._last_event: OrderEvent | None = None
        self._cancel_ids: dict[str, str] = {}
        """Order id -> the client id of the cancel that ended it (the report's ``c``)."""

    # ------------------------------------------------------------------ requests

    def place(self, caller: Caller, params: Mapping[str, object], now_ns: int) -> dict[str, Any]:
        """``order.place`` / ``POST /api/v3/order``: the order's answer in the requested
        ``newOrderRespType`` (``FULL`` by default for LIMIT and MARKET, else ``ACK``).

        Raises:
            ApiError: the venue's refusal.
        """
        info = self._symbol(params)
        side = _choice(params, "side", {"BUY": "buy", "SELL": "sell"}, -1117, "Invalid side.")
        order_type = _text(params, "type")
        if order_type is None:
            raise mandatory("type")
        if order_type not in _ORDER_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        tif = _text(params, "timeInForce")
        if order_type == "LIMIT":
            if tif is None:
                raise mandatory("timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise ApiError(-1115, "Invalid timeInForce.")
        elif tif is not None:
            raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
        if _text(params, "quoteOrderQty") is not None:
            raise ApiError(-2010, "Quote order qty market orders are not support for this symbol.")
        inst = info.instrument
        quantity = _amount(params, "quantity")
        if quantity is None:
            raise mandatory("quantity")
        qty = _fixed(quantity, inst.qty_precision, "LOT_SIZE")
        max_qty = MAX_MARKET_QTY if order_type == "MARKET" else MAX_QTY
        if qty < inst.qty_min or qty > max_qty * 10**inst.qty_precision:
            raise ApiError(-1013, "Filter failure: LOT_SIZE")
        price: int | None = None
        price_text = _amount(params, "price")
        if order_type == "MARKET":
            if price_text is not None:
                raise ApiError(-1106, "Parameter 'price' sent when not required.")
        else:
            if price_text is None:
                raise mandatory("price")
            price = _fixed(price_text, inst.price_precision, "PRICE_FILTER")
            if price <= 0 or price > MAX_PRICE * 10**inst.price_precision:
                raise ApiError(-1013, "Filter failure: PRICE_FILTER")
            notional_dp = inst.price_precision + inst.qty_precision
            notional = Decimal(price * qty).scaleb(-notional_dp)
            minimum = Decimal(inst.min_notional).scaleb(-inst.notional_precision)
            if notional < minimum or notional > MAX_NOTIONAL:
                raise ApiError(-1013, "Filter failure: NOTIONAL")
        client_id = _text(params, "newClientOrderId")
        if client_id is None:
            client_id = self._generated_id()
        elif _CLIENT_ID.fullmatch(client_id) is None:
            raise _illegal("newClientOrderId", _CLIENT_ID_RANGE)
        response_type = _text(params, "newOrderRespType")
        if response_type is None:
            response_type = "ACK" if order_type == "LIMIT_MAKER" else "FULL"
        elif response_type not in _RESPONSE_TYPES:
            raise _illegal("newOrderRespType", "ACK, RESULT, FULL")
        out = self.matching.place(
            caller.account,
            inst.name,
            side,  # type: ignore[arg-type]  # one of the two the choice above allows
            "market" if order_type == "MARKET" else "limit",
            qty,
            price=price,
            time_in_force="IOC" if order_type == "MARKET" else ("GTC" if tif is None else tif),  # type: ignore[arg-type]
            post_only=order_type == "LIMIT_MAKER",
            client_order_id=client_id,
            now_ns=now_ns,
        )
        if out.rejected is not None:
            code, msg = _REJECTIONS.get(out.rejected, (-2010, str(out.rejected)))
            raise ApiError(code, msg, 401 if code == -2015 else 400)
        order = out.order
        assert order is not None
        answer: dict[str, Any] = {
            "symbol": info.symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "clientOrderId": client_id,
            "transactTime": ms(now_ns),
        }
        if response_type == "ACK":
            return answer
        answer.update(self._result_fields(order, info))
        if response_type == "FULL":
            answer["fills"] = [
                {
                    "price": amount(e.fill.price, inst.price_precision),
                    "qty": amount(e.fill.qty, inst.qty_precision),
                    "commission": amount(e.fill.fee, DECIMALS),
                    "commissionAsset": info.quote_asset,
                    "tradeId": int(e.fill.exec_id),
                }
                for e in out.events
                if e.fill is not None
            ]
        return answer

    def cancel(self, caller: Caller, params: Mapping[str, object], now_ns: int) -> dict[str, Any]:
        """``order.cancel`` / ``DELETE /api/v3/order``: the canceled order.

        Raises:
            ApiError: the venue's refusal (``-2011 Unknown order sent.`` for an order that
                does not exist or is closed).
        """
        info = self._symbol(params)
        order = self._find(caller, info, params)
        if order is None:
            raise ApiError(-2011, "Unknown order sent.")
        cancel_id = _text(params, "newClientOrderId")
        if cancel_id is None:
            cancel_id = self._generated_id()
        elif _CLIENT_ID.fullmatch(cancel_id) is None:
            raise _illegal("newClientOrderId", _CLIENT_ID_RANGE)
        # Known before the engine cancels: its event goes out during the call below.
        self._cancel_ids[order.order_id] = cancel_id
        try:
            out = self.matching.cancel(caller.account, order_id=order.order_id, now_ns=now_ns)
        finally:
            self._cancel_ids.pop(order.order_id, None)
        if out.rejected is not None or out.order is None:
            raise ApiError(-2011, "Unknown order sent.")
        cancelled = out.order
        answer: dict[str, Any] = {
            "symbol": info.symbol,
            "origClientOrderId": cancelled.client_order_id,
            "orderId": int(cancelled.order_id),
            "orderListId": -1,
            "clientOrderId": cancel_id,
            "transactTime": ms(now_ns),
        }
        answer.update(self._result_fields(cancelled, info))
        return answer

    def status(self, caller: Caller, params: Mapping[str, object]) -> dict[str, Any]:
        """``order.status`` / ``GET /api/v3/order``.

        Raises:
            ApiError: ``-2013 Order does not exist.``, or a malformed request.
        """
        info = self._symbol(params)
        order = self._find(caller, info, params)
        if order is None:
            raise ApiError(-2013, "Order does not exist.")
        return self.order_json(order, info)

    def open_orders(self, caller: Caller, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """``openOrders.status`` / ``GET /api/v3/openOrders`` (one symbol, or all)."""
        symbol = _text(params, "symbol")
        info = None if symbol is None else self._symbol(params)
        orders = self.matching.open_orders(
            caller.account, None if info is None else info.instrument.name
        )
        return [self.order_json(o, self._by_name[o.symbol]) for o in orders]

    def my_trades(self, caller: Caller, params: Mapping[str, object]) -> list[dict[str, Any]]:
        """``myTrades`` / ``GET /api/v3/myTrades``: the account's fills on a symbol, oldest
        first (of one order with ``orderId``; from trade ``fromId``; at most ``limit``).

        Raises:
            ApiError: a malformed request.
        """
        info = self._symbol(params)
        order_id = _integer(params, "orderId")
        from_id = _integer(params, "fromId")
        limit = _integer(params, "limit")
        if limit is None:
            limit = MY_TRADES_DEFAULT
        limit = max(1, min(limit, MY_TRADES_MAX))
        start, end = _integer(params, "startTime"), _integer(params, "endTime")
        if order_id is not None:
            order = self.matching.order(caller.account, order_id=str(order_id))
            orders = [] if order is None or order.symbol != info.instrument.name else [order]
        else:
            orders = [
                o for o in self.matching.orders(caller.account) if o.symbol == info.instrument.name
            ]
        fills = sorted(
            (f for o in orders for f in self.matching.fills(o.order_id)),
            key=lambda f: int(f.exec_id),
        )
        picked = [
            f
            for f in fills
            if (from_id is None or int(f.exec_id) >= from_id)
            and (start is None or ms(f.ts_ns) >= start)
            and (end is None or ms(f.ts_ns) <= end)
        ]
        if from_id is None and start is None:
            picked = picked[-limit:]  # without a starting point: the most recent ones
        return [self._trade_json(f, info) for f in picked[:limit]]

    # ------------------------------------------------------------------ the user stream

    def execution_report(self, event: OrderEvent) -> dict[str, Any]:
        """The ``executionReport`` payload of one engine event."""
        order = event.order
        info = self._by_name[order.symbol]
        inst = info.instrument
        pp, qp = inst.price_precision, inst.qty_precision
        if event is not self._last_event:
            # Every subscriber gets the event in turn, one after the other: one execution id.
            self._last_event = event
            self._next_execution += 1
        fill = event.fill
        kind = {"new": "NEW", "trade": "TRADE", "cancelled": "CANCELED", "expired": "EXPIRED"}[
            event.kind
        ]
        client_id, original = order.client_order_id or "", ""
        if event.kind == "cancelled":
            client_id, original = self._cancel_ids.get(order.order_id, client_id), client_id
        on_book = order.open and order.type == "limit" and order.time_in_force == "GTC"
        report: dict[str, Any] = {
            "e": "executionReport",
            "E": ms(order.updated_ns),
            "s": info.symbol,
            "c": client_id,
            "S": order.side.upper(),
            "o": binance_type(order),
            "f": _tif(order),
            "q": amount(order.qty, qp),
            "p": _ZERO if order.price is None else amount(order.price, pp),
            "P": _ZERO,
            "F": _ZERO,
            "g": -1,
            "C": original,
            "x": kind,
            "X": STATUS[order.status],
            "r": "NONE",
            "i": int(order.order_id),
            "l": _ZERO if fill is None else amount(fill.qty, qp),
            "z": amount(order.filled, qp),
            "L": _ZERO if fill is None else amount(fill.price, pp),
            "n": "0" if fill is None else amount(fill.fee, DECIMALS),
            "N": None if fill is None else info.quote_asset,
            "T": ms(fill.ts_ns if fill is not None else order.updated_ns),
            "t": -1 if fill is None else int(fill.exec_id),
            "I": self._next_execution,
            "w": on_book,
            "m": fill is not None and fill.liquidity == "maker",
            "M": False,
            "O": ms(order.created_ns),
            "Z": amount(order.quote_filled, pp + qp),
            "Y": _ZERO if fill is None else amount(fill.price * fill.qty, pp + qp),
            "Q": _ZERO,
            "V": "NONE",
        }
        if on_book:
            report["W"] = ms(order.created_ns)
        if event.kind == "expired" and order.reason in EXPIRY_REASONS:
            report["eR"] = EXPIRY_REASONS[order.reason]
        return report

    def symbol_of(self, order: SimOrder) -> str:
        """The Binance symbol of an engine order."""
        return self._by_name[order.symbol].symbol

    # ------------------------------------------------------------------ rendering

    def order_json(self, order: SimOrder, info: SymbolInfo) -> dict[str, Any]:
        """An order as ``order.status`` answers it."""
        inst = info.instrument
        out: dict[str, Any] = {
            "symbol": info.symbol,
            "orderId": int(order.order_id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "price": _ZERO if order.price is None else amount(order.price, inst.price_precision),
            "origQty": amount(order.qty, inst.qty_precision),
            "executedQty": amount(order.filled, inst.qty_precision),
            "cummulativeQuoteQty": amount(
                order.quote_filled, inst.price_precision + inst.qty_precision
            ),
            "status": STATUS[order.status],
            "timeInForce": _tif(order),
            "type": binance_type(order),
            "side": order.side.upper(),
            "stopPrice": _ZERO,
            "icebergQty": _ZERO,
            "time": ms(order.created_ns),
            "updateTime": ms(order.updated_ns),
            "isWorking": order.type == "limit" and order.time_in_force == "GTC",
            "workingTime": ms(order.created_ns),
            "origQuoteOrderQty": _ZERO,
            "selfTradePreventionMode": "NONE",
        }
        if order.status is SimOrderStatus.EXPIRED and order.reason in EXPIRY_REASONS:
            out["expiryReason"] = EXPIRY_REASONS[order.reason]
        return out

    def _result_fields(self, order: SimOrder, info: SymbolInfo) -> dict[str, Any]:
        """What a ``RESULT`` answer (and a cancel's) adds to the ids."""
        inst = info.instrument
        working = order.type == "limit" and order.time_in_force == "GTC"
        out: dict[str, Any] = {
            "price": _ZERO if order.price is None else amount(order.price, inst.price_precision),
            "origQty": amount(order.qty, inst.qty_precision),
            "executedQty": amount(order.filled, inst.qty_precision),
            "origQuoteOrderQty": _ZERO,
            "cummulativeQuoteQty": amount(
                order.quote_filled, inst.price_precision + inst.qty_precision
            ),
            "status": STATUS[order.status],
            "timeInForce": _tif(order),
            "type": binance_type(order),
            "side": order.side.upper(),
            "workingTime": ms(order.created_ns) if working else -1,
            "selfTradePreventionMode": "NONE",
        }
        if order.status is SimOrderStatus.EXPIRED and order.reason in EXPIRY_REASONS:
            out["expiryReason"] = EXPIRY_REASONS[order.reason]
        return out

    def _trade_json(self, fill: SimFill, info: SymbolInfo) -> dict[str, Any]:
        inst = info.instrument
        pp, qp = inst.price_precision, inst.qty_precision
        return {
            "symbol": info.symbol,
            "id": int(fill.exec_id),
            "orderId": int(fill.order_id),
            "orderListId": -1,
            "price": amount(fill.price, pp),
            "qty": amount(fill.qty, qp),
            "quoteQty": amount(fill.price * fill.qty, pp + qp),
            "commission": amount(fill.fee, DECIMALS),
            "commissionAsset": info.quote_asset,
            "time": ms(fill.ts_ns),
            "isBuyer": fill.side == "buy",
            "isMaker": fill.liquidity == "maker",
            "isBestMatch": True,
        }

    # ------------------------------------------------------------------ helpers

    def _symbol(self, params: Mapping[str, object]) -> SymbolInfo:
        symbol = _text(params, "symbol")
        if symbol is None:
            raise mandatory("symbol")
        info = self._symbols.get(symbol)
        if info is None:
            raise ApiError(-1121, "Invalid symbol.")
        return info

    def _find(
        self, caller: Caller, info: SymbolInfo, params: Mapping[str, object]
    ) -> SimOrder | None:
        """The order ``orderId`` and/or ``origClientOrderId`` name (both: the id is looked up
        and the client id must match it), None if there is none on this symbol."""
        order_id = _integer(params, "orderId")
        client_id = _text(params, "origClientOrderId")
        if order_id is None and client_id is None:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if order_id is not None:
            order = self.matching.order(caller.account, order_id=str(order_id))
            if order is not None and client_id is not None and order.client_order_id != client_id:
                return None
        else:
            order = self.matching.order(caller.account, client_order_id=client_id)
        if order is None or order.symbol != info.instrument.name:
            return None
        return order

    def _generated_id(self) -> str:
        """A client id as the venue generates one (22 letters and digits)."""
        return "".join(self._rng.choice(_GENERATED_ID_CHARS) for _ in range(22))


def _tif(order: SimOrder) -> str:
    return order.time_in_force if binance_type(order) == "LIMIT" else "GTC"


def _text(params: Mapping[str, object], name: str) -> str | None:
    """A parameter as text; None when absent, null or empty."""
    value = params.get(name)
    if value is None:
        return None
    text = param_text(value)
    return text or None


def _choice(
    params: Mapping[str, object], name: str, values: Mapping[str, str], code: int, msg: str
) -> str:
    text = _text(params, name)
    if text is None:
        raise mandatory(name)
    if text not in values:
        raise ApiError(code, msg)
    return values[text]


def _illegal(name: str, legal: str) -> ApiError:
    return ApiError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def _amount(params: Mapping[str, object], name: str) -> str | None:
    """A DECIMAL parameter as checked text (at most eight significant decimals)."""
    text = _text(params, name)
    if text is None:
        return None
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        raise _illegal(name, _AMOUNT_RANGE)
    decimals = (match.group(2) or "").rstrip("0")
    if len(decimals) > _WIRE_DECIMALS:
        raise ApiError(-1111, f"Parameter '{name}' has too much precision.")
    return text


def _fixed(text: str, precision: int, filter_name: str) -> int:
    """Checked decimal text at the pair's precision; off its tick/step is a filter failure."""
    try:
        return parse_fixed(text, precision)
    except ValueError:
        raise ApiError(-1013, f"Filter failure: {filter_name}") from None


def _integer(params: Mapping[str, object], name: str) -> int | None:
    """A LONG/INT parameter; ``-1100`` when it is not one."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = param_text(value)
    if not text.isdigit() or len(text) > 19:
        raise _illegal(name, "^[0-9]{1,20}$")
    return int(text)


__all__ = [
    "EXPIRY_REASONS",
    "STATUS",
    "UNKNOWN_STATUS_MSG",
    "BinanceTrading",
    "binance_type",
]
