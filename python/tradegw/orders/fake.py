"""An :class:`~tradegw.orders.venue.OrderVenue` in process, over the simulators' matching
engine, with injectable faults: the reference implementation for venue adapters and the
venue of the order entry's tests.

It owns a seeded :class:`~tradegw.sim.market.Market` (only :meth:`FakeOrderVenue.advance`
moves it) and a :class:`~tradegw.sim.matching.MatchingEngine` with one account,
``"gateway"``. Its "connection" is :meth:`FakeOrderVenue.start`/:meth:`FakeOrderVenue.stop`:
the engine (the venue's state) outlives them, as a venue outlives a gateway process, so a
test can stop one :class:`~tradegw.orders.entry.OrderEntry` mid-way and start another on the
same ledger and the same venue.

How it maps the engine (what a real adapter does with its venue's wire):

* ``place``: engine rejected -> ``PlaceResult.rejected`` with the engine's reason; a
  duplicate id refused while open -> ``PlaceResult.unknown`` (the entry queries and finds
  the order), returned existing (``return_existing``) -> ``accepted`` with its id;
* ``query``: the engine's latest order with that client id, mapped new -> ACK,
  partially_filled -> PARTIAL, filled -> FILLED, cancelled -> CANCELLED, expired -> EXPIRED;
  None when the engine never created one;
* private stream: each engine event becomes one :class:`VenueReport` (``new`` -> ACK,
  ``trade`` -> PARTIAL or FILLED with the fill, ``cancelled``, ``expired``).

Faults (:class:`FakeFaults`, each a probability drawn from one seeded ``random.Random``):
a request lost before the venue, the answer lost after the order was placed (a
``TimeoutError``), the connection reset after it was placed, a 5xx after it was placed,
a place that never answers (the entry's timeout ends it), queries and fills requests that
fail, and private-stream updates delayed (delivered after later ones), duplicated, or
dropped — after a drop the venue announces a stream gap, as a reconnecting adapter would,
and the fills are recoverable through :meth:`FakeOrderVenue.fills`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from tradegw.errors import VenueUnavailable
from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.venue import (
    CancelResult,
    PlaceResult,
    ReportCallback,
    StreamGapCallback,
    VenueFill,
    VenueOrderStatus,
    VenueReport,
)
from tradegw.schema import ExecState
from tradegw.sim.accounts import Accounts, units_text
from tradegw.sim.instruments import Instrument, build_instruments
from tradegw.sim.market import Market
from tradegw.sim.matching import (
    DuplicatePolicy,
    MatchingEngine,
    OrderEvent,
    RejectReason,
    SimFill,
    SimOrder,
    SimOrderStatus,
)
from tradegw.sim.wire import fixed, parse_fixed

if TYPE_CHECKING:
    from tradegw.orders.record import OrderRecord
    from tradegw.orders.venue import OrderVenue

ACCOUNT: Final = "gateway"
"""The one account the fake venue trades for."""

_STATES: Final = {
    SimOrderStatus.NEW: ExecState.ACK,
    SimOrderStatus.PARTIALLY_FILLED: ExecState.PARTIAL,
    SimOrderStatus.FILLED: ExecState.FILLED,
    SimOrderStatus.CANCELLED: ExecState.CANCELLED,
    SimOrderStatus.EXPIRED: ExecState.EXPIRED,
}


@dataclass(slots=True)
class FakeFaults:
    """Fault probabilities (0 to 1) of a :class:`FakeOrderVenue`."""

    request_lost: float = 0.0
    """``place`` raises ``TimeoutError`` and the order never reached the venue."""
    ack_lost: float = 0.0
    """The order is placed, then ``place`` raises ``TimeoutError`` (the answer was lost)."""
    response_lost: float = 0.0
    """The order is placed, then ``place`` raises ``ConnectionResetError``."""
    error_5xx: float = 0.0
    """The order is placed, then ``place`` answers ``unknown("HTTP 503 ...")``."""
    hang: float = 0.0
    """The order is placed and ``place`` never answers (the entry's timeout ends it)."""
    query_fails: float = 0.0
    """``query`` and ``fills`` raise :class:`~tradegw.errors.VenueUnavailable`."""
    cancel_lost: float = 0.0
    """The cancel is applied, then ``cancel`` raises ``TimeoutError``."""
    report_dropped: float = 0.0
    """A private-stream update is never delivered; a stream gap is announced
    ``gap_after_s`` later."""
    report_duplicated: float = 0.0
    """A private-stream update is delivered twice."""
    report_delayed: float = 0.0
    """A private-stream update is delivered ``delay_s`` later (after later ones)."""
    delay_s: float = 0.02
    gap_after_s: float = 0.05


def _decimal(value: int, precision: int) -> Decimal:
    """A fixed-point value as a Decimal without trailing zeros (``0.0001``, not
    ``0.00010000``), as it reads in a rejection's reason."""
    number = Decimal(fixed(value, precision)).normalize()
    return number.quantize(Decimal(1)) if number == number.to_integral() else number


def _instrument(inst: Instrument) -> OrderInstrument:
    return OrderInstrument(
        symbol=inst.name,
        venue_symbol=inst.name.replace("-", "/"),
        price_increment=_decimal(1, inst.price_precision),
        qty_increment=_decimal(1, inst.qty_precision),
        min_qty=_decimal(inst.qty_min, inst.qty_precision),
        min_notional=_decimal(inst.min_notional, inst.notional_precision),
    )


class FakeOrderVenue:
    """An order venue in this process (see the module docstring)."""

    def __init__(
        self,
        name: str = "fake",
        *,
        pairs: int | Sequence[tuple[str, str]] = (("BTC", "USD"), ("ETH", "USD")),
        seed: int = 1,
        balance: str = "1000000000",
        duplicate_policy: DuplicatePolicy = DuplicatePolicy.REJECT_WHILE_OPEN,
        faults: FakeFaults | None = None,
        latency_s: float = 0.0,
        query_grace_s: float = 0.0,
    ) -> None:
        instruments = build_instruments(pairs)
        self._name = name
        self._query_grace_s = query_grace_s
        self.market = Market(instruments, seed, book_levels=60, warmup_steps=30)
        assets = sorted({a for i in instruments for a in (i.base, i.quote)})
        self.engine = MatchingEngine(
            self.market,
            Accounts({ACCOUNT: {}}, assets=assets, starting_balance=balance),
            duplicate_policy=duplicate_policy,
        )
        self._sim = {i.name: i for i in instruments}
        self._instruments = {i.name: _instrument(i) for i in instruments}
        self.faults = faults or FakeFaults()
        self._rng = random.Random(f"{seed}:fake-venue-faults")
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()
        """Requests that reached the venue, by method (``place``, ``cancel``, ...)."""
        self.injected: Counter[str] = Counter()
        """Faults injected, by name."""
        self._on_report: ReportCallback | None = None
        self._on_gap: StreamGapCallback | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._timers: set[asyncio.TimerHandle] = set()

    # ---- OrderVenue ----

    @property
    def name(self) -> str:
        """The venue's registry name."""
        return self._name

    @property
    def query_grace_s(self) -> float:
        """In process, an answered or failed ``place`` has been applied or not: no grace is
        needed unless a test asks for one."""
        return self._query_grace_s

    def instrument(self, symbol: str) -> OrderInstrument | None:
        """Tick, lot and minimums from the simulator's instrument table."""
        return self._instruments.get(symbol)

    async def start(self, on_report: ReportCallback, on_stream_gap: StreamGapCallback) -> None:
        """Connects the private stream: engine events of the account become reports."""
        await self.stop()
        self._on_report = on_report
        self._on_gap = on_stream_gap
        self._unsubscribe.append(self.engine.subscribe(ACCOUNT, self._event))

    async def stop(self) -> None:
        """Disconnects the private stream; what happens at the venue meanwhile is missed."""
        for stop in self._unsubscribe:
            stop()
        self._unsubscribe.clear()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._on_report = self._on_gap = None

    async def place(self, order: OrderRecord) -> PlaceResult:
        """Places the order on the engine, through the configured faults."""
        await asyncio.sleep(self.latency_s)  # the request on its way: a crash may land here
        if self._fault("request_lost"):
            raise TimeoutError("request lost before the venue")
        self.calls["place"] += 1
        inst = self._sim.get(order.symbol)
        if inst is None:
            return PlaceResult.rejected(RejectReason.UNKNOWN_SYMBOL)
        out = self.engine.place(
            ACCOUNT,
            order.symbol,
            order.side,
            order.type,
            parse_fixed(order.qty, inst.qty_precision),
            price=None if order.price is None else parse_fixed(order.price, inst.price_precision),
            time_in_force=order.time_in_force,
            post_only=order.post_only,
            client_order_id=order.client_order_id,
            now_ns=time.time_ns(),
        )
        await asyncio.sleep(self.latency_s)  # the answer on its way back
        if out.rejected is RejectReason.DUPLICATE_CLIENT_ORDER_ID:
            return PlaceResult.unknown("duplicate client order id: the order exists")
        if out.rejected is not None:
            return PlaceResult.rejected(out.rejected)
        assert out.order is not None
        if self._fault("ack_lost"):
            raise TimeoutError("answer lost after the order was placed")
        if self._fault("response_lost"):
            raise ConnectionResetError("connection reset after the order was placed")
        if self._fault("error_5xx"):
            return PlaceResult.unknown("HTTP 503 after the order was placed")
        if self._fault("hang"):
            await asyncio.Event().wait()
        return PlaceResult.accepted(out.order.order_id)

    async def cancel(self, order: OrderRecord) -> CancelResult:
        """Cancels by client id."""
        await asyncio.sleep(self.latency_s)
        self.calls["cancel"] += 1
        cid = order.client_order_id
        out = self.engine.cancel(ACCOUNT, client_order_id=cid, now_ns=time.time_ns())
        if self._fault("cancel_lost"):
            raise TimeoutError("cancel answer lost")
        if out.rejected is not None:
            return CancelResult.rejected(out.rejected)
        return CancelResult.cancelled()

    async def query(self, order: OrderRecord) -> VenueOrderStatus | None:
        """The engine's latest order with the client id; None if it never had one."""
        await asyncio.sleep(self.latency_s)
        self.calls["query"] += 1
        if self._fault("query_fails"):
            raise VenueUnavailable("query failed: HTTP 503")
        sim = self.engine.order(ACCOUNT, client_order_id=order.client_order_id)
        if sim is None:
            return None
        return VenueOrderStatus(
            client_order_id=order.client_order_id,
            venue_order_id=sim.order_id,
            state=_STATES[sim.status],
            filled_qty=self._qty(sim, sim.filled),
            reason=sim.reason,
            exchange_ts=sim.updated_ns,
        )

    async def fills(self, order: OrderRecord) -> list[VenueFill]:
        """The engine's fills of the order."""
        await asyncio.sleep(self.latency_s)
        self.calls["fills"] += 1
        if self._fault("query_fails"):
            raise VenueUnavailable("fills request failed: HTTP 503")
        sim = self.engine.order(ACCOUNT, client_order_id=order.client_order_id)
        if sim is None:
            return []
        return [self._fill(sim, f) for f in self.engine.fills(sim.order_id)]

    # ---- the market and inspection ----

    def advance(self, symbol: str, steps: int = 1) -> None:
        """Moves the market of canonical ``symbol`` ``steps`` events; resting orders fill
        against its trades."""
        for _ in range(steps):
            now = time.time_ns()
            self.engine.on_market_step(symbol, self.market.step(symbol, (), now), now)

    def venue_state(self, client_order_id: str) -> ExecState | None:
        """The venue's state of the order (None: it has none) — what a test compares the
        ledger's against."""
        sim = self.engine.order(ACCOUNT, client_order_id=client_order_id)
        return None if sim is None else _STATES[sim.status]

    def venue_filled(self, client_order_id: str) -> str | None:
        """The venue's filled quantity of the order, as decimal text."""
        sim = self.engine.order(ACCOUNT, client_order_id=client_order_id)
        return None if sim is None else self._qty(sim, sim.filled)

    def announce_gap(self) -> None:
        """Tells the entry its private stream may have missed updates, as an adapter does
        after a reconnect (tests: a final sweep once faults are off)."""
        self._gap()

    def push_report(self, report: VenueReport) -> None:
        """Sends a hand-made update on the private stream, as the venue would (tests: a late
        or conflicting update)."""
        self._deliver(report)

    # ---- internals ----

    def _fault(self, kind: str) -> bool:
        rate: float = getattr(self.faults, kind)
        if rate and self._rng.random() < rate:
            self.injected[kind] += 1
            return True
        return False

    def _qty(self, sim: SimOrder, value: int) -> str:
        return fixed(value, self._sim[sim.symbol].qty_precision)

    def _fill(self, sim: SimOrder, fill: SimFill) -> VenueFill:
        inst = self._sim[sim.symbol]
        return VenueFill(
            venue_exec_id=fill.exec_id,
            qty=fixed(fill.qty, inst.qty_precision),
            price=fixed(fill.price, inst.price_precision),
            fee=units_text(fill.fee),
            fee_asset=fill.fee_asset,
            exchange_ts=fill.ts_ns,
        )

    def _report(self, event: OrderEvent) -> VenueReport:
        sim = event.order
        assert sim.client_order_id is not None
        fill = None if event.fill is None else self._fill(sim, event.fill)
        return VenueReport(
            client_order_id=sim.client_order_id,
            state=_STATES[sim.status],
            filled_qty=self._qty(sim, sim.filled),
            venue_order_id=sim.order_id,
            last_fill_qty=None if fill is None else fill.qty,
            last_fill_price=None if fill is None else fill.price,
            fee=None if fill is None else fill.fee,
            fee_asset=None if fill is None else fill.fee_asset,
            venue_exec_id=None if fill is None else fill.venue_exec_id,
            reason=sim.reason,
            exchange_ts=sim.updated_ns,
        )

    def _event(self, event: OrderEvent) -> None:
        on_report = self._on_report
        if on_report is None or event.order.client_order_id is None:
            return
        report = self._report(event)
        if self._fault("report_dropped"):
            self._later(self.faults.gap_after_s, self._gap)
            return
        if self._fault("report_delayed"):
            self._later(self.faults.delay_s, lambda: self._deliver(report))
            return
        on_report(report)
        if self._fault("report_duplicated"):
            on_report(report)

    def _deliver(self, report: VenueReport) -> None:
        if self._on_report is not None:
            self._on_report(report)

    def _gap(self) -> None:
        if self._on_gap is not None:
            self._on_gap()

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(timer)
            callback()

        timer = loop.call_later(delay, run)
        self._timers.add(timer)


if TYPE_CHECKING:

    def _is_an_order_venue(venue: FakeOrderVenue) -> OrderVenue:
        return venue  # mypy proves here that the fake satisfies the protocol


__all__ = ["ACCOUNT", "FakeFaults", "FakeOrderVenue"]
