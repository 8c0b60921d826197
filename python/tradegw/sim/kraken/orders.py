"""Kraken's words for orders and fills: txids, REST order and trade objects, the v2
``executions`` entries, and the errors the matching engine's refusals become.

REST (``OpenOrders``, ``ClosedOrders``, ``QueryOrders``, ``QueryTrades``) writes amounts as
strings and times as numbers with four decimals; the WebSocket ``executions`` channel writes
amounts as JSON numbers at the pair's precision (never exponent form) and times as RFC 3339.
Everything is rendered from the engine's fixed-point integers, never through a float.

``executions`` events per engine event (protocols.md §3.6):

* an order placed: ``pending_new`` then ``new`` (two messages);
* a fill: ``trade`` with the fill (``exec_id``, ``last_qty``, ``last_price``, ``fees``...),
  whose ``order_status`` says ``partially_filled`` even when the fill completes the order
  (Kraken's documented quirk), then, when it did, ``filled`` without a fill;
* ``canceled`` and ``expired``, with Kraken's ``reason``.
"""

from __future__ import annotations

from typing import Any, Final

from tradegw.sim.accounts import units_text
from tradegw.sim.kraken.pairs import PairInfo
from tradegw.sim.matching import OrderEvent, RejectReason, SimFill, SimOrder, SimOrderStatus
from tradegw.sim.wire import Num, div_round, fixed, rfc3339_us

_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MULTIPLIERS: Final = (0x9E3779B97F4A7C15F39D, 0xC2B2AE3D27D4EB4F165B)  # odd
_MASK: Final = (1 << 80) - 1


def txid(prefix: str, number: int, salt: int = 0) -> str:
    """A Kraken-looking transaction id (``OU22CG-KLAF2-FWUDD7``) for the engine's counter
    ``number``: distinct numbers give distinct ids (each step, a multiplication by an odd
    constant or an xor with the value shifted right, is a bijection modulo 2**80), in no
    visible order."""
    mixed = number + salt
    for multiplier in _MULTIPLIERS:
        mixed = (mixed * multiplier) & _MASK
        mixed ^= mixed >> 37
    chars = []
    for _ in range(16):
        mixed, digit = divmod(mixed, 32)
        chars.append(_ALPHABET[digit])
    text = prefix + "".join(chars)
    return f"{text[:6]}-{text[6:11]}-{text[11:]}"


REJECT_ERRORS: Final[dict[RejectReason, str]] = {
    RejectReason.UNKNOWN_ACCOUNT: "EGeneral:Permission denied",
    RejectReason.UNKNOWN_SYMBOL: "EQuery:Unknown asset pair",
    RejectReason.INVALID_QTY: "EOrder:Order minimum not met",
    RejectReason.INVALID_PRICE: "EGeneral:Invalid arguments:price",
    RejectReason.INVALID_ORDER: "EGeneral:Invalid arguments",
    RejectReason.BELOW_MIN_NOTIONAL: "EOrder:Cost minimum not met",
    RejectReason.INSUFFICIENT_FUNDS: "EOrder:Insufficient funds",
    RejectReason.POST_ONLY_WOULD_TAKE: "EOrder:Post only order",
    RejectReason.UNKNOWN_ORDER: "EOrder:Unknown order",
    RejectReason.ORDER_CLOSED: "EOrder:Unknown order",
}
"""The engine's refusals in Kraken's words (a duplicate ``cl_ord_id`` has its own,
configurable text: ``KrakenSimConfig.duplicate_order_error``)."""

END_REASONS: Final[dict[str, str]] = {
    "cancelled_by_user": "User requested",
    "ioc_remainder": "Immediate or cancel order not fully filled",
    "fok_unfilled": "Fill or kill order not filled",
    "market_remainder": "Insufficient liquidity",
}
"""Why an order ended, as ``reason`` says it."""

REST_STATUS: Final[dict[SimOrderStatus, str]] = {
    SimOrderStatus.NEW: "open",
    SimOrderStatus.PARTIALLY_FILLED: "open",
    SimOrderStatus.FILLED: "closed",
    SimOrderStatus.CANCELLED: "canceled",
    SimOrderStatus.EXPIRED: "expired",
}

WS_STATUS: Final[dict[SimOrderStatus, str]] = {
    SimOrderStatus.NEW: "new",
    SimOrderStatus.PARTIALLY_FILLED: "partially_filled",
    SimOrderStatus.FILLED: "filled",
    SimOrderStatus.CANCELLED: "canceled",
    SimOrderStatus.EXPIRED: "expired",
}


def rest_time(ns: int) -> Num:
    """A REST time: Unix seconds as a number with four decimals (``1688583840.8648``)."""
    return Num(fixed(ns // 100_000, 4))


def _avg_price(order: SimOrder) -> int:
    """The average fill price in ticks (0 before any fill)."""
    return div_round(order.quote_filled, order.filled) if order.filled else 0


def description(order: SimOrder, pair: PairInfo) -> str:
    """``descr.order``: ``buy 1.45000000 XBTUSD @ limit 27500.0``."""
    qty = fixed(order.qty, pair.qty_precision)
    if order.price is None:
        return f"{order.side} {qty} {pair.altname} @ market"
    return f"{order.side} {qty} {pair.altname} @ limit {fixed(order.price, pair.price_precision)}"


def rest_order(order: SimOrder, pair: PairInfo, trades: list[str] | None) -> dict[str, Any]:
    """One order as ``OpenOrders``/``ClosedOrders``/``QueryOrders`` give it; ``trades`` (the
    fills' txids) only when the call asked for them."""
    pp, qp = pair.price_precision, pair.qty_precision
    flags = ["fciq"]
    if order.post_only:
        flags.append("post")
    out: dict[str, Any] = {
        "refid": None,
        "userref": 0,
        "cl_ord_id": order.client_order_id,
        "status": REST_STATUS[order.status],
        "opentm": rest_time(order.created_ns),
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": pair.altname,
            "type": order.side,
            "ordertype": order.type,
            "price": fixed(order.price or 0, pp),
            "price2": "0",
            "leverage": "none",
            "order": description(order, pair),
            "close": "",
        },
        "vol": fixed(order.qty, qp),
        "vol_exec": fixed(order.filled, qp),
        "cost": fixed(order.quote_filled, pp + qp),
        "fee": units_text(order.fee),
        "price": fixed(_avg_price(order), pp),
        "stopprice": "0.00000",
        "limitprice": "0.00000",
        "misc": "",
        "oflags": ",".join(flags),
    }
    if order.client_order_id is None:
        del out["cl_ord_id"]
    if trades is not None:
        out["trades"] = trades
    if not order.open:
        out["closetm"] = rest_time(order.updated_ns)
        out["reason"] = END_REASONS.get(order.reason or "", order.reason)
    return out


def rest_trade(fill: SimFill, order: SimOrder, pair: PairInfo, trade_id: int) -> dict[str, Any]:
    """One fill as ``QueryTrades``/``TradesHistory`` give it."""
    pp, qp = pair.price_precision, pair.qty_precision
    return {
        "ordertxid": fill.order_id,
        "postxid": "TKH2SE-M7IF5-CFI7LT",
        "pair": pair.rest_name,
        "time": rest_time(fill.ts_ns),
        "type": fill.side,
        "ordertype": order.type,
        "price": fixed(fill.price, pp),
        "cost": fixed(fill.price * fill.qty, pp + qp),
        "fee": units_text(fill.fee),
        "vol": fixed(fill.qty, qp),
        "margin": "0.00000",
        "misc": "",
        "trade_id": trade_id,
        "maker": fill.liquidity == "maker",
    }


def execution(
    order: SimOrder,
    pair: PairInfo,
    exec_type: str,
    order_status: str,
    *,
    fill: SimFill | None = None,
    trade_id: int | None = None,
) -> dict[str, Any]:
    """One entry of an ``executions`` message, fields in the order Kraken writes them."""
    pp, qp = pair.price_precision, pair.qty_precision
    out: dict[str, Any] = {"order_id": order.order_id}
    if order.client_order_id is not None:
        out["cl_ord_id"] = order.client_order_id
    out.update(
        symbol=pair.symbol,
        side=order.side,
        order_type=order.type,
        order_qty=Num.fixed(order.qty, qp),
    )
    if order.price is not None:
        out["limit_price"] = Num.fixed(order.price, pp)
    out.update(
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        order_userref=0,
        exec_type=exec_type,
        order_status=order_status,
    )
    if exec_type != "pending_new":
        out["cum_qty"] = Num.fixed(order.filled, qp)
        out["cum_cost"] = Num.fixed(order.quote_filled, pp + qp)
        if order.filled:
            out["avg_price"] = Num.fixed(_avg_price(order), pp)
    if fill is not None:
        out.update(
            exec_id=fill.exec_id,
            trade_id=trade_id,
            last_qty=Num.fixed(fill.qty, qp),
            last_price=Num.fixed(fill.price, pp),
            cost=Num.fixed(fill.price * fill.qty, pp + qp),
            liquidity_ind="m" if fill.liquidity == "maker" else "t",
            fees=[{"asset": fill.fee_asset, "qty": Num(units_text(fill.fee))}],
        )
        if fill.fee_asset == "USD":
            out["fee_usd_equiv"] = Num(units_text(fill.fee))
    if exec_type in ("canceled", "expired"):
        out["reason"] = END_REASONS.get(order.reason or "", order.reason)
    stamp = fill.ts_ns if fill is not None else order.updated_ns
    out["timestamp"] = rfc3339_us(stamp)
    return out


def executions_of(event: OrderEvent, pair: PairInfo, trade_id: int | None) -> list[dict[str, Any]]:
    """The ``executions`` entries one engine event becomes, one message each."""
    order = event.order
    if event.kind == "new":
        return [
            execution(order, pair, "pending_new", "pending_new"),
            execution(order, pair, "new", "new"),
        ]
    if event.kind == "trade":
        trade = execution(
            order, pair, "trade", "partially_filled", fill=event.fill, trade_id=trade_id
        )
        out = [trade]
        if order.status is SimOrderStatus.FILLED:
            out.append(execution(order, pair, "filled", "filled"))
        return out
    if event.kind == "cancelled":
        return [execution(order, pair, "canceled", "canceled")]
    return [execution(order, pair, "expired", "expired")]


__all__ = [
    "END_REASONS",
    "REJECT_ERRORS",
    "REST_STATUS",
    "WS_STATUS",
    "description",
    "execution",
    "executions_of",
    "rest_order",
    "rest_time",
    "rest_trade",
    "txid",
]
