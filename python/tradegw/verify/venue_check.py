"""The gateway's ledger against the venue's own books: every order's state, venue id,
filled quantity and fills must be the venue's, and no client order id may have more than
one order at the venue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Final

from tradegw.gateway import Gateway
from tradegw.orders.states import OrderState
from tradegw.schema import ExecState
from tradegw.sim.inspection import VenueOrderView

VENUE_STATES: Final[dict[str, ExecState]] = {
    "new": ExecState.ACK,
    "partially_filled": ExecState.PARTIAL,
    "filled": ExecState.FILLED,
    "cancelled": ExecState.CANCELLED,
    "expired": ExecState.EXPIRED,
}
"""A simulated venue's order status -> the state the gateway must have recorded."""

NEVER_AT_VENUE: Final = frozenset({OrderState.REJECTED, OrderState.CANCELLED})
"""What an order the venue never had may be: refused (by the venue or before sending), or
cancelled before it got there."""


def by_client_id(
    orders: Iterable[VenueOrderView],
) -> tuple[dict[str, VenueOrderView], Counter[str]]:
    """The venue's orders by client order id (the latest of an id) and how many orders
    each id has at the venue."""
    latest: dict[str, VenueOrderView] = {}
    count: Counter[str] = Counter()
    for order in orders:
        if order.client_order_id is not None:
            latest[order.client_order_id] = order
            count[order.client_order_id] += 1
    return latest, count


def disagreements(
    gw: Gateway,
    venue: Mapping[str, VenueOrderView],
    client_order_ids: Collection[str] | None = None,
) -> list[str]:
    """Where the gateway's ledger and the venue's orders (by client order id) differ, one
    line per order: for every order of the ledger (or of ``client_order_ids``)."""
    out = []
    for rec in gw.orders(limit=None):
        cid = rec.client_order_id
        if client_order_ids is not None and cid not in client_order_ids:
            continue
        at_venue = venue.get(cid)
        if at_venue is None:
            if rec.state not in NEVER_AT_VENUE:
                out.append(f"{cid}: {rec.state} here, no order at the venue")
            continue
        want = VENUE_STATES[at_venue.status]
        if rec.state.exec_state is not want:
            out.append(f"{cid}: {rec.state} here, {at_venue.status} at the venue")
            continue
        if rec.venue_order_id != at_venue.order_id:
            out.append(f"{cid}: venue id {rec.venue_order_id} here, {at_venue.order_id} there")
            continue
        fills = sorted(f.venue_exec_id for f in gw.fills(cid))
        if fills != sorted(at_venue.fills):
            out.append(
                f"{cid}: {len(fills)} fills here, {len(at_venue.fills)} at the venue "
                f"({rec.state} {rec.type} {rec.time_in_force} filled {rec.filled_qty}, sends "
                f"{rec.send_attempts}; venue {at_venue.status} {at_venue.filled})"
            )
        elif Decimal(rec.filled_qty) != at_venue.filled:
            out.append(f"{cid}: filled {rec.filled_qty} here, {at_venue.filled} at the venue")
    return out
