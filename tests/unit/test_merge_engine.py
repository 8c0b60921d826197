"""The windowed merge engine on a hand-moved clock: windows open on their first fragment,
close by time or count (the count boundary exactly), late fragments are left out, partial
windows (a silent or unsynced venue) are never emitted, crossed books are flagged, prices
and quantities of different precisions are compared and summed exactly, merges on one symbol
stay apart, and removing a merge or stopping discards its window."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.unit._factories import ManualClock, book_snapshot, book_update, trade
from tradegw.conductor import CLOSE_TOLERANCE_S, MergeEngine, MergeSpec
from tradegw.schema import (
    BookSnapshot,
    Event,
    Level,
    MergedBBO,
    MergedBookSnapshot,
    MergedLevel,
)
from tradegw.telemetry import Telemetry

SYMBOL = "BTC-USD"

pytestmark = pytest.mark.timeout(10)


def spec(
    venues: tuple[str, ...] = ("coinbase", "kraken"),
    *,
    merge_id: str = "m1",
    symbol: str = SYMBOL,
    window_s: float = 10.0,
    max_events: int = 1000,
    depth: int = 10,
) -> MergeSpec:
    return MergeSpec(
        merge_id=merge_id,
        symbol=symbol,
        venues=frozenset(venues),
        window_s=window_s,
        max_events=max_events,
        depth=depth,
    )


class Rig:
    """An engine publishing into a list, reading books from a dict, on a manual clock."""

    def __init__(self, *specs: MergeSpec, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.published: list[Event] = []
        self.books: dict[tuple[str, str], BookSnapshot | None] = {}
        self.telemetry = Telemetry()
        self.book_reads = 0
        self.engine = MergeEngine(
            self.published.append, self.book, self.telemetry.counters, self.clock
        )
        for s in specs:
            self.engine.add(s)

    def book(self, venue: str, symbol: str) -> BookSnapshot | None:
        self.book_reads += 1
        return self.books.get((venue, symbol))

    def set_book(
        self,
        venue: str,
        bids: list[Level],
        asks: list[Level],
        *,
        symbol: str = SYMBOL,
        depth: int | None = None,
    ) -> None:
        self.books[(venue, symbol)] = book_snapshot(
            symbol, bids=bids, asks=asks, provider=venue, depth=depth
        )

    def synced_books(self, *venues: str) -> None:
        for venue in venues:
            self.set_book(venue, [("100.0", "1.00")], [("100.5", "2.00")])

    def fragment(
        self,
        venue: str,
        *,
        symbol: str = SYMBOL,
        ingest_ts: int | None = None,
        snapshot: bool = False,
    ) -> Event:
        """Shows one book fragment of ``venue`` to the engine, as the conductor does."""
        event: Event = (book_snapshot if snapshot else book_update)(symbol, provider=venue)
        event.ingest_ts = self.clock.wall_ns() if ingest_ts is None else ingest_ts
        merges = self.engine.watched.get(symbol)
        if merges is not None:
            self.engine.observe(event, merges)
        return event

    def snapshots(self) -> list[MergedBookSnapshot]:
        return [e for e in self.published if isinstance(e, MergedBookSnapshot)]

    def bbos(self) -> list[MergedBBO]:
        return [e for e in self.published if isinstance(e, MergedBBO)]

    def counter(self, name: str, *labels: str) -> int:
        return self.telemetry.counters.get(name, *labels)


# ---- opening ----


def test_a_window_opens_on_its_first_fragment_and_times_from_it() -> None:
    rig = Rig(spec(window_s=10.0))
    rig.synced_books("coinbase", "kraken")
    rig.clock.advance(60.0)
    assert rig.clock.pending() == 0  # nothing opens a window but a fragment
    first = rig.fragment("kraken")
    assert rig.clock.pending() == 1
    rig.clock.advance(3.0)
    rig.fragment("coinbase")
    assert rig.clock.pending() == 1  # the second fragment joins the open window
    rig.clock.advance(6.999)
    assert rig.published == []
    rig.clock.advance(0.001)  # 10 s after the first fragment, not after the second
    (snap,) = rig.snapshots()
    assert snap.window_open_ts == first.ingest_ts
    assert snap.trace_id == first.trace_id
    assert snap.window_close_ts == snap.ingest_ts == first.ingest_ts + 10 * 10**9
    assert (snap.close_reason, snap.window_seq, snap.fragments) == (
        "time",
        1,
        {"coinbase": 1, "kraken": 1},
    )


def test_only_book_fragments_of_the_merges_venues_count() -> None:
    rig = Rig(spec(max_events=2))
    rig.synced_books("coinbase", "kraken")
    t = trade(SYMBOL, provider="kraken")
    t.ingest_ts = rig.clock.wall_ns()
    rig.engine.observe(t, rig.engine.watched[SYMBOL])
    rig.fragment("binance")  # a venue outside the merge
    rig.fragment("kraken", symbol="ETH-USD")  # another symbol: never watched
    assert rig.clock.pending() == 0
    rig.fragment("kraken", snapshot=True)  # a BookSnapshot is a fragment too
    rig.fragment("coinbase")
    (snap,) = rig.snapshots()
    assert snap.fragments == {"coinbase": 1, "kraken": 1}


# ---- closing ----


def test_close_by_time_emits_the_books_as_they_are_at_the_close() -> None:
    rig = Rig(spec())
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(5.0)
    # The books move after the last fragment: the close reads them as they are then.
    rig.set_book("kraken", [("101.0", "3.00")], [("101.5", "4.00")])
    rig.clock.advance(5.0)
    (snap,) = rig.snapshots()
    assert snap.bids[0] == MergedLevel(price="101.0", qty="3.00", venues={"kraken": "3.00"})
    assert snap.venues == ["coinbase", "kraken"]
    assert rig.engine.stats("m1").closed_by_time == 1
    assert rig.counter("merge.closed", "m1", "time") == 1
    assert rig.counter("merge.emitted", "m1") == 1


def test_close_by_count_is_synchronous_and_cancels_the_timer() -> None:
    rig = Rig(spec(max_events=4))
    rig.synced_books("coinbase", "kraken")
    for venue in ("kraken", "coinbase", "kraken"):
        rig.fragment(venue)
    assert rig.published == []
    last = rig.fragment("coinbase")
    # Published inside the call that counted the 4th fragment, no time passing.
    (snap,) = rig.snapshots()
    assert (snap.close_reason, snap.fragments) == ("count", {"coinbase": 2, "kraken": 2})
    assert snap.window_close_ts >= last.ingest_ts
    assert rig.clock.pending() == 0
    rig.clock.advance(30.0)
    assert len(rig.snapshots()) == 1  # the cancelled timer never closes it again


@pytest.mark.parametrize("max_events", [2, 3, 7])
def test_the_count_boundary_is_exact(max_events: int) -> None:
    rig = Rig(spec(max_events=max_events))
    rig.synced_books("coinbase", "kraken")
    venues = ["kraken", "coinbase"]
    for i in range(max_events - 1):
        rig.fragment(venues[i % 2])
        rig.clock.advance(0.001)
    assert rig.snapshots() == []
    rig.fragment(venues[(max_events - 1) % 2])
    (snap,) = rig.snapshots()
    assert sum(snap.fragments.values()) == max_events
    assert snap.close_reason == "count"
    # The next fragment, stamped after the close, opens window 2.
    rig.clock.advance(0.001)
    rig.fragment("kraken")
    assert rig.clock.pending() == 1
    stats = rig.engine.stats("m1")
    assert (stats.closed_by_count, stats.closed_on_threshold, stats.adherence()) == (1, 1, 1.0)


def test_each_window_of_a_merge_is_numbered_and_a_suppressed_one_leaves_a_gap() -> None:
    rig = Rig(spec(window_s=1.0))
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(1.5)
    rig.fragment("kraken")  # window 2: coinbase silent, suppressed
    rig.clock.advance(1.5)
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(1.0)
    assert [s.window_seq for s in rig.snapshots()] == [1, 3]
    assert [b.window_seq for b in rig.bbos()] == [1, 3]


def test_close_lateness_is_recorded_and_a_late_close_is_off_threshold() -> None:
    rig = Rig(spec(window_s=2.0))
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(2.0 + 0.020, late=True)  # the loop was busy 20 ms past the deadline
    rig.clock.advance(0.001)
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(2.0 + CLOSE_TOLERANCE_S + 0.030, late=True)
    stats = rig.engine.stats("m1")
    assert stats.closed_by_time == 2
    assert stats.closed_on_threshold == 1
    assert stats.adherence() == 0.5
    assert stats.close_lateness.max == pytest.approx(80_000_000, rel=1e-3)
    assert rig.counter("merge.close_late", "m1") == 1
    assert len(rig.snapshots()) == 2  # late, but still emitted


def test_a_timer_that_fires_early_does_not_close_the_window_early() -> None:
    rig = Rig(spec(window_s=1.0), clock=ManualClock(early_s=0.004))
    rig.synced_books("coinbase", "kraken")
    first = rig.fragment("kraken")  # its timer will fire 4 ms early
    rig.fragment("coinbase")
    rig.clock.early_s = 0.0
    rig.clock.advance(0.997)  # it has fired, 4 ms too soon, and been set again
    assert rig.published == []
    assert rig.clock.pending() == 1
    rig.clock.advance(0.003)
    (snap,) = rig.snapshots()
    assert snap.window_close_ts - first.ingest_ts == 10**9


# ---- late fragments ----


def test_a_late_fragment_is_counted_but_not_merged() -> None:
    rig = Rig(spec(window_s=1.0))
    rig.synced_books("coinbase", "kraken")
    first = rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(1.0)
    (snap,) = rig.snapshots()
    # Stamped inside the closed window, seen after its close: dropped, and it opens nothing.
    rig.fragment("coinbase", ingest_ts=first.ingest_ts + 500_000_000)
    rig.fragment("kraken", ingest_ts=snap.window_close_ts)  # the close instant belongs to it
    assert rig.clock.pending() == 0
    assert rig.engine.stats("m1").late_dropped == 2
    assert rig.counter("merge.late_dropped", "m1", "coinbase") == 1
    assert rig.counter("merge.late_dropped", "m1", "kraken") == 1
    # One stamped after the close opens window 2; a late one meanwhile does not count in it.
    rig.clock.advance(0.1)
    rig.fragment("kraken")
    rig.fragment("coinbase", ingest_ts=snap.window_close_ts - 1)
    rig.clock.advance(1.0)
    snaps = rig.snapshots()
    assert len(snaps) == 1  # window 2 had no coinbase fragment of its own: suppressed
    assert rig.counter("merge.suppressed_partial", "m1") == 1
    assert rig.engine.stats("m1").late_dropped == 3


# ---- partial windows ----


def test_a_window_missing_a_venue_is_never_emitted(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(spec(("binance", "coinbase", "kraken"), merge_id="m-3v", max_events=50))
    rig.synced_books("binance", "coinbase", "kraken")
    caplog.set_level(logging.WARNING, "tradegw.conductor")
    opener = rig.fragment("kraken")
    for _ in range(48):
        rig.fragment("coinbase")
    closer = rig.fragment("kraken")  # the 50th: closes by count, binance said nothing
    rig.clock.advance(10.0)
    rig.fragment("binance")  # window 2, by time, with binance alone
    rig.clock.advance(10.0)
    assert rig.published == []
    assert rig.counter("merge.suppressed_partial", "m-3v") == 2
    assert rig.engine.stats("m-3v").suppressed == 2
    first, second = (r.getMessage() for r in caplog.records)
    assert "merge m-3v" in first
    assert "missing venues ['binance']" in first
    assert f"trace_id={opener.trace_id}" in first
    assert f"close_trace_id={closer.trace_id}" in first
    assert "missing venues ['coinbase', 'kraken']" in second


def test_a_venue_not_synced_at_the_close_counts_as_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(spec())
    rig.synced_books("coinbase", "kraken")
    caplog.set_level(logging.WARNING, "tradegw.conductor")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.books[("coinbase", SYMBOL)] = None  # resyncing when the window closes
    rig.clock.advance(10.0)
    assert rig.published == []
    assert rig.counter("merge.suppressed_partial", "m1") == 1
    (record,) = caplog.records
    assert "missing venues ['coinbase']" in record.getMessage()
    assert "not synced: ['coinbase']" in record.getMessage()


# ---- the consolidated book ----


def test_levels_of_different_precisions_are_one_level_summed_exactly() -> None:
    rig = Rig(spec(("binance", "coinbase", "kraken"), max_events=3))
    rig.set_book(
        "kraken",
        [("87500.1", "0.25000000"), ("87499.8", "0.1")],
        [("87500.2", "0.04000000")],
    )
    rig.set_book("coinbase", [("87500.10", "0.5"), ("87499.80", "0.2")], [("87500.15", "0.3")])
    rig.set_book(
        "binance",
        [("87500.10000000", "123456789012.12345678")],
        [("87500.20000000", "0.00000001")],
    )
    for venue in ("binance", "coinbase", "kraken"):
        rig.fragment(venue)
    (snap,) = rig.snapshots()
    assert snap.bids == [
        MergedLevel(
            price="87500.10000000",
            qty="123456789012.87345678",
            venues={"binance": "123456789012.12345678", "coinbase": "0.5", "kraken": "0.25000000"},
        ),
        # 0.1 + 0.2 in floats is 0.30000000000000004.
        MergedLevel(
            price="87499.80000000", qty="0.30000000", venues={"coinbase": "0.2", "kraken": "0.1"}
        ),
    ]
    assert snap.asks == [
        MergedLevel(price="87500.15000000", qty="0.30000000", venues={"coinbase": "0.3"}),
        MergedLevel(
            price="87500.20000000",
            qty="0.04000001",
            venues={"binance": "0.00000001", "kraken": "0.04000000"},
        ),
    ]
    assert not snap.crossed
    (bbo,) = rig.bbos()
    assert (bbo.bid, bbo.bid_qty, bbo.ask, bbo.ask_qty) == (
        "87500.10000000",
        "123456789012.87345678",
        "87500.15000000",
        "0.30000000",
    )
    assert bbo.ask_venues == {"coinbase": "0.3"}
    assert (bbo.trace_id, bbo.window_seq, bbo.merge_id) == (snap.trace_id, 1, "m1")


def test_a_crossed_merge_is_flagged_and_left_as_the_venues_quote_it() -> None:
    rig = Rig(spec(max_events=2))
    rig.set_book("kraken", [("101.0", "1")], [("102.0", "1")])
    rig.set_book("coinbase", [("99.0", "2")], [("100.5", "2")])  # kraken bids above this ask
    rig.fragment("kraken")
    rig.fragment("coinbase")
    (snap,) = rig.snapshots()
    assert snap.crossed
    assert [lv.price for lv in snap.bids] == ["101.0", "99.0"]
    assert [lv.price for lv in snap.asks] == ["100.5", "102.0"]
    (bbo,) = rig.bbos()
    assert (bbo.bid, bbo.ask, bbo.crossed) == ("101.0", "100.5", True)


def test_a_bid_equal_to_another_venues_ask_is_crossed() -> None:
    rig = Rig(spec(max_events=2))
    rig.set_book("kraken", [("100.5", "1")], [("101.0", "1")])
    rig.set_book("coinbase", [("100.0", "2")], [("100.50", "2")])
    rig.fragment("kraken")
    rig.fragment("coinbase")
    assert rig.snapshots()[0].crossed


def test_depth_limits_each_side_and_an_empty_side_gives_an_empty_bbo() -> None:
    rig = Rig(spec(max_events=2, depth=2))
    rig.set_book("kraken", [("100.0", "1"), ("99.0", "1"), ("98.0", "1")], [])
    rig.set_book("coinbase", [("99.5", "1")], [])
    rig.fragment("kraken")
    rig.fragment("coinbase")
    (snap,) = rig.snapshots()
    assert [lv.price for lv in snap.bids] == ["100.0", "99.5"]
    assert snap.asks == []
    (bbo,) = rig.bbos()
    assert (bbo.ask, bbo.ask_qty, bbo.ask_venues, bbo.crossed) == (None, None, {}, False)


def test_levels_stop_where_a_truncated_venue_book_stops() -> None:
    """Kraken shows its top 2 levels of a deeper book: below 99.0 its quantities are
    unknown, so the merged side stops there even though the merge's depth is 5."""
    rig = Rig(spec(max_events=2, depth=5))
    rig.set_book(
        "kraken", [("100.0", "1"), ("99.0", "1")], [("101.0", "1"), ("102.0", "1")], depth=2
    )
    rig.set_book(
        "coinbase",
        [("99.5", "1"), ("98.0", "1"), ("97.0", "1")],
        [("101.5", "1"), ("103.0", "1")],
        depth=10,
    )
    rig.fragment("kraken")
    rig.fragment("coinbase")
    (snap,) = rig.snapshots()
    assert [lv.price for lv in snap.bids] == ["100.0", "99.5", "99.0"]
    assert [lv.price for lv in snap.asks] == ["101.0", "101.5", "102.0"]


# ---- several merges, removing, stopping ----


def test_two_merges_on_one_symbol_with_different_venues_stay_apart() -> None:
    rig = Rig(
        spec(("coinbase", "kraken"), merge_id="ck", max_events=2),
        spec(("binance", "kraken"), merge_id="bk", window_s=5.0),
    )
    rig.synced_books("binance", "coinbase", "kraken")
    rig.fragment("kraken")  # opens a window in both
    rig.fragment("coinbase")  # closes ck by count; bk does not take coinbase
    (ck,) = rig.snapshots()
    assert (ck.merge_id, ck.venues, ck.fragments) == (
        "ck",
        ["coinbase", "kraken"],
        {"coinbase": 1, "kraken": 1},
    )
    rig.fragment("binance")
    rig.clock.advance(5.0)
    ck2, bk = rig.snapshots()
    assert (bk.merge_id, bk.venues, bk.fragments) == (
        "bk",
        ["binance", "kraken"],
        {"binance": 1, "kraken": 1},
    )
    assert ck2.merge_id == "ck"  # the binance fragment is not ck's: its window 2 is kraken's
    assert [b.merge_id for b in rig.bbos()] == ["ck", "bk"]


def test_a_merge_id_is_used_once() -> None:
    rig = Rig(spec(merge_id="m1"))
    with pytest.raises(ValueError, match="merge_id 'm1' is already in use"):
        rig.engine.add(spec(("binance", "kraken"), merge_id="m1"))


def test_removing_a_merge_discards_its_window_and_stops_it() -> None:
    rig = Rig(spec(merge_id="m1"), spec(merge_id="m2"))
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    removed = rig.engine.remove("m1")
    assert removed.merge_id == "m1"
    assert [s.merge_id for s in rig.engine.specs()] == ["m2"]
    rig.clock.advance(10.0)
    assert [s.merge_id for s in rig.snapshots()] == ["m2"]
    assert rig.counter("merge.discarded", "m1") == 1
    rig.engine.remove("m2")
    assert rig.engine.watched == {}  # no lookup hit for the symbol any more
    rig.fragment("kraken")
    rig.fragment("coinbase")
    rig.clock.advance(10.0)
    assert len(rig.snapshots()) == 1
    with pytest.raises(KeyError):
        rig.engine.remove("m2")


def test_stopping_discards_open_windows_unpublished() -> None:
    rig = Rig(spec())
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    assert rig.engine.discard_windows() == 1
    assert rig.clock.pending() == 0
    rig.clock.advance(20.0)
    assert rig.published == []
    assert rig.engine.discard_windows() == 0


def test_a_failing_close_costs_the_window_not_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(spec(max_events=2))
    rig.set_book("kraken", [("not a number", "1")], [])
    rig.synced_books("coinbase")
    caplog.set_level(logging.ERROR, "tradegw.conductor")
    rig.fragment("kraken")
    rig.fragment("coinbase")  # closes by count inside this call: must not raise
    assert rig.published == []
    assert rig.counter("merge.errors", "m1") == 1
    assert "failed to close" in caplog.records[0].getMessage()
    # The merge carries on with its next window.
    rig.synced_books("kraken")
    rig.clock.advance(0.001)
    rig.fragment("kraken")
    rig.fragment("coinbase")
    assert len(rig.snapshots()) == 1


def test_books_are_read_only_at_the_close() -> None:
    rig = Rig(spec(max_events=100))
    rig.synced_books("coinbase", "kraken")
    for _ in range(50):
        rig.fragment("kraken")
        rig.fragment("coinbase")
    assert rig.book_reads == 2


def _fields(event: Any) -> dict[str, Any]:
    return {"provider": event.provider, "symbol": event.symbol, "venue": event.venue_symbol}


def test_merged_events_carry_the_merged_provider_and_the_canonical_symbol() -> None:
    rig = Rig(spec(max_events=2))
    rig.synced_books("coinbase", "kraken")
    rig.fragment("kraken")
    rig.fragment("coinbase")
    for event in rig.published:
        assert _fields(event) == {"provider": "merged", "symbol": SYMBOL, "venue": SYMBOL}
        assert event.seq_provider is None
        assert event.merge_id == "m1"
    assert [e.event_type for e in rig.published] == ["MergedBookSnapshot", "MergedBBO"]
