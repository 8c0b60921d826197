"""A Binance client for the simulator tests, and its check against real recorded traffic.

Nothing here imports the simulator's wire or sequence code (nor ``tradegw._core``): the book
follows the venue's documented procedure (protocols.md section 1.4) with Decimal arithmetic, so
the tests compare two implementations. The tests in this module run that client over the real
2021 capture in ``shared/recorded/BINANCE.*`` first: what it accepts there is what it then
demands of the simulator.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.sim.ws_client import TextClient

RECORDED = Path(__file__).resolve().parents[3] / "shared" / "recorded"
_FRAME = re.compile(r"^([0-9.]+): (.*)$")
_HTTP = re.compile(r"^(\S+) -> ([0-9.]+): (.*)$")

Side = dict[Decimal, str]


def recorded_frames() -> list[tuple[float, dict[str, Any]]]:
    """Every frame the recorded combined stream received, with its arrival time."""
    out = []
    for line in (RECORDED / "BINANCE.ws.1.0").read_text().splitlines():
        match = _FRAME.match(line)
        if match:
            out.append((float(match.group(1)), json.loads(match.group(2))))
    return out


def recorded_snapshots() -> dict[str, tuple[float, dict[str, Any]]]:
    """The recorded REST depth answers with their arrival times, by symbol."""
    out = {}
    for line in (RECORDED / "BINANCE.http.0.0").read_text().splitlines():
        match = _HTTP.match(line)
        if match:
            symbol = re.search(r"symbol=([A-Z0-9]+)", match.group(1))
            assert symbol is not None
            out[symbol.group(1)] = (float(match.group(2)), json.loads(match.group(3)))
    return out


def replay_recorded() -> tuple[dict[str, LocalBook], int]:
    """Replay the capture as the recorder lived it: each snapshot applied when it arrived.

    Every bookTicker whose ``u`` equals the ``u`` of a depth event applied later is compared
    with the book right after that event; returns the books and how many were compared.
    """
    snapshots = recorded_snapshots()
    books = {symbol: LocalBook() for symbol in snapshots}
    tickers: dict[tuple[str, int], dict[str, Any]] = {}
    checked = 0
    for at, frame in recorded_frames():
        for symbol, (snap_at, snap) in snapshots.items():
            book = books[symbol]
            if not book.synced and snap_at <= at:
                assert book.snapshot(snap) == "applied", symbol
        data = payload(frame)
        if "e" not in data and "u" in data:
            tickers[(data["s"], data["u"])] = data
        elif data.get("e") == "depthUpdate":
            book = books[data["s"]]
            outcome = book.diff(data)
            assert outcome != "gap", data
            ticker = tickers.get((data["s"], data["u"]))
            if outcome == "applied" and ticker is not None:
                assert same_bbo(book, ticker), (data["s"], data["u"])
                checked += 1
    return books, checked


class LocalBook:
    """One symbol's book kept by the documented snapshot + diff procedure.

    Levels keep their text as received; :meth:`rendered` writes them at a precision.
    """

    def __init__(self) -> None:
        self.bids: Side = {}
        self.asks: Side = {}
        self.buffer: list[dict[str, Any]] = []
        self.last_id: int | None = None
        self.applied = 0
        self.gaps = 0
        self.stale = 0

    @property
    def synced(self) -> bool:
        return self.last_id is not None

    def first_buffered(self) -> int | None:
        """``U`` of the first buffered event (the snapshot must reach it)."""
        return self.buffer[0]["U"] if self.buffer else None

    def snapshot(self, snap: dict[str, Any]) -> str:
        """Step 4-7: ``"refetch"`` when the snapshot is older than the first buffered event,
        else the book is set and the buffer replayed (``"applied"`` or ``"gap"``)."""
        first = self.first_buffered()
        if first is not None and snap["lastUpdateId"] < first - 1:
            return "refetch"
        self.bids = {Decimal(p): q for p, q in snap["bids"]}
        self.asks = {Decimal(p): q for p, q in snap["asks"]}
        self.last_id = snap["lastUpdateId"]
        pending, self.buffer = self.buffer, []
        for event in pending:
            if self.diff(event) == "gap":
                return "gap"
        return "applied"

    def diff(self, event: dict[str, Any]) -> str:
        """Buffer before the snapshot; after it: ``"stale"``, ``"gap"`` or ``"applied"``."""
        if self.last_id is None:
            self.buffer.append(event)
            return "buffered"
        first, final = event["U"], event["u"]
        if final <= self.last_id:
            self.stale += 1
            return "stale"
        if first > self.last_id + 1:
            self.gaps += 1
            self.last_id = None
            return "gap"
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = qty
        self.last_id = final
        self.applied += 1
        return "applied"

    def best(self) -> tuple[str, str, str, str]:
        """Best bid, its qty, best ask, its qty, as received."""
        bid, ask = max(self.bids), min(self.asks)
        return str(bid), self.bids[bid], str(ask), self.asks[ask]

    def rendered(
        self, pp: int, qp: int, depth: int | None = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Like ``BinanceSimulator.book``: fixed-precision strings, bids descending."""

        def row(price: Decimal, qty: str) -> tuple[str, str]:
            return f"{price:.{pp}f}", f"{Decimal(qty):.{qp}f}"

        bids = sorted(self.bids, reverse=True)[:depth]
        asks = sorted(self.asks)[:depth]
        return [row(p, self.bids[p]) for p in bids], [row(p, self.asks[p]) for p in asks]


def same_bbo(book: LocalBook, ticker: dict[str, Any]) -> bool:
    """Whether a bookTicker shows the book's best bid and ask (numbers compared as decimals)."""
    mine = [Decimal(x) for x in book.best()]
    return mine == [Decimal(ticker[k]) for k in ("b", "B", "a", "A")]


class Client(TextClient):
    """A thin market-stream client over aiohttp, recording every text frame it reads."""

    recv_timeout_s = 3.0

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self._id = 0

    async def request(self, method: str, params: list[Any] | None = None) -> int:
        """Send a control message with a fresh id; returns the id."""
        self._id += 1
        body: dict[str, Any] = {"method": method, "id": self._id}
        if params is not None:
            body["params"] = params
        await self.ws.send_str(json.dumps(body))
        return self._id

    async def reply(self, req_id: int, within: float = 3.0) -> Any:
        """Read until the answer to request ``req_id`` arrives."""
        return await self.recv_until(
            lambda f: isinstance(f, dict) and f.get("id") == req_id and "stream" not in f, within
        )


def payload(frame: dict[str, Any]) -> dict[str, Any]:
    """The event of a combined or raw frame."""
    data = frame.get("data", frame) if "stream" in frame else frame
    assert isinstance(data, dict)
    return data


async def rest_json(session: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with session.get(url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


# ---------------------------------------------------------------------- the client on real data


def test_the_reference_book_syncs_the_recorded_binance_capture_without_a_gap() -> None:
    books, _ = replay_recorded()
    assert set(books) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    for symbol, book in books.items():
        assert book.synced, symbol
        assert book.applied >= 1, symbol
        assert book.gaps == 0
    assert sum(book.applied for book in books.values()) > 150


def test_the_reference_book_matches_every_recorded_book_ticker_at_its_update_id() -> None:
    _, checked = replay_recorded()
    assert checked == 26


def test_the_reference_book_asks_again_for_a_snapshot_older_than_its_first_event() -> None:
    book = LocalBook()
    assert book.diff({"U": 10, "u": 12, "b": [], "a": []}) == "buffered"
    assert book.snapshot({"lastUpdateId": 8, "bids": [], "asks": []}) == "refetch"
    assert not book.synced
    snap = {"lastUpdateId": 11, "bids": [["1.0", "2"]], "asks": [["2.0", "3"]]}
    assert book.snapshot(snap) == "applied"
    assert book.last_id == 12
    assert book.diff({"U": 12, "u": 12, "b": [], "a": []}) == "stale"
    assert book.diff({"U": 14, "u": 15, "b": [], "a": []}) == "gap"
    with pytest.raises(AssertionError):
        assert book.synced
