"""The one place every order passes: :class:`OrderEntry`.

What it guarantees:

* **Idempotency.** An order is keyed by its ``client_order_id``. A submit with an id the
  ledger knows returns that order's handle and reaches no venue — across retries,
  reconnects and restarts (the ledger is a file). The row is written (``NEW``, on disk)
  before anything else happens, and ``SENT`` is written before each send.
* **The trading switch**, read from the gateway at the moment of each request:
  ``disabled`` records a submit as REJECTED ``trading_disabled`` and refuses cancels;
  ``cancel_only`` records submits as REJECTED ``cancel_only`` and lets cancels through;
  ``reduce_only`` has no position to judge by, so it is treated as ``cancel_only`` for new
  orders (reason ``reduce_only``); ``enabled`` blocks nothing. Nothing refused reaches a
  venue.
* **Checks** against the venue's tick, lot and minimums (:func:`check_order`): a failure
  is recorded REJECTED with a reason naming the field; nothing is sent.
* **Unknown outcomes.** A send that ends in a timeout, a 5xx or a lost connection leaves
  the order ``UNKNOWN``; it is reconciled by :meth:`OrderVenue.query` (no sooner than the
  venue's ``query_grace_s`` after the send) before anything else: found, its state and fills
  are adopted; definitely not found, the same request is sent again with the same
  ``client_order_id`` (up to ``orders.max_send_attempts`` sends, then REJECTED); a query
  that fails leaves it UNKNOWN and is asked again with backoff. On start-up every open
  order is reconciled the same way (one still ``NEW`` was never sent: it is recorded
  REJECTED ``not_sent_before_restart`` rather than sent late).
* **ExecReports.** Every change of a published state, and every fill, becomes exactly one
  :class:`~tradegw.schema.ExecReport`, numbered ``seq_provider`` 1, 2, 3 ... per (venue,
  symbol) in the ledger (numbering carries on after a restart). A fill is applied once
  (keyed by its venue execution id), a state never moves back: a late ACK after FILLED is
  ignored and counted (:attr:`OrderEntryStats.stale_reports`).

Everything runs on the event loop's thread; each ledger write is one synchronous
transaction, and no await ever separates reading an order from writing its change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from tradegw.config.models import OrdersConfig, TradingMode
from tradegw.errors import OrderRefused, UnknownOrder, one_line
from tradegw.orders.handle import OrderHandle
from tradegw.orders.instrument import OrderInstrument, check_order
from tradegw.orders.journal import OrderJournal
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.states import UNSETTLED_ORDER_STATES, OrderState, advances
from tradegw.orders.stats import OrderEntryStats
from tradegw.orders.venue import (
    CancelOutcome,
    CancelResult,
    OrderVenue,
    PlaceOutcome,
    PlaceResult,
    VenueOrderStatus,
    VenueReport,
)

if TYPE_CHECKING:
    from tradegw.orders.ledger import OrderLedger
    from tradegw.orders.requests import OrderRequest
    from tradegw.schema import Event

log = logging.getLogger("tradegw.orders")

T = TypeVar("T")

SWITCH_REASONS: Final[dict[str, str]] = {
    "disabled": "trading_disabled",
    "cancel_only": "cancel_only",
    "reduce_only": "reduce_only",
}
"""Trading mode -> the reason a submit is recorded REJECTED with."""

NOT_SENT_BEFORE_RESTART: Final = "not_sent_before_restart"
"""Reason of an order found ``NEW`` at start-up: recorded, never sent, and not sent late."""

_WORKING: Final = frozenset({OrderState.ACK, OrderState.PARTIAL})


class OrderEntry:
    """Submits and cancels orders on registered :class:`OrderVenue` adapters, with the
    ledger, the trading switch and ExecReports (see the module docstring).

    ``publish`` takes each ExecReport (the gateway passes its conductor's); ``trading_mode``
    is read at every submit and cancel. The caller owns ``ledger`` and closes it.
    """

    def __init__(
        self,
        ledger: OrderLedger,
        publish: Callable[[Event], None],
        *,
        trading_mode: Callable[[], TradingMode],
        config: OrdersConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._ledger = ledger
        self.stats = OrderEntryStats()
        self._journal = OrderJournal(ledger, publish, self.stats, clock)
        self._mode = trading_mode
        self.config = config or OrdersConfig()
        self._clock = clock
        self._venues: dict[str, OrderVenue] = {}
        self._started: set[str] = set()
        self._running = False
        self._stopped = False
        # One reconciliation task per order at most; other background work apart.
        self._reconciling: dict[str, asyncio.Task[None]] = {}
        self._recheck: set[str] = set()  # reconciliations asked for again while running
        self._background: set[asyncio.Task[Any]] = set()
        # Orders whose place() is awaited right now: a query could not tell them apart from
        # an order the venue never got.
        self._inflight: set[str] = set()
        self._cancelling: set[str] = set()
        self._cancel_attempts: Counter[str] = Counter()
        self._jitter = random.Random()

    # ---- venues and lifecycle ----

    def add_venue(self, venue: OrderVenue) -> None:
        """Registers ``venue`` under its name; once the entry runs, it is started (and its
        open orders reconciled) in the background.

        Raises:
            ValueError: a venue of that name is registered already.
        """
        if venue.name in self._venues:
            raise ValueError(f"an order venue {venue.name!r} is registered already")
        self._venues[venue.name] = venue
        if self._running:
            self._spawn(self._start_venue(venue), f"order-venue-{venue.name}")

    def venue_names(self) -> list[str]:
        """The registered venues."""
        return list(self._venues)

    def venue(self, name: str) -> OrderVenue:
        """The order venue registered as ``name``. Raises ``KeyError`` for another."""
        return self._venues[name]

    async def start(self) -> None:
        """Starts every registered venue (its private stream) and reconciles the ledger's
        open orders of each."""
        self._running = True
        for venue in list(self._venues.values()):
            await self._start_venue(venue)

    async def _start_venue(self, venue: OrderVenue) -> None:
        await venue.start(
            partial(self._on_report, venue.name), partial(self._on_stream_gap, venue.name)
        )
        self._started.add(venue.name)
        for order in self._ledger.open_orders(venue.name):
            cid = order.client_order_id
            if order.state is OrderState.NEW and cid not in self._inflight:
                self._journal.change(
                    order,
                    state=OrderState.REJECTED,
                    reason=f"{NOT_SENT_BEFORE_RESTART}: recorded, never sent, not sent late",
                )
            else:
                self._reconcile_later(cid)

    async def stop(self) -> None:
        """Stops every task and venue. Nothing more is written: an order left ``SENT`` or
        ``UNKNOWN`` is reconciled at the next start, as after a crash."""
        self._running = False
        self._stopped = True
        tasks = [*self._reconciling.values(), *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._reconciling.clear()
        self._recheck.clear()
        self._background.clear()
        for name in list(self._started):
            try:
                await self._venues[name].stop()
            except Exception as e:
                log.warning("order venue %s: stop failed: %s", name, one_line(e))
        self._started.clear()
        self._journal.cancel_waiters()

    async def drain(self) -> None:
        """Waits until no reconciliation or other background work is left (tests, tools)."""
        while True:
            pending = [t for t in (*self._reconciling.values(), *self._background) if not t.done()]
            if not pending:
                return
            await asyncio.wait(pending)

    # ---- reads ----

    def order(self, client_order_id: str) -> OrderRecord | None:
        """The order ``client_order_id`` as recorded, or None."""
        return self._ledger.get(client_order_id)

    def orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        open_only: bool = False,
        limit: int | None = 100,
    ) -> list[OrderRecord]:
        """Recorded orders, newest first (see :meth:`OrderLedger.orders`)."""
        return self._ledger.orders(venue=venue, symbol=symbol, open_only=open_only, limit=limit)

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """The fills recorded for an order."""
        return self._ledger.fills(client_order_id)

    def changed(self, client_order_id: str) -> asyncio.Future[None]:
        """A future done at the next recorded change of the order."""
        return self._journal.changed(client_order_id)

    def venue_knows_more(self, client_order_id: str) -> bool:
        """Whether the order's venue may know more than the ledger: the order is open, or
        the venue counted fills the ledger has not recorded (False for an unknown id)."""
        order = self._ledger.get(client_order_id)
        if order is None:
            return False
        return not order.state.terminal or self._journal.fills_missing(order)

    async def reconcile(self, client_order_id: str) -> None:
        """Has the order reconciled with its venue now, unless a reconciliation of it runs
        already (one asked for at start-up, after a gap or an unknown answer), and waits
        until none runs: the venue's view is adopted then. Returns at once when the venue
        cannot tell more (see :meth:`venue_knows_more`). A venue that cannot answer is
        asked again with backoff for as long as the entry runs: bound the wait."""
        cid = client_order_id
        task = self._reconciling.get(cid)
        if (task is None or task.done()) and self.venue_knows_more(cid):
            self._reconcile_later(cid)
        while True:
            task = self._reconciling.get(cid)
            if task is None or task.done():
                return
            await asyncio.wait({task})

    def handle(self, client_order_id: str) -> OrderHandle:
        """A handle on a recorded order.

        Raises:
            UnknownOrder: no order has that id.
        """
        if self._ledger.get(client_order_id) is None:
            raise UnknownOrder(f"no order with client_order_id {client_order_id!r}")
        return OrderHandle(self, client_order_id)

    # ---- submit ----

    async def submit(self, request: OrderRequest) -> OrderHandle:
        """Records and sends a new order; returns once the venue's first answer is in (the
        handle's state is then ACK or beyond, REJECTED, or UNKNOWN while reconciliation
        goes on in the background). A known ``client_order_id`` returns that order's handle
        (``duplicate`` True) and sends nothing. Cancelling the caller does not cancel the
        send: the order's fate is settled all the same.

        Raises:
            RuntimeError: the entry is not running.
        """
        if not self._running:
            raise RuntimeError("the order entry is not running (start it first)")
        self.stats.submits += 1
        cid = request.client_order_id
        known = self._ledger.get(cid)
        if known is not None:
            self.stats.duplicate_submits += 1
            differs = _differences(known, request)
            if differs:
                log.warning(
                    "order %s submitted again with other %s; the recorded order stands",
                    cid,
                    ", ".join(differs),
                )
            return OrderHandle(self, cid, duplicate=True)
        venue = self._venues.get(request.venue)
        instrument = venue.instrument(request.symbol) if venue is not None else None
        now = self._clock()
        order = OrderRecord(
            client_order_id=cid,
            venue=request.venue,
            symbol=request.symbol,
            venue_symbol=instrument.venue_symbol if instrument is not None else request.symbol,
            side=request.side,
            type=request.type,
            qty=request.qty,
            price=request.price,
            time_in_force=request.time_in_force,
            post_only=request.post_only,
            state=OrderState.NEW,
            decision_id=request.decision_id,
            created_ns=now,
            updated_ns=now,
        )
        refusal = self._refusal(request, instrument)
        if refusal is not None:
            order = dataclasses.replace(order, state=OrderState.REJECTED, reason=refusal)
            self._journal.record_rejected(order)
            log.warning(
                "order %s rejected before sending: %s (decision_id=%s)",
                cid,
                refusal,
                request.decision_id,
            )
            return OrderHandle(self, cid)
        self._journal.record_new(order)
        self._inflight.add(cid)  # until its send is answered: never "not sent" meanwhile
        log.info(
            "order %s NEW %s %s %s %s @ %s on %s (decision_id=%s)",
            cid,
            order.side,
            order.type,
            order.qty,
            order.symbol,
            order.price,
            order.venue,
            order.decision_id,
        )
        # A task of its own, so that a caller giving up does not abandon the send midway.
        await asyncio.shield(self._spawn(self._send(cid), f"send-{cid}"))
        return OrderHandle(self, cid)

    def _refusal(self, request: OrderRequest, instrument: OrderInstrument | None) -> str | None:
        mode = self._mode()
        if mode != "enabled":
            self.stats.refused_by_switch += 1
            return SWITCH_REASONS[mode]
        if request.venue not in self._venues:
            self.stats.invalid += 1
            return (
                f"venue {request.venue!r} has no order venue registered "
                f"(registered: {sorted(self._venues)})"
            )
        if instrument is None:
            self.stats.invalid += 1
            return f"symbol {request.symbol} is not tradable on {request.venue}"
        problem = check_order(request, instrument)
        if problem is not None:
            self.stats.invalid += 1
        return problem

    # ---- sending ----

    async def _send(self, cid: str) -> None:
        """Sends order ``cid`` (NEW, or SENT/UNKNOWN that a query proved absent) once."""
        self._inflight.add(cid)
        try:
            result = await self._send_once(cid)
        finally:
            self._inflight.discard(cid)
        if result is not None:
            self._on_placed(cid, result)

    async def _send_once(self, cid: str) -> PlaceResult | None:
        order = self._ledger.get(cid)
        # SENT here is an earlier process's send that a query proved never arrived.
        if order is None or order.state not in (
            OrderState.NEW,
            OrderState.SENT,
            OrderState.UNKNOWN,
        ):
            return None
        venue = self._venues.get(order.venue)
        if venue is None:
            return None
        if order.cancel_requested:
            # The venue has never had it, and the caller no longer wants it.
            self._journal.change(
                order, state=OrderState.CANCELLED, reason="cancelled before it reached the venue"
            )
            return None
        now = self._clock()
        # On disk before the first byte: after a crash, SENT means "may be at the venue".
        order = self._journal.change(
            order,
            state=OrderState.SENT,
            send_attempts=order.send_attempts + 1,
            last_sent_ns=now,
            reason=None,
        )
        self.stats.sends += 1
        if order.send_attempts > 1:
            self.stats.resends += 1
            log.warning("order %s: sending again (attempt %d)", cid, order.send_attempts)
        try:
            return await self._call(venue.place(order))
        except Exception as e:  # whatever went wrong, the request may have left
            return PlaceResult.unknown(one_line(e))

    def _on_placed(self, cid: str, result: PlaceResult) -> None:
        order = self._ledger.get(cid)
        assert order is not None
        if result.outcome is PlaceOutcome.ACCEPTED:
            fields: dict[str, Any] = {}
            if order.venue_order_id is None:
                fields["venue_order_id"] = result.venue_order_id
            if advances(order.state, OrderState.ACK):
                fields.update(state=OrderState.ACK, reason=None)
            if fields:
                order = self._journal.change(order, **fields)
            self._cancel_if_asked(order)
        elif result.outcome is PlaceOutcome.REJECTED:
            if order.state in UNSETTLED_ORDER_STATES:
                self._journal.change(order, state=OrderState.REJECTED, reason=result.reason)
            else:  # a private-stream update already said the venue has it: that wins
                log.warning(
                    "order %s: venue answered rejected (%s) but reported %s; keeping %s",
                    cid,
                    result.reason,
                    order.state,
                    order.state,
                )
        else:
            self.stats.unknown += 1
            if order.state is OrderState.SENT:
                order = self._journal.change(order, state=OrderState.UNKNOWN, reason=result.reason)
                log.warning(
                    "order %s UNKNOWN after send %d: %s (decision_id=%s)",
                    cid,
                    order.send_attempts,
                    result.reason,
                    order.decision_id,
                )
            if order.state in UNSETTLED_ORDER_STATES:
                self._reconcile_later(cid)

    # ---- reconciliation ----

    def _reconcile_later(self, cid: str) -> None:
        task = self._reconciling.get(cid)
        if task is not None and not task.done():
            # What it is asking about may have changed after its query was answered (a
            # stream gap, a report counting fills we never saw): it goes round once more.
            self._recheck.add(cid)
            return
        if self._stopped:
            return
        task = asyncio.get_running_loop().create_task(self._reconcile(cid), name=f"reconcile-{cid}")
        self._reconciling[cid] = task
        task.add_done_callback(partial(self._reconciled, cid))

    def _reconciled(self, cid: str, task: asyncio.Task[None]) -> None:
        if self._reconciling.get(cid) is task:
            del self._reconciling[cid]
            self._recheck.discard(cid)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("order %s: reconciliation failed: %s", cid, one_line(error))

    async def _reconcile(self, cid: str) -> None:
        """Settles what the ledger does not know about order ``cid``: for an UNSETTLED
        order whether the venue has it (then re-sends it or adopts it), for a working one
        its current state and fills, for a closed one its missing fills."""
        delay = self.config.reconcile_backoff_s
        while True:
            order = self._ledger.get(cid)
            if order is None or order.state is OrderState.NEW:
                return
            venue = self._venues.get(order.venue)
            if venue is None or order.venue not in self._started:
                return  # reconciled when the venue starts
            if cid in self._inflight:  # its own send is still awaiting the answer
                await asyncio.sleep(self._backoff(delay))
                continue
            if order.state.terminal and not self._journal.fills_missing(order):
                return
            if order.state in UNSETTLED_ORDER_STATES and order.last_sent_ns is not None:
                grace_ns = int(venue.query_grace_s * 1e9)
                wait_s = (order.last_sent_ns + grace_ns - self._clock()) / 1e9
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                    continue
            self._recheck.discard(cid)
            try:
                settled = await self._query_and_adopt(venue, cid)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.stats.query_failures += 1
                log.info("order %s: %s cannot say now: %s", cid, order.venue, one_line(e))
                settled = False
            if settled and cid not in self._recheck:
                return
            await asyncio.sleep(self._backoff(delay))
            delay = min(delay * 2, self.config.reconcile_backoff_max_s)

    async def _query_and_adopt(self, venue: OrderVenue, cid: str) -> bool:
        """One round of reconciliation; True when there is nothing left to do."""
        order = self._ledger.get(cid)
        assert order is not None
        if order.state.terminal:  # only fills are missing
            return await self._recover_fills(venue, cid)
        self.stats.queries += 1
        status = await self._call(venue.query(order))
        order = self._ledger.get(cid)
        assert order is not None
        if status is not None:
            if not await self._adopt(venue, cid, status):
                return False
            order = self._ledger.get(cid)
            assert order is not None
            self._cancel_if_asked(order)
            return True
        if order.state not in UNSETTLED_ORDER_STATES:
            log.warning(
                "order %s is %s here but %s has no such order; left as it is",
                cid,
                order.state,
                order.venue,
            )
            return True
        if cid in self._inflight:
            return False
        if order.send_attempts >= self.config.max_send_attempts:
            self._journal.change(
                order,
                state=OrderState.REJECTED,
                reason=f"not_accepted: {order.venue} has no such order after "
                f"{order.send_attempts} sends",
            )
            return True
        await self._send(cid)
        order = self._ledger.get(cid)
        assert order is not None
        return order.state not in UNSETTLED_ORDER_STATES

    async def _adopt(self, venue: OrderVenue, cid: str, status: VenueOrderStatus) -> bool:
        """Takes the venue's view of the order: missing fills first, then its state. False
        when the fills could not be fetched (asked again later)."""
        if Decimal(status.filled_qty) > self._journal.recorded_qty(
            cid
        ) and not await self._recover_fills(venue, cid, venue_order_id=status.venue_order_id):
            return False
        order = self._journal.apply_status(cid, status)
        self.stats.adopted += 1
        log.info("order %s reconciled: %s at %s", cid, order.state, order.venue)
        return True

    async def _recover_fills(
        self, venue: OrderVenue, cid: str, *, venue_order_id: str | None = None
    ) -> bool:
        order = self._ledger.get(cid)
        assert order is not None
        if venue_order_id is not None and order.venue_order_id is None:
            order = self._journal.change(order, venue_order_id=venue_order_id)
        fills = await self._call(venue.fills(order))
        for fill in fills:
            self._journal.apply_fill(cid, fill)
        return True

    def _backoff(self, delay: float) -> float:
        return delay * self._jitter.uniform(0.8, 1.2)

    # ---- the private stream ----

    def _on_report(self, venue_name: str, report: VenueReport) -> None:
        try:
            order = self._journal.apply_report(venue_name, report)
            if order is not None:
                if self._journal.fills_missing(order):  # it counts fills we never saw
                    self._reconcile_later(order.client_order_id)
                self._cancel_if_asked(order)
        except Exception:  # never into the venue's reader: log it and carry on
            log.exception(
                "order %s: update from %s not applied", report.client_order_id, venue_name
            )

    def _on_stream_gap(self, venue_name: str) -> None:
        open_orders = self._ledger.open_orders(venue_name)
        log.warning(
            "order venue %s: private stream gap; reconciling %d open orders",
            venue_name,
            len(open_orders),
        )
        for order in open_orders:
            if order.state is not OrderState.NEW:
                self._reconcile_later(order.client_order_id)

    # ---- cancel ----

    async def cancel(self, client_order_id: str) -> OrderHandle:
        """Cancels an order; returns once the venue has answered (or at once when there is
        nothing to send: the order is closed, or not yet known to the venue — then the
        cancel is sent as soon as it is, or the order ends CANCELLED if it never was).

        Raises:
            UnknownOrder: no order has that id.
            OrderRefused: the trading switch is ``disabled`` (reason ``trading_disabled``).
        """
        cid = client_order_id
        order = self._ledger.get(cid)
        if order is None:
            raise UnknownOrder(f"no order with client_order_id {cid!r}")
        if self._mode() == "disabled":
            self.stats.refused_by_switch += 1
            raise OrderRefused("trading_disabled", f"cancel of {cid} refused: trading is disabled")
        if order.state.terminal:
            return OrderHandle(self, cid)
        if not order.cancel_requested:
            # Recorded, so that a restart still cancels an order found working.
            order = self._journal.change(order, cancel_requested=True)
        if order.state in _WORKING:
            await asyncio.shield(self._spawn(self._send_cancel(cid), f"cancel-{cid}"))
        elif order.state in UNSETTLED_ORDER_STATES:
            self._reconcile_later(cid)
        return OrderHandle(self, cid)

    def _cancel_if_asked(self, order: OrderRecord) -> None:
        cid = order.client_order_id
        if order.cancel_requested and order.state in _WORKING and cid not in self._cancelling:
            self._spawn(self._send_cancel(cid), f"cancel-{cid}")

    async def _send_cancel(self, cid: str) -> None:
        order = self._ledger.get(cid)
        if order is None or order.state not in _WORKING or cid in self._cancelling:
            return
        tries = self.config.max_send_attempts
        if self._cancel_attempts[cid] >= tries:
            log.warning("order %s: cancel sent %d times, not again", cid, tries)
            return
        venue = self._venues.get(order.venue)
        if venue is None or order.venue not in self._started:
            return  # sent once the venue starts and the order is reconciled
        self._cancel_attempts[cid] += 1
        self.stats.cancels_sent += 1
        self._cancelling.add(cid)
        try:
            result = await self._call(venue.cancel(order))
        except Exception as e:
            result = CancelResult.unknown(one_line(e))
        finally:
            self._cancelling.discard(cid)
        order = self._ledger.get(cid)
        assert order is not None
        if result.outcome is CancelOutcome.CANCELLED:
            if advances(order.state, OrderState.CANCELLED):
                self._journal.change(
                    order, state=OrderState.CANCELLED, reason="cancelled on request"
                )
        elif result.outcome is not CancelOutcome.PENDING:
            log.info("order %s: cancel %s (%s), asking", cid, result.outcome, result.reason)
            self._reconcile_later(cid)

    # ---- helpers ----

    async def _call(self, call: Awaitable[T]) -> T:
        """``call`` under the request timeout; its expiry raises a TimeoutError saying so
        (one the adapter raised itself keeps its own words)."""
        limit = self.config.request_timeout_s
        scope = asyncio.timeout(limit)
        try:
            async with scope:
                return await call
        except TimeoutError:
            if scope.expired():
                raise TimeoutError(f"no answer within {limit}s") from None
            raise

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task


def _log_failure(task: asyncio.Task[Any]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None:
        log.error("%s failed: %s", task.get_name(), one_line(error))


def _differences(order: OrderRecord, request: OrderRequest) -> list[str]:
    """The fields in which a repeated request differs from the recorded order."""
    pairs = {
        "venue": (order.venue, request.venue),
        "symbol": (order.symbol, request.symbol),
        "side": (order.side, request.side),
        "type": (order.type, request.type),
        "qty": (order.qty, request.qty),
        "price": (order.price, request.price),
        "time_in_force": (order.time_in_force, request.time_in_force),
        "post_only": (order.post_only, request.post_only),
    }
    return [name for name, (a, b) in pairs.items() if a != b]


__all__ = [
    "NOT_SENT_BEFORE_RESTART",
    "SWITCH_REASONS",
    "OrderEntry",
    "OrderEntryStats",
    "OrderHandle",
]
