"""The venue-neutral interface a venue's order adapter implements: :class:`OrderVenue`.

The order entry (:class:`tradegw.orders.entry.OrderEntry`) owns every decision about an
order — idempotency, the trading switch, checks, the ledger, retries, reconciliation,
ExecReports. A venue adapter only translates: one order request out, one answer back, a
query, a list of fills, and the venue's private stream turned into :class:`VenueReport`
values. It never retries a request that may have reached the venue (that is how duplicates
happen) and never decides that an order failed when it merely does not know.

What the entry calls, and when::

    start(on_report, on_stream_gap)   once, at gateway start-up
    instrument(symbol)                before every submit (tick, lot, minimum size)
    place(order)                      once per send; the ledger says SENT before it is called
    query(order)                      after an unknown answer (no sooner than query_grace_s
                                      after the send), at start-up for every open order,
                                      and after on_stream_gap()
    fills(order)                      when a query shows fills the entry has not seen
    cancel(order)                     for a cancel request
    stop()                            at gateway shutdown

Every call has the entry's timeout around it (``orders.request_timeout_s``): a ``place``
that times out or raises is an unknown answer, a ``query`` or ``fills`` that does is "cannot
say now" (asked again with backoff). Prices and quantities are decimal text everywhere;
never floats.

Mapping the venues' order states (protocols.md §1.7, §2.1, §3.6) to :class:`ExecState`:
ACK for working (Binance ``NEW``, Kraken ``new``, Coinbase ``OPEN``), PARTIAL for a fill that
leaves the order working, FILLED, CANCELLED, EXPIRED (IOC/FOK/market remainders, Binance
``EXPIRED_IN_MATCH``), REJECTED. Pre-acknowledgement states (Binance ``PENDING_NEW``, Kraken
``pending_new``) and informational events (amend, restate) are not reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from tradegw.schema import ExecState

if TYPE_CHECKING:
    from tradegw.orders.instrument import OrderInstrument
    from tradegw.orders.record import OrderRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFill:
    """One execution of an order as the venue lists it (REST recovery)."""

    venue_exec_id: str
    """The venue's id of this execution (Binance trade id, Kraken ``exec_id``/trade txid,
    Coinbase ``trade_id``): the dedup key with the client order id."""
    qty: str
    """Quantity of this execution, base units."""
    price: str
    """Price of this execution."""
    fee: str | None = None
    """Fee charged for it, if the venue says."""
    fee_asset: str | None = None
    """Asset of ``fee``."""
    exchange_ts: int | None = None
    """Venue time of the execution, ns since the epoch."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueReport:
    """One update of one of our orders from the venue's private stream (Binance
    ``executionReport``, Kraken ``executions``, Coinbase ``user``), mapped to canonical terms.

    A report that announces a fill sets ``last_fill_qty``, ``last_fill_price`` and, where the
    venue gives it, ``venue_exec_id`` (without one the entry keys the fill by the cumulative
    ``filled_qty``, which a repeat of the same report repeats). A fill that completes the
    order may come in the same report as FILLED (Binance) or as a PARTIAL report followed by a
    FILLED one without a fill (Kraken ``trade`` then ``filled``); both are fine.
    """

    client_order_id: str
    """Our id of the order (Binance ``c``, or ``C`` on a cancel; Kraken ``cl_ord_id``;
    Coinbase ``client_order_id``)."""
    state: ExecState
    """The order's state after this update."""
    filled_qty: str
    """Cumulative filled quantity after this update (Binance ``z``, Kraken ``cum_qty``,
    Coinbase ``cumulative_quantity``)."""
    venue_order_id: str | None = None
    """The venue's order id, when the update carries it."""
    last_fill_qty: str | None = None
    """Quantity of the fill this update announces; None when it announces none."""
    last_fill_price: str | None = None
    """Price of that fill."""
    fee: str | None = None
    """Fee of that fill."""
    fee_asset: str | None = None
    """Asset of that fee."""
    venue_exec_id: str | None = None
    """The venue's id of that fill (see :attr:`VenueFill.venue_exec_id`)."""
    reason: str | None = None
    """The venue's words for a rejection, cancellation or expiry."""
    exchange_ts: int | None = None
    """Venue time of the update, ns since the epoch."""

    def fill(self) -> VenueFill | None:
        """The fill this update announces, if any."""
        if self.last_fill_qty is None or self.last_fill_price is None:
            return None
        return VenueFill(
            venue_exec_id=self.venue_exec_id or f"cum:{self.filled_qty}",
            qty=self.last_fill_qty,
            price=self.last_fill_price,
            fee=self.fee,
            fee_asset=self.fee_asset,
            exchange_ts=self.exchange_ts,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueOrderStatus:
    """An order as the venue's query answers it (Binance ``GET /api/v3/order`` by
    ``origClientOrderId``, Kraken ``QueryOrders`` by ``cl_ord_id``, Coinbase list orders by
    ``client_order_id``): open or closed, it exists at the venue."""

    client_order_id: str
    venue_order_id: str
    state: ExecState
    """Its state now."""
    filled_qty: str
    """Cumulative filled quantity."""
    reason: str | None = None
    """The venue's words for a rejection, cancellation or expiry."""
    exchange_ts: int | None = None
    """Venue time of its last change, ns since the epoch."""


class PlaceOutcome(StrEnum):
    """What the venue's answer to an order request says."""

    ACCEPTED = "accepted"
    """The venue created the order (``venue_order_id`` names it)."""
    REJECTED = "rejected"
    """The venue definitely did not create it and never will from this request."""
    UNKNOWN = "unknown"
    """Anything else: the venue may or may not have created it."""


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """The answer to :meth:`OrderVenue.place`; build it with :meth:`accepted`,
    :meth:`rejected` or :meth:`unknown`.

    ``unknown`` is the answer whenever the venue has not *definitely* said: a timeout, a
    connection lost after the request was written, an HTTP 5xx, Binance ``-1007`` ("send
    status unknown"), and also a venue's "client order id already in use" (Binance ``-2010
    Duplicate order sent.``, Kraken ``EOrder:Duplicate...``): the entry then asks
    :meth:`OrderVenue.query`, which finds the order. ``rejected`` is for answers that say
    the order was not created: insufficient funds, a filter or precision failure, post-only
    would take, an unknown symbol, a rate-limit refusal of the request itself. The reason is
    the venue's own words (``"-2010 Account has insufficient balance"``).
    """

    outcome: PlaceOutcome
    venue_order_id: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.outcome is PlaceOutcome.ACCEPTED and not self.venue_order_id:
            raise ValueError("an accepted order needs its venue_order_id")
        if self.outcome is not PlaceOutcome.ACCEPTED and not self.reason:
            raise ValueError(f"a {self.outcome} answer needs a reason")

    @classmethod
    def accepted(cls, venue_order_id: str) -> PlaceResult:
        """The venue created the order."""
        return cls(PlaceOutcome.ACCEPTED, venue_order_id=venue_order_id)

    @classmethod
    def rejected(cls, reason: str) -> PlaceResult:
        """The venue refused it: not created, and never will be from this request."""
        return cls(PlaceOutcome.REJECTED, reason=reason)

    @classmethod
    def unknown(cls, reason: str) -> PlaceResult:
        """No answer that says: the venue may have the order."""
        return cls(PlaceOutcome.UNKNOWN, reason=reason)


class CancelOutcome(StrEnum):
    """What the venue's answer to a cancel request says."""

    CANCELLED = "cancelled"
    """The order is cancelled now (Binance's answer carries ``CANCELED``)."""
    PENDING = "pending"
    """The venue took the request; the outcome will come as a :class:`VenueReport`
    (Coinbase batch cancel ``success``, Kraken ``cancel_order`` success)."""
    REJECTED = "rejected"
    """The venue refused: unknown order, already filled or cancelled (the entry queries the
    order to learn its state)."""
    UNKNOWN = "unknown"
    """No answer: the entry queries the order to learn what happened."""


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The answer to :meth:`OrderVenue.cancel`; build it with the class methods."""

    outcome: CancelOutcome
    reason: str | None = None

    @classmethod
    def cancelled(cls) -> CancelResult:
        """The order is cancelled now."""
        return cls(CancelOutcome.CANCELLED)

    @classmethod
    def pending(cls) -> CancelResult:
        """Taken; the final state comes on the private stream."""
        return cls(CancelOutcome.PENDING)

    @classmethod
    def rejected(cls, reason: str) -> CancelResult:
        """Refused, in the venue's words."""
        return cls(CancelOutcome.REJECTED, reason)

    @classmethod
    def unknown(cls, reason: str) -> CancelResult:
        """No answer that says."""
        return cls(CancelOutcome.UNKNOWN, reason)


ReportCallback = Callable[[VenueReport], None]
"""Takes one private-stream update. Synchronous, never raises, cheap (one ledger write)."""

StreamGapCallback = Callable[[], None]
"""Says "updates may have been missed": the entry then reconciles every open order of the
venue (query, then fills)."""


class OrderVenue(Protocol):
    """A venue's order adapter, as the order entry uses it (see the module docstring).

    Implementations: :class:`tradegw.orders.fake.FakeOrderVenue` (in process, over the
    simulator's matching engine: the reference), and one per venue adapter. Register one
    with :meth:`tradegw.gateway.Gateway.register_order_venue`.
    """

    @property
    def name(self) -> str:
        """The venue's registry name (``binance``); :attr:`OrderRequest.venue` names it."""
        ...

    @property
    def query_grace_s(self) -> float:
        """Seconds after a send before :meth:`query` answering None is believed.

        A request can still be in flight, or queued in the venue's engine, when a query
        arrives; "not found" only means "never" once the venue would refuse the request if
        it turned up now. Binance: the request's ``recvWindow`` (a request older than it is
        refused). A venue without such a rule: a generous bound on its processing time.
        """
        ...

    def instrument(self, symbol: str) -> OrderInstrument | None:
        """The trading rules of canonical ``symbol``, or None if the venue does not list it
        (or has not loaded its reference data yet). Synchronous: read from what
        :meth:`start` loaded."""
        ...

    async def start(self, on_report: ReportCallback, on_stream_gap: StreamGapCallback) -> None:
        """Loads reference data and starts the private stream; returns once the stream's
        task is running (not necessarily connected).

        Call ``on_report`` for every update of an order, in the order the venue sent them
        (duplicates are harmless: the entry applies a fill once and never moves a state
        back). Call ``on_stream_gap`` whenever updates may have been missed: after the
        stream reconnects and is subscribed again, or when the venue's own sequence skips
        (Kraken ``executions`` ``sequence``). Updates of orders this gateway did not place
        are ignored (counted)."""
        ...

    async def stop(self) -> None:
        """Closes the private stream and any connection; safe to call twice."""
        ...

    async def place(self, order: OrderRecord) -> PlaceResult:
        """Sends ``order`` once, with ``order.client_order_id`` as the venue's client id,
        and returns what the answer says (see :class:`PlaceResult`).

        Never retry inside: a second request after one that may have arrived is a duplicate
        order on a venue that accepts reused ids once the first has closed. Rate limits
        are waited for *before* sending. A venue whose answer carries fills (Binance
        ``newOrderRespType=FULL``) may pass them to ``on_report`` before returning."""
        ...

    async def cancel(self, order: OrderRecord) -> CancelResult:
        """Asks the venue to cancel ``order`` (by client id, or by ``venue_order_id`` where
        the venue needs it: Coinbase looks it up by client id when None)."""
        ...

    async def query(self, order: OrderRecord) -> VenueOrderStatus | None:
        """The venue's view of ``order``, open or closed; None only when the venue
        definitely has no such order and never will from an earlier request (see
        :attr:`query_grace_s`).

        Raises:
            VenueUnavailable: the venue cannot say now (timeout, 5xx, not connected). Never
                answer None for that: None lets the entry send the order again.
        """
        ...

    async def fills(self, order: OrderRecord) -> list[VenueFill]:
        """Every execution of ``order`` the venue lists, oldest first (Binance
        ``myTrades`` by ``orderId``, Kraken ``QueryTrades``/``TradesHistory``, Coinbase list
        fills by ``order_id``).

        Raises:
            VenueUnavailable: the venue cannot say now.
        """
        ...


__all__ = [
    "CancelOutcome",
    "CancelResult",
    "OrderVenue",
    "PlaceOutcome",
    "PlaceResult",
    "ReportCallback",
    "StreamGapCallback",
    "VenueFill",
    "VenueOrderStatus",
    "VenueReport",
]
