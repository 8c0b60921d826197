"""Property tests: each native primitive against its pure-Python reference (tests/reference.py).

The strategies draw from small value ranges on purpose, so that prices collide, deletes hit
existing levels, sequence numbers repeat and keys get replaced: that is where the
interesting behaviour is.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference import (
    RefCoalescer,
    RefCrossedBook,
    RefOrderBook,
    RefReorderBuffer,
    RefTokenBucket,
    render_fixed,
)
from tradegw._core import Coalescer, OrderBook, ReorderBuffer, TokenBucket
from tradegw.errors import CrossedBook

# No per-example deadline: a slow CI machine must not turn into a flaky failure.
SETTINGS = settings(max_examples=200, deadline=None)

# --------------------------------------------------------------------------- OrderBook


@st.composite
def decimal_text(draw: st.DrawFn, value: int, precision: int) -> str:
    """One of the ways a venue may write ``value * 10**-precision``."""
    exact = render_fixed(value, precision)
    padded = exact + ("000" if precision else ".000")  # zeros beyond the precision
    forms = [exact, padded, f"{value}e-{precision}", f"{value}E-{precision}", "+" + exact]
    if precision:
        forms.append(exact.rstrip("0").rstrip("."))  # JSON-number style: "0.566", "45281"
    if value % 10 == 0 and value:
        forms.append(f"{value // 10}e{1 - precision}")  # exponent with a sign or none
    return draw(st.sampled_from(forms))


@st.composite
def levels(draw: st.DrawFn, pp: int, qp: int, unique: bool) -> list[tuple[str, ...]]:
    # Few distinct prices: bids and asks meet, deletes hit, truncation bites.
    prices = st.integers(min_value=1, max_value=25)
    raw = draw(
        st.lists(
            st.tuples(prices, st.integers(min_value=0, max_value=40)),
            max_size=12,
            unique_by=(lambda lv: lv[0]) if unique else None,
        )
    )
    out: list[tuple[str, ...]] = []
    for price, qty in raw:
        level: tuple[str, ...] = (draw(decimal_text(price, pp)), draw(decimal_text(qty, qp)))
        if draw(st.integers(0, 9)) == 0:
            level += ("1618678133.365913",)  # Kraken v1's trailing timestamp is ignored
        out.append(level)
    return out


@st.composite
def book_programs(draw: st.DrawFn) -> tuple[int, int, int | None, list[Any]]:
    pp = draw(st.integers(0, 6))
    qp = draw(st.integers(0, 8))
    depth = draw(st.one_of(st.none(), st.integers(1, 6)))
    ops: list[Any] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["snapshot", "apply", "apply", "apply", "clear"]))
        if kind == "clear":
            ops.append(("clear",))
        else:
            unique = kind == "snapshot"
            ops.append((kind, draw(levels(pp, qp, unique)), draw(levels(pp, qp, unique))))
    return pp, qp, depth, ops


def _book_state(book: OrderBook | RefOrderBook) -> tuple[Any, ...]:
    return (
        book.top(100),
        book.bid_count,
        book.ask_count,
        book.best_bid(),
        book.best_ask(),
        book.is_crossed(),
        book.checksum_kraken(),
    )


@SETTINGS
@given(book_programs())
def test_order_book_matches_reference(program: tuple[int, int, int | None, list[Any]]) -> None:
    pp, qp, depth, ops = program
    book = OrderBook(pp, qp, depth)
    ref = RefOrderBook(pp, qp, depth)
    for op in ops:
        if op[0] == "clear":
            book.clear()
            ref.clear()
        elif op[0] == "apply":
            ref.apply(op[1], op[2])
            book.apply(op[1], op[2])
        else:
            try:
                ref.apply_snapshot(op[1], op[2])
            except ValueError as exc:
                expected = CrossedBook if isinstance(exc, RefCrossedBook) else ValueError
                with pytest.raises(expected):
                    book.apply_snapshot(op[1], op[2])
            else:
                book.apply_snapshot(op[1], op[2])
        assert _book_state(book) == _book_state(ref), op
        if depth is not None:
            assert book.bid_count <= depth
            assert book.ask_count <= depth


# --------------------------------------------------------------------------- ReorderBuffer

MS = 1_000_000

reorder_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.integers(0, 2),  # stream
            st.integers(0, 25),  # seq
            st.integers(0, 5),  # ms since the previous op
        ),
        # Small steps against small lateness windows: items often fall due exactly on time.
        st.tuples(st.just("expire"), st.integers(0, 12)),
    ),
    max_size=60,
)


def _by_stream(items: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int, int]]]:
    grouped: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for item in items:
        grouped[item[0]].append(item)
    return dict(grouped)


@SETTINGS
@given(
    lateness_ms=st.integers(1, 10),
    max_events=st.integers(1, 8),
    ops=reorder_ops,
)
def test_reorder_buffer_matches_reference(
    lateness_ms: int, max_events: int, ops: list[tuple[Any, ...]]
) -> None:
    buffer = ReorderBuffer(lateness_ms=lateness_ms, flush_ms=10, max_events=max_events)
    ref = RefReorderBuffer(lateness_ms=lateness_ms, flush_ms=10, max_events=max_events)
    now = time.monotonic_ns()
    pushed: list[tuple[int, int, int]] = []
    released: list[tuple[int, int, int]] = []
    for n, op in enumerate(ops):
        if op[0] == "push":
            _, stream, seq, dt = op
            now += dt * MS
            item = (stream, seq, n)  # unique, so a lost or doubled item is visible
            pushed.append(item)
            out = buffer.push(stream, seq, item, now)
            assert out == ref.push(stream, seq, item, now)
        else:
            now += op[1] * MS
            out = buffer.expire(now)
            # Streams may come in any order, each stream's items in seq order.
            assert _by_stream(out) == _by_stream(ref.expire(now))
        released += out
        assert buffer.stats() == ref.stats()

    # Past every lateness window everything still held comes out.
    now += (lateness_ms + 1) * MS
    final = buffer.expire(now)
    assert _by_stream(final) == _by_stream(ref.expire(now))
    released += final
    stats = buffer.stats()
    assert stats == ref.stats()
    assert stats["held"] == 0

    for stream, items in _by_stream(released).items():
        seqs = [seq for _, seq, _ in items]
        assert seqs == sorted(set(seqs)), f"stream {stream} released out of order: {seqs}"
    # Nothing is lost or invented: whatever was not released was dropped as a duplicate.
    assert len(set(released)) == len(released)
    assert set(released) <= set(pushed)
    assert len(pushed) - len(released) == stats["duplicates"]
    assert stats["released"] == len(released)


@SETTINGS
@given(ops=reorder_ops)
def test_reorder_buffer_in_order_feed_never_holds(ops: list[tuple[Any, ...]]) -> None:
    # Streams with provider-assigned ingest sequences are always contiguous: zero latency.
    buffer = ReorderBuffer(lateness_ms=1, max_events=1)
    next_seq: dict[int, int] = {}
    now = time.monotonic_ns()
    for op in ops:
        if op[0] != "push":
            continue
        stream = op[1]
        seq = next_seq.get(stream, op[2])
        next_seq[stream] = seq + 1
        assert buffer.push(stream, seq, seq, now) == [seq]
    assert buffer.stats()["held"] == 0
    assert buffer.stats()["gaps_skipped"] == 0


# --------------------------------------------------------------------------- Coalescer

coalescer_ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 3), st.booleans()),
        st.tuples(st.just("pop"), st.integers(1, 5)),
    ),
    max_size=80,
)


@SETTINGS
@given(ops=coalescer_ops)
def test_coalescer_matches_reference(ops: list[tuple[Any, ...]]) -> None:
    queue = Coalescer()
    ref = RefCoalescer()
    must_deliver: list[tuple[int, int, bool]] = []
    popped: list[tuple[int, int, bool]] = []
    for n, op in enumerate(ops):
        if op[0] == "push":
            _, key, coalescable = op
            item = (key, n, coalescable)
            if not coalescable:
                must_deliver.append(item)
            assert queue.push(key, item, coalescable) == ref.push(key, item, coalescable)
        else:
            out = queue.pop(op[1])
            assert out == ref.pop(op[1])
            popped += out
        assert len(queue) == len(ref)
        assert queue.stats() == ref.stats()
    popped += queue.pop(len(queue) + 1)
    assert len(queue) == 0
    # Every non-coalescable item comes out exactly once, in the order it went in.
    assert [item for item in popped if not item[2]] == must_deliver
    stats = queue.stats()
    assert stats["pushed"] == stats["replaced"] + stats["popped"]


# --------------------------------------------------------------------------- TokenBucket

# Times move in steps of 1/8 s and amounts are multiples of 1/4, so with integer rates every
# intermediate value is exact in binary floating point: core and reference must agree to the
# bit on every acquire decision, not just approximately.
STEP_NS = 125 * MS

bucket_ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "acquire", "time_until", "tokens"]),
        st.integers(-8, 16),  # time step, may go back
        st.integers(1, 400),  # amount in quarters, clipped to the burst below
    ),
    max_size=40,
)


@SETTINGS
@given(rate=st.integers(1, 1000), burst=st.integers(1, 100), ops=bucket_ops)
def test_token_bucket_matches_reference(rate: int, burst: int, ops: list[tuple[Any, ...]]) -> None:
    bucket = TokenBucket(float(rate), float(burst))
    ref = RefTokenBucket(float(rate), float(burst))
    base = time.monotonic_ns()
    offset = 0
    for kind, step, quarters in ops:
        offset = max(0, offset + step * STEP_NS)
        now = base + offset
        n = min(quarters / 4, float(burst))
        if kind == "acquire":
            assert bucket.try_acquire(n, now) == ref.try_acquire(n, now)
        elif kind == "time_until":
            assert bucket.time_until(n, now) == pytest.approx(ref.time_until(n, now), rel=1e-12)
        else:
            assert bucket.tokens(now) == ref.tokens(now)
        assert 0.0 <= bucket.tokens(now) <= burst
