"""Fair share between consumers: time slices (``tradegw.dispatch.fair_share``) and budgets
(a ``_core.TokenBucket`` per subscription), with ExecReports exempt from both."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.unit._factories import exec_report, make_dispatcher, ticker, trade
from tradegw.config import DispatcherConfig
from tradegw.dispatch import Dispatcher
from tradegw.dispatch.fair_share import SliceClock
from tradegw.schema import Event
from tradegw.telemetry import Telemetry

pytestmark = pytest.mark.timeout(30)


def busy(seconds: float) -> None:
    """Burns CPU on the loop's thread for ``seconds`` (a greedy consumer's work)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def dispatcher(slice_ms: float) -> Dispatcher:
    return Dispatcher(DispatcherConfig(consumer_slice_ms=slice_ms), Telemetry())


# ---- the slice clock ----


def test_a_slice_begins_when_the_consumer_first_asks_not_when_it_was_made() -> None:
    clock = SliceClock(1_000_000)
    time.sleep(0.05)  # a subscription made long before its consumer starts
    assert clock.left == 0
    assert clock.spent() is False  # the first ask begins a slice: no yield, no cost learnt
    assert clock.left > 0
    assert clock.yields == 0
    assert clock.cost_ns == 0


def test_a_slice_is_sized_from_what_the_consumers_events_cost() -> None:
    clock = SliceClock(2_000_000)
    clock.begin()
    while clock.left:
        clock.left -= 1
        busy(0.0005)  # 0.5 ms per event
        if clock.left == 0 and clock.spent():
            break
    # 2 ms of 0.5 ms events: the slice ended after about four of them.
    assert clock.yields == 1
    assert 300_000 <= clock.cost_ns <= 50_000_000
    clock.begin()
    assert 1 <= clock.left <= 8


def test_time_left_in_a_slice_tops_the_count_up_instead_of_yielding() -> None:
    clock = SliceClock(50_000_000)  # 50 ms: cheap events never use it up in a few counts
    clock.begin()
    clock.left = 0  # the first guess is used up at once
    assert clock.spent() is False
    assert clock.left >= 1
    assert clock.yields == 0


def test_a_slice_must_be_positive() -> None:
    with pytest.raises(ValueError, match="slice_ns"):
        SliceClock(0)


# ---- slices between consumers ----


async def test_a_greedy_consumer_gives_the_loop_back_every_slice() -> None:
    d = dispatcher(slice_ms=2.0)
    greedy = d.subscribe(name="greedy")
    for i in range(200):
        d.publish(trade(trade_id=str(i)))
    turns = 0
    done = asyncio.Event()

    async def other() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    async def consume() -> int:
        n = 0
        async for _ in greedy:
            busy(0.001)  # 1 ms per event: 200 ms of work queued
            n += 1
            if n == 200:
                break
        done.set()
        return n

    other_task = asyncio.create_task(other())
    assert await consume() == 200
    await other_task
    # Left alone it would hold the loop for all 200 ms (the other task would run once);
    # in 2 ms slices it yields every two or three events.
    assert turns >= 40, turns
    assert greedy.stats.delivered == 200


async def test_batches_are_cut_to_the_slice_of_a_greedy_consumer() -> None:
    d = dispatcher(slice_ms=2.0)
    sub = d.subscribe(name="greedy")
    for i in range(300):
        d.publish(trade(trade_id=str(i)))
    sizes: list[int] = []
    async for batch in sub.batches(max_events=512):
        sizes.append(len(batch))
        busy(0.001 * len(batch))  # 1 ms per event
        if sum(sizes) == 300:
            break
    # The first batch is a guess; after it the consumer's cost is known and its batches
    # hold about one slice (2 ms) of its work.
    assert sizes[0] == 300 or max(sizes[1:]) <= 8, sizes
    assert sum(sizes) == 300


async def test_a_cheap_consumer_takes_a_backlog_without_yielding() -> None:
    d = dispatcher(slice_ms=2.0)
    sub = d.subscribe(name="cheap")
    for i in range(2_000):
        d.publish(trade(trade_id=str(i)))
    n = 0
    async for _ in sub:
        n += 1
        if n == 2_000:
            break
    # 2,000 events of about a microsecond are a slice or two of its time; a busy machine
    # (wall time passes while the process waits for a core) may cut a few more. A greedy
    # consumer yields after every two or three events (the test above).
    assert sub._clock.yields <= 10


# ---- budgets ----


async def test_a_budget_holds_a_consumer_to_its_rate() -> None:
    d = make_dispatcher()
    sub = d.subscribe(name="metered", budget=(200.0, 20.0))
    for i in range(100):
        d.publish(trade(trade_id=str(i)))
    started = time.monotonic()
    got = []
    async for ev in sub:
        got.append(ev)
        if len(got) == 100:
            break
    elapsed = time.monotonic() - started
    # 20 at once, then 80 at 200/s: at least 0.4 s however fast the machine.
    assert elapsed >= 0.38, elapsed
    assert [e.trade_id for e in got] == [str(i) for i in range(100)]  # type: ignore[attr-defined]
    assert sub.stats.throttled > 0
    assert sub.stats.throttled_ns >= 300_000_000


async def test_execreports_pass_a_spent_budget_at_once() -> None:
    d = make_dispatcher()
    sub = d.subscribe(name="metered", budget=(1.0, 1.0))
    for i in range(50):
        d.publish(trade(trade_id=str(i)))
    for i in range(10):
        d.publish(exec_report(f"c-{i}", i + 1))
    got: list[Event] = []

    async def take() -> None:
        async for ev in sub:
            got.append(ev)
            if sum(e.event_type == "ExecReport" for e in got) == 10:
                return

    await asyncio.wait_for(take(), 2.0)
    reports = [e for e in got if e.event_type == "ExecReport"]
    assert [e.client_order_id for e in reports] == [f"c-{i}" for i in range(10)]  # type: ignore[attr-defined]
    # The budget allows one market-data event a second: at most the burst got through.
    assert sum(e.event_type == "Trade" for e in got) <= 2


async def test_over_budget_market_data_coalesces_latest_wins() -> None:
    d = make_dispatcher()
    sub = d.subscribe(name="metered", budget=(20.0, 1.0))
    got: list[Event] = []

    async def take() -> None:
        async for ev in sub:
            got.append(ev)

    task = asyncio.create_task(take())
    for i in range(200):
        d.publish(ticker(bid=f"{100 + i}.0"))
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.2)
    sub.close()
    await asyncio.wait_for(task, 5)
    assert len(got) < 100  # 20/s over ~0.4 s, not 200
    assert sub.stats.coalesced > 100
    assert got[-1].bid == "299.0"  # type: ignore[attr-defined]


async def test_get_nowait_respects_the_budget() -> None:
    d = make_dispatcher()
    sub = d.subscribe(name="polled", budget=(1.0, 3.0))
    for i in range(10):
        d.publish(trade(trade_id=str(i)))
    d.publish(exec_report("c-1", 1))
    taken = []
    while (ev := sub.get_nowait()) is not None:
        taken.append(ev.event_type)
    assert taken == ["ExecReport", "Trade", "Trade", "Trade"]
    assert len(sub) == 7


def test_a_budget_must_be_positive() -> None:
    d = make_dispatcher()
    with pytest.raises(ValueError, match="rate"):
        d.subscribe(budget=(0.0, 1.0))
    with pytest.raises(ValueError, match="burst"):
        d.subscribe(budget=(1.0, -1.0))
