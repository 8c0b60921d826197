"""Prints the best bid and ask of one symbol on every venue quoting it, from order books this
script builds itself out of the gateway's snapshots and updates.

    python examples/book_printer.py                          # the embedded simulators, until Ctrl-C
    python examples/book_printer.py --duration 10 --symbol ETH-USD
    python examples/book_printer.py --config config/live.yaml

The whole of a consumer is the five lines in ``main``: open the gateway, subscribe, read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import uvloop

import tradegw
from tradegw._core import OrderBook

PRINT_EVERY_S = 1.0
"""Each book is printed at most once a second (it changes many times a second)."""


async def main(config: str | None, symbol: str, duration_s: float | None) -> None:
    """Keeps one book per venue quoting ``symbol`` and prints its top of book."""
    books: dict[str, OrderBook] = {}
    printed: dict[str, float] = {}
    async with tradegw.open(config) as gw, asyncio.timeout(duration_s):
        types = ["BookSnapshot", "BookUpdate"]
        async for ev in gw.subscribe(symbols=[symbol], types=types):
            # A snapshot comes first, after every resync, and instead of a backlog of diffs.
            if ev.event_type == "BookSnapshot":
                books[ev.provider] = OrderBook(ev.price_precision, ev.qty_precision, ev.depth)
                books[ev.provider].apply_snapshot(ev.bids, ev.asks)
            elif ev.provider in books:
                books[ev.provider].apply(ev.bids, ev.asks)
            now = time.monotonic()
            if now - printed.get(ev.provider, 0.0) >= PRINT_EVERY_S:
                printed[ev.provider] = now
                book = books[ev.provider]
                print(f"{ev.provider:<9} {ev.symbol}  bid {book.best_bid()}  ask {book.best_ask()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML config (default: the embedded simulators)")
    parser.add_argument("--symbol", default="BTC-USD", help="canonical symbol (BTC-USD)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    args = parser.parse_args()
    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        uvloop.run(main(args.config, args.symbol, args.duration))
