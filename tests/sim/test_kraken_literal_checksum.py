"""Every book frame's checksum holds over the number text exactly as written.

Kraken's own SDK and cryptofeed hash the literal text of each price and qty (drop '.', strip
leading zeros), which only works because the real v2 wire writes numbers at the pair's full
precision (protocols.md 3.2). This client does the same, on its own books, over loopback, with
no code of the simulator's or of the Rust core's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.sim.kraken_helpers import LiteralBook, parse_text
from tradegw.sim.kraken import KrakenSimConfig, KrakenSimulator

pytestmark = pytest.mark.timeout(30)

# Price/qty decimals 1/8, 4/8, 8/5, 4/2 and a synthetic pair at 1/0 (whole-number quantities).
SYMBOLS = ["BTC/USD", "MATIC/USD", "SHIB/USD", "USDT/USD", "SYM28/USD"]
RUN_SECONDS = 3.0


async def _read_books(ws_url: str, depth: int, stats: dict[str, Any]) -> None:
    """Subscribe ``depth`` for every symbol and check every book frame until time is up."""
    books = {symbol: LiteralBook(depth) for symbol in SYMBOLS}
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        await ws.send_json(
            {
                "method": "subscribe",
                "params": {"channel": "book", "symbol": SYMBOLS, "depth": depth},
                "req_id": depth,
            }
        )
        deadline = time.monotonic() + RUN_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(ws.receive(), left)
            except TimeoutError:
                break
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame = parse_text(msg.data)
            if frame.get("channel") != "book":
                continue
            (data,) = frame["data"]
            book = books[data["symbol"]]
            snapshot = frame["type"] == "snapshot"
            assert snapshot == (book.frames == 0), "one snapshot, first"
            if not book.apply(data, snapshot):
                stats["mismatches"].append((depth, msg.data))
            stats["frames"] += 1
    stats[depth] = {symbol: book.frames for symbol, book in books.items()}


async def test_every_checksum_holds_over_the_literal_number_text() -> None:
    config = KrakenSimConfig(pairs=30, rate=3000, seed=17)
    async with KrakenSimulator(config) as sim:
        assert sim.pair("SYM28/USD").qty_precision == 0
        stats: dict[Any, Any] = {"frames": 0, "mismatches": []}
        await asyncio.gather(_read_books(sim.ws_url, 10, stats), _read_books(sim.ws_url, 25, stats))
    assert stats["mismatches"] == [], stats["mismatches"][:3]
    assert stats["frames"] > 2000
    for depth in (10, 25):
        for symbol, frames in stats[depth].items():
            assert frames > 50, f"{symbol} at depth {depth} saw only {frames} frames"
