"""Conductor: between providers and the dispatcher, it forwards every event unchanged and
feeds merged symbols' book fragments to the merge engine, whose events reach consumers
subscribed to the "merged" venue."""

from __future__ import annotations

import pytest

from tests.unit._factories import (
    ManualClock,
    book_snapshot,
    book_status,
    book_update,
    exec_report,
    kline,
    make_dispatcher,
    ticker,
    trade,
)
from tradegw.conductor import Conductor, MergeSpec
from tradegw.consumers import Subscription
from tradegw.dispatch import Dispatcher
from tradegw.schema import BookSnapshot, Event, MergedBookSnapshot

pytestmark = pytest.mark.timeout(10)

VENUES = ("coinbase", "kraken")


def drain(sub: Subscription) -> list[Event]:
    out: list[Event] = []
    while (ev := sub.get_nowait()) is not None:
        out.append(ev)
    return out


def rig(*specs: MergeSpec) -> tuple[Conductor, Dispatcher, ManualClock]:
    d = make_dispatcher()
    clock = ManualClock()
    conductor = Conductor(d, d.telemetry, clock)
    for venue in VENUES:
        conductor.register_book_source(venue, _book_source)
    for spec in specs:
        conductor.merge(spec)
    return conductor, d, clock


def _book_source(provider: str, symbol: str) -> BookSnapshot | None:
    return book_snapshot(
        symbol, bids=[("100.0", "1.00")], asks=[("100.5", "2.00")], provider=provider
    )


def merge_spec(*, merge_id: str = "m1", max_events: int = 1000) -> MergeSpec:
    return MergeSpec(
        merge_id=merge_id, symbol="BTC-USD", venues=frozenset(VENUES), max_events=max_events
    )


def stamped(event: Event, clock: ManualClock) -> Event:
    event.ingest_ts = clock.wall_ns()
    return event


def test_every_event_is_forwarded_unchanged_with_or_without_a_merge() -> None:
    for specs in ((), (merge_spec(),)):
        conductor, d, clock = rig(*specs)
        sub = d.subscribe()
        events: list[Event] = [
            book_snapshot(provider="kraken"),
            book_update(provider="kraken"),
            book_status(provider="coinbase"),
            trade(),
            ticker("ETH-USD"),
            kline(),
            exec_report(),
        ]
        for ev in events:
            conductor.publish(stamped(ev, clock))
        # The very objects, in order (an ExecReport is handed over ahead of queued market
        # data); nothing merged yet (the window is still open).
        assert drain(sub) == [events[-1], *events[:-1]]
        assert d.published == len(events)


def test_merged_events_reach_merged_subscribers_after_the_closing_fragment() -> None:
    conductor, d, clock = rig(merge_spec(max_events=3))
    merged = d.subscribe(venues=["merged"])
    kraken_only = d.subscribe(venues=["kraken"])
    everything = d.subscribe()
    f1 = stamped(book_update(provider="kraken"), clock)
    f2 = stamped(book_update(provider="coinbase"), clock)
    f3 = stamped(book_update(provider="kraken"), clock)
    for ev in (f1, f2, f3):
        conductor.publish(ev)
    got = drain(merged)
    assert [e.event_type for e in got] == ["MergedBookSnapshot", "MergedBBO"]
    assert all(e.merge_id == "m1" for e in got)
    assert drain(kraken_only) == [f1, f3]
    assert [e.event_type for e in drain(everything)] == [
        "BookUpdate",
        "BookUpdate",
        "BookUpdate",
        "MergedBookSnapshot",
        "MergedBBO",
    ]


def test_merged_events_can_be_filtered_by_symbol_and_type() -> None:
    conductor, d, clock = rig(merge_spec(max_events=2))
    snaps = d.subscribe(venues=["merged"], symbols=["BTC-USD"], types=["MergedBookSnapshot"])
    other = d.subscribe(venues=["merged"], symbols=["ETH-USD"])
    for venue in VENUES:
        conductor.publish(stamped(book_update(provider=venue), clock))
    (snap,) = drain(snaps)
    assert isinstance(snap, MergedBookSnapshot)
    assert drain(other) == []


def test_a_late_fragment_still_reaches_consumers() -> None:
    conductor, d, clock = rig(merge_spec())
    sub = d.subscribe(venues=["coinbase"])
    first = stamped(book_update(provider="kraken"), clock)
    conductor.publish(first)
    conductor.publish(stamped(book_update(provider="coinbase"), clock))
    clock.advance(10.0)
    late = book_update(provider="coinbase")
    late.ingest_ts = first.ingest_ts + 1
    conductor.publish(late)
    assert drain(sub)[-1] is late
    assert d.telemetry.counters.get("merge.late_dropped", "m1", "coinbase") == 1


def test_merges_are_started_listed_and_stopped_through_the_conductor() -> None:
    conductor, _, clock = rig(merge_spec(merge_id="a"), merge_spec(merge_id="b"))
    assert [s.merge_id for s in conductor.merges()] == ["a", "b"]
    conductor.publish(stamped(book_update(provider="kraken"), clock))
    assert conductor.unmerge("a").merge_id == "a"
    assert [s.merge_id for s in conductor.merges()] == ["b"]
    assert conductor.stop() == 1  # b's open window
    clock.advance(30.0)
    assert conductor.merge_stats("b").closed == 0
    with pytest.raises(KeyError):
        conductor.merge_stats("a")


def test_book_sources_are_the_dispatchers() -> None:
    d = make_dispatcher()
    conductor = Conductor(d, d.telemetry, ManualClock())
    conductor.register_book_source("kraken", _book_source)
    snap = d.book_snapshot("kraken", "BTC-USD")
    assert snap is not None
    assert snap.provider == "kraken"
    again = conductor.book_snapshot("kraken", "BTC-USD")
    assert again is not None
    assert again.bids == snap.bids
    assert conductor.book_snapshot("coinbase", "BTC-USD") is None
