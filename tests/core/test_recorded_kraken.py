"""Kraken WS v1 ``book-1000`` capture: every recorded checksum must reproduce.

``KRAKEN.ws.50.0`` holds 10 pairs' snapshots and 4,269 updates, each with Kraken's CRC32
(protocols.md §3.4). Kraken v1 writes every number at a fixed precision per pair, so the
precisions are read off the snapshot texts; the assembler's re-rendered top 10 must then be
byte-identical to what Kraken hashed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.core._recorded import decimals, read_frames, recorded_file
from tests.reference import RefOrderBook
from tradegw._core import BookAssembler

RECORDED_UPDATES = 4269  # recorded/README.md and protocols.md §3.4
DEPTH = 1000


@dataclass
class Pair:
    assembler: BookAssembler
    ref: RefOrderBook
    snapshot_outcome: str = ""
    outcomes: Counter[str] = field(default_factory=Counter)
    # Updates where the core's outcome or either book's checksum disagreed with Kraken.
    anomalies: list[tuple[str, int, int, int]] = field(default_factory=list)


def _book_frames() -> list[list[Any]]:
    path = recorded_file("KRAKEN.ws.50.0")
    # Book frames are JSON arrays; events (status, heartbeat) are objects.
    return [f.data for f in read_frames(path) if f.direction == "recv" and isinstance(f.data, list)]


def _split_update(frame: list[Any]) -> tuple[list[Any], list[Any], int | None]:
    """Collects a/b levels in array order and the checksum from a 4- or 5-element frame."""
    asks: list[Any] = []
    bids: list[Any] = []
    checksum = None
    for part in frame[1:-2]:
        asks += part.get("a", [])
        bids += part.get("b", [])
        if "c" in part:
            checksum = int(part["c"])
    return bids, asks, checksum


@pytest.fixture(scope="module")
def replay() -> dict[str, Pair]:
    pairs: dict[str, Pair] = {}
    for frame in _book_frames():
        name = frame[-1]
        body = frame[1]
        if "as" in body or "bs" in body:
            levels = body.get("as", []) + body.get("bs", [])
            pp = max(decimals(level[0]) for level in levels)
            qp = max(decimals(level[1]) for level in levels)
            pair = Pair(BookAssembler("kraken", pp, qp, depth=DEPTH), RefOrderBook(pp, qp, DEPTH))
            pairs[name] = pair
            pair.snapshot_outcome = pair.assembler.on_snapshot(body["bs"], body["as"], None)
            pair.ref.apply_snapshot(body["bs"], body["as"])
            continue
        pair = pairs[name]
        bids, asks, checksum = _split_update(frame)
        assert checksum is not None, frame
        outcome = pair.assembler.on_update(bids, asks, checksum)
        pair.outcomes[outcome] += 1
        pair.ref.apply(bids, asks)
        core_sum = pair.assembler.book.checksum_kraken()
        ref_sum = pair.ref.checksum_kraken()
        if outcome != "applied" or core_sum != checksum or ref_sum != checksum:
            pair.anomalies.append((outcome, checksum, core_sum, ref_sum))
    return pairs


@pytest.mark.timeout(120)
def test_every_recorded_checksum_reproduces(replay: dict[str, Pair]) -> None:
    assert len(replay) == 10
    assert {pair.snapshot_outcome for pair in replay.values()} == {"applied"}
    assert {name: pair.anomalies[:3] for name, pair in replay.items() if pair.anomalies} == {}
    outcomes = sum((pair.outcomes for pair in replay.values()), Counter())
    assert outcomes == Counter(applied=RECORDED_UPDATES)
    for name, pair in replay.items():
        stats = pair.assembler.stats()
        assert pair.assembler.state == "synced", name
        assert stats["checksum_mismatches"] == 0, name
        assert stats["crossed"] == 0, name
        assert stats["snapshots"] == 1, name
    total_ok = sum(pair.assembler.stats()["checksum_ok"] for pair in replay.values())
    assert total_ok == RECORDED_UPDATES


@pytest.mark.timeout(120)
def test_final_books_equal_reference(replay: dict[str, Pair]) -> None:
    for name, pair in replay.items():
        book = pair.assembler.book
        assert book.top(DEPTH) == pair.ref.top(DEPTH), name
        assert (book.bid_count, book.ask_count) == (pair.ref.bid_count, pair.ref.ask_count), name
        assert book.bid_count <= DEPTH
        assert book.ask_count <= DEPTH


def test_recorded_numbers_are_fixed_precision() -> None:
    # The premise of rendering at a per-pair precision: v1 never varies a pair's decimals.
    widths: dict[str, set[tuple[int, int]]] = {}
    for frame in _book_frames():
        for part in frame[1:-2]:
            for key in ("as", "bs", "a", "b"):
                for level in part.get(key, []):
                    widths.setdefault(frame[-1], set()).add(
                        (decimals(level[0]), decimals(level[1]))
                    )
    assert len(widths) == 10
    assert all(len(seen) == 1 for seen in widths.values()), widths
