"""Binance order messages in canonical terms: ``executionReport`` events, ``order.status``
answers, ``myTrades`` rows and ``exchangeInfo`` trading rules (protocols.md section 1.7).

States come from the order status ``X``; the execution type ``x`` says whether the event
carries a fill (``TRADE``). The table (protocols.md section 1.7):

==============================================  ===========================================
Binance                                         ExecState
==============================================  ===========================================
``X=NEW`` (``x=NEW``, or ``x=REPLACED``)        ACK
``X=PARTIALLY_FILLED``                          PARTIAL (with the fill on ``x=TRADE``)
``X=FILLED``                                    FILLED (with the fill on ``x=TRADE``)
``X=CANCELED``                                  CANCELLED
``X=REJECTED``                                  REJECTED
``X=EXPIRED`` / ``X=EXPIRED_IN_MATCH``          EXPIRED (``x=EXPIRED``, ``x=TRADE_PREVENTION``)
``X=PENDING_NEW``                               not reported (before the acknowledgement)
``X=PENDING_CANCEL`` (unused by the venue)      not reported
==============================================  ===========================================

A cancel's report carries the cancel request's own client id in ``c`` and the canceled
order's in ``C``; the order is ``C`` then. Quantities and prices stay the venue's decimal
text (eight decimals); times (ms) become ns.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.venue import VenueFill, VenueOrderStatus, VenueReport
from tradegw.schema import ExecState

ORDER_STATES: Final[Mapping[str, ExecState]] = {
    "NEW": ExecState.ACK,
    "PARTIALLY_FILLED": ExecState.PARTIAL,
    "FILLED": ExecState.FILLED,
    "CANCELED": ExecState.CANCELLED,
    "REJECTED": ExecState.REJECTED,
    "EXPIRED": ExecState.EXPIRED,
    "EXPIRED_IN_MATCH": ExecState.EXPIRED,
}
"""Binance order status (``X``, ``status``) -> the canonical state."""

NOT_REPORTED: Final = frozenset({"PENDING_NEW", "PENDING_CANCEL"})
"""Statuses before the acknowledgement or in passing: no report is made of them."""

_NS_PER_MS: Final = 1_000_000


class OrderWireError(ValueError):
    """A Binance order message of the wrong shape (the text names the field)."""


def execution_report(event: Mapping[str, Any]) -> VenueReport | None:
    """The :class:`VenueReport` of one ``executionReport`` payload (the ``event`` object of
    ``{"subscriptionId":N,"event":{...}}``); None for a status not reported.

    Raises:
        OrderWireError: a field is missing or of the wrong type.
    """
    status = _str(event, "X")
    if status in NOT_REPORTED:
        return None
    state = ORDER_STATES.get(status)
    if state is None:
        raise OrderWireError(f"executionReport X={status!r} is no order status")
    execution = _str(event, "x")
    original = event.get("C")
    client_id = original if isinstance(original, str) and original else _str(event, "c")
    filled = _decimal_text(event, "z")
    fill = execution == "TRADE" and Decimal(_decimal_text(event, "l")) > 0
    reason = None
    reject = event.get("r")
    if isinstance(reject, str) and reject != "NONE":
        reason = reject
    elif isinstance(event.get("eR"), str):
        reason = str(event["eR"])
    stamp = event.get("T", event.get("E"))
    return VenueReport(
        client_order_id=client_id,
        state=state,
        filled_qty=filled,
        venue_order_id=str(_int(event, "i")),
        last_fill_qty=_decimal_text(event, "l") if fill else None,
        last_fill_price=_decimal_text(event, "L") if fill else None,
        fee=_decimal_text(event, "n") if fill else None,
        fee_asset=_optional_str(event, "N") if fill else None,
        venue_exec_id=str(_int(event, "t")) if fill else None,
        reason=reason,
        exchange_ts=_ns(stamp),
    )


def order_status(answer: Mapping[str, Any]) -> VenueOrderStatus:
    """An ``order.status`` (or ``GET /api/v3/order``) answer's ``result``.

    Raises:
        OrderWireError: a field is missing or of the wrong type.
    """
    status = _str(answer, "status")
    state = ORDER_STATES.get(status)
    executed = _decimal_text(answer, "executedQty")
    if state is None:
        if status not in NOT_REPORTED:
            raise OrderWireError(f"order status {status!r} is no order status")
        # It exists and is working (before its acknowledgement, or while a cancel is on
        # its way): working is what it is.
        state = ExecState.PARTIAL if Decimal(executed) > 0 else ExecState.ACK
    reason = answer.get("expiryReason")
    return VenueOrderStatus(
        client_order_id=_str(answer, "clientOrderId"),
        venue_order_id=str(_int(answer, "orderId")),
        state=state,
        filled_qty=executed,
        reason=reason if isinstance(reason, str) else None,
        exchange_ts=_ns(answer.get("updateTime")),
    )


def trade_fill(row: Mapping[str, Any]) -> VenueFill:
    """One ``myTrades`` row.

    Raises:
        OrderWireError: a field is missing or of the wrong type.
    """
    return VenueFill(
        venue_exec_id=str(_int(row, "id")),
        qty=_decimal_text(row, "qty"),
        price=_decimal_text(row, "price"),
        fee=_decimal_text(row, "commission"),
        fee_asset=_optional_str(row, "commissionAsset"),
        exchange_ts=_ns(row.get("time")),
    )


def instrument(raw: Mapping[str, Any]) -> OrderInstrument:
    """The trading rules of one ``exchangeInfo`` symbol: ``PRICE_FILTER.tickSize``,
    ``LOT_SIZE.stepSize``/``minQty``/``maxQty``, ``NOTIONAL.minNotional`` (or the older
    ``MIN_NOTIONAL``). The canonical symbol is ``BASE-QUOTE`` as the market-data adapter
    names it (``BTC-USDT``).

    Raises:
        OrderWireError: a filter is missing or not a decimal.
    """
    try:
        filters = {f["filterType"]: f for f in raw["filters"]}
        symbol, base, quote = str(raw["symbol"]), str(raw["baseAsset"]), str(raw["quoteAsset"])
        lot = filters["LOT_SIZE"]
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        minimum = notional.get("minNotional")
        max_qty = _positive(str(lot["maxQty"]))
        return OrderInstrument.of(
            f"{base}-{quote}",
            symbol,
            price_increment=_plain(str(filters["PRICE_FILTER"]["tickSize"])),
            qty_increment=_plain(str(lot["stepSize"])),
            min_qty=_plain(str(lot["minQty"])),
            min_notional=None if minimum is None else _plain(str(minimum)),
            max_qty=None if max_qty is None else _plain(max_qty),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise OrderWireError(f"exchangeInfo symbol of the wrong shape ({e})") from None


def plain_decimal(text: str) -> str:
    """Decimal text without exponent or trailing zeros (``"0.00100000"`` -> ``"0.001"``),
    as an order request sends it.

    Raises:
        ValueError: not a decimal.
    """
    return _plain(text)


# ---------------------------------------------------------------------------- helpers


def _plain(text: str) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a decimal: {text!r}")
    out = format(value, "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return out or "0"


def _positive(text: str) -> str | None:
    """``text`` when it is a positive decimal; None for ``0`` (Binance's "no limit")."""
    return text if Decimal(text) > 0 else None


def _str(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise OrderWireError(f"{name!r} is not a string: {value!r:.40}")
    return value


def _optional_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise OrderWireError(f"{name!r} is not an integer: {value!r:.40}")
    return value


def _decimal_text(obj: Mapping[str, Any], name: str) -> str:
    text = _str(obj, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise OrderWireError(f"{name!r} is not a decimal: {text!r:.40}") from None
    if not value.is_finite() or value < 0:
        raise OrderWireError(f"{name!r} is not a non-negative decimal: {text!r:.40}")
    return text


def _ns(ms: object) -> int | None:
    if isinstance(ms, int) and not isinstance(ms, bool) and ms > 0:
        return ms * _NS_PER_MS
    return None


__all__ = [
    "NOT_REPORTED",
    "ORDER_STATES",
    "OrderWireError",
    "execution_report",
    "instrument",
    "order_status",
    "plain_decimal",
    "trade_fill",
]
