"""Binance spot capture: REST depth snapshots + ``@depth@100ms`` diffs through the assembler.

``BINANCE.http.0.0`` holds the ``/api/v3/depth`` responses for 4 symbols, taken while the
combined stream in ``BINANCE.ws.1.0`` was being buffered. Both are replayed in the order a
real client saw them: by the time stamp of each received frame and of each REST response,
so the diffs that arrived before a symbol's snapshot are the ones buffered for it.

``bookTicker`` frames carry the update id their best bid/ask belongs to (same id space as
the depth diffs' final id), so every ticker whose ``u`` equals a diff's final id is an
independent check of the assembled top of book at that exact point.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.core._recorded import Frame, decimals, read_frames, recorded_file
from tests.reference import RefOrderBook
from tradegw._core import BookAssembler

SYMBOLS = {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
# protocols.md §1.4: bookTicker frames whose u equals a depth event's final u, all symbols.
MATCHING_TICKERS = 26


@dataclass
class Symbol:
    assembler: BookAssembler
    ref: RefOrderBook
    before_snapshot: list[str] = field(default_factory=list)
    snapshot_outcome: str | None = None
    after_snapshot: Counter[str] = field(default_factory=Counter)
    tickers_checked: int = 0
    ticker_mismatches: list[tuple[int, Any, Any]] = field(default_factory=list)


def _frames() -> list[Frame]:
    rest = [f for f in read_frames(recorded_file("BINANCE.http.0.0")) if f.direction == "rest"]
    ws = [f for f in read_frames(recorded_file("BINANCE.ws.1.0")) if f.direction == "recv"]
    # A stable sort keeps file order for equal stamps.
    return sorted(rest + ws, key=lambda f: f.epoch)


def _symbol_of(frame: Frame) -> str:
    assert frame.url is not None
    return frame.url.split("symbol=")[1].split("&")[0]


def _precisions(frames: list[Frame]) -> tuple[int, int]:
    """Binance writes all prices and quantities of these symbols at 8 decimals; read them."""
    prices, qtys = set(), set()
    for frame in frames:
        if frame.direction == "rest":
            levels = frame.data["bids"] + frame.data["asks"]
        elif frame.data["stream"].endswith("@depth@100ms"):
            levels = frame.data["data"]["b"] + frame.data["data"]["a"]
        else:
            continue
        prices.update(decimals(level[0]) for level in levels)
        qtys.update(decimals(level[1]) for level in levels)
    return max(prices), max(qtys)


@pytest.fixture(scope="module")
def replay() -> dict[str, Symbol]:
    frames = _frames()
    pp, qp = _precisions(frames)
    tickers: dict[tuple[str, int], dict[str, Any]] = {}
    for frame in frames:
        if frame.direction == "recv" and frame.data["stream"].endswith("@bookTicker"):
            ticker = frame.data["data"]
            tickers[(ticker["s"], ticker["u"])] = ticker

    symbols = {s: Symbol(BookAssembler("binance", pp, qp), RefOrderBook(pp, qp)) for s in SYMBOLS}
    ref_local: dict[str, int] = {}
    ref_buffer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for frame in frames:
        if frame.direction == "rest":
            sym = symbols[_symbol_of(frame)]
            snap = frame.data
            sym.snapshot_outcome = sym.assembler.on_snapshot(
                snap["lastUpdateId"], snap["bids"], snap["asks"]
            )
            name = _symbol_of(frame)
            sym.ref.apply_snapshot(snap["bids"], snap["asks"])
            ref_local[name] = snap["lastUpdateId"]
            for diff in ref_buffer.pop(name, []):
                if diff["u"] > ref_local[name]:
                    sym.ref.apply(diff["b"], diff["a"])
                    ref_local[name] = diff["u"]
            continue
        if not frame.data["stream"].endswith("@depth@100ms"):
            continue
        diff = frame.data["data"]
        name = diff["s"]
        sym = symbols[name]
        outcome = sym.assembler.on_diff(diff["U"], diff["u"], diff["b"], diff["a"])
        if sym.snapshot_outcome is None:
            sym.before_snapshot.append(outcome)
            ref_buffer[name].append(diff)
            continue
        sym.after_snapshot[outcome] += 1
        if diff["u"] > ref_local[name]:
            sym.ref.apply(diff["b"], diff["a"])
            ref_local[name] = diff["u"]
        ticker = tickers.get((name, diff["u"]))
        if ticker is not None and outcome == "applied":
            sym.tickers_checked += 1
            book = sym.assembler.book
            expected = ((ticker["b"], ticker["B"]), (ticker["a"], ticker["A"]))
            got = (book.best_bid(), book.best_ask())
            if got != expected:
                sym.ticker_mismatches.append((diff["u"], expected, got))
    return symbols


def test_every_symbol_syncs_without_gap(replay: dict[str, Symbol]) -> None:
    assert set(replay) == SYMBOLS
    for name, sym in replay.items():
        # A real client buffered at least one diff for every symbol before the REST reply.
        assert sym.before_snapshot, name
        assert set(sym.before_snapshot) == {"buffered"}, name
        assert sym.snapshot_outcome == "applied", name
        assert set(sym.after_snapshot) <= {"applied", "stale"}, (name, sym.after_snapshot)
        assert sym.after_snapshot["applied"] > 0, name
        assert sym.assembler.state == "synced", name
        stats = sym.assembler.stats()
        assert (stats["gaps"], stats["crossed"], sym.assembler.resyncs) == (0, 0, 0), name
        assert not sym.assembler.book.is_crossed(), name


def test_last_update_id_follows_the_stream(replay: dict[str, Symbol]) -> None:
    finals: dict[str, int] = {}
    for frame in _frames():
        if frame.direction == "recv" and frame.data["stream"].endswith("@depth@100ms"):
            finals[frame.data["data"]["s"]] = frame.data["data"]["u"]
    for name, sym in replay.items():
        assert sym.assembler.last_update_id == finals[name], name


def test_top_of_book_matches_every_book_ticker(replay: dict[str, Symbol]) -> None:
    assert {n: s.ticker_mismatches for n, s in replay.items() if s.ticker_mismatches} == {}
    assert sum(sym.tickers_checked for sym in replay.values()) == MATCHING_TICKERS


def test_final_books_equal_reference(replay: dict[str, Symbol]) -> None:
    for name, sym in replay.items():
        assert sym.assembler.book.top(5000) == sym.ref.top(5000), name


def test_assembler_counts_what_it_buffered(replay: dict[str, Symbol]) -> None:
    for name, sym in replay.items():
        assert sym.assembler.stats()["buffered"] == len(sym.before_snapshot), name
        assert sym.assembler.stats()["snapshots"] == 1, name
