"""Venue-neutral order matching for the simulators: our orders against the seeded market.

The public book belongs to the synthetic :class:`~tradegw.sim.market.Market`; orders placed
here never move it (a "shadow" match), so every client still sees the market the seed
gives. What an order gets:

* **Taking.** A marketable limit order or a market order takes the book's levels, best
  first, at the levels' prices and up to their quantities; it fills partially when its limit
  or the book's depth runs out. What our orders took from a level is remembered until the
  market changes that level, so two orders in a row do not both take the same quantity.
* **Resting.** The unfilled rest of a GTC limit order rests, and fills (as maker, at its own
  price) when the market's own trades print at or through its price: a resting buy at P
  takes from every trade at a price <= P, a sell from every trade at >= P, up to the trade's
  quantity, best price then earliest order first. So partial fills come naturally.
* ``post_only`` is refused if it would take; IOC and market remainders expire; FOK fills
  entirely at once or expires without a fill.
* **Funds.** Placing reserves what the order may spend (a sell its base quantity; a buy its
  limit price times quantity, or what sweeping the book costs for a market buy, plus the
  taker fee), each fill pays from the reservation, and the rest is released when the order
  ends (filled, cancelled, expired). An order that cannot reserve is rejected.
* **Fees**, charged in the quote asset: :attr:`FeeSchedule.taker_ppm` on what an order takes
  on arrival, :attr:`FeeSchedule.maker_ppm` on what it fills while resting (rounded down to
  10**-18).
* **Duplicate client order ids**, per account, by the venue's :class:`DuplicatePolicy`:
  Binance and Kraken reject an id in use by an *open* order (a closed one may be reused),
  Coinbase returns the existing order. :attr:`MatchingStats.duplicate_orders` counts orders
  that reached the book with an id an earlier order of the account already had: a gateway
  that never re-sends an order it already placed keeps it at 0.

Everything is fixed-point integers (prices at the pair's ``price_precision``, quantities at
its ``qty_precision``, balances and fees in units of 10**-18, see :mod:`tradegw.sim.accounts`)
and deterministic given the seed and the sequence of calls: no clock is read (time is passed
in), ids count up.

A venue's order endpoints call :meth:`MatchingEngine.place`, :meth:`MatchingEngine.cancel`
and the queries, render the returned :class:`SimOrder`/:class:`SimFill` values in the venue's
words, ask :meth:`MatchingEngine.fault` whether an order fault fires, and forward the
:class:`OrderEvent` values their private stream subscribers receive through
:meth:`MatchingEngine.subscribe`. The simulator's market driver calls
:meth:`MatchingEngine.on_market_step` after every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Literal

from tradegw.sim.accounts import DECIMALS, Accounts, scale

if TYPE_CHECKING:
    from tradegw.sim.faults import FaultInjector
    from tradegw.sim.instruments import Instrument
    from tradegw.sim.market import Market, PairState, StepResult

SimSide = Literal["buy", "sell"]
SimOrderType = Literal["limit", "market"]
SimTimeInForce = Literal["GTC", "IOC", "FOK"]
Liquidity = Literal["maker", "taker"]

_PPM: Final = 1_000_000


class DuplicatePolicy(StrEnum):
    """What a venue does with a client order id already in use by the same account."""

    REJECT_WHILE_OPEN = "reject_while_open"
    """Refuse it while the earlier order is open; accept it once that one is closed
    (Binance ``-2010 Duplicate order sent.``, Kraken)."""
    RETURN_EXISTING = "return_existing"
    """Create nothing and answer with the existing order, open or closed (Coinbase)."""


class SimOrderStatus(StrEnum):
    """An order's status at the simulated venue (rejected orders are never created)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_CLOSED: Final = frozenset(
    {SimOrderStatus.FILLED, SimOrderStatus.CANCELLED, SimOrderStatus.EXPIRED}
)


class RejectReason(StrEnum):
    """Why an order or a cancel was refused; the endpoint says it in the venue's words."""

    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_QTY = "invalid_qty"
    """Quantity not positive, or below the pair's minimum."""
    INVALID_PRICE = "invalid_price"
    """A limit order without a positive price, or a market order with one."""
    INVALID_ORDER = "invalid_order"
    """A combination the venue refuses: post-only that is not a GTC limit, GTC market."""
    BELOW_MIN_NOTIONAL = "below_min_notional"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_ORDER = "unknown_order"
    """A cancel names no order of the account."""
    ORDER_CLOSED = "order_closed"
    """A cancel names an order that is already filled, cancelled or expired."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fees in parts per million of a fill's notional (1000 = 0.1 %)."""

    maker_ppm: int = 1_000
    taker_ppm: int = 2_000

    def __post_init__(self) -> None:
        if not (0 <= self.maker_ppm <= _PPM and 0 <= self.taker_ppm <= _PPM):
            raise ValueError("fees are between 0 and 1,000,000 ppm")


@dataclass(slots=True)
class SimOrder:
    """One order at the simulated venue. Events carry copies (:meth:`snapshot`)."""

    order_id: str
    client_order_id: str | None
    account: str
    symbol: str
    """The market's name of the pair (``BTC-USD``)."""
    side: SimSide
    type: SimOrderType
    time_in_force: SimTimeInForce
    post_only: bool
    price: int | None
    """Limit price in ticks (``price_precision``); None for a market order."""
    qty: int
    """Quantity at ``qty_precision``."""
    status: SimOrderStatus
    seq: int
    """Placement number within the engine: the time priority of resting orders."""
    created_ns: int
    updated_ns: int
    filled: int = 0
    """Filled quantity at ``qty_precision``."""
    quote_filled: int = 0
    """Sum of price * qty over the fills, at ``price_precision + qty_precision``."""
    fee: int = 0
    """Fees paid so far, units of ``fee_asset``."""
    fee_asset: str = ""
    reserve_asset: str = ""
    reserved: int = 0
    """What the order still holds back, units of ``reserve_asset``."""
    reason: str | None = None
    """Why it was cancelled or expired (``"ioc_remainder"``, ``"fok_unfilled"``,
    ``"market_remainder"``, ``"cancelled_by_user"``)."""

    @property
    def remaining(self) -> int:
        """Quantity still to fill."""
        return self.qty - self.filled

    @property
    def open(self) -> bool:
        """Whether it is still working."""
        return self.status not in _CLOSED

    def snapshot(self) -> SimOrder:
        """A copy, as events carry it."""
        return dataclasses.replace(self)


@dataclass(frozen=True, slots=True)
class SimFill:
    """One execution of one of our orders."""

    exec_id: str
    order_id: str
    client_order_id: str | None
    account: str
    symbol: str
    side: SimSide
    price: int
    """Ticks."""
    qty: int
    """At ``qty_precision``."""
    fee: int
    """Units (10**-18) of ``fee_asset``."""
    fee_asset: str
    liquidity: Liquidity
    ts_ns: int
    market_trade_id: int | None = None
    """The market trade a resting order filled against; None for a taking fill."""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """What an account's private stream announces, in the order it happened."""

    kind: Literal["new", "trade", "cancelled", "expired"]
    """``new``: the order is working (also sent for an order that fills at once, before its
    trades); ``trade``: one fill (``fill``); ``cancelled``/``expired``: the order ended."""
    order: SimOrder
    """The order as it stood right after this event (a copy)."""
    fill: SimFill | None = None


@dataclass(frozen=True, slots=True)
class PlaceOutcome:
    """The answer to :meth:`MatchingEngine.place`."""

    order: SimOrder | None
    """The order as it stands after placement (a copy); the existing one for a duplicate
    under ``return_existing``; None when rejected."""
    events: tuple[OrderEvent, ...] = ()
    """What happened, in order (also sent to the account's subscribers)."""
    rejected: RejectReason | None = None
    existing: bool = False
    """True when no order was created because the id was in use (``return_existing``)."""


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """The answer to :meth:`MatchingEngine.cancel`."""

    order: SimOrder | None
    """The order after the cancel (a copy), or as it stood when refused; None if unknown."""
    events: tuple[OrderEvent, ...] = ()
    rejected: RejectReason | None = None


@dataclass(slots=True)
class MatchingStats:
    """What the engine did."""

    place_requests: int = 0
    """Orders asked for, whatever became of them (placed, rejected, answered with an
    existing order): every order request that reached the venue's matching."""
    placed: int = 0
    """Orders created (reached the book)."""
    rejected: int = 0
    cancels: int = 0
    fills: int = 0
    duplicate_orders: int = 0
    """Orders created with a client id an earlier order of the same account had."""
    duplicates_refused: int = 0
    """Places refused or answered with the existing order because the id was in use."""
    by_reason: dict[str, int] = field(default_factory=dict)


OrderListener = Callable[[OrderEvent], None]


class MatchingEngine:
    """Our orders against ``market``, funds in ``accounts``. See the module docstring."""

    def __init__(
        self,
        market: Market,
        accounts: Accounts,
        *,
        duplicate_policy: DuplicatePolicy = DuplicatePolicy.REJECT_WHILE_OPEN,
        fees: FeeSchedule | None = None,
        injector: FaultInjector | None = None,
        order_id: Callable[[int], str] = str,
        exec_id: Callable[[int], str] = str,
    ) -> None:
        """``order_id`` and ``exec_id`` turn the engine's counters (1, 2, ...) into the
        venue's id format (Kraken ``OABCDE-12345-FGHIJ``, Coinbase a UUID)."""
        for state in market.pairs.values():
            inst = state.info
            if inst.price_precision + inst.qty_precision > DECIMALS:
                raise ValueError(f"{inst.name}: notional precision beyond {DECIMALS} decimals")
        self.market = market
        self.accounts = accounts
        self.duplicate_policy = duplicate_policy
        self.fees = fees or FeeSchedule()
        self.stats = MatchingStats()
        self._injector = injector
        self._order_id = order_id
        self._exec_id = exec_id
        self._orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[tuple[str, str], SimOrder] = {}
        self._used_client_ids: set[tuple[str, str]] = set()
        self._resting: dict[str, dict[str, SimOrder]] = {}
        self._fills: dict[str, list[SimFill]] = {}
        self._listeners: dict[str, list[OrderListener]] = {}
        # (pair, side taken, price) -> (level qty when first taken from, qty taken since)
        self._taken: dict[tuple[str, str, int], tuple[int, int]] = {}
        self._next_order = 0
        self._next_exec = 0

    # ------------------------------------------------------------------ faults

    def fault(self, kind: str, symbol: str | None = None) -> bool:
        """Whether the order fault ``kind`` (``order_ack_lost``, ``order_response_lost``,
        ``order_5xx_after_accept``, ``private_stream_drop``) fires now for ``symbol``; the
        endpoint carries it out. Always False without a fault plan.

        Raises:
            ValueError: ``kind`` is not a kind of the run's fault plan.
        """
        if self._injector is None:
            return False
        return self._injector.fire(kind, symbol) is not None

    # ------------------------------------------------------------------ private streams

    def subscribe(self, account: str, listener: OrderListener) -> Callable[[], None]:
        """Calls ``listener`` with every :class:`OrderEvent` of ``account`` from now on,
        synchronously as it happens; returns the function that stops it."""
        listeners = self._listeners.setdefault(account, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return unsubscribe

    def _emit(self, events: list[OrderEvent], event: OrderEvent) -> None:
        events.append(event)
        for listener in list(self._listeners.get(event.order.account, ())):
            listener(event)

    # ------------------------------------------------------------------ queries

    def order(
        self, account: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> SimOrder | None:
        """A copy of an order of ``account`` by venue id or client id (the latest order
        with that client id), open or closed; None if there is none."""
        found: SimOrder | None = None
        if order_id is not None:
            found = self._orders.get(order_id)
        elif client_order_id is not None:
            found = self._by_client_id.get((account, client_order_id))
        if found is None or found.account != account:
            return None
        return found.snapshot()

    def open_orders(self, account: str, symbol: str | None = None) -> list[SimOrder]:
        """Copies of ``account``'s working orders, oldest first."""
        out = [
            o.snapshot()
            for pair, resting in self._resting.items()
            if symbol is None or pair == symbol
            for o in resting.values()
            if o.account == account
        ]
        return sorted(out, key=lambda o: o.seq)

    def orders(self, account: str) -> list[SimOrder]:
        """Copies of every order of ``account``, oldest first."""
        return [o.snapshot() for o in self._orders.values() if o.account == account]

    def fills(self, order_id: str) -> list[SimFill]:
        """The fills of an order, oldest first."""
        return list(self._fills.get(order_id, ()))

    # ------------------------------------------------------------------ placing

    def place(
        self,
        account: str,
        symbol: str,
        side: SimSide,
        type: SimOrderType,
        qty: int,
        *,
        price: int | None = None,
        time_in_force: SimTimeInForce = "GTC",
        post_only: bool = False,
        client_order_id: str | None = None,
        now_ns: int,
    ) -> PlaceOutcome:
        """Places an order (``symbol`` is the market's pair name, amounts fixed-point at the
        pair's precisions) and matches what it can take at once."""
        if self._injector is not None:
            self._injector.count_order_request()
        self.stats.place_requests += 1
        if account not in self.accounts:
            return self._refuse(RejectReason.UNKNOWN_ACCOUNT)
        pair = self.market.pairs.get(symbol)
        if pair is None:
            return self._refuse(RejectReason.UNKNOWN_SYMBOL)
        inst = pair.info
        refused = _check(inst, type, qty, price, time_in_force, post_only)
        if refused is not None:
            return self._refuse(refused)
        key = None if client_order_id is None else (account, client_order_id)
        if key is not None:
            existing = self._by_client_id.get(key)
            if existing is not None and self.duplicate_policy is DuplicatePolicy.RETURN_EXISTING:
                self.stats.duplicates_refused += 1
                return PlaceOutcome(existing.snapshot(), existing=True)
            if existing is not None and existing.open:
                self.stats.duplicates_refused += 1
                return self._refuse(RejectReason.DUPLICATE_CLIENT_ORDER_ID)
        # Levels this order can take now: [(price, available qty)], best first.
        takeable = self._takeable(pair, side, price)
        if post_only and takeable:
            return self._refuse(RejectReason.POST_ONLY_WOULD_TAKE)
        fillable = sum(q for _, q in takeable)
        if time_in_force == "FOK" and fillable < qty:
            takeable = []  # expires whole; reserves nothing beyond a moment
        reserve_asset, reserve = self._reservation(inst, side, qty, price, takeable)
        acct = self.accounts.get(account)
        if not acct.reserve(reserve_asset, reserve):
            return self._refuse(RejectReason.INSUFFICIENT_FUNDS)
        self._next_order += 1
        order = SimOrder(
            order_id=self._order_id(self._next_order),
            client_order_id=client_order_id,
            account=account,
            symbol=symbol,
            side=side,
            type=type,
            time_in_force=time_in_force,
            post_only=post_only,
            price=price,
            qty=qty,
            status=SimOrderStatus.NEW,
            seq=self._next_order,
            created_ns=now_ns,
            updated_ns=now_ns,
            fee_asset=inst.quote,
            reserve_asset=reserve_asset,
            reserved=reserve,
        )
        self.stats.placed += 1
        self._orders[order.order_id] = order
        if key is not None:
            if key in self._used_client_ids:
                self.stats.duplicate_orders += 1
            self._used_client_ids.add(key)
            self._by_client_id[key] = order
        events: list[OrderEvent] = []
        self._emit(events, OrderEvent("new", order.snapshot()))
        for level_price, available in takeable:
            take = min(available, order.remaining)
            if take <= 0:
                break
            self._note_taken(pair, side, level_price, take)
            self._fill(order, inst, level_price, take, "taker", now_ns, events)
        if order.remaining > 0:
            if type == "limit" and time_in_force == "GTC":
                self._resting.setdefault(symbol, {})[order.order_id] = order
            else:
                reason = {"IOC": "ioc_remainder", "FOK": "fok_unfilled"}[time_in_force]
                if type == "market":
                    reason = "market_remainder"
                self._end(order, SimOrderStatus.EXPIRED, reason, now_ns, events)
        return PlaceOutcome(order.snapshot(), tuple(events))

    def _refuse(self, reason: RejectReason) -> PlaceOutcome:
        self.stats.rejected += 1
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1
        return PlaceOutcome(None, rejected=reason)

    def _takeable(self, pair: PairState, side: SimSide, limit: int | None) -> list[tuple[int, int]]:
        """The opposite side's levels an order may take now, best first, net of what our
        earlier orders took from them."""
        out: list[tuple[int, int]] = []
        if side == "buy":
            book, prices = pair.asks, iter(pair.asks.prices)
        else:
            book, prices = pair.bids, reversed(pair.bids.prices)
        name = pair.info.name
        for level_price in prices:
            if limit is not None and (
                level_price > limit if side == "buy" else level_price < limit
            ):
                break
            level_qty = book.levels[level_price]
            seen, taken = self._taken.get((name, side, level_price), (level_qty, 0))
            available = level_qty - taken if seen == level_qty else level_qty
            if available > 0:
                out.append((level_price, available))
        return out

    def _note_taken(self, pair: PairState, side: SimSide, level_price: int, qty: int) -> None:
        name = pair.info.name
        book = pair.asks if side == "buy" else pair.bids
        level_qty = book.levels[level_price]
        seen, taken = self._taken.get((name, side, level_price), (level_qty, 0))
        if seen != level_qty:  # the market changed the level since: start afresh
            taken = 0
        self._taken[(name, side, level_price)] = (level_qty, taken + qty)

    def _reservation(
        self,
        inst: Instrument,
        side: SimSide,
        qty: int,
        price: int | None,
        takeable: list[tuple[int, int]],
    ) -> tuple[str, int]:
        notional_dp = inst.price_precision + inst.qty_precision
        if side == "sell":
            return inst.base, scale(qty, inst.qty_precision)
        if price is not None:
            cost = scale(price * qty, notional_dp)
        else:
            # A market buy spends what sweeping the book costs (it fills now or never).
            left, notional = qty, 0
            for level_price, available in takeable:
                take = min(available, left)
                notional += level_price * take
                left -= take
                if not left:
                    break
            cost = scale(notional, notional_dp)
        rate = max(self.fees.maker_ppm, self.fees.taker_ppm)
        return inst.quote, cost + _fee(cost, rate)

    def _fill(
        self,
        order: SimOrder,
        inst: Instrument,
        price: int,
        qty: int,
        liquidity: Liquidity,
        now_ns: int,
        events: list[OrderEvent],
        market_trade_id: int | None = None,
    ) -> None:
        acct = self.accounts.get(order.account)
        cost = scale(price * qty, inst.price_precision + inst.qty_precision)
        fee = _fee(cost, self.fees.maker_ppm if liquidity == "maker" else self.fees.taker_ppm)
        base = scale(qty, inst.qty_precision)
        if order.side == "buy":
            acct.spend(inst.quote, cost + fee)
            acct.credit(inst.base, base)
            order.reserved -= cost + fee
        else:
            acct.spend(inst.base, base)
            acct.credit(inst.quote, cost - fee)
            order.reserved -= base
        order.filled += qty
        order.quote_filled += price * qty
        order.fee += fee
        order.updated_ns = now_ns
        self._next_exec += 1
        fill = SimFill(
            exec_id=self._exec_id(self._next_exec),
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            fee=fee,
            fee_asset=inst.quote,
            liquidity=liquidity,
            ts_ns=now_ns,
            market_trade_id=market_trade_id,
        )
        self._fills.setdefault(order.order_id, []).append(fill)
        self.stats.fills += 1
        if order.remaining == 0:
            order.status = SimOrderStatus.FILLED
            self._release(order)
            self._resting.get(order.symbol, {}).pop(order.order_id, None)
        else:
            order.status = SimOrderStatus.PARTIALLY_FILLED
        self._emit(events, OrderEvent("trade", order.snapshot(), fill))

    def _release(self, order: SimOrder) -> None:
        if order.reserved:
            self.accounts.get(order.account).release(order.reserve_asset, order.reserved)
            order.reserved = 0

    def _end(
        self,
        order: SimOrder,
        status: SimOrderStatus,
        reason: str,
        now_ns: int,
        events: list[OrderEvent],
    ) -> None:
        order.status = status
        order.reason = reason
        order.updated_ns = now_ns
        self._release(order)
        self._resting.get(order.symbol, {}).pop(order.order_id, None)
        kind: Literal["cancelled", "expired"] = (
            "cancelled" if status is SimOrderStatus.CANCELLED else "expired"
        )
        self._emit(events, OrderEvent(kind, order.snapshot()))

    # ------------------------------------------------------------------ cancelling

    def cancel(
        self,
        account: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        now_ns: int,
    ) -> CancelOutcome:
        """Cancels a working order of ``account`` named by venue id or client id."""
        if self._injector is not None:
            self._injector.count_order_request()
        self.stats.cancels += 1
        order: SimOrder | None = None
        if order_id is not None:
            order = self._orders.get(order_id)
        elif client_order_id is not None:
            order = self._by_client_id.get((account, client_order_id))
        if order is None or order.account != account:
            return CancelOutcome(None, rejected=RejectReason.UNKNOWN_ORDER)
        if not order.open:
            return CancelOutcome(order.snapshot(), rejected=RejectReason.ORDER_CLOSED)
        events: list[OrderEvent] = []
        self._end(order, SimOrderStatus.CANCELLED, "cancelled_by_user", now_ns, events)
        return CancelOutcome(order.snapshot(), tuple(events))

    # ------------------------------------------------------------------ the market moves

    def on_market_step(self, name: str, result: StepResult, now_ns: int) -> list[OrderEvent]:
        """Fills resting orders of pair ``name`` against the trades of one market step (the
        simulator calls this after every step); returns the events, which subscribers have
        also received."""
        events: list[OrderEvent] = []
        resting = self._resting.get(name)
        if resting and result.trades:
            inst = self.market.pairs[name].info
            for trade in result.trades:
                self._fill_resting(
                    resting, inst, trade.price, trade.qty, trade.trade_id, now_ns, events
                )
        if self._taken and (result.bids or result.asks):
            # Levels the market changed start afresh; forget them so the map stays small.
            for price, _ in result.asks:
                self._taken.pop((name, "buy", price), None)
            for price, _ in result.bids:
                self._taken.pop((name, "sell", price), None)
        return events

    def _fill_resting(
        self,
        resting: dict[str, SimOrder],
        inst: Instrument,
        trade_price: int,
        trade_qty: int,
        trade_id: int,
        now_ns: int,
        events: list[OrderEvent],
    ) -> None:
        buys = sorted(
            (o for o in resting.values() if o.side == "buy" and (o.price or 0) >= trade_price),
            key=lambda o: (-(o.price or 0), o.seq),
        )
        sells = sorted(
            (o for o in resting.values() if o.side == "sell" and (o.price or 0) <= trade_price),
            key=lambda o: (o.price or 0, o.seq),
        )
        for side_orders in (buys, sells):
            left = trade_qty
            for order in side_orders:
                if left <= 0:
                    break
                take = min(left, order.remaining)
                assert order.price is not None
                self._fill(order, inst, order.price, take, "maker", now_ns, events, trade_id)
                left -= take


def _fee(notional_units: int, ppm: int) -> int:
    """The fee on a notional, rounded down to a unit: the fees of an order's fills then never
    add up to more than the fee on its whole notional, which is what was reserved."""
    return notional_units * ppm // _PPM


def _check(
    inst: Instrument,
    type: SimOrderType,
    qty: int,
    price: int | None,
    time_in_force: SimTimeInForce,
    post_only: bool,
) -> RejectReason | None:
    if qty <= 0 or qty < inst.qty_min:
        return RejectReason.INVALID_QTY
    if type == "limit":
        if price is None or price <= 0:
            return RejectReason.INVALID_PRICE
        notional = scale(price * qty, inst.price_precision + inst.qty_precision)
        if notional < scale(inst.min_notional, inst.notional_precision):
            return RejectReason.BELOW_MIN_NOTIONAL
    else:
        if price is not None:
            return RejectReason.INVALID_PRICE
        if time_in_force == "GTC":
            return RejectReason.INVALID_ORDER
    if post_only and (type != "limit" or time_in_force != "GTC"):
        return RejectReason.INVALID_ORDER
    return None


__all__ = [
    "CancelOutcome",
    "DuplicatePolicy",
    "FeeSchedule",
    "MatchingEngine",
    "MatchingStats",
    "OrderEvent",
    "OrderListener",
    "PlaceOutcome",
    "RejectReason",
    "SimFill",
    "SimOrder",
    "SimOrderStatus",
]
