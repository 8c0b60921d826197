"""Coinbase Exchange ``level2`` capture: 10 snapshots and 9,719 ``l2update`` frames.

The Exchange API's level2 channel carries no sequence number (protocols.md §2.2), so each
product gets a synthetic, strictly increasing one: the first update after the snapshot is
snapshot + 1. Coinbase writes sizes with varying decimals ("12.77", "123.10", "0.0"), so a
product's precision is the most decimals seen anywhere in its snapshot and updates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.core._recorded import decimals, read_frames, recorded_file
from tests.reference import RefOrderBook
from tradegw._core import BookAssembler

RECORDED_UPDATES = 9719  # recorded/README.md
PRODUCTS = 10


@dataclass
class Product:
    assembler: BookAssembler
    ref: RefOrderBook
    seq: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crossed_after: list[int] = field(default_factory=list)


def _level2_frames() -> list[dict[str, Any]]:
    path = recorded_file("COINBASE.ws.28.0")
    return [
        f.data
        for f in read_frames(path)
        if f.direction == "recv" and f.data.get("type") in ("snapshot", "l2update")
    ]


def _precisions(frames: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    price: dict[str, int] = defaultdict(int)
    qty: dict[str, int] = defaultdict(int)
    for frame in frames:
        product = frame["product_id"]
        if frame["type"] == "snapshot":
            levels = [(p, q) for p, q, *_ in frame["bids"] + frame["asks"]]
        else:
            levels = [(p, q) for _, p, q in frame["changes"]]
        for p, q in levels:
            price[product] = max(price[product], decimals(p))
            qty[product] = max(qty[product], decimals(q))
    return {product: (price[product], qty[product]) for product in price}


def _sides(changes: list[list[str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids = [(p, q) for side, p, q in changes if side == "buy"]
    asks = [(p, q) for side, p, q in changes if side == "sell"]
    assert len(bids) + len(asks) == len(changes), changes
    return bids, asks


@pytest.fixture(scope="module")
def replay() -> dict[str, Product]:
    frames = _level2_frames()
    precisions = _precisions(frames)
    products: dict[str, Product] = {}
    for frame in frames:
        name = frame["product_id"]
        if frame["type"] == "snapshot":
            pp, qp = precisions[name]
            product = Product(BookAssembler("coinbase", pp, qp), RefOrderBook(pp, qp))
            products[name] = product
            outcome = product.assembler.on_snapshot(0, frame["bids"], frame["asks"])
            product.outcomes["snapshot:" + outcome] += 1
            product.ref.apply_snapshot(frame["bids"], frame["asks"])
            continue
        product = products[name]
        product.seq += 1
        bids, asks = _sides(frame["changes"])
        product.outcomes[product.assembler.on_update(product.seq, bids, asks)] += 1
        product.ref.apply(bids, asks)
        if product.assembler.book.is_crossed():
            product.crossed_after.append(product.seq)
    return products


@pytest.mark.timeout(120)
def test_every_update_applies_without_crossing(replay: dict[str, Product]) -> None:
    assert len(replay) == PRODUCTS
    total = sum((product.outcomes for product in replay.values()), Counter())
    assert total == Counter({"snapshot:applied": PRODUCTS, "applied": RECORDED_UPDATES})
    assert {n: p.crossed_after for n, p in replay.items() if p.crossed_after} == {}
    for name, product in replay.items():
        assert product.assembler.state == "synced", name
        assert product.assembler.last_update_id == product.seq, name
        assert product.assembler.stats()["crossed"] == 0, name


@pytest.mark.timeout(120)
def test_final_books_equal_reference(replay: dict[str, Product]) -> None:
    for name, product in replay.items():
        book = product.assembler.book
        assert book.top(10_000) == product.ref.top(10_000), name
        assert (book.bid_count, book.ask_count) == (product.ref.bid_count, product.ref.ask_count)
        assert book.bid_count > 0, name
        assert book.ask_count > 0, name
