"""Orders: idempotent order entry behind the trading switch, with lossless execution reports.

Every order passes :class:`~tradegw.orders.entry.OrderEntry`; a venue's adapter implements
:class:`~tradegw.orders.venue.OrderVenue`. See the README's "Orders" section.
"""

from tradegw.orders.entry import OrderEntry
from tradegw.orders.handle import OrderHandle
from tradegw.orders.instrument import OrderInstrument, check_order
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.requests import (
    CancelRequest,
    OrderRequest,
    is_client_order_id,
    new_client_order_id,
)
from tradegw.orders.states import TERMINAL_ORDER_STATES, OrderState
from tradegw.orders.stats import OrderEntryStats
from tradegw.orders.venue import (
    CancelOutcome,
    CancelResult,
    OrderVenue,
    PlaceOutcome,
    PlaceResult,
    VenueFill,
    VenueOrderStatus,
    VenueReport,
)

__all__ = [
    "TERMINAL_ORDER_STATES",
    "CancelOutcome",
    "CancelRequest",
    "CancelResult",
    "FillRecord",
    "OrderEntry",
    "OrderEntryStats",
    "OrderHandle",
    "OrderInstrument",
    "OrderLedger",
    "OrderRecord",
    "OrderRequest",
    "OrderState",
    "OrderVenue",
    "PlaceOutcome",
    "PlaceResult",
    "VenueFill",
    "VenueOrderStatus",
    "VenueReport",
    "check_order",
    "is_client_order_id",
    "new_client_order_id",
]
