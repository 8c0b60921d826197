"""The demo strategy ``tradegw run`` starts when ``demo_strategy.enabled``: :class:`TouchQuoter`.

It is a consumer like any other — its books and ExecReports come from ``gw.subscribe`` —
and trades only through ``gw.submit`` and ``gw.cancel``, each order with a ``decision_id``.
On each of its venues, every ``interval_s``:

* orders of its own still resting after ``rest_s`` are cancelled;
* while fewer than ``max_open_orders`` are open there, one new order goes out on the next
  of its symbols whose book is synced: the smallest order the instrument takes (times
  ``lots``), post-only at the best bid or ask or a tick behind it, or — every
  ``cross_every``-th order — an IOC limit at the far touch, which fills at once.

Prices are on the instrument's tick, quantities on its lot and above its minimum size and
notional; the side is chosen so that the net position per symbol stays within
``max_position_lots`` orders, and an order the account cannot pay for
(:class:`~tradegw.consumers.demo_wallet.DemoWallet`) is not sent. A rejection pauses that
symbol for a while (doubling up to 30 s), so a venue refusing something never gets a stream
of the same. While the trading switch is not ``enabled`` it sends nothing. :meth:`stop`
cancels every order of its own still open before it returns.

It also checks what it receives: per (venue, symbol) stream, each ExecReport's
``seq_provider`` follows the last one; per order, the state never moves back and the filled
quantity never shrinks (:class:`QuoterStats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Final

from tradegw.consumers.demo import BookConsumer
from tradegw.consumers.demo_wallet import DemoWallet
from tradegw.errors import OrderError, one_line
from tradegw.orders.reports import decimal_text
from tradegw.orders.requests import new_client_order_id
from tradegw.orders.states import OrderState
from tradegw.schema import TERMINAL_EXEC_STATES, BookStatus, Event, ExecReport, ExecState

if TYPE_CHECKING:
    from tradegw.config.models import DemoStrategyConfig
    from tradegw.consumers.subscription import Subscription
    from tradegw.gateway import Gateway
    from tradegw.orders.instrument import OrderInstrument

log = logging.getLogger("tradegw.demo_strategy")

CONSUMER_NAME: Final = "demo-strategy"
"""The strategy's subscription name (its lag shows on the console under it)."""
BOOK_TYPES: Final = ("BookSnapshot", "BookUpdate", "BookStatus")
PAUSE_S: Final = (1.0, 30.0)
"""A symbol's pause after a rejection: the first, and the longest (it doubles)."""

ERROR_PAUSE_S: Final = 5.0
"""A venue's pause after an unexpected error in its round."""
SEEN_ORDERS: Final = 10_000
"""Orders whose last state and filled quantity are remembered for the order checks."""

_RANK: Final = {
    ExecState.ACK: 1,
    ExecState.PARTIAL: 2,
    ExecState.FILLED: 3,
    ExecState.CANCELLED: 3,
    ExecState.REJECTED: 3,
    ExecState.EXPIRED: 3,
}
_WORKING: Final = frozenset({OrderState.ACK, OrderState.PARTIAL})


@dataclass(slots=True)
class QuoterStats:
    """What the strategy did and what it saw."""

    submitted: int = 0
    crossing: int = 0
    """Of those, orders sent to cross the spread (IOC)."""
    cancels: int = 0
    """Cancels asked for (orders left resting, and every open order at stop)."""
    rejected: int = 0
    fills: int = 0
    reports: int = 0
    """ExecReports received (of any order on its venues and symbols)."""
    out_of_order: int = 0
    """ExecReports whose ``seq_provider`` was not the last one of their stream plus one."""
    state_regressions: int = 0
    """ExecReports of an order that moved its state back or lowered its filled quantity."""
    unaffordable: int = 0
    """Orders not sent because the account could not pay for them."""
    by_venue: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per venue: ``submitted``, ``cancels``, ``fills``, ``rejected``."""

    def count(self, venue: str, what: str) -> None:
        """Adds one to ``what`` (an attribute) overall and for ``venue``."""
        setattr(self, what, getattr(self, what) + 1)
        mine = self.by_venue.setdefault(venue, {})
        mine[what] = mine.get(what, 0) + 1


@dataclass(slots=True)
class _Order:
    venue: str
    symbol: str
    decision_id: str
    placed_at: float
    """Monotonic seconds."""
    state: OrderState = OrderState.SENT
    cancel_asked: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    """One order the strategy decided on."""

    venue: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    crossing: bool


class TouchQuoter:
    """Quotes small post-only orders at the touch of each verified book on ``venues`` and
    crosses now and then (see the module docstring). Subscribes at construction (before
    the gateway starts is fine); :meth:`start` once the gateway runs, :meth:`stop` before it
    stops.

    ``balances`` are each venue's starting balances (asset -> amount, and the amount of any
    asset not named) of the account its key trades for; a venue without them is traded
    without balance checks.
    """

    def __init__(
        self,
        gw: Gateway,
        config: DemoStrategyConfig,
        venues: Collection[str],
        *,
        balances: Mapping[str, tuple[Mapping[str, Decimal], Decimal]] | None = None,
        seed: int | None = None,
    ) -> None:
        self._gw = gw
        self.config = config
        self.venues = list(venues)
        self.stats = QuoterStats()
        self.books = BookConsumer()
        self.sub: Subscription = gw.subscribe(
            venues=self.venues,
            symbols=config.symbols,
            types=[*BOOK_TYPES, "ExecReport"],
            name=CONSUMER_NAME,
        )
        self._wallets = {
            v: DemoWallet(*(balances[v])) if balances and v in balances else DemoWallet(None)
            for v in self.venues
        }
        self._orders: dict[str, _Order] = {}
        self._last_seq: dict[tuple[str, str], int] = {}
        self._seen: dict[str, tuple[int, Decimal]] = {}  # per order: (state rank, filled)
        self._position: dict[tuple[str, str], Decimal] = {}
        self._paused: dict[tuple[str, str], tuple[float, float]] = {}  # until, next pause
        self._next_symbol: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._run = f"{self._rng.getrandbits(24):06x}"
        self._count = 0
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle ----

    def start(self) -> None:
        """Starts reading events, and trading on each venue that has an order venue."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._read(), name="demo-strategy-events"))
        tradable = set(self._gw.order_entry.venue_names())
        for venue in self.venues:
            if venue not in tradable:
                log.warning("demo strategy: %s has no order entry; not trading there", venue)
                continue
            self._tasks.append(loop.create_task(self._trade(venue), name=f"demo-{venue}"))

    async def stop(self, within_s: float = 0.5) -> None:
        """Stops placing orders, cancels every open order of its own (waiting at most
        ``within_s`` for the venues' answers) and stops reading."""
        for task in self._tasks[1:]:
            task.cancel()
        for task in self._tasks[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        still_open = [cid for cid, o in self._orders.items() if not o.state.terminal]
        if still_open and self._gw.trading_mode != "disabled":
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within_s):
                    await asyncio.gather(*(self._cancel(cid) for cid in still_open))
        for task in self._tasks[:1]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._gw.unsubscribe(self.sub)

    def open_orders(self, venue: str | None = None) -> list[str]:
        """The client order ids of its orders not yet ended (of ``venue`` when given)."""
        return [
            cid
            for cid, o in self._orders.items()
            if not o.state.terminal and (venue is None or o.venue == venue)
        ]

    # ---- what it receives ----

    async def _read(self) -> None:
        async for batch in self.sub.batches():
            for event in batch:
                try:
                    self.on_event(event)
                except Exception:  # one bad event must not end what it reads
                    log.exception("demo strategy: %s not applied", event.event_type)

    def on_event(self, event: Event) -> None:
        """Applies one event: a book change, or an ExecReport."""
        if isinstance(event, ExecReport):
            self._on_report(event)
        else:
            self.books.on_event(event)
            if isinstance(event, BookStatus):
                log.debug("demo strategy: %s %s is %s", event.provider, event.symbol, event.state)

    def _on_report(self, report: ExecReport) -> None:
        self.stats.reports += 1
        stream = (report.provider, report.symbol)
        seq = report.seq_provider or 0  # every ExecReport is numbered; 0 would be a bug
        last = self._last_seq.get(stream)
        if (last is not None and seq != last + 1) or seq < 1:
            self.stats.out_of_order += 1
            log.error("demo strategy: ExecReport %d of %s %s after %s", seq, *stream, last)
        self._last_seq[stream] = seq if last is None else max(last, seq)
        cid = report.client_order_id
        filled = Decimal(report.filled_qty)
        rank, had = self._seen.get(cid, (0, Decimal(0)))
        new_rank = _RANK[report.state]
        # A fill after a terminal report repeats the terminal state: the same rank is fine.
        if new_rank < rank or filled < had:
            self.stats.state_regressions += 1
            log.error("demo strategy: order %s went back to %s", cid, report.state)
        self._seen[cid] = (max(rank, new_rank), max(had, filled))
        if len(self._seen) > SEEN_ORDERS:
            del self._seen[next(iter(self._seen))]  # the one seen first (dicts keep order)
        mine = self._orders.get(cid)
        if mine is None:
            return  # someone else's order on the same symbol
        if report.last_fill_qty is not None:
            self.stats.count(mine.venue, "fills")
            sign = 1 if report.side == "buy" else -1
            key = (mine.venue, mine.symbol)
            self._position[key] = self._position.get(key, Decimal(0)) + sign * Decimal(
                report.last_fill_qty
            )
        self._wallets[mine.venue].on_report(report)
        mine.state = OrderState.of(report.state)
        if report.state is ExecState.ACK:
            self._paused.pop((mine.venue, mine.symbol), None)  # the venue takes it again
        if report.state is ExecState.REJECTED:
            self._on_rejected(mine, cid, report.reason)
        if report.state in TERMINAL_EXEC_STATES:
            # Ended: only its identity is kept (for the order checks above).
            self._orders.pop(cid, None)

    def _on_rejected(self, order: _Order, cid: str, reason: str | None) -> None:
        self.stats.count(order.venue, "rejected")
        key = (order.venue, order.symbol)
        _, pause = self._paused.get(key, (0.0, PAUSE_S[0]))
        self._paused[key] = (time.monotonic() + pause, min(pause * 2, PAUSE_S[1]))
        log.warning(
            "demo strategy: order %s on %s %s rejected (%s); pausing %s for %.0f s "
            "(decision_id=%s)",
            cid,
            order.venue,
            order.symbol,
            reason,
            order.symbol,
            pause,
            order.decision_id,
        )

    # ---- what it does ----

    async def _trade(self, venue: str) -> None:
        interval = self.config.interval_s
        while True:
            await asyncio.sleep(interval * self._rng.uniform(0.8, 1.2))
            try:
                await self._step(venue)
            except OrderError as e:
                log.warning("demo strategy on %s: %s", venue, one_line(e))
            except Exception:  # a demo keeps going, but says what went wrong, and slows down
                log.exception("demo strategy on %s: step failed", venue)
                await asyncio.sleep(ERROR_PAUSE_S)

    async def _step(self, venue: str) -> None:
        """One round on ``venue``: cancel what rested too long, then maybe one new order."""
        now = time.monotonic()
        for cid, order in list(self._orders.items()):
            if (
                order.venue == venue
                and order.state in _WORKING
                and not order.cancel_asked
                and now - order.placed_at >= self.config.rest_s
            ):
                await self._cancel(cid)
        if len(self.open_orders(venue)) >= self.config.max_open_orders:
            return
        quote = self.decide(venue)
        if quote is not None:
            await self._place(quote)

    def decide(self, venue: str) -> Quote | None:
        """The next order on ``venue``, or None when no symbol can take one now."""
        symbols = self.config.symbols
        start = self._next_symbol.get(venue, 0)
        for i in range(len(symbols)):
            symbol = symbols[(start + i) % len(symbols)]
            quote = self._quote(venue, symbol)
            if quote is not None:
                self._next_symbol[venue] = (start + i + 1) % len(symbols)
                return quote
        return None

    def _quote(self, venue: str, symbol: str) -> Quote | None:
        key = (venue, symbol)
        if self._paused.get(key, (0.0, 0.0))[0] > time.monotonic():
            return None
        book = self.books.books.get(key)
        if book is None or self.books.status.get(key) != "synced":
            return None
        instrument = self._gw.order_entry.venue(venue).instrument(symbol)
        bid, ask = book.best_bid(), book.best_ask()
        if instrument is None or bid is None or ask is None:
            return None
        best_bid, best_ask = Decimal(bid[0]), Decimal(ask[0])
        if best_bid >= best_ask:
            return None  # a crossed view: nothing sensible to quote
        qty = order_qty(instrument, best_ask, self.config.lots)
        if qty is None:
            return None
        limit = qty * self.config.max_position_lots
        position = self._position.get(key, Decimal(0))
        sides = ["buy", "sell"]
        self._rng.shuffle(sides)
        if position >= limit:
            sides = ["sell"]
        elif position <= -limit:
            sides = ["buy"]
        every = self.config.cross_every
        crossing = every > 0 and self._count % every == every - 1
        wallet = self._wallets[venue]
        tick = instrument.price_increment
        short = False
        for side in sides:
            behind = 0 if crossing else self._rng.randrange(2)  # at the touch, or a tick off
            price = price_for(side, best_bid, best_ask, tick, crossing=crossing, behind=behind)
            if price is None:
                continue
            if wallet.affords(side, symbol, price, qty):
                return Quote(venue, symbol, side, price, qty, crossing)
            short = True
        if short:
            self.stats.unaffordable += 1
        return None

    async def _place(self, quote: Quote) -> None:
        # Everything up to the submit runs without an await, so the switch read here is the
        # one the entry reads: the entry never has to refuse one of these orders.
        if self._gw.trading_mode != "enabled":
            return
        self._count += 1
        kind = "take" if quote.crossing else "quote"
        decision_id = f"demo-{self._run}-{self._count}-{kind}"
        cid = new_client_order_id()
        request = {
            "venue": quote.venue,
            "symbol": quote.symbol,
            "side": quote.side,
            "type": "limit",
            "qty": decimal_text(quote.qty),
            "price": decimal_text(quote.price),
            "time_in_force": "IOC" if quote.crossing else "GTC",
            "post_only": not quote.crossing,
            "client_order_id": cid,
            "decision_id": decision_id,
        }
        mine = _Order(quote.venue, quote.symbol, decision_id, time.monotonic())
        self.stats.count(quote.venue, "submitted")
        if quote.crossing:
            self.stats.crossing += 1
        # Known before the submit returns: its ExecReports may be read first.
        self._orders[cid] = mine
        self._wallets[quote.venue].hold(cid, quote.side, quote.symbol, quote.price, quote.qty)
        try:
            handle = await self._gw.submit(request)
        except Exception:
            self._orders.pop(cid, None)
            self._wallets[quote.venue].on_ended(cid)
            raise
        if handle.state.terminal and cid in self._orders:
            # Ended already (an IOC, a refusal): its last report is on its way all the same.
            mine.state = handle.state

    async def _cancel(self, cid: str) -> None:
        order = self._orders.get(cid)
        if order is None or order.cancel_asked or self._gw.trading_mode == "disabled":
            return  # disabled refuses cancels: asked again once it is not
        order.cancel_asked = True
        self.stats.count(order.venue, "cancels")
        try:
            await self._gw.cancel(cid)
        except OrderError as e:
            log.info("demo strategy: cancel of %s not sent: %s", cid, one_line(e))


def order_qty(instrument: OrderInstrument, price: Decimal, lots: int) -> Decimal | None:
    """The smallest quantity ``instrument`` takes at ``price`` (its minimum size and
    notional, on its lot), times ``lots``; None when that is above its maximum."""
    lot = instrument.qty_increment
    smallest = max(instrument.min_qty, lot)
    if instrument.min_notional is not None and price > 0:
        smallest = max(smallest, instrument.min_notional / price)
    qty = _on_step(smallest, lot, ROUND_CEILING) * lots
    if instrument.max_qty is not None and qty > instrument.max_qty:
        return None
    return qty


def price_for(
    side: str,
    best_bid: Decimal,
    best_ask: Decimal,
    tick: Decimal,
    *,
    crossing: bool,
    behind: int = 0,
) -> Decimal | None:
    """A limit price on ``tick``: crossing, the far touch (a buy at the ask, a sell at the
    bid, rounded so that it still reaches it); resting, the near touch ``behind`` ticks back
    (rounded away from the spread), never at or through the far touch. None when no such
    price is positive."""
    if crossing:
        price = (
            _on_step(best_ask, tick, ROUND_CEILING)
            if side == "buy"
            else _on_step(best_bid, tick, ROUND_FLOOR)
        )
    elif side == "buy":
        price = _on_step(best_bid - behind * tick, tick, ROUND_FLOOR)
        if price >= best_ask:
            return None
    else:
        price = _on_step(best_ask + behind * tick, tick, ROUND_CEILING)
        if price <= best_bid:
            return None
    return price if price > 0 else None


def _on_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


__all__ = ["CONSUMER_NAME", "Quote", "QuoterStats", "TouchQuoter", "order_qty", "price_for"]
