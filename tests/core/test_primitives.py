"""Unit tests of each native primitive's documented semantics, one behaviour per test.

Time is passed explicitly (``now_ns``) wherever the behaviour depends on it. Explicit times
are offsets from ``time.monotonic_ns()`` taken after construction, so the tests hold whether
a bucket or buffer takes its reference time at construction or at its first call.
"""

from __future__ import annotations

import time
import zlib

import pytest

from tests.reference import RefOrderBook, ref_kraken_checksum
from tradegw._core import (
    BookAssembler,
    Coalescer,
    OrderBook,
    ReorderBuffer,
    TokenBucket,
    kraken_checksum,
)

MS = 1_000_000


def _now() -> int:
    return time.monotonic_ns()


# --------------------------------------------------------------------------- TokenBucket


def test_bucket_properties() -> None:
    bucket = TokenBucket(10.0, 5.0)
    assert bucket.rate == 10.0
    assert bucket.burst == 5.0


def test_bucket_starts_full_and_empties() -> None:
    bucket = TokenBucket(10.0, 5.0)
    t0 = _now()
    assert bucket.tokens(t0) == 5.0
    assert [bucket.try_acquire(1.0, t0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.tokens(t0) == 0.0


def test_bucket_refills_at_rate() -> None:
    bucket = TokenBucket(10.0, 5.0)
    t0 = _now()
    assert bucket.try_acquire(5.0, t0)
    # 10 tokens/s: 0.1 s buys exactly one token, 0.25 s two and a half.
    assert bucket.time_until(1.0, t0) == pytest.approx(0.1)
    assert not bucket.try_acquire(1.0, t0 + 99 * MS)
    assert bucket.try_acquire(1.0, t0 + 100 * MS)
    assert bucket.tokens(t0 + 350 * MS) == pytest.approx(2.5)


def test_bucket_caps_at_burst() -> None:
    bucket = TokenBucket(10.0, 5.0)
    t0 = _now()
    assert bucket.try_acquire(3.0, t0)
    assert bucket.tokens(t0 + 3600 * 1000 * MS) == 5.0


def test_bucket_fractional_amounts() -> None:
    bucket = TokenBucket(4.0, 2.0)
    t0 = _now()
    assert bucket.try_acquire(1.5, t0)
    assert not bucket.try_acquire(1.0, t0)
    assert bucket.try_acquire(0.5, t0)
    assert bucket.tokens(t0) == 0.0
    assert bucket.time_until(2.0, t0) == pytest.approx(0.5)


def test_bucket_time_until_is_zero_when_available_and_consumes_nothing() -> None:
    bucket = TokenBucket(1.0, 3.0)
    t0 = _now()
    assert bucket.time_until(3.0, t0) == 0.0
    assert bucket.time_until(1.0, t0) == 0.0
    assert bucket.tokens(t0) == 3.0


def test_bucket_clock_going_back_adds_nothing() -> None:
    bucket = TokenBucket(1.0, 1.0)
    t0 = _now()
    assert bucket.try_acquire(1.0, t0 + 5000 * MS)
    assert bucket.tokens(t0 + 1000 * MS) == 0.0
    assert not bucket.try_acquire(1.0, t0 + 1000 * MS)
    # Refill resumes from the latest time seen, not from the earlier one.
    assert bucket.tokens(t0 + 5500 * MS) == pytest.approx(0.5)


def test_bucket_default_clock_is_monotonic_ns() -> None:
    bucket = TokenBucket(1.0, 1.0)
    assert bucket.try_acquire()  # default clock
    # An explicit timestamp on time.monotonic_ns()'s scale continues from the default one.
    assert bucket.tokens(_now() + 500 * MS) == pytest.approx(0.5, abs=0.05)
    assert not bucket.try_acquire()


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (1.0, -2.0)])
def test_bucket_refuses_non_positive_rate_or_burst(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate, burst)


@pytest.mark.parametrize("n", [0.0, -1.0, 2.5])
def test_bucket_refuses_impossible_amounts(n: float) -> None:
    bucket = TokenBucket(1.0, 2.0)
    t0 = _now()
    with pytest.raises(ValueError, match=r"\bn\b|burst"):
        bucket.try_acquire(n, t0)
    with pytest.raises(ValueError, match=r"\bn\b|burst"):
        bucket.time_until(n, t0)
    assert bucket.tokens(t0) == 2.0


# --------------------------------------------------------------------------- ReorderBuffer


def test_reorder_defaults() -> None:
    buffer = ReorderBuffer()
    assert (buffer.lateness_ms, buffer.flush_ms, buffer.max_events) == (150, 50, 200)
    assert buffer.stats() == {
        "released": 0,
        "duplicates": 0,
        "gaps_skipped": 0,
        "skipped_seqs": 0,
        "held": 0,
        "streams": 0,
    }
    custom = ReorderBuffer(lateness_ms=20, flush_ms=5, max_events=7)
    assert (custom.lateness_ms, custom.flush_ms, custom.max_events) == (20, 5, 7)


def test_reorder_first_seq_starts_stream_and_in_order_passes_through() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    item = object()
    out = buffer.push(1, 100, item, t0)
    assert out == [item]
    assert out[0] is item  # opaque objects pass through untouched
    assert buffer.push(1, 101, "b", t0) == ["b"]
    assert buffer.stats()["released"] == 2
    assert buffer.stats()["streams"] == 1


def test_reorder_holds_until_contiguous() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    buffer.push(1, 10, "s10", t0)
    assert buffer.push(1, 13, "s13", t0) == []
    assert buffer.push(1, 12, "s12", t0) == []
    assert buffer.stats()["held"] == 2
    assert buffer.push(1, 11, "s11", t0) == ["s11", "s12", "s13"]
    assert buffer.stats()["held"] == 0
    assert buffer.stats()["gaps_skipped"] == 0


def test_reorder_duplicates_are_dropped_and_counted() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    buffer.push(1, 10, "first", t0)
    assert buffer.push(1, 10, "again", t0) == []  # == last released
    assert buffer.push(1, 3, "older", t0) == []  # below the start
    assert buffer.push(1, 12, "held", t0) == []
    assert buffer.push(1, 12, "held-dup", t0) == []  # already held
    assert buffer.stats()["duplicates"] == 3
    assert buffer.push(1, 11, "s11", t0) == ["s11", "held"]  # the held one is the original


def test_reorder_streams_are_independent() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    assert buffer.push(1, 5, "a5", t0) == ["a5"]
    assert buffer.push(2, 5, "b5", t0) == ["b5"]  # same seq, other stream: not a duplicate
    assert buffer.push(2, 7, "b7", t0) == []
    assert buffer.push(1, 6, "a6", t0) == ["a6"]
    assert buffer.stats()["streams"] == 2
    assert buffer.stats()["duplicates"] == 0


def test_reorder_expire_skips_gap_after_lateness() -> None:
    buffer = ReorderBuffer(lateness_ms=150)
    t0 = _now()
    buffer.push(1, 1, "s1", t0)
    buffer.push(1, 4, "s4", t0)
    buffer.push(1, 5, "s5", t0 + 10 * MS)
    assert buffer.expire(t0 + 149 * MS) == []
    assert buffer.expire(t0 + 150 * MS) == ["s4", "s5"]
    stats = buffer.stats()
    assert (stats["gaps_skipped"], stats["skipped_seqs"], stats["held"]) == (1, 2, 0)
    # The skipped seqs are gone for good: arriving late they are duplicates.
    assert buffer.push(1, 3, "s3", t0 + 200 * MS) == []
    assert buffer.stats()["duplicates"] == 1
    assert buffer.push(1, 6, "s6", t0 + 200 * MS) == ["s6"]


def test_reorder_expire_goes_by_push_time_gap_by_gap() -> None:
    buffer = ReorderBuffer(lateness_ms=150)
    t0 = _now()
    buffer.push(1, 3, "s3", t0)
    buffer.push(1, 5, "s5", t0)
    buffer.push(1, 8, "s8", t0 + 100 * MS)
    # Only the first gap's item is old enough; s8 has been held 50 ms.
    assert buffer.expire(t0 + 150 * MS) == ["s5"]
    assert buffer.expire(t0 + 249 * MS) == []
    assert buffer.expire(t0 + 250 * MS) == ["s8"]
    assert buffer.stats()["gaps_skipped"] == 2
    assert buffer.stats()["skipped_seqs"] == 3  # 4, then 6 and 7


def test_reorder_expire_oldest_push_releases_lower_seqs_first() -> None:
    buffer = ReorderBuffer(lateness_ms=150)
    t0 = _now()
    buffer.push(1, 0, "s0", t0)
    buffer.push(1, 10, "s10", t0)  # oldest held item...
    buffer.push(1, 3, "s3", t0 + 100 * MS)  # ...but a lower seq arrived later
    # s10 is due, so the stream skips to its lowest held seq (3), then on to 10.
    assert buffer.expire(t0 + 150 * MS) == ["s3", "s10"]
    stats = buffer.stats()
    assert (stats["gaps_skipped"], stats["skipped_seqs"]) == (2, 2 + 6)


def test_reorder_expire_releases_stream_by_stream_in_seq_order() -> None:
    buffer = ReorderBuffer(lateness_ms=10)
    t0 = _now()
    for stream in (1, 2, 3):
        buffer.push(stream, 0, (stream, 0), t0)
        for seq in (9, 4, 7, 2):
            buffer.push(stream, seq, (stream, seq), t0)
    out = buffer.expire(t0 + 10 * MS)
    assert sorted(out) == [(s, q) for s in (1, 2, 3) for q in (2, 4, 7, 9)]
    streams = [stream for stream, _ in out]
    # Contiguous per stream, and increasing seqs inside each stream's run.
    assert streams == sorted(streams, key=streams.index)
    for stream in (1, 2, 3):
        assert [q for s, q in out if s == stream] == [2, 4, 7, 9]


def test_reorder_max_events_skips_gap_during_push() -> None:
    buffer = ReorderBuffer(max_events=3)
    t0 = _now()
    buffer.push(1, 0, 0, t0)
    assert buffer.push(1, 2, 2, t0) == []
    assert buffer.push(1, 3, 3, t0) == []
    assert buffer.push(1, 4, 4, t0) == []  # holding exactly max_events is fine
    assert buffer.push(1, 6, 6, t0) == [2, 3, 4]  # one more: skip seq 1 at once
    stats = buffer.stats()
    assert (stats["gaps_skipped"], stats["skipped_seqs"], stats["held"]) == (1, 1, 1)
    assert buffer.push(1, 5, 5, t0) == [5, 6]


def test_reorder_reset_forgets_stream() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    buffer.push(7, 10, "a", t0)
    buffer.push(7, 12, "held", t0)
    buffer.push(8, 1, "other", t0)
    buffer.reset(7)
    stats = buffer.stats()
    assert (stats["held"], stats["streams"]) == (0, 1)
    # After a resync the stream starts afresh, even at a lower seq.
    assert buffer.push(7, 5, "restart", t0) == ["restart"]
    assert buffer.expire(t0 + 10_000 * MS) == []  # the forgotten item never comes back
    buffer.reset(12345)  # unknown stream: nothing to forget


def test_reorder_accepts_full_u64_range() -> None:
    buffer = ReorderBuffer()
    t0 = _now()
    top = 2**64 - 1
    assert buffer.push(top, top - 1, "a", t0) == ["a"]
    assert buffer.push(top, top, "b", t0) == ["b"]
    assert buffer.push(top, top, "c", t0) == []
    assert buffer.stats()["duplicates"] == 1


def test_reorder_distinct_streams_never_alias() -> None:
    # Whatever range of stream ids the core accepts, two different ids are two streams.
    buffer = ReorderBuffer()
    t0 = _now()
    for stream in (-1, 2**64 - 1, -(2**63), 2**63):
        try:
            out = buffer.push(stream, 5, stream, t0)
        except (ValueError, OverflowError):
            continue
        assert out == [stream], f"stream {stream} was taken for another, already started one"


def test_reorder_default_clock_is_monotonic_ns() -> None:
    buffer = ReorderBuffer(lateness_ms=150)
    buffer.push(1, 1, "s1")
    buffer.push(1, 3, "s3")
    assert buffer.expire() == []  # held only microseconds
    assert buffer.expire(_now() + 200 * MS) == ["s3"]


# --------------------------------------------------------------------------- Coalescer


def test_coalescer_is_fifo() -> None:
    queue = Coalescer()
    items = [object() for _ in range(5)]
    for key, item in enumerate(items):
        assert queue.push(key, item, key % 2 == 0) is False
    assert len(queue) == 5
    out = queue.pop(10)
    assert out == items
    assert all(a is b for a, b in zip(out, items, strict=True))
    assert len(queue) == 0
    assert queue.pop(10) == []


def test_coalescer_replaces_in_queue_position() -> None:
    queue = Coalescer()
    queue.push(1, "book-1", True)
    queue.push(2, "trade", False)
    queue.push(3, "book-3", True)
    assert queue.push(1, "book-1-newer", True) is True
    assert len(queue) == 3
    assert queue.pop(10) == ["book-1-newer", "trade", "book-3"]


def test_coalescer_never_replaces_non_coalescable() -> None:
    queue = Coalescer()
    assert queue.push(1, "exec-1", False) is False
    assert queue.push(1, "exec-2", False) is False
    # No coalescable item of key 1 is pending, so this one is appended too.
    assert queue.push(1, "ticker", True) is False
    assert queue.pop(10) == ["exec-1", "exec-2", "ticker"]


def test_coalescer_pending_item_stays_replaceable_across_other_items() -> None:
    queue = Coalescer()
    queue.push(1, "ticker-a", True)
    queue.push(1, "trade", False)
    assert queue.push(1, "ticker-b", True) is True
    assert queue.pop(10) == ["ticker-b", "trade"]


def test_coalescer_popped_item_is_no_longer_replaceable() -> None:
    queue = Coalescer()
    queue.push(1, "a", True)
    queue.push(2, "x", True)
    assert queue.pop(1) == ["a"]
    assert queue.push(1, "b", True) is False  # "a" has left: "b" queues behind "x"
    assert queue.push(2, "y", True) is True  # "x" is still pending
    assert queue.pop(10) == ["y", "b"]


def test_coalescer_distinct_keys_never_alias() -> None:
    # Whatever range of keys the core accepts, two different keys never replace each other.
    queue = Coalescer()
    accepted = []
    for key in (-1, 2**64 - 1, -(2**63), 2**63):
        try:
            replaced = queue.push(key, key, True)
        except (ValueError, OverflowError):
            continue
        assert not replaced, f"key {key} replaced the pending item of another key"
        accepted.append(key)
    assert queue.pop(10) == accepted


def test_coalescer_pop_respects_max_items_and_stats() -> None:
    queue = Coalescer()
    for i in range(6):
        queue.push(i % 3, i, True)  # keys 0,1,2 then replaced by 3,4,5
    assert len(queue) == 3
    assert queue.pop(2) == [3, 4]
    assert len(queue) == 1
    assert queue.stats() == {"pushed": 6, "replaced": 3, "popped": 2}
    assert queue.pop(5) == [5]
    assert queue.stats()["popped"] == 3


# --------------------------------------------------------------------------- OrderBook


def test_book_properties_and_empty_state() -> None:
    book = OrderBook(4, 8, depth=25)
    assert (book.price_precision, book.qty_precision, book.depth) == (4, 8, 25)
    assert OrderBook(2, 3).depth is None
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.top(10) == ([], [])
    assert (book.bid_count, book.ask_count) == (0, 0)
    assert not book.is_crossed()
    assert book.checksum_kraken() == zlib.crc32(b"")


@pytest.mark.parametrize(
    ("precision", "text", "rendered"),
    [
        (4, "0.566", "0.5660"),
        (4, "0.56600000", "0.5660"),  # trailing zeros beyond the precision are fine
        (4, "0.5660", "0.5660"),
        (8, "1e-05", "0.00001000"),
        (8, "1E-5", "0.00001000"),
        (2, "+1.5E+3", "1500.00"),
        (2, "15e2", "1500.00"),
        (1, "45281", "45281.0"),
        (0, "5", "5"),
        (0, "5.000", "5"),
        (0, "12e3", "12000"),
        (3, "007.5", "7.500"),
        (18, "0.000000000000000001", "0.000000000000000001"),
    ],
)
def test_book_parses_and_renders_at_precision(precision: int, text: str, rendered: str) -> None:
    book = OrderBook(precision, precision)
    book.apply([(text, text)], [])
    assert book.best_bid() == (rendered, rendered)


def test_book_top_orders_and_limits() -> None:
    book = OrderBook(2, 1)
    book.apply_snapshot(
        [("10.00", "1"), ("12.5", "2"), ("11", "3")],
        [("14", "4"), ("13.25", "5"), ("20", "6")],
    )
    assert book.top(10) == (
        [("12.50", "2.0"), ("11.00", "3.0"), ("10.00", "1.0")],
        [("13.25", "5.0"), ("14.00", "4.0"), ("20.00", "6.0")],
    )
    assert book.top(1) == ([("12.50", "2.0")], [("13.25", "5.0")])
    assert book.top(0) == ([], [])
    assert book.best_bid() == ("12.50", "2.0")
    assert book.best_ask() == ("13.25", "5.0")
    assert (book.bid_count, book.ask_count) == (3, 3)


def test_book_apply_sets_absolute_quantities_and_deletes() -> None:
    book = OrderBook(1, 1)
    book.apply_snapshot([("10", "1"), ("9", "1")], [("11", "1")])
    book.apply([("10", "5"), ("9", "0"), ("8", "0")], [("11", "0.0"), ("12", "2")])
    assert book.top(5) == ([("10.0", "5.0")], [("12.0", "2.0")])
    # The same price twice in one message: applied in order, so the last one wins.
    book.apply([("7", "1"), ("7", "3"), ("6", "2"), ("6", "0")], [])
    assert book.top(5)[0] == [("10.0", "5.0"), ("7.0", "3.0")]


def test_book_accepts_list_and_long_levels() -> None:
    book = OrderBook(5, 8)
    book.apply(
        [["0.05000", "0.00000500", "1618678133.365913"]],
        [("0.05005", "0.00000500", "1618678133.365913", "r"), ["0.05010", "1"]],
    )
    assert book.top(5) == (
        [("0.05000", "0.00000500")],
        [("0.05005", "0.00000500"), ("0.05010", "1.00000000")],
    )


def test_book_truncates_to_depth_after_apply() -> None:
    book = OrderBook(0, 0, depth=3)
    book.apply([(str(p), "1") for p in (1, 2, 3, 4, 5)], [(str(p), "1") for p in (9, 8, 7, 6)])
    assert book.top(10) == (
        [("5", "1"), ("4", "1"), ("3", "1")],
        [("6", "1"), ("7", "1"), ("8", "1")],
    )
    # A better level pushes the worst out; deleting it again does not bring that one back.
    book.apply([("10", "1")], [])
    book.apply([("10", "0")], [])
    assert book.top(10)[0] == [("5", "1"), ("4", "1")]
    assert book.bid_count == 2


def test_book_snapshot_replaces_everything_and_skips_zero_levels() -> None:
    book = OrderBook(1, 1)
    book.apply([("1", "1"), ("2", "1")], [("5", "1")])
    book.apply_snapshot([("3", "2"), ("2.5", "0")], [("4", "0"), ("6", "1")])
    assert book.top(10) == ([("3.0", "2.0")], [("6.0", "1.0")])


def test_book_snapshot_truncates_to_depth() -> None:
    # Not spelled out for snapshots, but a book limited to `depth` levels must never hold more.
    book = OrderBook(0, 0, depth=2)
    book.apply_snapshot([("1", "1"), ("3", "1"), ("2", "1")], [("6", "1"), ("4", "1"), ("5", "1")])
    assert book.top(10) == ([("3", "1"), ("2", "1")], [("4", "1"), ("5", "1")])
    assert (book.bid_count, book.ask_count) == (2, 2)


def test_book_is_crossed_after_crossing_apply() -> None:
    book = OrderBook(0, 0)
    book.apply_snapshot([("10", "1")], [("11", "1")])
    assert not book.is_crossed()
    book.apply([("11", "1")], [])  # apply does not refuse; the caller asks is_crossed()
    assert book.is_crossed()
    book.apply([("11", "0")], [])
    assert not book.is_crossed()
    book.apply([("12", "1")], [])
    assert book.is_crossed()


def test_book_clear() -> None:
    book = OrderBook(0, 0, depth=5)
    book.apply_snapshot([("1", "1")], [("2", "1")])
    book.clear()
    assert book.top(5) == ([], [])
    assert (book.bid_count, book.ask_count) == (0, 0)
    assert book.depth == 5


def test_book_checksum_matches_function_and_reference() -> None:
    book = OrderBook(3, 2)
    ref = RefOrderBook(3, 2)
    bids = [(f"{100 - i * 0.25:.2f}", f"{i + 1}.5") for i in range(14)]
    asks = [(f"{101 + i * 0.125:.3f}", f"0.{i + 1:02d}") for i in range(12)]
    book.apply_snapshot(bids, asks)
    ref.apply_snapshot(bids, asks)
    top_bids, top_asks = book.top(10)
    assert book.checksum_kraken() == kraken_checksum(top_asks, top_bids)
    assert book.checksum_kraken() == ref.checksum_kraken()
    assert book.checksum_kraken() == ref_kraken_checksum(ref.top(10)[1], ref.top(10)[0])


# --------------------------------------------------------------------------- BookAssembler

STATS_KEYS = {
    "applied",
    "buffered",
    "stale",
    "gaps",
    "checksum_ok",
    "checksum_mismatches",
    "crossed",
    "snapshots",
}


@pytest.mark.parametrize("venue", ["binance", "coinbase", "kraken"])
def test_assembler_initial_state(venue: str) -> None:
    assembler = BookAssembler(venue, 2, 3, depth=50)
    assert assembler.venue == venue
    assert assembler.state == "awaiting_snapshot"
    assert assembler.resyncs == 0
    assert assembler.last_update_id is None
    assert set(assembler.stats()) == STATS_KEYS
    assert all(value == 0 for value in assembler.stats().values())
    book = assembler.book
    assert isinstance(book, OrderBook)
    assert assembler.book is book  # the same object every time, so callers can keep it
    assert (book.price_precision, book.qty_precision, book.depth) == (2, 3, 50)


def test_binance_buffers_until_snapshot_then_replays() -> None:
    assembler = BookAssembler("binance", 1, 1)
    assert assembler.on_diff(98, 100, [("9", "1")], []) == "buffered"  # before the snapshot
    assert assembler.on_diff(101, 103, [("10", "2")], []) == "buffered"  # straddles it
    assert assembler.on_diff(104, 105, [], [("12", "3")]) == "buffered"
    assert assembler.stats()["buffered"] == 3
    assert assembler.state == "awaiting_snapshot"
    assert assembler.book.top(5) == ([], [])  # nothing applied before the snapshot

    assert assembler.on_snapshot(101, [("8", "1")], [("11", "1")]) == "applied"
    assert assembler.state == "synced"
    assert assembler.last_update_id == 105
    # The first diff (final 100 <= 101) was dropped; the other two were applied.
    assert assembler.book.top(5) == (
        [("10.0", "2.0"), ("8.0", "1.0")],
        [("11.0", "1.0"), ("12.0", "3.0")],
    )
    assert assembler.stats()["snapshots"] == 1


def test_binance_live_rules() -> None:
    assembler = BookAssembler("binance", 0, 0)
    assert assembler.on_snapshot(100, [("10", "1")], [("20", "1")]) == "applied"
    assert assembler.last_update_id == 100
    assert assembler.on_diff(95, 100, [("11", "1")], []) == "stale"
    assert assembler.on_diff(99, 102, [("12", "1")], []) == "applied"  # U <= local+1 <= u
    assert assembler.on_diff(103, 103, [("12", "0")], []) == "applied"
    assert assembler.on_diff(101, 103, [("13", "1")], []) == "stale"
    assert assembler.last_update_id == 103
    assert assembler.book.top(5) == ([("10", "1")], [("20", "1")])
    assert assembler.stats()["stale"] == 2
    assert assembler.state == "synced"


def test_binance_stale_snapshot_leaves_book_untouched() -> None:
    assembler = BookAssembler("binance", 0, 0)
    assert assembler.on_diff(110, 112, [("10", "1")], []) == "buffered"
    # lastUpdateId 100 < U - 1: the snapshot is older than the first buffered event.
    assert assembler.on_snapshot(100, [("5", "1")], [("20", "1")]) == "stale"
    assert assembler.book.top(5) == ([], [])
    assert assembler.state != "synced"
    assert assembler.on_snapshot(111, [("5", "1")], [("20", "1")]) == "applied"
    assert assembler.state == "synced"
    assert assembler.last_update_id == 112
    assert assembler.book.top(5) == ([("10", "1"), ("5", "1")], [("20", "1")])


def test_binance_gap_then_resync() -> None:
    assembler = BookAssembler("binance", 0, 0)
    assembler.on_snapshot(100, [("10", "1")], [("20", "1")])
    epoch = assembler.epoch
    assert assembler.on_diff(105, 106, [("11", "1")], []) == "gap"
    assert assembler.state == "unsynced"
    assert (assembler.resyncs, assembler.epoch) == (1, epoch + 1)
    assert assembler.stats()["gaps"] == 1
    # Unsynced diffs are kept for the next snapshot but not applied.
    assert assembler.on_diff(107, 108, [("12", "1")], []) == "needs_snapshot"
    assert assembler.book.best_bid() != ("12", "1")
    assert assembler.on_snapshot(105, [("9", "1")], [("20", "1")]) == "applied"
    assert assembler.state == "synced"
    assert assembler.last_update_id == 108
    assert assembler.book.top(5) == ([("12", "1"), ("11", "1"), ("9", "1")], [("20", "1")])
    assert assembler.on_diff(109, 109, [], [("21", "1")]) == "applied"
    assert (assembler.resyncs, assembler.epoch) == (1, epoch + 1)


def test_binance_gap_inside_buffered_replay() -> None:
    assembler = BookAssembler("binance", 0, 0)
    assembler.on_diff(101, 102, [("10", "1")], [])
    assembler.on_diff(105, 106, [("11", "1")], [])
    assert assembler.on_snapshot(100, [("9", "1")], [("20", "1")]) == "gap"
    assert assembler.state == "unsynced"
    assert assembler.on_diff(107, 107, [("12", "1")], []) == "needs_snapshot"


def test_binance_crossed_diff_loses_sync() -> None:
    assembler = BookAssembler("binance", 0, 0)
    assembler.on_snapshot(1, [("10", "1")], [("20", "1")])
    assert assembler.on_diff(2, 2, [("25", "1")], []) == "crossed"
    assert assembler.state == "unsynced"
    assert assembler.stats()["crossed"] == 1
    assert assembler.resyncs == 1
    assert assembler.on_diff(3, 3, [("25", "0")], []) == "needs_snapshot"


def test_coinbase_sequence_rules() -> None:
    assembler = BookAssembler("coinbase", 2, 2)
    assert assembler.on_update(1, [("1", "1")], []) == "needs_snapshot"
    assert assembler.on_snapshot(10, [("100", "1")], [("101", "2")]) == "applied"
    assert (assembler.state, assembler.last_update_id) == ("synced", 10)
    assert assembler.on_update(11, [("100.5", "3")], []) == "applied"
    assert assembler.on_update(11, [("99", "3")], []) == "stale"
    assert assembler.on_update(9, [("99", "3")], []) == "stale"
    assert assembler.last_update_id == 11
    assert assembler.book.top(5) == (
        [("100.50", "3.00"), ("100.00", "1.00")],
        [("101.00", "2.00")],
    )
    epoch = assembler.epoch
    assert assembler.on_update(13, [("99", "3")], []) == "gap"
    assert (assembler.state, assembler.resyncs, assembler.epoch) == ("unsynced", 1, epoch + 1)
    assert assembler.on_update(14, [("99", "3")], []) == "needs_snapshot"
    assert assembler.on_snapshot(20, [("100", "1")], [("101", "1")]) == "applied"
    assert assembler.on_update(21, [], [("101", "0")]) == "applied"
    assert assembler.book.top(5) == ([("100.00", "1.00")], [])
    stats = assembler.stats()
    assert (stats["gaps"], stats["stale"], stats["snapshots"]) == (1, 2, 2)


def test_coinbase_crossed_update_loses_sync() -> None:
    assembler = BookAssembler("coinbase", 0, 0)
    assembler.on_snapshot(1, [("10", "1")], [("20", "1")])
    assert assembler.on_update(2, [], [("10", "1")]) == "crossed"
    assert assembler.state == "unsynced"
    assert assembler.on_update(3, [], [("10", "0")]) == "needs_snapshot"


def _kraken_ref(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> RefOrderBook:
    ref = RefOrderBook(1, 2, depth=3)
    ref.apply_snapshot(bids, asks)
    return ref


def test_kraken_checksums_and_depth_truncation() -> None:
    bids = [("10", "1"), ("9", "1"), ("8", "1")]
    asks = [("11", "1"), ("12", "1"), ("13", "1")]
    assembler = BookAssembler("kraken", 1, 2, depth=3)
    ref = _kraken_ref(bids, asks)
    assert assembler.on_update([("10", "2")], [], None) == "needs_snapshot"
    assert assembler.on_snapshot(bids, asks, None) == "applied"
    assert assembler.state == "synced"

    # A better bid pushes 8 out of the 3-level book; removing it must not bring 8 back, so
    # the checksum after the second update only matches if the first one truncated.
    ref.apply([("10.5", "1")], [])
    assert assembler.on_update([("10.5", "1")], [], ref.checksum_kraken()) == "applied"
    ref.apply([("10.5", "0")], [])
    assert assembler.on_update([("10.5", "0")], [], ref.checksum_kraken()) == "applied"
    assert assembler.book.bid_count == 2
    ref.apply([("9", "4")], [("11", "0")])
    assert assembler.on_update([("9", "4")], [("11", "0")], None) == "applied"  # unchecked
    assert assembler.book.top(10) == ref.top(10)
    stats = assembler.stats()
    assert (stats["checksum_ok"], stats["checksum_mismatches"]) == (2, 0)


def test_kraken_checksum_mismatch_then_resnapshot() -> None:
    bids = [("10", "1"), ("9", "1")]
    asks = [("11", "1"), ("12", "1")]
    assembler = BookAssembler("kraken", 1, 2, depth=3)
    assembler.on_snapshot(bids, asks, None)
    ref = _kraken_ref(bids, asks)
    ref.apply([("9.5", "1")], [])
    epoch = assembler.epoch
    wrong = (ref.checksum_kraken() + 1) % 2**32
    assert assembler.on_update([("9.5", "1")], [], wrong) == "checksum_mismatch"
    assert (assembler.state, assembler.resyncs, assembler.epoch) == ("unsynced", 1, epoch + 1)
    assert assembler.stats()["checksum_mismatches"] == 1
    assert assembler.on_update([("9.5", "0")], [], None) == "needs_snapshot"

    fresh = _kraken_ref(bids, asks)
    assert assembler.on_snapshot(bids, asks, fresh.checksum_kraken()) == "applied"
    assert assembler.state == "synced"
    assert assembler.book.top(10) == fresh.top(10)
    # A snapshot with a checksum that does not match is refused like an update.
    wrong = (fresh.checksum_kraken() + 1) % 2**32
    assert assembler.on_snapshot(bids, asks, wrong) == "checksum_mismatch"
    assert assembler.state == "unsynced"
    assert assembler.resyncs == 2


def test_kraken_crossed_update_loses_sync() -> None:
    assembler = BookAssembler("kraken", 0, 0, depth=10)
    assembler.on_snapshot([("10", "1")], [("11", "1")], None)
    assert assembler.on_update([("11", "1")], [], None) == "crossed"
    assert assembler.state == "unsynced"
    assert assembler.stats()["crossed"] == 1
    assert assembler.on_update([("11", "0")], [], None) == "needs_snapshot"
