"""Places and cancels orders on the simulators: on each venue, a post-only buy below the
market that rests and is cancelled, then a buy that crosses the spread and fills, and a sell
that closes it. Prints every ExecReport and each order's fills, then exits.

    python examples/place_and_cancel.py                      # BTC-USD on Coinbase + Kraken
    python examples/place_and_cancel.py --venue kraken --symbol ETH-USD

Trading is on for the simulated venues only (``sim_trading=True``: each simulator gets a key
made for the run); nothing here can reach a real venue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal

import uvloop

import tradegw
from tradegw._core import OrderBook
from tradegw.gateway import Gateway
from tradegw.schema import TERMINAL_EXEC_STATES, BookSnapshot, BookUpdate, ExecReport


async def keep_books(gw: Gateway, symbol: str, books: dict[str, OrderBook]) -> None:
    """Keeps each venue's verified book of ``symbol`` from its snapshots and updates."""
    async for ev in gw.subscribe(symbols=[symbol], types=["BookSnapshot", "BookUpdate"]):
        if isinstance(ev, BookSnapshot):  # first, and after every resync
            books[ev.provider] = OrderBook(ev.price_precision or 0, ev.qty_precision or 0, ev.depth)
            books[ev.provider].apply_snapshot(ev.bids, ev.asks)
        elif isinstance(ev, BookUpdate) and ev.provider in books:
            books[ev.provider].apply(ev.bids, ev.asks)


async def touch(books: dict[str, OrderBook], venue: str) -> tuple[Decimal, Decimal]:
    """The best bid and ask of ``venue``'s book, once it has both."""
    while True:
        book = books.get(venue)
        bid, ask = (book.best_bid(), book.best_ask()) if book is not None else (None, None)
        if bid is not None and ask is not None:
            return Decimal(bid[0]), Decimal(ask[0])
        await asyncio.sleep(0.05)


async def print_reports(gw: Gateway, symbol: str, ended: dict[str, asyncio.Event]) -> None:
    """Prints each ExecReport of ``symbol``; sets an order's event once it has ended."""
    async for ev in gw.subscribe(symbols=[symbol], types=["ExecReport"]):
        assert isinstance(ev, ExecReport)
        fill = f"  fill {ev.last_fill_qty} @ {ev.last_fill_price}" if ev.last_fill_qty else ""
        print(
            f"report {ev.provider} {ev.symbol} #{ev.seq_provider} {ev.state} {ev.side}"
            f" {ev.qty} @ {ev.price} filled {ev.filled_qty}{fill}"
        )
        if ev.state in TERMINAL_EXEC_STATES:
            ended.setdefault(ev.client_order_id, asyncio.Event()).set()


async def trade(
    gw: Gateway,
    venue: str,
    symbol: str,
    books: dict[str, OrderBook],
    ended: dict[str, asyncio.Event],
) -> None:
    """A resting order cancelled, then a buy and a sell that cross the spread."""
    instrument = gw.order_entry.venue(venue).instrument(symbol)
    if instrument is None:
        print(f"{venue} does not list {symbol}")
        return
    qty = str(instrument.min_qty)  # the smallest order; on the lot in the simulators
    tick = instrument.price_increment
    bid, ask = await touch(books, venue)
    order = {"venue": venue, "symbol": symbol, "type": "limit", "qty": qty}
    steps = [
        {"side": "buy", "price": str(bid - 10 * tick), "post_only": True},  # rests
        {"side": "buy", "price": str(ask), "time_in_force": "IOC"},  # takes the ask
        {"side": "sell", "price": str(bid), "time_in_force": "IOC"},  # and gives it back
    ]
    for i, step in enumerate(steps):
        h = await gw.submit({**order, **step, "decision_id": f"example-{venue}-{i}"})
        ended.setdefault(h.client_order_id, asyncio.Event())
        print(f"submitted {venue} {step['side']} {qty} {symbol} @ {step['price']}: {h.state}")
        if step.get("post_only"):
            await gw.cancel(h.client_order_id)
        await ended[h.client_order_id].wait()  # its last report printed
        for f in gw.fills(h.client_order_id):
            print(f"fill {venue} {symbol} {step['side']} {f.qty} @ {f.price} fee {f.fee}")


async def main(config: str | None, symbol: str, venues: list[str], duration_s: float) -> None:
    """Opens the gateway with trading on the simulators, trades on each venue, exits."""
    async with tradegw.open(config, sim_trading=True) as gw, asyncio.timeout(duration_s):
        books: dict[str, OrderBook] = {}
        ended: dict[str, asyncio.Event] = {}
        readers = [
            asyncio.create_task(keep_books(gw, symbol, books)),
            asyncio.create_task(print_reports(gw, symbol, ended)),
        ]
        try:
            for venue in venues:
                await trade(gw, venue, symbol, books, ended)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML config (default: the embedded simulators)")
    parser.add_argument("--symbol", default="BTC-USD", help="canonical symbol (BTC-USD)")
    parser.add_argument("--venue", action="append", dest="venues", help="repeat for several")
    parser.add_argument("--duration", type=float, default=60.0, metavar="S", help="at most S s")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(
            main(args.config, args.symbol, args.venues or ["coinbase", "kraken"], args.duration)
        )
