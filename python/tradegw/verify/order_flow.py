"""Orders as a client sends them through faults: a mix of order kinds near the top of the
book (:class:`OrderMix`), a caller that gives up waiting and submits the same request again
(:func:`submit_retrying`), and waiting until the ledger has settled (:func:`settled`).

The 1,000-order tests and ``tradegw verify`` (SC-003, SC-007, SC-008) use the same pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from tradegw.errors import OrderRefused
from tradegw.gateway import Gateway
from tradegw.orders.instrument import OrderInstrument
from tradegw.orders.requests import OrderRequest
from tradegw.orders.states import OrderState
from tradegw.verify.gateway_lives import GatewayLives

UNSETTLED: frozenset[OrderState] = frozenset({OrderState.NEW, OrderState.SENT, OrderState.UNKNOWN})
"""States whose outcome the ledger does not know yet."""


@dataclass(frozen=True, slots=True)
class Quote:
    """What an order's price and size are chosen from: the top of the book, the tick and
    the lot (and the minimums, when the venue has them)."""

    bid: Decimal
    ask: Decimal
    tick: Decimal
    lot: Decimal
    """The smallest quantity an order may have (a multiple of the quantity increment)."""
    min_notional: Decimal | None = None

    @classmethod
    def of(cls, instrument: OrderInstrument, bid: str, ask: str) -> Quote:
        """A quote from the gateway's view: an order instrument and the best prices."""
        lot = max(instrument.min_qty, instrument.qty_increment)
        steps = (lot / instrument.qty_increment).to_integral_value(ROUND_CEILING)
        return cls(
            Decimal(bid),
            Decimal(ask),
            instrument.price_increment,
            steps * instrument.qty_increment,
            instrument.min_notional,
        )


def gateway_quote(gw: Gateway, venue: str, symbol: str) -> Quote | None:
    """``symbol``'s quote on ``venue`` as the gateway sees it: its assembled book's best
    prices and the order venue's instrument; None while either is missing."""
    provider = gw.providers.get(venue)
    entry = gw.order_entry
    if provider is None or venue not in entry.venue_names():
        return None
    instrument = entry.venue(venue).instrument(symbol)
    book = provider.books().get(symbol)
    if instrument is None or book is None or book[0] != "synced":
        return None
    bid, ask = book[1].book.best_bid(), book[1].book.best_ask()
    if bid is None or ask is None:
        return None
    return Quote.of(instrument, bid[0], ask[0])


@dataclass(frozen=True, slots=True)
class OrderMix:
    """Resting and marketable limit orders (GTC, IOC, FOK), market orders and post-only
    ones, on both sides, near the top of the book.

    The draws from ``rng`` per order are fixed (symbol, side, lots, kind, then the kind's
    own), so a seed gives the same mix on the same books.
    """

    market_share: float = 0.1
    """Market orders (time in force from ``market_tifs``)."""
    marketable_share: float = 0.35
    """Limit orders priced through the far side (minus the market orders' share)."""
    max_lots: int = 30
    max_offset_ticks: int = 5
    """How far from the touch a price may be, in ticks (0 to this, both included)."""
    post_only_share: float = 0.2
    """Of the resting limit orders."""
    market_tifs: tuple[str, ...] = ("IOC", "FOK")

    def request(
        self,
        rng: random.Random,
        venue: str,
        symbols: Sequence[str],
        quote: Callable[[str], Quote],
        client_order_id: str,
    ) -> OrderRequest:
        """One order of the mix on one of ``symbols`` (``quote`` gives each one's quote)."""
        symbol = rng.choice(symbols)
        q = quote(symbol)
        side = rng.choice(("buy", "sell"))
        qty = q.lot * rng.randint(1, self.max_lots)
        fields: dict[str, object] = {
            "venue": venue,
            "symbol": symbol,
            "side": side,
            "client_order_id": client_order_id,
        }
        kind = rng.random()
        price: Decimal | None = None
        if kind < self.market_share:
            tif = self.market_tifs[0]
            if len(self.market_tifs) > 1:
                tif = rng.choice(self.market_tifs)
            fields.update(type="market", time_in_force=tif)
        else:
            near, far = (q.bid, q.ask) if side == "buy" else (q.ask, q.bid)
            offset = q.tick * rng.randint(0, self.max_offset_ticks)
            if kind < self.marketable_share:
                price = far + offset if side == "buy" else far - offset
                fields["time_in_force"] = rng.choice(("GTC", "IOC", "FOK"))
            else:
                price = near - offset if side == "buy" else near + offset
                if rng.random() < self.post_only_share:
                    fields["post_only"] = True
            fields.update(type="limit", price=plain(price))
        fields["qty"] = plain(self._sized(qty, price or q.ask, q))
        return OrderRequest.model_validate(fields)

    @staticmethod
    def _sized(qty: Decimal, price: Decimal, q: Quote) -> Decimal:
        """``qty``, raised to whole lots until it meets the minimum notional, if any."""
        if q.min_notional is None or price <= 0 or qty * price >= q.min_notional:
            return qty
        lots = (q.min_notional / price / q.lot).to_integral_value(ROUND_CEILING)
        return q.lot * lots


def plain(value: Decimal) -> str:
    """Decimal text without an exponent or trailing zeros (``45000.1``, ``0.0002``)."""
    return format(value.normalize(), "f")


def resting(quote: Quote, venue: str, symbol: str, side: str, client_order_id: str) -> OrderRequest:
    """A GTC limit order of one lot, ten ticks away from the touch: the venue accepts it and
    it rests (nothing in it can make a venue refuse it)."""
    away = quote.tick * 10
    price = quote.bid - away if side == "buy" else quote.ask + away
    return OrderRequest.model_validate(
        {
            "venue": venue,
            "symbol": symbol,
            "side": side,
            "type": "limit",
            "qty": plain(OrderMix._sized(quote.lot, price, quote)),
            "price": plain(price),
            "client_order_id": client_order_id,
        }
    )


async def submit_retrying(
    lives: GatewayLives,
    request: OrderRequest,
    rng: random.Random,
    *,
    timeouts: Sequence[float] = (0.02, 0.2, 2.0),
    tries: int = 3,
    cancel_share: float = 0.1,
    attempts: Counter[str] | None = None,
) -> None:
    """A client that submits ``request``, gives up waiting after one of ``timeouts`` and
    submits it again, ``tries`` times at most; also again while its order is UNKNOWN or
    SENT. Of what it finds working (ACK) it cancels ``cancel_share``. A gateway killed under
    it, or not started yet, does not count as a try: it waits for the next one.
    ``attempts`` counts every submit by client order id."""
    cid = request.client_order_id
    done = 0
    while done < tries:
        gw = lives.gw
        if gw is None:
            await asyncio.sleep(0.01)
            continue
        if attempts is not None:
            attempts[cid] += 1
        try:
            async with asyncio.timeout(rng.choice(timeouts)):
                await gw.submit(request)
        except TimeoutError:
            done += 1
            continue
        except asyncio.CancelledError:
            _reraise_if_cancelled()
            await asyncio.sleep(0.01)  # the gateway stopped under it: try the next one
            continue
        except (RuntimeError, sqlite3.ProgrammingError):
            if lives.gw is gw:
                raise
            await asyncio.sleep(0.01)  # the gateway stopped under it: try the next one
            continue
        done += 1
        if lives.gw is not gw:
            continue  # killed meanwhile: ask the next one
        record = gw.order(cid)
        if record is None or record.state in (OrderState.UNKNOWN, OrderState.SENT):
            await asyncio.sleep(0.005)
            continue
        if record.state is OrderState.ACK and rng.random() < cancel_share:
            try:
                await gw.cancel(cid)
            except asyncio.CancelledError:
                _reraise_if_cancelled()
            except (OrderRefused, RuntimeError, sqlite3.ProgrammingError):
                pass  # closed meanwhile, or the gateway stopped under it
        return


def _reraise_if_cancelled() -> None:
    """Re-raises the CancelledError being handled when this task itself is being
    cancelled (not a gateway stopping under it)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def settled(gw: Gateway, within_s: float) -> None:
    """Waits until the ledger has no order in NEW, SENT or UNKNOWN and no reconciliation
    is left.

    Raises:
        TimeoutError: still unsettled after ``within_s`` (the message names some).
    """
    deadline = time.monotonic() + within_s
    while True:
        left = deadline - time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gw.order_entry.drain(), max(0.1, left))
        unsettled = [o for o in gw.orders(limit=None) if o.state in UNSETTLED]
        if not unsettled:
            return
        if time.monotonic() >= deadline:
            shown = ", ".join(f"{o.client_order_id} {o.state}" for o in unsettled[:3])
            raise TimeoutError(f"{len(unsettled)} orders unsettled after {within_s:g} s: {shown}")
        await asyncio.sleep(0.1)
