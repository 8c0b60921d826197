"""Several venues' books of one symbol as one book: levels keyed by exact decimal price,
quantities summed exactly, every venue's own quantity kept beside the total.

Venues quote at different precisions (``87500.1`` on one, ``87500.10000000`` on another), so
prices are compared and quantities added as :class:`decimal.Decimal`, never floats, and
rendered as plain decimal text. This runs once per closed window, not per frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Final

from tradegw.schema import BookSnapshot, Level, MergedLevel

# Enough digits for any sum of venue quantities, and a trap on anything inexact: a rounded
# total would be a wrong number published as a right one.
_EXACT: Final = Context(prec=200, traps=[Inexact, InvalidOperation, Overflow])


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    """The consolidated top of several books."""

    bids: list[MergedLevel]
    """Best (highest) first."""
    asks: list[MergedLevel]
    """Best (lowest) first."""
    crossed: bool
    """Whether the best bid over every venue is at or above the best ask over every venue."""


def consolidate(books: Mapping[str, BookSnapshot], depth: int) -> ConsolidatedBook:
    """The top ``depth`` levels per side of ``books`` (venue → its current book) merged.

    A venue's snapshot holds its top ``snapshot.depth`` levels; when a side is that full, the
    venue may have levels beyond the last one shown. Consolidated levels past that price would
    lack the venue's quantity there, so each side stops at the most conservative such bound
    (never an issue when ``depth`` is at most every venue's own depth: the top ``depth`` of
    the union then always lies within it).

    Raises:
        decimal.InvalidOperation: a price or quantity text is not a decimal number.
    """
    bids = _side(books, "bids", depth)
    asks = _side(books, "asks", depth)
    best_bid = max((Decimal(p) for b in books.values() for p, _ in b.bids[:1]), default=None)
    best_ask = min((Decimal(p) for b in books.values() for p, _ in b.asks[:1]), default=None)
    crossed = best_bid is not None and best_ask is not None and best_bid >= best_ask
    price_quantum = _finest(level[0] for b in books.values() for level in (*b.bids, *b.asks))
    qty_quantum = _finest(level[1] for b in books.values() for level in (*b.bids, *b.asks))
    return ConsolidatedBook(
        bids=[_level(price, by_venue, price_quantum, qty_quantum) for price, by_venue in bids],
        asks=[_level(price, by_venue, price_quantum, qty_quantum) for price, by_venue in asks],
        crossed=crossed,
    )


def _side(
    books: Mapping[str, BookSnapshot], side: str, depth: int
) -> list[tuple[Decimal, dict[str, str]]]:
    best_is_highest = side == "bids"
    levels: dict[Decimal, dict[str, str]] = {}
    bound: Decimal | None = None
    for venue in sorted(books):
        book = books[venue]
        rows: Sequence[Level] = book.bids if best_is_highest else book.asks
        for price, qty in rows:
            # Decimal("87500.1") == Decimal("87500.10") and they hash alike: one level.
            levels.setdefault(Decimal(price), {})[venue] = qty
        if rows and book.depth is not None and len(rows) >= book.depth:
            last = Decimal(rows[-1][0])
            if bound is None or (last > bound if best_is_highest else last < bound):
                bound = last
    prices = sorted(levels, reverse=best_is_highest)
    if bound is not None:
        prices = [p for p in prices if (p >= bound if best_is_highest else p <= bound)]
    return [(p, levels[p]) for p in prices[:depth]]


def _finest(texts: Iterable[str]) -> Decimal:
    """The quantum (``Decimal("1e-8")``) of the most decimals among ``texts``, at most 1."""
    exponent = 0
    for text in texts:
        exp = Decimal(text).as_tuple().exponent
        if isinstance(exp, int) and exp < exponent:
            exponent = exp
    return Decimal((0, (1,), exponent))


def _plain(value: Decimal, quantum: Decimal) -> str:
    """``value`` at ``quantum``'s decimals in plain notation (never ``1E+2``)."""
    return format(value.quantize(quantum, context=_EXACT), "f")


def _level(
    price: Decimal, by_venue: dict[str, str], price_quantum: Decimal, qty_quantum: Decimal
) -> MergedLevel:
    total = Decimal(0)
    for qty in by_venue.values():
        total = _EXACT.add(total, Decimal(qty))
    return MergedLevel(
        price=_plain(price, price_quantum), qty=_plain(total, qty_quantum), venues=dict(by_venue)
    )
