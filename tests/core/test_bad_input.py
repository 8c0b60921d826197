"""Bad input reaches the core as a clear, typed exception and changes nothing.

Every refusal must be an ordinary ``Exception`` of the documented class. A Rust panic
surfaces in Python as ``pyo3_runtime.PanicException``, which derives from ``BaseException``
only: :func:`refused` turns that (or any other wrong class) into an explicit test failure
instead of letting it slip past ``except Exception`` handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tradegw._core import (
    BookAssembler,
    OrderBook,
    ReorderBuffer,
    TokenBucket,
    kraken_checksum,
)
from tradegw.errors import BookError, CrossedBook, InvalidDecimal

BIDS = [("0.5666", "4831.75496356"), ("0.5665", "6658.22734739")]
ASKS = [("0.5668", "4410.79769741"), ("0.5669", "4655.40412487")]


ExceptionTypes = type[Exception] | tuple[type[Exception], ...]


def refused(expected: ExceptionTypes, call: Callable[[], Any]) -> str:
    """Runs ``call``, requires it to raise ``expected``, and returns the message."""
    try:
        call()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if not isinstance(exc, Exception):
            pytest.fail(f"raised {type(exc).__module__}.{type(exc).__qualname__} (a panic?): {exc}")
        if not isinstance(exc, expected):
            pytest.fail(f"raised {type(exc).__qualname__}: {exc}; expected {expected}")
        return str(exc)
    pytest.fail(f"no exception; expected {expected}")


def _names(message: str, text: str) -> bool:
    # Rust's {:?} escapes control characters the way Python's unicode_escape does.
    return text in message or text.encode("unicode_escape").decode() in message


def _state(book: OrderBook) -> tuple[Any, ...]:
    return book.top(1000), book.bid_count, book.ask_count


def _book() -> OrderBook:
    book = OrderBook(4, 8, depth=10)
    book.apply_snapshot(BIDS, ASKS)
    return book


MALFORMED = [
    "",
    " 1",
    "1 ",
    "1\n",
    "1.2.3",
    "nan",
    "NaN",
    "inf",
    "Infinity",
    "-inf",
    "1e",
    "1e+",
    "e5",
    "+",
    "-",
    ".",
    "1,5",
    "0x10",
    "1_000",
    "--1",
    "+-1",
    "1.5e2.5",
    "abc",
    "\uff11",  # fullwidth digit one
    "\u0661\u0662",  # Arabic-Indic digits: Python's Decimal would accept them
]
# More significant decimals than both the price (4) and the quantity (8) precision.
TOO_PRECISE = ["0.123456789", "1e-09", "1.000000001", "0.56660000001", "0." + "0" * 30 + "1"]
NEGATIVE = ["-1", "-0.5", "-1e-2"]
OVERFLOW = ["1e300", "99999999999999999999", "922337203685477580.8", "1" + "0" * 40]


@pytest.mark.parametrize("text", MALFORMED + TOO_PRECISE + NEGATIVE + OVERFLOW)
@pytest.mark.parametrize(
    "where", ["bid price", "bid qty", "ask price", "ask qty", "snapshot price", "snapshot qty"]
)
def test_bad_decimal_is_refused_and_book_unchanged(text: str, where: str) -> None:
    book = _book()
    before = _state(book)
    good = ("0.5600", "1")
    bad = (text, "1") if where.endswith("price") else ("0.5601", text)
    calls: dict[str, Callable[[], Any]] = {
        "bid": lambda: book.apply([good, bad], []),
        "ask": lambda: book.apply([], [("0.5700", "1"), bad]),
        "snapshot": lambda: book.apply_snapshot([good, bad], [("0.5700", "1")]),
    }
    message = refused(InvalidDecimal, calls[where.split()[0]])
    assert _names(message, text), message
    assert _state(book) == before


def test_more_decimals_than_price_precision() -> None:
    book = _book()
    before = _state(book)
    message = refused(InvalidDecimal, lambda: book.apply([("0.12345", "1")], []))
    assert _names(message, "0.12345"), message
    assert _state(book) == before


def test_invalid_decimal_classes() -> None:
    assert issubclass(InvalidDecimal, BookError)
    assert issubclass(InvalidDecimal, ValueError)
    assert issubclass(CrossedBook, ValueError)


@pytest.mark.parametrize("text", ["0", "0.0000", "0e5", "+0"])
def test_zero_price_is_refused(text: str) -> None:
    book = _book()
    before = _state(book)
    message = refused(InvalidDecimal, lambda: book.apply([(text, "0")], []))
    assert _names(message, text), message
    refused(InvalidDecimal, lambda: book.apply_snapshot([(text, "1")], ASKS))
    assert _state(book) == before


def test_precision_zero_refuses_any_fraction() -> None:
    book = OrderBook(0, 0)
    assert _names(refused(InvalidDecimal, lambda: book.apply([("1.5", "1")], [])), "1.5")
    assert _names(refused(InvalidDecimal, lambda: book.apply([("1", "0.1")], [])), "0.1")
    assert book.top(5) == ([], [])


def test_fixed_point_range_boundary() -> None:
    # 2**63 - 1 units at 8 decimals is the largest quantity; one unit more overflows.
    book = OrderBook(8, 8)
    book.apply([("1", "92233720368.54775807")], [])
    assert book.best_bid() == ("1.00000000", "92233720368.54775807")
    message = refused(InvalidDecimal, lambda: book.apply([("1", "92233720368.54775808")], []))
    assert _names(message, "92233720368.54775808"), message
    assert book.best_bid() == ("1.00000000", "92233720368.54775807")


def test_long_exact_texts_are_accepted() -> None:
    # Extra zeros carry no information: neither leading nor trailing ones make text invalid.
    book = OrderBook(4, 8)
    book.apply([("0" * 40 + "1.5", "2." + "0" * 40)], [])
    assert book.best_bid() == ("1.5000", "2.00000000")


@pytest.mark.parametrize(
    "level",
    [(), ("1",), ("1", "1", "t", "r", "extra"), ["1", "1", "2", "3", "4", "5"]],
    ids=["empty", "one", "five", "six"],
)
def test_wrong_level_length_is_value_error(level: Any) -> None:
    book = _book()
    before = _state(book)
    refused(ValueError, lambda: book.apply([("0.5600", "1"), level], []))
    refused(ValueError, lambda: book.apply_snapshot(BIDS, [level]))
    assert _state(book) == before


@pytest.mark.parametrize(
    "level",
    [5, None, 1.5, {"price": "1", "qty": "1"}, object()],
    ids=["int", "none", "float", "dict", "object"],
)
def test_non_sequence_level_is_type_error(level: Any) -> None:
    book = _book()
    before = _state(book)
    refused(TypeError, lambda: book.apply([("0.5600", "1"), level], []))
    refused(TypeError, lambda: book.apply_snapshot(BIDS, [level]))
    assert _state(book) == before


def test_str_level_is_refused() -> None:
    # A str is technically a sequence; it is still no (price, qty) pair.
    book = _book()
    before = _state(book)
    refused((TypeError, ValueError), lambda: book.apply(["0.5600"], []))
    refused((TypeError, ValueError), lambda: book.apply(["12"], []))
    assert _state(book) == before


@pytest.mark.parametrize(
    "level",
    [
        (0.56, "1"),
        ("0.56", 1),
        (Decimal("0.56"), "1"),
        (b"0.56", "1"),
        (None, "1"),
        ("0.56", None),
        (56, 1),
    ],
    ids=["float-price", "int-qty", "decimal", "bytes", "none-price", "none-qty", "ints"],
)
def test_non_str_price_or_qty_is_type_error(level: Any) -> None:
    book = _book()
    before = _state(book)
    refused(TypeError, lambda: book.apply([level], []))
    refused(TypeError, lambda: book.apply([], [level]))
    refused(TypeError, lambda: book.apply_snapshot(BIDS, [level]))
    assert _state(book) == before


@pytest.mark.parametrize("side", [None, 5, object()], ids=["none", "int", "object"])
def test_non_sequence_side_is_type_error(side: Any) -> None:
    book = _book()
    before = _state(book)
    refused(TypeError, lambda: book.apply(side, []))
    refused(TypeError, lambda: book.apply_snapshot(BIDS, side))
    assert _state(book) == before


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([("0.5668", "1")], [("0.5668", "1")]),  # bid == ask is crossed too
        ([("0.5700", "1"), ("0.5500", "1")], [("0.5600", "1"), ("0.5800", "1")]),
    ],
    ids=["touching", "overlapping"],
)
def test_crossed_snapshot_is_refused(bids: list[Any], asks: list[Any]) -> None:
    book = _book()
    before = _state(book)
    refused(CrossedBook, lambda: book.apply_snapshot(bids, asks))
    assert _state(book) == before
    assert not book.is_crossed()


def test_duplicate_snapshot_price_is_refused() -> None:
    book = _book()
    before = _state(book)
    # "0.56" and "0.5600" are the same price at precision 4.
    duplicate_bids = [("0.56", "1"), ("0.5600", "2")]
    message = refused(ValueError, lambda: book.apply_snapshot(duplicate_bids, ASKS))
    assert "0.56" in message, message
    message = refused(ValueError, lambda: book.apply_snapshot(BIDS, [("0.6", "1"), ("0.6", "1")]))
    assert "0.6" in message, message
    assert _state(book) == before


def test_bad_update_through_assembler_leaves_book_unchanged() -> None:
    assembler = BookAssembler("kraken", 4, 8, depth=10)
    assembler.on_snapshot(BIDS, ASKS, None)
    before = _state(assembler.book)
    message = refused(
        InvalidDecimal, lambda: assembler.on_update([("0.5667", "1")], [("0.12345", "1")], None)
    )
    assert _names(message, "0.12345")
    refused(TypeError, lambda: assembler.on_update([(0.5667, "1")], [], None))
    assert _state(assembler.book) == before


@pytest.mark.parametrize("venue", ["bitmex", "", "kraken-futures"])
def test_bad_venue_is_value_error(venue: str) -> None:
    message = refused(ValueError, lambda: BookAssembler(venue, 2, 2))
    assert venue in message, message


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((19, 8), {}),
        ((8, 19), {}),
        ((-1, 8), {}),
        ((8, -1), {}),
        ((4, 8), {"depth": 0}),
        ((4, 8), {"depth": -1}),
    ],
    ids=["price-19", "qty-19", "price-neg", "qty-neg", "depth-0", "depth-neg"],
)
def test_bad_book_arguments(args: tuple[int, int], kwargs: dict[str, int]) -> None:
    refused(ValueError, lambda: OrderBook(*args, **kwargs))
    refused(ValueError, lambda: BookAssembler("binance", *args, **kwargs))


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(-1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (1.0, -5.0), (float("nan"), 1.0), (1.0, float("nan"))],
)
def test_bad_bucket_arguments(rate: float, burst: float) -> None:
    refused(ValueError, lambda: TokenBucket(rate, burst))


@pytest.mark.parametrize(("stream", "seq"), [(0, -1), (-1, 0), (0, 2**64), (2**64, 0)])
def test_reorder_refuses_out_of_range_ids(stream: int, seq: int) -> None:
    buffer = ReorderBuffer()
    refused((ValueError, OverflowError), lambda: buffer.push(stream, seq, "x", 0))
    assert buffer.stats()["streams"] == 0


def test_kraken_checksum_refuses_bad_levels() -> None:
    refused(TypeError, lambda: kraken_checksum([(1.5, "1")], []))
    refused(TypeError, lambda: kraken_checksum([], [None]))
    refused(ValueError, lambda: kraken_checksum([("1",)], []))
