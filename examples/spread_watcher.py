"""Watches one symbol's spread across venues on the merged book: each closed merge window
gives the best bid and ask over every venue, which venues quote them, and whether the venues
cross (one venue's bid at or above another's ask: an arbitrage, or a stale quote).

    python examples/spread_watcher.py                        # BTC-USD on Coinbase + Kraken
    python examples/spread_watcher.py --duration 20 --window-s 0.5
    python examples/spread_watcher.py --symbol ETH-USD --venue coinbase --venue kraken
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal

import uvloop

import tradegw


async def main(
    config: str | None, symbol: str, venues: list[str], window_s: float, duration_s: float | None
) -> None:
    """Merges ``symbol`` across ``venues`` in windows of ``window_s`` and prints each
    window's merged best bid and offer."""
    async with tradegw.open(config) as gw, asyncio.timeout(duration_s):
        merge_id = gw.merge(symbol, venues, window_s=window_s)
        print(f"merging {symbol} across {', '.join(venues)} every {window_s}s ({merge_id})")
        async for bbo in gw.subscribe(venues=["merged"], symbols=[symbol], types=["MergedBBO"]):
            if bbo.bid is None or bbo.ask is None:
                continue  # a side is empty on every venue
            spread = Decimal(bbo.ask) - Decimal(bbo.bid)
            bid_at = "+".join(sorted(bbo.bid_venues))
            ask_at = "+".join(sorted(bbo.ask_venues))
            flag = "  CROSSED" if bbo.crossed else ""
            print(
                f"window {bbo.window_seq:>4}  bid {bbo.bid} ({bid_at})  ask {bbo.ask} ({ask_at})"
                f"  spread {spread}{flag}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="YAML config (default: the embedded simulators)")
    parser.add_argument("--symbol", default="BTC-USD", help="canonical symbol (BTC-USD)")
    parser.add_argument("--venue", action="append", dest="venues", help="repeat: two or more")
    parser.add_argument("--window-s", type=float, default=1.0, help="merge window (1 s)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    args = parser.parse_args()
    venues = args.venues or ["coinbase", "kraken"]
    with contextlib.suppress(TimeoutError, KeyboardInterrupt):
        uvloop.run(main(args.config, args.symbol, venues, args.window_s, args.duration))
