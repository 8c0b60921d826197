"""Turning a ledger change into the one canonical :class:`~tradegw.schema.ExecReport` that
announces it, and the figures derived from an order's fills."""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.schema import ExecReport, new_trace_id

_EXTRA_AVG_DECIMALS = 4
"""Decimals an average price keeps beyond the finest fill price (a mean of 0.1-tick prices
is shown to 0.00001)."""


def exec_report(
    order: OrderRecord,
    seq: int,
    *,
    fill: FillRecord | None = None,
    exchange_ts: int | None = None,
) -> ExecReport:
    """The ExecReport of ``order`` as it stands after a change, numbered ``seq`` in its
    (venue, symbol) stream; ``fill`` is the fill the change brought, if any.

    Raises:
        ValueError: ``order`` is in a state that is never published (NEW, SENT, UNKNOWN).
    """
    state = order.state.exec_state
    if state is None:
        raise ValueError(f"{order.client_order_id}: state {order.state} is not published")
    return ExecReport(
        provider=order.venue,
        symbol=order.symbol,
        venue_symbol=order.venue_symbol,
        seq_provider=seq,
        exchange_ts=exchange_ts if fill is None or fill.exchange_ts is None else fill.exchange_ts,
        ingest_ts=time.time_ns(),
        trace_id=new_trace_id(),
        client_order_id=order.client_order_id,
        venue_order_id=order.venue_order_id,
        state=state,
        side=order.side,
        order_type=order.type,
        price=order.price,
        qty=order.qty,
        filled_qty=order.filled_qty,
        last_fill_price=None if fill is None else fill.price,
        last_fill_qty=None if fill is None else fill.qty,
        fee=None if fill is None else fill.fee,
        fee_asset=None if fill is None else fill.fee_asset,
        reason=order.reason,
        venue_exec_id=None if fill is None else fill.venue_exec_id,
    )


def fill_totals(fills: Iterable[FillRecord]) -> tuple[Decimal, str | None]:
    """``(total quantity, average price as text)`` of ``fills`` (the price None when there
    are none). The average keeps four decimals more than the finest fill price."""
    qty = notional = Decimal(0)
    places = 0
    for f in fills:
        q, p = Decimal(f.qty), Decimal(f.price)
        qty += q
        notional += q * p
        exponent = p.as_tuple().exponent
        places = max(places, -exponent if isinstance(exponent, int) else 0)
    if not qty:
        return qty, None
    avg = (notional / qty).quantize(Decimal(1).scaleb(-(places + _EXTRA_AVG_DECIMALS)))
    return qty, decimal_text(avg)


def decimal_text(value: Decimal) -> str:
    """Plain decimal text without exponent or needless trailing zeros (``"0.5"``, ``"10"``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


__all__ = ["decimal_text", "exec_report", "fill_totals"]
