"""Client-side helpers for the Kraken simulator tests: a v2 client, independent books.

Nothing here imports the simulator's wire or checksum code: books and their checksums are
rebuilt the way clients do (Decimal arithmetic and text formatting, or the literal number text
as Kraken's own SDK and cryptofeed hash it; zlib), so the tests compare two implementations.
"""

from __future__ import annotations

import json
import re
import zlib
from decimal import Decimal
from typing import Any

import aiohttp

from tests.sim.ws_client import TextClient

# Keys whose values are prices or quantities in v2 data frames.
NUMBER_KEYS = (
    "price",
    "qty",
    "bid",
    "bid_qty",
    "ask",
    "ask_qty",
    "last",
    "volume",
    "vwap",
    "low",
    "high",
    "change",
    "open",
    "close",
    "change_pct",
)
_NUMBER_RE = re.compile(r'"(' + "|".join(NUMBER_KEYS) + r')":([^,}\]]+)')
_PLAIN_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


def parse(text: str) -> Any:
    """Parse a frame keeping every non-integer number exact (as Decimal)."""
    return json.loads(text, parse_float=Decimal)


def parse_text(text: str) -> Any:
    """Parse a frame keeping every non-integer number as its literal text."""
    return json.loads(text, parse_float=str)


def number_texts(text: str) -> list[tuple[str, str]]:
    """``(key, raw number text)`` of every price/qty-like field in a frame's JSON text."""
    return _NUMBER_RE.findall(text)


def assert_full_precision(text: str, precision: dict[str, int]) -> int:
    """Every price/qty number is plain decimal with exactly its precision's decimals, as the
    real v2 wire writes them (``62807.0``, ``0.00000000``); returns how many were checked.

    ``precision`` maps a key to its decimals (keys not listed are only checked for form).
    """
    checked = 0
    for key, raw in number_texts(text):
        assert _PLAIN_RE.fullmatch(raw), f"{key}={raw!r} is not plain decimal text in {text}"
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        if key in precision:
            assert decimals == precision[key], f"{key}={raw} has not {precision[key]} decimals"
            checked += 1
    return checked


def literal_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """Kraken's CRC32 over the number text exactly as written: drop '.', strip leading zeros.

    ``asks`` ascending and ``bids`` descending; only the first ten of each count.
    """

    def text(number: str) -> str:
        return number.replace(".", "").lstrip("0")

    parts = [text(p) + text(q) for p, q in asks[:10]] + [text(p) + text(q) for p, q in bids[:10]]
    return zlib.crc32("".join(parts).encode())


class LiteralBook:
    """A client's book that keeps each level's number text as received and checks the
    checksum over that text (no re-rendering at the pair's precision)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.frames = 0

    def apply(self, data: dict[str, Any], snapshot: bool) -> bool:
        """Apply one ``data`` entry (parsed with ``parse_float=str``): every level of the
        message first, then truncate to depth; True if its checksum matches."""
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for side, levels in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for level in levels:
                price, qty = str(level["price"]), str(level["qty"])
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = (price, qty)
        for price in sorted(self.bids, reverse=True)[self.depth :]:
            del self.bids[price]
        for price in sorted(self.asks)[self.depth :]:
            del self.asks[price]
        self.frames += 1
        asks = [self.asks[p] for p in sorted(self.asks)]
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)]
        return literal_checksum(asks, bids) == data["checksum"]


def ref_checksum(
    bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal], pp: int, qp: int
) -> int:
    """Kraken's v2 book checksum, written from the documentation with Decimal."""

    def text(value: Decimal, places: int) -> str:
        return f"{value:.{places}f}".replace(".", "").lstrip("0")

    parts = [text(p, pp) + text(asks[p], qp) for p in sorted(asks)[:10]]
    parts += [text(p, pp) + text(bids[p], qp) for p in sorted(bids, reverse=True)[:10]]
    return zlib.crc32("".join(parts).encode())


class MirrorBook:
    """A client's copy of one v2 book: snapshot, updates, truncation to depth, checksum."""

    def __init__(self, depth: int, pp: int, qp: int) -> None:
        self.depth, self.pp, self.qp = depth, pp, qp
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.frames = 0
        self.mismatches = 0

    def apply(self, data: dict[str, Any]) -> bool:
        """Apply one ``data`` entry of a book frame; True if its checksum matches."""
        for side, levels in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for level in levels:
                price, qty = Decimal(level["price"]), Decimal(level["qty"])
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        for price in sorted(self.bids, reverse=True)[self.depth :]:
            del self.bids[price]
        for price in sorted(self.asks)[self.depth :]:
            del self.asks[price]
        self.frames += 1
        ok = ref_checksum(self.bids, self.asks, self.pp, self.qp) == data["checksum"]
        self.mismatches += not ok
        return ok

    def snapshot(self, data: dict[str, Any]) -> bool:
        """Replace the book with a snapshot entry; True if its checksum matches."""
        self.bids.clear()
        self.asks.clear()
        return self.apply(data)

    def as_strings(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The book rendered like ``KrakenSimulator.book`` (fixed precision strings)."""

        def row(price: Decimal, qty: Decimal) -> tuple[str, str]:
            return f"{price:.{self.pp}f}", f"{qty:.{self.qp}f}"

        return (
            [row(p, self.bids[p]) for p in sorted(self.bids, reverse=True)],
            [row(p, self.asks[p]) for p in sorted(self.asks)],
        )


class Client(TextClient):
    """A thin v2 client over aiohttp, recording every text frame it reads."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self._req_id = 0

    @staticmethod
    def parse(text: str) -> Any:
        """The frame with exact decimals (see :func:`parse`)."""
        return parse(text)

    async def send(self, body: dict[str, Any]) -> int:
        """Send a request with a fresh ``req_id``; returns it."""
        self._req_id += 1
        await self.ws.send_str(json.dumps({**body, "req_id": self._req_id}))
        return self._req_id

    async def subscribe(self, channel: str, symbols: list[str] | None = None, **params: Any) -> int:
        """Send ``subscribe`` for ``channel`` (``symbols`` omitted for global channels)."""
        body: dict[str, Any] = {"channel": channel, **params}
        if symbols is not None:
            body["symbol"] = symbols
        return await self.send({"method": "subscribe", "params": body})

    async def unsubscribe(self, channel: str, symbols: list[str], **params: Any) -> int:
        body = {"channel": channel, "symbol": symbols, **params}
        return await self.send({"method": "unsubscribe", "params": body})

    async def acks(self, count: int, within: float = 3.0) -> list[Any]:
        """Read until ``count`` acks have arrived; returns every frame read (acks included)."""
        frames, seen = [], 0
        while seen < count:
            frame = await self.recv_until(lambda _: True, within)
            frames.append(frame)
            seen += is_ack(frame)
        return frames


def is_ack(frame: Any, req_id: int | None = None) -> bool:
    """Whether ``frame`` answers a subscribe/unsubscribe (optionally with ``req_id``)."""
    return (
        isinstance(frame, dict)
        and frame.get("method") in ("subscribe", "unsubscribe")
        and (req_id is None or frame.get("req_id") == req_id)
    )


def strip_times(text: str) -> str:
    """A frame's text without its timestamps (for comparing runs)."""
    return re.sub(r'"(timestamp|time_in|time_out|interval_begin)":"[^"]*"', r'"\1":"-"', text)
