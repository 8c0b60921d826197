"""SC-005: routing changes take effect within 1 s (DESIGN: from the next event) under
subscription churn of 100 changes per second, on the full default load.

Control messages go through ``gw.control`` (what the control socket calls) every 10 ms,
alternating between consumers: a ``Subscribe`` to five symbols of one venue (Trade and
BookUpdate, which never coalesce for a consumer that keeps up, so "the first event" is
well defined), and about a second later its ``Unsubscribe``. An observer subscribed to
every Trade and BookUpdate sees each event with the routing version it was routed under.
For each Subscribe (acked at version *v*):

- the time from sending it to its consumer taking the first event routed under *v* or later
  that it matches (the plan: < 1 s), and whether that event is the very first such event the
  observer saw (DESIGN: "next event");
- a Subscribe during whose life the observer saw a matching event but its consumer got none
  is *missed*.

After an Unsubscribe acked at version *u*, an event its consumer receives that was routed
under *u* or later and that none of the consumer's live subscriptions matches is a *stray*.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tradegw.consumers.subscription import Subscription
from tradegw.dispatch.routing import RouteFilter
from tradegw.gateway import Gateway
from tradegw.telemetry import LatencyHistogram
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import rig_config
from tradegw.verify.session import RunContext

CHURN_S = (10.0, 3.0)
"""How long the churn lasts (full, quick)."""
CHANGES_PER_S = 100
LIFETIME_S = 1.0
"""How long a subscription lives before its Unsubscribe."""
CONSUMERS = 64
SYMBOLS_PER_SUBSCRIBE = 5
TYPES = ("Trade", "BookUpdate")
AFTER_S = 1.5
"""How long events are still collected after the last Unsubscribe (strays would show)."""
LIMIT_MS = 1000.0


@dataclass(frozen=True, slots=True)
class Seen:
    """One event as a consumer (or the observer) received it."""

    event_id: int
    provider: str
    symbol: str
    event_type: str
    routing_version: int
    taken_ns: int
    """When the consumer took it (CLOCK_MONOTONIC)."""


@dataclass(slots=True)
class SubscribeRecord:
    """One Subscribe of the churn and, once sent, its Unsubscribe."""

    consumer: str
    subscription_id: str
    route: RouteFilter
    sent_ns: int
    """When the Subscribe was sent (CLOCK_MONOTONIC)."""
    version: int
    """The routing version its Ack carried."""
    until_version: int | None = None
    """The routing version its Unsubscribe's Ack carried (None while it lives)."""

    def covers(self, seen: Seen) -> bool:
        """Whether ``seen`` was routed while this subscription lived and matches it."""
        v = seen.routing_version
        return (
            v >= self.version
            and (self.until_version is None or v < self.until_version)
            and self.route.matches(seen.provider, seen.symbol, seen.event_type)
        )


@dataclass
class EventLog:
    """What one consumer (or the observer) received, in order."""

    seen: list[Seen] = field(default_factory=list)

    async def drain(self, sub: Subscription) -> None:
        """Records every event of ``sub`` until it ends."""
        async for batch in sub.batches():
            now = time.monotonic_ns()
            self.seen.extend(
                Seen(e.event_id, e.provider, e.symbol, e.event_type, e.routing_version, now)
                for e in batch
            )


@dataclass
class RoutingFigures:
    """What the analysis found."""

    first_event_us: LatencyHistogram = field(default_factory=LatencyHistogram)
    """Subscribe sent → its consumer took its first event, in µs (histogram of ints)."""
    with_events: int = 0
    next_event: int = 0
    """Subscribes whose first event was the first one the observer saw for them."""
    idle: int = 0
    """Subscribes during whose life no matching event was routed at all."""
    withheld: int = 0
    """Unsubscribes after which the observer saw a matching event routed (one their
    consumer must not get): the evidence that the stray check had something to catch."""
    missed: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)


def analyse(
    records: Sequence[SubscribeRecord],
    received: Mapping[str, Sequence[Seen]],
    observed: Sequence[Seen],
) -> RoutingFigures:
    """Matches each Subscribe with its consumer's first event and the observer's, and each
    received event with a subscription that covers it."""
    figures = RoutingFigures()
    # The observer's events by (provider, symbol): routing versions only grow as events are
    # routed, so each list is sorted by version and a bisect finds the first after a change.
    by_book: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for order, s in enumerate(observed):
        by_book.setdefault((s.provider, s.symbol), []).append(
            (s.routing_version, order, s.event_id)
        )
    by_consumer: dict[str, list[SubscribeRecord]] = {}
    for r in records:
        by_consumer.setdefault(r.consumer, []).append(r)
    for r in records:
        first_seen = next((s for s in received.get(r.consumer, ()) if r.covers(s)), None)
        expected: tuple[int, int] | None = None  # (observer order, event id)
        withheld = False
        for (provider, symbol), events in by_book.items():
            if not r.route.matches(provider, symbol, TYPES[0]):
                continue
            i = bisect.bisect_left(events, (r.version, -1, -1))
            if i < len(events):
                version, order, event_id = events[i]
                live = r.until_version is None or version < r.until_version
                if live and (expected is None or order < expected[0]):
                    expected = (order, event_id)
            if r.until_version is not None:
                after = bisect.bisect_left(events, (r.until_version, -1, -1))
                withheld = withheld or after < len(events)
        figures.withheld += withheld
        if first_seen is None:
            if expected is None:
                figures.idle += 1
            else:
                figures.missed.append(f"{r.consumer} {r.subscription_id}: nothing received")
            continue
        figures.with_events += 1
        figures.first_event_us.record((first_seen.taken_ns - r.sent_ns) // 1000)
        if expected is not None and expected[1] == first_seen.event_id:
            figures.next_event += 1
    for consumer, seen in received.items():
        mine = by_consumer.get(consumer, [])
        for s in seen:
            if not any(r.covers(s) for r in mine):
                figures.strays.append(
                    f"{consumer}: {s.provider} {s.symbol} {s.event_type} routed under "
                    f"version {s.routing_version}"
                )
    return figures


def routing_outcome(figures: RoutingFigures, changes: int, per_s: float) -> Outcome:
    """SC-005 from the analysis: the slowest Subscribe's first event (µs samples) must be
    under 1 s, and nothing missed or stray."""
    h = figures.first_event_us
    worst_ms = h.max / 1000
    p99_ms = h.percentile(99) / 1000
    problems = figures.missed[:3] + figures.strays[:3]
    target = "met" if figures.next_event == figures.with_events else "missed"
    note = (
        f"first event p50 {h.percentile(50) / 1000:.1f} ms, p99 {p99_ms:.1f} ms over "
        f"{figures.with_events} subscribes ({figures.idle} saw no matching event routed); "
        f"design target next event: {target} ({figures.next_event}/{figures.with_events}); "
        f"{len(figures.missed)} missed; {len(figures.strays)} events received after an "
        f"Unsubscribe (the observer saw matching events after {figures.withheld})"
    )
    if problems:
        note += f"; e.g. {'; '.join(problems)}"
    return Outcome(
        "SC-005",
        f"slowest Subscribe → first routed event, {per_s:.0f} routing changes/s "
        "under the full load",
        worst_ms,
        "ms",
        CRITERIA["SC-005"].threshold,
        figures.with_events > 0
        and worst_ms < LIMIT_MS
        and not figures.missed
        and not figures.strays
        and figures.withheld > 0,
        note,
        {
            "changes": changes,
            "changes_per_s": per_s,
            "first_event_ms": {"p50": h.percentile(50) / 1000, "p99": p99_ms, "max": worst_ms},
            "subscribes_with_events": figures.with_events,
            "next_event": figures.next_event,
            "idle": figures.idle,
            "missed": len(figures.missed),
            "withheld": figures.withheld,
            "strays": len(figures.strays),
        },
    )


class Churn:
    """Sends the Subscribes and Unsubscribes and remembers them."""

    def __init__(self, gw: Gateway, names: Sequence[str], seed: int = 11) -> None:
        self.gw = gw
        self.rng = random.Random(seed)
        self.free = deque(names)
        self.live: deque[SubscribeRecord] = deque()
        self.records: list[SubscribeRecord] = []
        self.refused: list[str] = []
        self.changes = 0
        self.per_s = 0.0
        """Changes per second while the churn ran (the final Unsubscribes aside)."""
        symbols = gw.venue_symbols()
        self.symbols = {v: sorted(s) for v, s in symbols.items() if v in gw.providers and s}

    def subscribe(self) -> None:
        """Subscribes a free consumer to five symbols of a random venue."""
        consumer = self.free.popleft()
        venue = self.rng.choice(sorted(self.symbols))
        symbols = self.rng.sample(self.symbols[venue], SYMBOLS_PER_SUBSCRIBE)
        sent = time.monotonic_ns()
        ack = self.gw.control(
            {
                "type": "Subscribe",
                "consumer": consumer,
                "venues": [venue],
                "symbols": symbols,
                "types": list(TYPES),
            }
        )
        self.changes += 1
        if not ack.ok or ack.subscription_id is None:
            self.refused.append(f"Subscribe: {ack.error}")
            self.free.append(consumer)
            return
        record = SubscribeRecord(
            consumer,
            ack.subscription_id,
            RouteFilter.of([venue], symbols, TYPES),
            sent,
            ack.routing_version,
        )
        self.records.append(record)
        self.live.append(record)

    def unsubscribe(self) -> None:
        """Unsubscribes the oldest live subscription."""
        record = self.live.popleft()
        ack = self.gw.control(
            {
                "type": "Unsubscribe",
                "consumer": record.consumer,
                "subscription_id": record.subscription_id,
            }
        )
        self.changes += 1
        if not ack.ok:
            self.refused.append(f"Unsubscribe: {ack.error}")
        record.until_version = ack.routing_version
        self.free.append(record.consumer)

    async def run(self, seconds: float) -> None:
        """100 changes a second for ``seconds``, then every live subscription ends."""
        loop = asyncio.get_running_loop()
        period = 1.0 / CHANGES_PER_S
        start = loop.time()
        ticks = round(seconds * CHANGES_PER_S)
        for tick in range(ticks):
            due = self.live and (time.monotonic_ns() - self.live[0].sent_ns) / 1e9 >= LIFETIME_S
            if due or not self.free:
                self.unsubscribe()
            else:
                self.subscribe()
            await asyncio.sleep(max(0.0, start + (tick + 1) * period - loop.time()))
        self.per_s = self.changes / (loop.time() - start)
        while self.live:
            self.unsubscribe()


async def run(ctx: RunContext) -> list[Outcome]:
    """Churns subscriptions under the full load and checks every routing change."""
    churn_s = CHURN_S[ctx.quick]
    async with ctx.rig(rig_config()) as rig:
        gw = rig.gw
        observer = gw.subscribe(name="routing-observer", types=TYPES, max_pending=1_000_000)
        observed = EventLog()
        rig.spawn(observed.drain(observer), "routing-observer")
        await rig.start()
        await rig.wait_synced()
        names = [f"churn-{i:02d}" for i in range(CONSUMERS)]
        received = {name: EventLog() for name in names}
        for name in names:
            rig.spawn(received[name].drain(gw.consumer(name)), name)
        churn = Churn(gw, names)
        await churn.run(churn_s)
        await asyncio.sleep(AFTER_S)
        figures = analyse(churn.records, {n: c.seen for n, c in received.items()}, observed.seen)
    outcome = routing_outcome(figures, churn.changes, churn.per_s)
    if churn.refused:
        outcome.passed = False
        outcome.note += f"; {len(churn.refused)} refused, e.g. {churn.refused[0]}"
    return [outcome]


SCENARIO = Scenario(
    "subscription churn at 100 routing changes a second",
    ("SC-005",),
    run,
    (90.0, 45.0),
)
