"""What every venue's loopback pipeline test shares: waiting with a deadline, draining
subscriptions into demo consumers, and comparing consumers' books with the simulator's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradegw.consumers.demo import BookConsumer
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway


async def wait_for(predicate: Callable[[], Any], within_s: float, poll_s: float = 0.02) -> bool:
    """Polls ``predicate`` until it holds or ``within_s`` passes; returns its last value."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(poll_s)
    return bool(predicate())


@dataclass
class Consumers:
    """The two demo consumers a pipeline test reads: a book builder and a type counter."""

    books: BookConsumer
    book_sub: Subscription
    all_sub: Subscription
    seen: dict[str, int]
    tasks: list[asyncio.Task[None]]


def start_consumers(gw: Gateway) -> Consumers:
    """Subscribes a book consumer (books only) and a counter (every event) to ``gw``."""
    books = BookConsumer()
    book_sub = gw.subscribe(
        types=["BookSnapshot", "BookUpdate", "BookStatus"], name="books", max_pending=100_000
    )
    all_sub = gw.subscribe(name="all")
    seen: dict[str, int] = {}
    tasks = [
        asyncio.create_task(drain_books(book_sub, books)),
        asyncio.create_task(count_types(all_sub, seen)),
    ]
    return Consumers(books, book_sub, all_sub, seen, tasks)


def evidence_count(gw: Gateway, evidence: str) -> int:
    """How often the gateway saw a fault's evidence: a counter, or ``dlq`` entries."""
    if evidence == "dlq":
        return gw.telemetry.dlq.count
    return gw.telemetry.counters.get(evidence)


async def drain_books(sub: Subscription, books: BookConsumer) -> None:
    """Feeds every event of ``sub`` to ``books`` until the subscription ends."""
    async for event in sub:
        books.on_event(event)


async def count_types(sub: Subscription, seen: dict[str, int]) -> None:
    """Counts the events of ``sub`` by type until the subscription ends."""
    async for event in sub:
        seen[event.event_type] = seen.get(event.event_type, 0) + 1


def book_mismatches(
    gw: Gateway,
    venue: str,
    books: BookConsumer,
    sim: Any,
    depth: int,
    canonical: Callable[[str], str],
) -> list[str]:
    """Venue symbols whose consumer book differs from the simulator's top ``depth``, or that
    the adapter does not hold synced. ``canonical`` names each simulator symbol the way the
    test expects consumers to see it, independently of the adapter's own mapping (``sim``
    has ``symbols`` and ``book(symbol, depth)``)."""
    statuses = gw.providers[venue].books()
    bad = []
    for symbol in sim.symbols:
        name = canonical(symbol)
        status = statuses.get(name, ("missing", None))[0]
        mine = books.books.get((venue, name))
        if status != "synced" or mine is None or mine.top(depth) != sim.book(symbol, depth):
            bad.append(f"{symbol}: {status}")
    return bad


async def settle(sim: Any, mismatches: Callable[[], list[str]], within_s: float) -> list[str]:
    """Freezes the market and waits until ``mismatches()`` is empty; returns what is left."""
    sim.pause()
    deadline = time.monotonic() + within_s
    bad = mismatches()
    while bad and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        bad = mismatches()
    return bad


async def stop_rig(gw: Gateway, tasks: list[asyncio.Task[None]]) -> None:
    """Stops the gateway and waits for its consumer tasks (which end with their
    subscriptions)."""
    await gw.stop()
    for task in tasks:
        await asyncio.wait_for(task, 5)
