"""Order-book benches: apply one level, apply 20-level batches, Kraken checksum of a book.

Each group runs the native ``OrderBook`` beside the pure-Python ``RefOrderBook`` (same
strings in, same validation) and, when installed, cryptofeed's C ``order-book`` fed the way
cryptofeed feeds it: ``float`` or ``Decimal`` keys converted from the same strings. That one
checks no precision and keeps no exact text, so it does less work per level than ours.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from tests.reference import RefOrderBook

from benches._workload import (
    PRICE_PRECISION,
    QTY_PRECISION,
    Side,
    label,
    order_book_module,
    snapshot,
    updates,
)
from tradegw._core import OrderBook

BATCH_PER_SIDE = 10  # 10 bids + 10 asks = 20 levels per call


def _native() -> OrderBook:
    book = OrderBook(PRICE_PRECISION, QTY_PRECISION)
    book.apply_snapshot(*snapshot())
    return book


def _reference() -> RefOrderBook:
    book = RefOrderBook(PRICE_PRECISION, QTY_PRECISION)
    book.apply_snapshot(*snapshot())
    return book


def _order_book(convert: Callable[[str], Any]) -> tuple[Any, Callable[[Side, Side], None]]:
    module = order_book_module()
    book = module.OrderBook(checksum_format="KRAKEN")
    bids, asks = snapshot()

    def apply(new_bids: Side, new_asks: Side) -> None:
        for side, levels in ((book.bids, new_bids), (book.asks, new_asks)):
            for price_text, qty_text in levels:
                price = convert(price_text)
                qty = convert(qty_text)
                if qty:
                    side[price] = qty
                elif price in side:
                    del side[price]

    apply(bids, asks)
    return book, apply


def _drive(benchmark: Any, apply: Callable[[Side, Side], None], levels_per_side: int) -> None:
    messages = itertools.cycle(updates(levels_per_side))

    def step() -> None:
        bids, asks = next(messages)
        apply(bids, asks)

    benchmark(step)


# --------------------------------------------------------------------------- one level


@pytest.mark.benchmark(group="book-apply-1-level")
def test_apply_one_level_core(benchmark: Any) -> None:
    label(benchmark, "core", 1, "level")
    _drive(benchmark, _native().apply, 0)


@pytest.mark.benchmark(group="book-apply-1-level")
def test_apply_one_level_reference(benchmark: Any) -> None:
    label(benchmark, "reference", 1, "level")
    _drive(benchmark, _reference().apply, 0)


@pytest.mark.benchmark(group="book-apply-1-level")
def test_apply_one_level_harness(benchmark: Any) -> None:
    # The loop around every apply bench with nothing inside: subtract it to read the calls.
    label(benchmark, "harness only", 1, "level")
    _drive(benchmark, lambda bids, asks: None, 0)


@pytest.mark.benchmark(group="book-apply-1-level")
@pytest.mark.parametrize("keys", ["float", "Decimal"])
def test_apply_one_level_order_book(benchmark: Any, keys: str) -> None:
    _, apply = _order_book(float if keys == "float" else Decimal)
    label(benchmark, f"order-book ({keys})", 1, "level")
    _drive(benchmark, apply, 0)


# --------------------------------------------------------------------------- 20-level batches


@pytest.mark.benchmark(group="book-apply-20-levels")
def test_apply_batch_core(benchmark: Any) -> None:
    label(benchmark, "core", 2 * BATCH_PER_SIDE, "level")
    _drive(benchmark, _native().apply, BATCH_PER_SIDE)


@pytest.mark.benchmark(group="book-apply-20-levels")
def test_apply_batch_reference(benchmark: Any) -> None:
    label(benchmark, "reference", 2 * BATCH_PER_SIDE, "level")
    _drive(benchmark, _reference().apply, BATCH_PER_SIDE)


@pytest.mark.benchmark(group="book-apply-20-levels")
@pytest.mark.parametrize("keys", ["float", "Decimal"])
def test_apply_batch_order_book(benchmark: Any, keys: str) -> None:
    _, apply = _order_book(float if keys == "float" else Decimal)
    label(benchmark, f"order-book ({keys})", 2 * BATCH_PER_SIDE, "level")
    _drive(benchmark, apply, BATCH_PER_SIDE)


# --------------------------------------------------------------------------- checksum of a book


@pytest.mark.benchmark(group="book-checksum-kraken")
def test_book_checksum_core(benchmark: Any) -> None:
    book = _native()
    label(benchmark, "core")
    assert benchmark(book.checksum_kraken) == _reference().checksum_kraken()


@pytest.mark.benchmark(group="book-checksum-kraken")
def test_book_checksum_reference(benchmark: Any) -> None:
    book = _reference()
    label(benchmark, "reference")
    benchmark(book.checksum_kraken)


@pytest.mark.benchmark(group="book-checksum-kraken")
def test_book_checksum_order_book(benchmark: Any) -> None:
    # Decimal keys: with floats the rendered text, and so the CRC, would not be Kraken's.
    book, _ = _order_book(Decimal)
    label(benchmark, "order-book (Decimal)")
    benchmark(book.checksum)
