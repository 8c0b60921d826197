"""Client-side helpers for the Coinbase simulator tests: an Advanced Trade client and an
independent book.

Nothing here imports the simulator's wire code: books are rebuilt the way a client does
(Decimal arithmetic on the strings received), and sequence numbers are checked by counting,
so the tests compare two implementations.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from typing import Any

import aiohttp

from tests.sim.ws_client import TextClient

PLAIN = re.compile(r"0|[1-9][0-9]*(\.[0-9]*[1-9])?|0\.[0-9]*[1-9]")
"""A decimal as Coinbase writes it: no sign, no exponent, no trailing fractional zeros."""
RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z")
"""Go's RFC3339Nano: up to nine fractional digits, trailing zeros dropped."""


def parse(text: str) -> Any:
    """Parse a frame (every amount is a string, so plain JSON keeps it exact)."""
    return json.loads(text)


def strip_volatile(text: str) -> str:
    """A frame's text without its sequence number and times (for comparing runs)."""
    text = re.sub(r'"sequence_num":\d+', '"sequence_num":-', text)
    return re.sub(r'"(timestamp|event_time|time|current_time)":"[^"]*"', r'"\1":"-"', text)


class MirrorBook:
    """A client's copy of one product's level2 book (Decimal keys, string values as sent)."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, str] = {}
        self.asks: dict[Decimal, str] = {}
        self.synced = False

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one ``l2_data`` event: a snapshot replaces the book, an update sets levels
        (``"0"`` removes)."""
        if event["type"] == "snapshot":
            self.bids.clear()
            self.asks.clear()
            self.synced = True
        else:
            assert self.synced, "update before snapshot"
        for u in event["updates"]:
            side = {"bid": self.bids, "offer": self.asks}[u["side"]]
            price, qty = Decimal(u["price_level"]), u["new_quantity"]
            if Decimal(qty) == 0:
                side.pop(price, None)
            else:
                side[price] = qty

    def top(
        self, depth: int, pp: int, qp: int
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The top ``depth`` levels rendered like ``sim.book`` (fixed precision)."""

        def row(price: Decimal, qty: str) -> tuple[str, str]:
            return f"{price:.{pp}f}", f"{Decimal(qty):.{qp}f}"

        bids = [row(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth]]
        asks = [row(p, self.asks[p]) for p in sorted(self.asks)[:depth]]
        return bids, asks


class Client(TextClient):
    """A thin Advanced Trade client over aiohttp that records every text frame it reads and
    checks that each frame's ``sequence_num`` follows the last one."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.seqs: list[int] = []
        self.books: dict[str, MirrorBook] = {}

    async def send(self, body: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(body))

    async def subscribe(self, channel: str, product_ids: list[str] | None = None) -> None:
        """``subscribe`` to ``channel`` (with a dummy ``jwt``, which the venue ignores)."""
        body: dict[str, Any] = {"type": "subscribe", "channel": channel, "jwt": "x.y.z"}
        if product_ids is not None:
            body["product_ids"] = product_ids
        await self.send(body)

    async def unsubscribe(self, channel: str, product_ids: list[str] | None = None) -> None:
        body: dict[str, Any] = {"type": "unsubscribe", "channel": channel}
        if product_ids is not None:
            body["product_ids"] = product_ids
        await self.send(body)

    async def recv(self, within: float | None = None) -> Any:
        """The next frame, parsed; its number is recorded and its level2 events applied."""
        frame = parse(await self.recv_text(within))
        if "sequence_num" in frame:
            self.seqs.append(frame["sequence_num"])
        if frame.get("channel") == "l2_data":
            for event in frame["events"]:
                self.books.setdefault(event["product_id"], MirrorBook()).apply(event)
        return frame

    async def ack(self, within: float = 3.0) -> list[Any]:
        """Read up to and including the next ``subscriptions`` ack; returns the frames."""
        frames = []
        while True:
            frame = await self.recv(within)
            frames.append(frame)
            if frame.get("channel") == "subscriptions":
                return frames

    def contiguous(self) -> bool:
        """Whether the numbers read so far run 0, 1, 2, ... without a gap or a repeat."""
        return self.seqs == list(range(len(self.seqs)))


def gaps(seqs: list[int]) -> list[tuple[int, int]]:
    """``(previous, next)`` wherever a number does not follow the one before it."""
    return [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
