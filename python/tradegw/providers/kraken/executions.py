"""Kraken's order states in canonical terms: ``executions`` entries, REST orders, REST trades.

The ``executions`` channel (protocols.md §3.6), by ``exec_type``:

================  ==========================================================================
``pending_new``   not reported (pre-acknowledgement)
``new``           ACK
``trade``         PARTIAL with the fill (``exec_id``, ``last_qty``, ``last_price``, ``fees``),
                  even when that fill completes the order: completion is its own event
``filled``        FILLED, without a fill
``canceled``      CANCELLED (``reason``)
``expired``       EXPIRED (``reason``)
``amended``,      not reported: modifications and information, no change of state
``restated``,
``iceberg_refill``,
``status``
================  ==========================================================================

A snapshot's open orders (``exec_type`` ``new``) are mapped by their ``order_status``
instead: ``new`` ACK, ``partially_filled`` PARTIAL (no fill: the fills come as the
snapshot's ``trade`` entries or from REST). REJECTED never comes from this channel, only
from an ``add_order`` reply or a REST ``error[]``.

REST ``OpenOrders``/``ClosedOrders``/``QueryOrders`` ``status``: ``pending`` and ``open`` are
ACK (PARTIAL once ``vol_exec`` is above zero), ``closed`` FILLED, ``canceled`` CANCELLED,
``expired`` EXPIRED.

Numbers arrive as their exact text (:func:`~tradegw.providers.base.decode.decode_exact`) and
stay text: nothing here goes through a float.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tradegw.orders.venue import VenueFill, VenueOrderStatus, VenueReport
from tradegw.providers.base.decode import FrameError, decimal_text, timestamp_ns
from tradegw.schema import ExecState

EXEC_TYPE_STATES: Final[dict[str, ExecState | None]] = {
    "pending_new": None,
    "new": ExecState.ACK,
    "trade": ExecState.PARTIAL,
    "filled": ExecState.FILLED,
    "canceled": ExecState.CANCELLED,
    "expired": ExecState.EXPIRED,
    "amended": None,
    "restated": None,
    "iceberg_refill": None,
    "status": None,
}
"""``exec_type`` -> the state it reports (None: nothing is reported)."""

SNAPSHOT_ORDER_STATES: Final[dict[str, ExecState]] = {
    "new": ExecState.ACK,
    "partially_filled": ExecState.PARTIAL,
}
"""A snapshot's open order, by ``order_status``."""

REST_STATES: Final[dict[str, ExecState]] = {
    "pending": ExecState.ACK,
    "open": ExecState.ACK,
    "closed": ExecState.FILLED,
    "canceled": ExecState.CANCELLED,
    "expired": ExecState.EXPIRED,
}
"""REST ``status`` -> state (``open`` with ``vol_exec`` above zero is PARTIAL)."""


_ENDED: Final = frozenset({ExecState.CANCELLED, ExecState.EXPIRED})
"""States whose ``reason`` says why (a filled order's says nothing)."""


class OrderIds:
    """What the adapter learnt about Kraken's orders: txid -> client id and the last
    cumulative quantity, for the entries that leave those out. Bounded: the orders heard of
    least recently are forgotten past ``capacity`` (an order that old has long had its
    ``cl_ord_id`` on every entry that mattered)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.client_ids: OrderedDict[str, str] = OrderedDict()
        self.cumulative: OrderedDict[str, str] = OrderedDict()

    def learn(self, order_id: str, client_order_id: str) -> None:
        """``order_id`` is the venue's txid of our ``client_order_id``."""
        self._put(self.client_ids, order_id, client_order_id)

    def note_cumulative(self, order_id: str, cumulative: str) -> None:
        """The order's cumulative filled quantity is now ``cumulative``."""
        self._put(self.cumulative, order_id, cumulative)

    def _put(self, table: OrderedDict[str, str], key: str, value: str) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)


def report_of(
    entry: dict[str, Any], ids: OrderIds, *, snapshot: bool = False
) -> VenueReport | None:
    """The report one ``executions`` entry makes, or None (not reported, or not ours).

    Raises:
        FrameError: a field is missing or malformed.
    """
    exec_type = entry.get("exec_type")
    if not isinstance(exec_type, str):
        raise FrameError(f"executions entry without exec_type: {_keys(entry)}")
    order_id = entry.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise FrameError(f"executions entry without order_id: {_keys(entry)}")
    cid = entry.get("cl_ord_id")
    if isinstance(cid, str) and cid:
        ids.learn(order_id, cid)
    else:
        cid = ids.client_ids.get(order_id)
    if snapshot and exec_type != "trade":
        status = entry.get("order_status")
        status_text = status if isinstance(status, str) else ""
        state: ExecState | None = SNAPSHOT_ORDER_STATES.get(status_text)
    elif exec_type in EXEC_TYPE_STATES:
        state = EXEC_TYPE_STATES[exec_type]
    else:
        raise FrameError(f"unknown exec_type {exec_type!r}")
    if state is None or cid is None:
        return None
    raw_cum = entry.get("cum_qty")
    if raw_cum is not None:
        cumulative = decimal_text(raw_cum, "cum_qty")
        ids.note_cumulative(order_id, cumulative)
    else:
        cumulative = ids.cumulative.get(order_id, "0")
    fields: dict[str, Any] = {}
    if exec_type == "trade":
        exec_id = entry.get("exec_id")
        if not isinstance(exec_id, str) or not exec_id:
            raise FrameError("trade without exec_id")
        fee, fee_asset = _fee(entry.get("fees"))
        fields.update(
            last_fill_qty=decimal_text(entry.get("last_qty"), "last_qty", positive=True),
            last_fill_price=decimal_text(entry.get("last_price"), "last_price", positive=True),
            venue_exec_id=exec_id,
            fee=fee,
            fee_asset=fee_asset,
        )
    reason = entry.get("reason")
    return VenueReport(
        client_order_id=cid,
        state=state,
        filled_qty=cumulative,
        venue_order_id=order_id,
        reason=reason if isinstance(reason, str) else None,
        exchange_ts=timestamp_ns(entry.get("timestamp")),
        **fields,
    )


def _fee(raw: Any) -> tuple[str | None, str | None]:
    """The fee of a trade: the sum of its ``fees`` entries in the first entry's asset."""
    if not isinstance(raw, list) or not raw:
        return None, None
    first = raw[0]
    if not isinstance(first, dict) or not isinstance(first.get("asset"), str):
        raise FrameError("fees entry without asset")
    asset: str = first["asset"]
    total = Decimal(0)
    for item in raw:
        if isinstance(item, dict) and item.get("asset") == asset:
            total += Decimal(decimal_text(item.get("qty"), "fee qty"))
    return _text(total), asset


def status_of(client_order_id: str, order_id: str, order: dict[str, Any]) -> VenueOrderStatus:
    """A REST order (``OpenOrders``/``ClosedOrders``/``QueryOrders`` entry) as the entry's
    query answer.

    Raises:
        FrameError: a field is missing or malformed.
    """
    status = order.get("status")
    state = REST_STATES.get(status) if isinstance(status, str) else None
    if state is None:
        raise FrameError(f"order {order_id}: unknown status {status!r}")
    filled = decimal_text(order.get("vol_exec"), "vol_exec")
    if state is ExecState.ACK and Decimal(filled) > 0:
        state = ExecState.PARTIAL
    reason = order.get("reason")
    return VenueOrderStatus(
        client_order_id=client_order_id,
        venue_order_id=order_id,
        state=state,
        filled_qty=filled,
        reason=reason if isinstance(reason, str) and state in _ENDED else None,
        exchange_ts=seconds_ns(order.get("closetm") or order.get("opentm")),
    )


def fill_of(trade_id: str, trade: dict[str, Any], fee_asset: str | None) -> VenueFill:
    """A REST trade (``QueryTrades`` entry) as a fill; Kraken charges spot fees in the quote
    asset unless asked otherwise, which the adapter never asks.

    Raises:
        FrameError: a field is missing or malformed.
    """
    return VenueFill(
        venue_exec_id=trade_id,
        qty=decimal_text(trade.get("vol"), "vol", positive=True),
        price=decimal_text(trade.get("price"), "price", positive=True),
        fee=decimal_text(trade.get("fee"), "fee") if trade.get("fee") is not None else None,
        fee_asset=fee_asset,
        exchange_ts=seconds_ns(trade.get("time")),
    )


def seconds_ns(raw: Any) -> int | None:
    """A REST time (Unix seconds as the exact text of a number, ``1688583840.8648``) in ns;
    None when absent or zero."""
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise FrameError(f"bad time {str(raw)[:40]!r}") from None
    if not value.is_finite() or value <= 0:
        return None
    return int(value * 1_000_000_000)


def _text(value: Decimal) -> str:
    return format(value, "f")


def _keys(entry: dict[str, Any]) -> str:
    return ",".join(sorted(entry)[:12])


__all__ = [
    "EXEC_TYPE_STATES",
    "REST_STATES",
    "SNAPSHOT_ORDER_STATES",
    "OrderIds",
    "fill_of",
    "report_of",
    "seconds_ns",
    "status_of",
]
