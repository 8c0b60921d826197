"""The only writer of the order ledger: :class:`OrderJournal`.

Every change of an order passes here and is written in one transaction; each change of a
published state, and each new fill, is announced as exactly one
:class:`~tradegw.schema.ExecReport`, numbered and kept in the ledger's outbox in that same
transaction (so a sink that publishes from the outbox, like the NATS sink, loses none to a
crash), then handed to ``publish`` for the in-process consumers. The rules that make
the ExecReport stream lossless and free of repeats live here too: a fill is recorded once
(keyed by its venue execution id), a state only moves forward (:func:`advances`), and a
venue's cumulative quantity never lowers what is known.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.reports import decimal_text, fill_totals
from tradegw.orders.states import OrderState, advances
from tradegw.orders.stats import LastFill

if TYPE_CHECKING:
    from tradegw.orders.ledger import OrderLedger
    from tradegw.orders.stats import OrderEntryStats
    from tradegw.orders.venue import VenueFill, VenueOrderStatus, VenueReport
    from tradegw.schema import Event, ExecReport

log = logging.getLogger("tradegw.orders")


class OrderJournal:
    """Writes order changes to ``ledger`` and announces them through ``publish``."""

    def __init__(
        self,
        ledger: OrderLedger,
        publish: Callable[[Event], None],
        stats: OrderEntryStats,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.ledger = ledger
        self._publish = publish
        self._stats = stats
        self._clock = clock
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    # ---- new orders ----

    def record_new(self, order: OrderRecord) -> None:
        """Records a NEW order (on disk when this returns); nothing is announced.

        Raises:
            sqlite3.IntegrityError: its client_order_id is recorded already.
        """
        self.ledger.add(order)

    def record_rejected(self, order: OrderRecord) -> None:
        """Records an order the gateway refused before sending, and announces it."""
        report = self.ledger.add(order, announce=True)
        assert report is not None
        self._stats.entered[(order.venue, order.state.value)] += 1
        self._announce(report)

    # ---- changes ----

    def change(
        self,
        order: OrderRecord,
        *,
        fill: FillRecord | None = None,
        announce: bool | None = None,
        exchange_ts: int | None = None,
        **fields: Any,
    ) -> OrderRecord:
        """Writes ``order`` with ``fields`` changed (and ``fill``) in one transaction and
        announces it when a published state changed (or when ``announce``)."""
        new = dataclasses.replace(order, updated_ns=self._clock(), **fields)
        if announce is None:
            announce = new.state is not order.state and new.state.exec_state is not None
        elif announce and new.state.exec_state is None:
            # NEW, SENT and UNKNOWN are never published: nothing to number or keep.
            log.warning("order %s: no ExecReport for state %s", new.client_order_id, new.state)
            announce = False
        report = self.ledger.commit(new, fill=fill, announce=announce, exchange_ts=exchange_ts)
        if new.state is not order.state and new.state.exec_state is not None:
            self._stats.entered[(new.venue, new.state.value)] += 1
        if new.state is not order.state:
            log.info(
                "order %s %s -> %s%s (decision_id=%s)",
                new.client_order_id,
                order.state,
                new.state,
                f": {new.reason}" if new.reason else "",
                new.decision_id,
            )
        if report is not None:
            self._announce(report)
        self._wake(new.client_order_id)
        return new

    def apply_fill(
        self,
        cid: str,
        fill: VenueFill,
        *,
        state: OrderState | None = None,
        venue_order_id: str | None = None,
        cumulative: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Records ``fill`` once and announces it with the state it brings: the furthest
        of ``state`` (what the venue said) and FILLED or PARTIAL by quantity, if that
        advances. A fill after a terminal state is still recorded and announced once (the
        state stays). False when the fill was recorded already."""
        if self.ledger.has_fill(cid, fill.venue_exec_id):
            self._stats.duplicate_fills += 1
            return False
        order = self._get(cid)
        record = FillRecord(
            client_order_id=cid,
            venue_exec_id=fill.venue_exec_id,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            exchange_ts=fill.exchange_ts,
            recorded_ns=self._clock(),
        )
        total, avg = fill_totals([*self.ledger.fills(cid), record])
        filled = max(total, Decimal(order.filled_qty), Decimal(cumulative or "0"))
        new_state = order.state
        by_qty = OrderState.FILLED if filled >= Decimal(order.qty) else OrderState.PARTIAL
        for candidate in (by_qty, state):
            if candidate is not None and advances(new_state, candidate):
                new_state = candidate
        same = filled == Decimal(order.filled_qty)
        fields: dict[str, Any] = {
            "state": new_state,
            "filled_qty": order.filled_qty if same else decimal_text(filled),
            "avg_price": avg,
        }
        if venue_order_id is not None and order.venue_order_id is None:
            fields["venue_order_id"] = venue_order_id
        if new_state is not order.state and reason is not None:
            fields["reason"] = reason
        self.change(order, fill=record, announce=True, **fields)
        self._stats.fills += 1
        self._stats.venue_fills[order.venue] += 1
        self._stats.last_fill[order.venue] = LastFill(
            order.symbol, order.side, record.qty, record.price, record.recorded_ns
        )
        return True

    def apply_report(self, venue: str, report: VenueReport) -> OrderRecord | None:
        """Applies one private-stream update of ``venue``; returns the order after it, or
        None when the order is not one this gateway placed on that venue (counted)."""
        self._stats.reports += 1
        cid = report.client_order_id
        order = self.ledger.get(cid)
        if order is None or order.venue != venue:
            self._stats.foreign_reports += 1
            return None
        state = OrderState.of(report.state)
        fill = report.fill()
        applied = fill is not None and self.apply_fill(
            cid,
            fill,
            state=state,
            venue_order_id=report.venue_order_id,
            cumulative=report.filled_qty,
            reason=report.reason,
        )
        if not applied:
            order = self._get(cid)
            fields: dict[str, Any] = {}
            if report.venue_order_id is not None and order.venue_order_id is None:
                fields["venue_order_id"] = report.venue_order_id
            if Decimal(report.filled_qty) > Decimal(order.filled_qty):
                fields["filled_qty"] = report.filled_qty
            if advances(order.state, state):
                fields.update(state=state, reason=report.reason or order.reason)
            elif fill is None and state is order.state:
                self._stats.duplicate_reports += 1
            elif fill is None:
                self._stats.stale_reports += 1
                log.info("order %s: %s after %s ignored", cid, state, order.state)
            if fields:
                self.change(order, exchange_ts=report.exchange_ts, **fields)
        return self._get(cid)

    def apply_status(self, cid: str, status: VenueOrderStatus) -> OrderRecord:
        """Takes the state a venue's query answered (its fills applied before), where it
        advances; a larger cumulative quantity and a missing venue id too."""
        order = self._get(cid)
        fields: dict[str, Any] = {}
        if order.venue_order_id is None:
            fields["venue_order_id"] = status.venue_order_id
        if Decimal(status.filled_qty) > Decimal(order.filled_qty):
            fields["filled_qty"] = status.filled_qty
        state = OrderState.of(status.state)
        if advances(order.state, state):
            fields.update(state=state, reason=status.reason)
        if fields:
            order = self.change(order, exchange_ts=status.exchange_ts, **fields)
        return order

    # ---- reads ----

    def recorded_qty(self, cid: str) -> Decimal:
        """The quantity of the order's recorded fills."""
        return fill_totals(self.ledger.fills(cid))[0]

    def fills_missing(self, order: OrderRecord) -> bool:
        """Whether the venue counted fills the ledger has not recorded."""
        return self.recorded_qty(order.client_order_id) < Decimal(order.filled_qty)

    # ---- waiting for changes ----

    def changed(self, cid: str) -> asyncio.Future[None]:
        """A future done at the next recorded change of the order."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(cid, []).append(fut)
        return fut

    def cancel_waiters(self) -> None:
        """Cancels every pending :meth:`changed` future (the entry stops)."""
        for waiters in self._waiters.values():
            for fut in waiters:
                fut.cancel()
        self._waiters.clear()

    # ---- internals ----

    def _get(self, cid: str) -> OrderRecord:
        order = self.ledger.get(cid)
        assert order is not None, f"order {cid} vanished from the ledger"
        return order

    def _announce(self, report: ExecReport) -> None:
        # Kept in the outbox already: a failure here costs in-process consumers this report,
        # never the sinks that publish from the outbox.
        try:
            self._publish(report)
        except Exception:
            log.exception(
                "order %s: ExecReport %d not published in process",
                report.client_order_id,
                report.seq_provider,
            )
            return
        self._stats.exec_reports += 1

    def _wake(self, cid: str) -> None:
        for fut in self._waiters.pop(cid, ()):
            if not fut.done():
                fut.set_result(None)


__all__ = ["OrderJournal"]
