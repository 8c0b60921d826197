"""Dispatcher and RoutingTable: per-stream ordering, expiry, routing, routing versions, book
sources, stream resets and the start/stop lifecycle."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from tests.unit._factories import (
    book_snapshot,
    book_update,
    exec_report,
    make_dispatcher,
    ticker,
    trade,
)
from tradegw.consumers import Subscription
from tradegw.dispatch import RoutingTable
from tradegw.schema import BookSnapshot, Event, Trade

LATE_NS = 3_600 * 10**9  # far past any lateness bound used here


def drain(sub: Subscription) -> list[Event]:
    """Everything queued in ``sub`` right now."""
    out: list[Event] = []
    while (ev := sub.get_nowait()) is not None:
        out.append(ev)
    return out


def seqs(events: list[Event]) -> list[int | None]:
    """The ``seq_provider`` of each event."""
    return [e.seq_provider for e in events]


# ---- ordering ----


def test_in_order_stream_is_delivered_at_once() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    for s in (1, 2, 3):
        d.publish(trade(seq=s))
        assert len(sub) == s  # delivered in the publish call itself, nothing held
    assert seqs(drain(sub)) == [1, 2, 3]
    assert d.published == 3
    assert d.delivered == 3


def test_out_of_order_seqs_are_held_and_released_in_order() -> None:
    d = make_dispatcher(lateness_ms=60_000)
    sub = d.subscribe()
    d.publish(trade(seq=1))
    d.publish(trade(seq=4))
    d.publish(trade(seq=3))
    assert seqs(drain(sub)) == [1]
    assert d.reorder_stats()["held"] == 2
    d.publish(trade(seq=2))
    assert seqs(drain(sub)) == [2, 3, 4]
    assert sub.stats.out_of_order == 0
    assert d.reorder_stats()["held"] == 0


def test_first_seq_of_a_stream_starts_it() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    d.publish(trade(seq=41))
    d.publish(trade(seq=42))
    assert seqs(drain(sub)) == [41, 42]


def test_duplicates_and_late_seqs_are_dropped() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    for s in (1, 2, 2, 1, 3):
        d.publish(trade(seq=s))
    assert seqs(drain(sub)) == [1, 2, 3]
    assert d.reorder_stats()["duplicates"] == 2
    assert d.published == 5
    assert d.delivered == 3


def test_streams_are_ordered_independently() -> None:
    """(provider, symbol, event_type) are three separate dimensions of a stream."""
    d = make_dispatcher(lateness_ms=60_000)
    sub = d.subscribe()
    d.publish(trade("BTC-USD", 1))
    d.publish(trade("BTC-USD", 3))  # held: BTC-USD trades wait for 2
    d.publish(trade("ETH-USD", 1))
    d.publish(trade("ETH-USD", 2))
    d.publish(exec_report("c-1", 1))
    d.publish(exec_report("c-2", 2))
    d.publish(trade("BTC-USD", 1, provider="coinbase"))
    d.publish(trade("BTC-USD", 2, provider="coinbase"))
    got = [(e.provider, e.symbol, e.event_type, e.seq_provider) for e in drain(sub)]
    # ExecReports are queued apart and handed over ahead of the market data queued with
    # them (no budget holds them back); market data keeps its queue order.
    assert got == [
        ("kraken", "BTC-USD", "ExecReport", 1),
        ("kraken", "BTC-USD", "ExecReport", 2),
        ("kraken", "BTC-USD", "Trade", 1),
        ("kraken", "ETH-USD", "Trade", 1),
        ("kraken", "ETH-USD", "Trade", 2),
        ("coinbase", "BTC-USD", "Trade", 1),
        ("coinbase", "BTC-USD", "Trade", 2),
    ]
    d.publish(trade("BTC-USD", 2))
    assert seqs(drain(sub)) == [2, 3]


def test_events_without_seq_get_an_ingest_sequence_and_are_never_held() -> None:
    d = make_dispatcher(lateness_ms=60_000)
    sub = d.subscribe()
    sent = [trade(trade_id=str(i)) for i in range(5)]
    for ev in sent:
        d.publish(ev)
    got = drain(sub)
    assert got == sent
    assert all(e.seq_provider is None for e in got)  # the ingest sequence is internal
    assert d.reorder_stats()["held"] == 0


def test_stream_ids_are_dense_and_stable() -> None:
    d = make_dispatcher()
    a = d.stream_id("kraken", "BTC-USD", "Trade")
    b = d.stream_id("kraken", "BTC-USD", "Ticker")
    assert (a, b) == (0, 1)
    assert d.stream_id("kraken", "BTC-USD", "Trade") == a


# ---- expiry ----


def test_expire_releases_held_events_after_lateness_skipping_the_gap() -> None:
    d = make_dispatcher(lateness_ms=1_000)
    sub = d.subscribe()
    d.publish(trade(seq=1))
    d.publish(trade(seq=3))
    d.publish(trade(seq=4))
    drain(sub)
    # Not yet: the held events are younger than the lateness bound.
    assert d.expire(now_ns=time.monotonic_ns()) == 0
    assert len(sub) == 0
    assert d.expire(now_ns=time.monotonic_ns() + LATE_NS) == 2
    assert seqs(drain(sub)) == [3, 4]
    stats = d.reorder_stats()
    assert stats["gaps_skipped"] == 1
    assert stats["held"] == 0
    # The stream continues after the skipped gap; the missing seq is now late.
    d.publish(trade(seq=2))
    d.publish(trade(seq=5))
    assert seqs(drain(sub)) == [5]


def test_stream_holding_more_than_max_events_skips_its_gap_at_once() -> None:
    d = make_dispatcher(lateness_ms=60_000, max_events=3)
    sub = d.subscribe()
    d.publish(trade(seq=1))
    for s in (3, 4, 5):
        d.publish(trade(seq=s))
    assert seqs(drain(sub)) == [1]
    d.publish(trade(seq=6))  # a fourth held event: over max_events
    assert seqs(drain(sub)) == [3, 4, 5, 6]


# ---- routing ----


def test_routing_by_symbols_and_types() -> None:
    d = make_dispatcher()
    everything = d.subscribe(name="all")
    btc = d.subscribe(symbols=["BTC-USD"], name="btc")
    trades = d.subscribe(types=["Trade"], name="trades")
    eth_ticks = d.subscribe(symbols={"ETH-USD"}, types=("Ticker",), name="eth-ticks")
    nothing = d.subscribe(types=[], name="nothing")
    events: list[Event] = [
        trade("BTC-USD", trade_id="1"),
        trade("ETH-USD", trade_id="2"),
        ticker("BTC-USD"),
        ticker("ETH-USD"),
        exec_report(symbol="SOL-USD"),
    ]
    for ev in events:
        d.publish(ev)
    # The ExecReport comes first: it is never queued behind market data.
    assert drain(everything) == [events[4], *events[:4]]
    assert drain(btc) == [events[0], events[2]]
    assert drain(trades) == [events[0], events[1]]
    assert drain(eth_ticks) == [events[3]]
    assert drain(nothing) == []
    assert d.delivered == 5 + 2 + 2 + 1


def test_subscribe_takes_effect_from_the_next_event_and_bumps_the_version() -> None:
    d = make_dispatcher()
    v0 = d.routing.version
    first = d.subscribe()
    v1 = d.routing.version
    assert v1 > v0
    d.publish(trade(seq=1))
    second = d.subscribe()
    v2 = d.routing.version
    assert v2 > v1
    d.publish(trade(seq=2))
    got_first, got_second = drain(first), drain(second)
    assert seqs(got_first) == [1, 2]
    assert seqs(got_second) == [2]
    assert [e.routing_version for e in got_first] == [v1, v2]
    assert got_second[0].routing_version == v2


def test_unsubscribe_stops_routing_but_keeps_what_is_queued() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    d.publish(trade(seq=1))
    v = d.routing.version
    d.unsubscribe(sub)
    assert d.routing.version == v + 1
    d.publish(trade(seq=2))
    assert seqs(drain(sub)) == [1]
    assert sub not in d.routing.subscriptions
    assert not sub.closed


def test_held_events_are_routed_when_released() -> None:
    """A subscription made while an event is held receives it once it is released, stamped
    with the routing version it was delivered under."""
    d = make_dispatcher(lateness_ms=60_000)
    early = d.subscribe()
    d.publish(trade(seq=1))
    d.publish(trade(seq=3))
    late = d.subscribe()
    d.publish(trade(seq=2))
    assert seqs(drain(early)) == [1, 2, 3]
    got = drain(late)
    assert seqs(got) == [2, 3]
    assert {e.routing_version for e in got} == {d.routing.version}


def test_routing_table_add_remove_and_cache() -> None:
    d = make_dispatcher()
    table = RoutingTable()
    a = Subscription(d, symbols=["BTC-USD"], types=None)
    b = Subscription(d, symbols=None, types=["Trade"])
    assert table.version == 0
    assert table.route("kraken", "BTC-USD", "Trade") == ()
    table.add(a)
    assert table.version == 1
    assert table.route("kraken", "BTC-USD", "Trade") == (a,)  # the cached empty tuple is gone
    table.add(b)
    assert table.route("kraken", "BTC-USD", "Trade") == (a, b)
    assert table.route("kraken", "ETH-USD", "Trade") == (b,)
    assert table.route("kraken", "ETH-USD", "Ticker") == ()
    table.remove(a)
    assert table.version == 3
    assert table.route("kraken", "BTC-USD", "Trade") == (b,)
    table.remove(a)  # not routed: no error, no version bump
    assert table.version == 3
    assert table.subscriptions == (b,)


def test_two_venues_quoting_one_symbol_are_two_streams() -> None:
    d = make_dispatcher()
    kraken = d.subscribe(venues=["kraken"], name="kraken")
    coinbase = d.subscribe(venues=["coinbase"], name="coinbase")
    both = d.subscribe(symbols=["BTC-USD"], name="both")
    for provider in ("kraken", "coinbase"):
        for seq in (1, 2):
            d.publish(trade(provider=provider, seq=seq, trade_id=f"{provider}{seq}"))
    # The same seq on both venues is neither a duplicate nor out of order: two streams.
    assert [e.trade_id for e in drain(kraken)] == ["kraken1", "kraken2"]  # type: ignore[attr-defined]
    assert [e.trade_id for e in drain(coinbase)] == ["coinbase1", "coinbase2"]  # type: ignore[attr-defined]
    got = [(e.provider, e.seq_provider) for e in drain(both)]
    assert sorted(got) == [("coinbase", 1), ("coinbase", 2), ("kraken", 1), ("kraken", 2)]
    assert d.reorder_stats()["duplicates"] == 0
    assert both.stats.out_of_order == 0


# ---- book sources ----


def test_book_snapshot_comes_from_the_registered_source() -> None:
    d = make_dispatcher()
    calls: list[tuple[str, str]] = []
    snap = book_snapshot(bids=[("100.0", "1")], asks=[("101.0", "2")])

    def source(provider: str, symbol: str) -> BookSnapshot | None:
        calls.append((provider, symbol))
        return snap if symbol == "BTC-USD" else None

    assert d.book_snapshot("kraken", "BTC-USD") is None  # no source yet
    d.register_book_source("kraken", source)
    assert d.book_snapshot("kraken", "BTC-USD") is snap
    assert d.book_snapshot("kraken", "ETH-USD") is None
    assert d.book_snapshot("binance", "BTC-USD") is None
    assert calls == [("kraken", "BTC-USD"), ("kraken", "ETH-USD")]


# ---- reset ----


def test_reset_stream_restarts_numbering() -> None:
    d = make_dispatcher(lateness_ms=60_000)
    sub = d.subscribe()
    for s in (1, 2, 3):
        d.publish(book_update(seq=s))
    d.publish(book_update(seq=5))  # held
    d.reset_stream("kraken", "BTC-USD", "BookUpdate")
    assert d.reorder_stats()["held"] == 0  # what it held is forgotten
    d.publish(book_update(seq=1))
    d.publish(book_update(seq=2))
    assert seqs(drain(sub)) == [1, 2, 3, 1, 2]
    # The subscription sees seq 1 after 3 on the same stream: counted, as it should be.
    assert sub.stats.out_of_order == 1


def test_reset_stream_restarts_the_ingest_sequence() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    d.publish(trade())
    d.publish(trade())
    d.reset_stream("kraken", "BTC-USD", "Trade")
    d.publish(trade())
    assert len(drain(sub)) == 3
    assert d.reorder_stats()["duplicates"] == 0


def test_reset_of_one_stream_leaves_others_alone() -> None:
    d = make_dispatcher(lateness_ms=60_000)
    sub = d.subscribe()
    d.publish(trade("BTC-USD", 1))
    d.publish(trade("ETH-USD", 1))
    d.publish(trade("ETH-USD", 3))  # held
    d.reset_stream("kraken", "BTC-USD", "Trade")
    d.publish(trade("ETH-USD", 2))
    got = [(e.symbol, e.seq_provider) for e in drain(sub)]
    assert got == [("BTC-USD", 1), ("ETH-USD", 1), ("ETH-USD", 2), ("ETH-USD", 3)]


# ---- lifecycle ----


async def test_start_runs_periodic_expiry() -> None:
    d = make_dispatcher(lateness_ms=0, flush_ms=5)
    sub = d.subscribe()
    d.publish(trade(seq=1))
    d.publish(trade(seq=3))
    assert seqs(drain(sub)) == [1]
    d.start()
    d.start()  # idempotent
    got = await asyncio.wait_for(sub.__anext__(), 5)
    assert got.seq_provider == 3
    await d.stop()


async def test_stop_flushes_held_events_then_closes_subscriptions() -> None:
    d = make_dispatcher(lateness_ms=60_000)
    d.start()
    a = d.subscribe(name="a")
    b = d.subscribe(types=["Trade"], name="b")
    d.publish(trade(seq=1))
    d.publish(trade(seq=3))  # held
    await d.stop()
    assert a.closed
    assert b.closed
    assert d.routing.subscriptions == ()
    got_a = [e.seq_provider async for e in a]
    got_b = [e.seq_provider async for e in b]
    assert got_a == [1, 3]
    assert got_b == [1, 3]
    d.publish(trade(seq=4))  # after stop nothing is routed any more
    assert len(a) == 0


async def test_stop_without_start_and_restart() -> None:
    d = make_dispatcher()
    sub = d.subscribe()
    await d.stop()
    assert sub.closed
    d.start()
    await d.stop()
    assert d.published == 0


async def test_stop_ends_a_consumer_that_is_waiting() -> None:
    d = make_dispatcher()
    sub = d.subscribe()

    async def consume() -> list[Event]:
        return [ev async for ev in sub]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    d.publish(trade(seq=1))
    await asyncio.sleep(0)
    await d.stop()
    got = await asyncio.wait_for(task, 5)
    assert seqs(got) == [1]


async def test_stop_closes_an_unsubscribed_subscription_too() -> None:
    """``Dispatcher.stop`` promises to close every subscription so consumers see the end.
    A subscription taken out of routing with ``Dispatcher.unsubscribe`` ("it still drains
    what it holds") must end too, or its ``async for`` never finishes."""
    d = make_dispatcher()
    sub = d.subscribe()
    d.publish(trade(seq=1))
    d.unsubscribe(sub)
    await d.stop()
    assert sub.closed


# ---- shared events ----


def test_an_event_is_not_written_to_once_a_consumer_has_it() -> None:
    """Every consumer receives the same object: the dispatcher may stamp it (routing
    version) only before the first consumer has it, never per consumer."""
    written_after_shared: list[str] = []
    shared: set[int] = set()

    class WatchedTrade(Trade):
        __slots__ = ()

        def __setattr__(self, name: str, value: object) -> None:
            if id(self) in shared:
                written_after_shared.append(name)
            object.__setattr__(self, name, value)

    d = make_dispatcher()
    subs = [d.subscribe(name=f"c{i}") for i in range(3)]
    for sub in subs:
        offer = sub.offer

        def watching(event: Event, offer: Any = offer) -> None:
            shared.add(id(event))
            offer(event)

        sub.offer = watching  # type: ignore[method-assign]
    base = trade("BTC-USD", 1)
    ev = WatchedTrade(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.init})
    d.publish(ev)
    d.subscribe(name="late")  # a routing change after the event was shared
    got = [drain(sub) for sub in subs]
    assert all(g == [ev] for g in got)
    assert all(g[0] is ev for g in got)
    assert written_after_shared == []
    assert ev.routing_version == 3  # stamped once, before sharing
