"""Pure-Python reference implementations of the primitives in :mod:`tradegw._core`.

They serve twice: as oracles in the tests (small enough to be checked by reading) and as the
baseline the benches compare the native core against. They are written the way a user of
the library would write them in plain Python — dicts, sorted(), zlib — with no attempt at
speed, and they import nothing from tradegw so that neither role depends on the code under
test.
"""

from __future__ import annotations

import re
import time
import zlib
from collections import deque
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "RefBookError",
    "RefCoalescer",
    "RefCrossedBook",
    "RefInvalidDecimal",
    "RefOrderBook",
    "RefReorderBuffer",
    "RefTokenBucket",
    "parse_fixed",
    "ref_kraken_checksum",
    "render_fixed",
]

I64_MAX = 2**63 - 1
U64_LIMIT = 2**64

# ASCII digits only: Python's \d and Decimal() would also accept other scripts' digits.
# Enough digits that scaling never rounds: the exponent is capped at 1000 below.
_EXACT = Context(prec=4000)
_DECIMAL_RE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class RefBookError(ValueError):
    """Any refusal of the reference book (the core raises ``tradegw.errors`` classes)."""


class RefInvalidDecimal(RefBookError):
    """Text that is not a non-negative decimal representable at the book's precision."""


class RefCrossedBook(RefBookError):
    """A snapshot whose best bid is at or above its best ask."""


def parse_fixed(text: str, precision: int) -> int:
    """Parses venue decimal text into an integer count of ``10**-precision`` units.

    Refuses anything that is not exactly representable: more significant decimals than the
    precision, negative values, malformed text, and values beyond the signed 64-bit range.
    """
    if not isinstance(text, str):
        raise TypeError(f"price and quantity must be str, got {type(text).__name__}")
    if _DECIMAL_RE.fullmatch(text) is None:
        raise RefInvalidDecimal(f"invalid decimal {text!r}: not a decimal number")
    # The exponent is bounded first so that Decimal never builds a huge integer.
    exponent = text.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > 1000:
        raise RefInvalidDecimal(f"invalid decimal {text!r}: exponent out of range")
    try:
        scaled = Decimal(text).scaleb(precision, context=_EXACT)
    except InvalidOperation as exc:  # pragma: no cover - the regex already filtered these
        raise RefInvalidDecimal(f"invalid decimal {text!r}") from exc
    if scaled != scaled.to_integral_value():
        raise RefInvalidDecimal(f"invalid decimal {text!r}: more than {precision} decimals")
    value = int(scaled)
    if value > I64_MAX:
        raise RefInvalidDecimal(f"invalid decimal {text!r}: out of range")
    return value


def render_fixed(value: int, precision: int) -> str:
    """Renders a fixed-point integer with exactly ``precision`` decimals (no dot at 0)."""
    if precision == 0:
        return str(value)
    unit = 10**precision
    return f"{value // unit}.{value % unit:0{precision}d}"


def _kraken_digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def ref_kraken_checksum(asks: Sequence[Sequence[str]], bids: Sequence[Sequence[str]]) -> int:
    """Kraken's book CRC32 over the first 10 asks then the first 10 bids, as given.

    Each level contributes its price text then its quantity text with the dot removed and
    leading zeros stripped; extra trailing elements of a level (timestamps) are ignored.
    """
    parts = [_kraken_digits(level[0]) + _kraken_digits(level[1]) for level in asks[:10]]
    parts += [_kraken_digits(level[0]) + _kraken_digits(level[1]) for level in bids[:10]]
    return zlib.crc32("".join(parts).encode("ascii"))


Level = Sequence[Any]


class RefOrderBook:
    """L2 book on two dicts of fixed-point ints, with optional depth truncation."""

    def __init__(self, price_precision: int, qty_precision: int, depth: int | None = None) -> None:
        if not 0 <= price_precision <= 18 or not 0 <= qty_precision <= 18:
            raise ValueError("precisions must be between 0 and 18")
        if depth is not None and depth < 1:
            raise ValueError("depth must be at least 1")
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self.depth = depth
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def _parse_side(self, levels: Iterable[Level]) -> list[tuple[int, int]]:
        parsed = []
        for level in levels:
            if isinstance(level, str | bytes) or not isinstance(level, Sequence):
                raise TypeError(f"a level must be a (price, qty) sequence, got {level!r}")
            if not 2 <= len(level) <= 4:
                raise ValueError(f"a level has 2 to 4 elements, got {len(level)}")
            price = parse_fixed(level[0], self.price_precision)
            qty = parse_fixed(level[1], self.qty_precision)
            if price == 0:
                raise RefInvalidDecimal(f"invalid decimal {level[0]!r}: price must be positive")
            parsed.append((price, qty))
        return parsed

    def _truncate(self) -> None:
        if self.depth is None:
            return
        if len(self.bids) > self.depth:
            keep = sorted(self.bids, reverse=True)[: self.depth]
            self.bids = {price: self.bids[price] for price in keep}
        if len(self.asks) > self.depth:
            keep = sorted(self.asks)[: self.depth]
            self.asks = {price: self.asks[price] for price in keep}

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replaces the book; zero quantities are skipped, duplicates and crossing refused."""
        sides = []
        for name, levels in (("bid", bids), ("ask", asks)):
            side: dict[int, int] = {}
            for price, qty in self._parse_side(levels):
                if price in side:
                    raise RefBookError(f"duplicate {name} price {render_fixed(price, 0)}")
                side[price] = qty
            sides.append({price: qty for price, qty in side.items() if qty})
        new_bids, new_asks = sides
        if new_bids and new_asks and max(new_bids) >= min(new_asks):
            raise RefCrossedBook("crossed snapshot")
        self.bids, self.asks = new_bids, new_asks
        self._truncate()

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Sets absolute quantities in order (zero deletes), then truncates to depth."""
        parsed_bids = self._parse_side(bids)
        parsed_asks = self._parse_side(asks)
        for side, parsed in ((self.bids, parsed_bids), (self.asks, parsed_asks)):
            for price, qty in parsed:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self._truncate()

    def _render(self, price: int, qty: int) -> tuple[str, str]:
        return render_fixed(price, self.price_precision), render_fixed(qty, self.qty_precision)

    def top(self, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The best ``n`` bids (descending) and asks (ascending) as rendered text."""
        bids = [self._render(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]]
        asks = [self._render(p, self.asks[p]) for p in sorted(self.asks)[:n]]
        return bids, asks

    def best_bid(self) -> tuple[str, str] | None:
        if not self.bids:
            return None
        price = max(self.bids)
        return self._render(price, self.bids[price])

    def best_ask(self) -> tuple[str, str] | None:
        if not self.asks:
            return None
        price = min(self.asks)
        return self._render(price, self.asks[price])

    def is_crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    @property
    def bid_count(self) -> int:
        return len(self.bids)

    @property
    def ask_count(self) -> int:
        return len(self.asks)

    def checksum_kraken(self) -> int:
        bids, asks = self.top(10)
        return ref_kraken_checksum(asks, bids)

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()


class _Stream:
    __slots__ = ("held", "last")

    def __init__(self, last: int) -> None:
        self.last = last
        # seq -> (item, push time in ns)
        self.held: dict[int, tuple[object, int]] = {}


class RefReorderBuffer:
    """Per-stream reordering by sequence number with a lateness bound and a size bound."""

    def __init__(self, lateness_ms: int = 150, flush_ms: int = 50, max_events: int = 200) -> None:
        self.lateness_ms = lateness_ms
        self.flush_ms = flush_ms
        self.max_events = max_events
        self._streams: dict[int, _Stream] = {}
        self._released = 0
        self._duplicates = 0
        self._gaps_skipped = 0
        self._skipped_seqs = 0

    def _drain(self, stream: _Stream, out: list[object]) -> None:
        while stream.last + 1 in stream.held:
            stream.last += 1
            out.append(stream.held.pop(stream.last)[0])
            self._released += 1

    def _skip_gap(self, stream: _Stream, out: list[object]) -> None:
        lowest = min(stream.held)
        self._gaps_skipped += 1
        self._skipped_seqs += lowest - stream.last - 1
        stream.last = lowest - 1
        self._drain(stream, out)

    def push(self, stream: int, seq: int, item: object, now_ns: int | None = None) -> list[object]:
        if not (0 <= stream < U64_LIMIT and 0 <= seq < U64_LIMIT):
            raise ValueError("stream and seq must be in [0, 2**64)")
        now = time.monotonic_ns() if now_ns is None else now_ns
        state = self._streams.get(stream)
        if state is None:
            self._streams[stream] = _Stream(seq)
            self._released += 1
            return [item]
        if seq <= state.last or seq in state.held:
            self._duplicates += 1
            return []
        out: list[object] = []
        state.held[seq] = (item, now)
        if seq == state.last + 1:
            self._drain(state, out)
        elif len(state.held) > self.max_events:
            self._skip_gap(state, out)
        return out

    def expire(self, now_ns: int | None = None) -> list[object]:
        now = time.monotonic_ns() if now_ns is None else now_ns
        limit = self.lateness_ms * 1_000_000
        out: list[object] = []
        for state in self._streams.values():
            while state.held and now - min(t for _, t in state.held.values()) >= limit:
                self._skip_gap(state, out)
        return out

    def reset(self, stream: int) -> None:
        self._streams.pop(stream, None)

    def stats(self) -> dict[str, int]:
        return {
            "released": self._released,
            "duplicates": self._duplicates,
            "gaps_skipped": self._gaps_skipped,
            "skipped_seqs": self._skipped_seqs,
            "held": sum(len(s.held) for s in self._streams.values()),
            "streams": len(self._streams),
        }


class RefCoalescer:
    """A FIFO in which a coalescable item replaces the pending one of its key in place."""

    def __init__(self) -> None:
        # Each slot is [key, item, coalescable]; a list so a replacement can edit it in place.
        self._queue: deque[list[Any]] = deque()
        self._pending: dict[int, list[Any]] = {}
        self._pushed = 0
        self._replaced = 0
        self._popped = 0

    def push(self, key: int, item: object, coalescable: bool) -> bool:
        self._pushed += 1
        if coalescable:
            slot = self._pending.get(key)
            if slot is not None:
                slot[1] = item
                self._replaced += 1
                return True
        slot = [key, item, coalescable]
        self._queue.append(slot)
        if coalescable:
            self._pending[key] = slot
        return False

    def pop(self, max_items: int) -> list[object]:
        out = []
        while self._queue and len(out) < max_items:
            key, item, coalescable = slot = self._queue.popleft()
            if coalescable and self._pending.get(key) is slot:
                del self._pending[key]
            out.append(item)
        self._popped += len(out)
        return out

    def __len__(self) -> int:
        return len(self._queue)

    def stats(self) -> dict[str, int]:
        return {"pushed": self._pushed, "replaced": self._replaced, "popped": self._popped}


class RefTokenBucket:
    """Continuous refill at ``rate`` tokens/s up to ``burst``; starts full."""

    def __init__(self, rate: float, burst: float) -> None:
        if not rate > 0 or not burst > 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: int | None = None

    def _refill(self, now_ns: int | None) -> None:
        now = time.monotonic_ns() if now_ns is None else now_ns
        if self._last is None:
            self._last = now
        elif now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate / 1e9)
            self._last = now

    def _check(self, n: float) -> None:
        if not 0 < n <= self.burst:
            raise ValueError(f"n must be in (0, burst], got {n}")

    def try_acquire(self, n: float = 1.0, now_ns: int | None = None) -> bool:
        self._check(n)
        self._refill(now_ns)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def time_until(self, n: float = 1.0, now_ns: int | None = None) -> float:
        self._check(n)
        self._refill(now_ns)
        return 0.0 if self._tokens >= n else (n - self._tokens) / self.rate

    def tokens(self, now_ns: int | None = None) -> float:
        self._refill(now_ns)
        return self._tokens
