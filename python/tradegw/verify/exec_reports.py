"""SC-003: every execution report is delivered, in order, none lost or coalesced, to a
consumer that stalls while market data keeps flowing, and to one that reads live.

Two kinds of report are measured together (:mod:`tradegw.verify.trading` runs them):

* **Real ones**: the order entry's, of orders placed, filled and cancelled on the three
  venues through their order faults. The ledger numbers each (venue, symbol) stream
  ``seq_provider`` 1..N; each consumer must hold 1..N of every stream without a gap, a
  repeat or a swap, the same report under the same number, and the ledger's fills must be
  the simulators' (checked once everything settled).
* **Volume**: 10,000 reports injected at the provider boundary (``gw.conductor.publish``)
  on six streams no order uses, so that a stall holds far more reports than the venues'
  order rates give; each must arrive exactly once, in order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.schema import ExecReport, ExecState, new_trace_id
from tradegw.verify.outcome import CRITERIA, Outcome

INJECTED_REPORTS = 10_000
INJECT_EVERY_S = 0.05
INJECTED_STREAMS: tuple[tuple[str, str], ...] = (
    ("binance", "SOL-USDT"),
    ("binance", "XRP-USDT"),
    ("coinbase", "SOL-USD"),
    ("coinbase", "XRP-USD"),
    ("kraken", "SOL-USD"),
    ("kraken", "XRP-USD"),
)
"""The (venue, symbol) streams the injected reports are spread over, round robin: symbols
of the full load that no order of the scenario trades."""
STALLED_MAX_PENDING = 200
"""The stalled consumer's queue bound: past it its book diffs become one snapshot and past
four times it its trades spill, so the stall is felt well within a few seconds."""
_LIFECYCLE = (ExecState.ACK, ExecState.PARTIAL, ExecState.FILLED)

StreamKey = tuple[str, str]


@dataclass
class Received:
    """The execution reports one consumer received, in order, with its market data
    count."""

    reports: list[tuple[StreamKey, int | None, int]] = field(default_factory=list)
    """(stream, seq_provider, event_id) of each report, in delivery order."""
    market_data: int = 0

    def take(self, batch: Sequence[Any]) -> None:
        """Records a batch of events as delivered."""
        for ev in batch:
            if isinstance(ev, ExecReport):
                self.reports.append(((ev.provider, ev.symbol), ev.seq_provider, ev.event_id))
            else:
                self.market_data += 1

    async def follow(self, sub: Subscription) -> None:
        """Reads ``sub`` as events come, until it ends (or the task is cancelled)."""
        async for batch in sub.batches():
            self.take(batch)

    async def catch_up(
        self, sub: Subscription, done: Callable[[Received], bool], within_s: float
    ) -> None:
        """Reads ``sub`` until ``done(self)`` holds and nothing more is queued for it, or
        ``within_s`` passed."""
        with_timeout = asyncio.timeout(within_s)
        try:
            async with with_timeout:
                async for batch in sub.batches():
                    self.take(batch)
                    if done(self) and not len(sub):
                        return
        except TimeoutError:
            if not with_timeout.expired():
                raise

    def by_stream(self) -> dict[StreamKey, list[tuple[int | None, int]]]:
        """Each stream's (seq_provider, event_id) in delivery order."""
        got: dict[StreamKey, list[tuple[int | None, int]]] = {}
        for stream, seq, event_id in self.reports:
            got.setdefault(stream, []).append((seq, event_id))
        return got

    def count(self, streams: Mapping[StreamKey, Any]) -> int:
        """How many reports of ``streams`` arrived."""
        return sum(1 for stream, _, _ in self.reports if stream in streams)


def _describe(who: str, stream: StreamKey, have: list[int | None], want: int) -> str:
    seen = {s for s in have if s is not None}
    missing = sum(1 for n in range(1, want + 1) if n not in seen)
    repeated = len(have) - len(set(have))
    disorder = sum(1 for a, b in itertools.pairwise(have) if a is None or b is None or b <= a)
    return (
        f"{who} {stream[0]} {stream[1]}: {len(have)} of {want} received, "
        f"{missing} missing, {repeated} repeated, {disorder} out of order"
    )


def report_problems(
    injected: Mapping[StreamKey, Sequence[int]], received: Received, who: str
) -> list[str]:
    """What one consumer got wrong of the injected streams: ``injected`` is each stream's
    event ids in ``seq_provider`` order (1..N); every one must arrive exactly once, in that
    order."""
    problems = []
    got = received.by_stream()
    for stream in sorted(injected):
        want = [(n, eid) for n, eid in enumerate(injected[stream], start=1)]
        have = got.get(stream, [])
        if have != want:
            problems.append(_describe(who, stream, [s for s, _ in have], len(want)))
    return problems


def sequence_problems(
    published: Mapping[StreamKey, int], received: Received, who: str
) -> list[str]:
    """What one consumer got wrong of the order entry's streams: ``published`` is each
    stream's last ``seq_provider`` when the consumer was measured; it must hold 1..K of the
    stream in order, with no gap or repeat, and K at least that."""
    problems = []
    got = received.by_stream()
    for stream in sorted(published):
        have = [s for s, _ in got.get(stream, [])]
        if len(have) < published[stream] or have != list(range(1, len(have) + 1)):
            problems.append(_describe(who, stream, have, published[stream]))
    return problems


def identity_problems(
    streams: Mapping[StreamKey, Any], a: Received, b: Received, who: str
) -> list[str]:
    """Streams on which two consumers hold different reports under the same number."""
    ga, gb = a.by_stream(), b.by_stream()
    return [
        f"{who} {stream[0]} {stream[1]}: another report under the same seq_provider"
        for stream in sorted(streams)
        if any(x != y for x, y in zip(ga.get(stream, []), gb.get(stream, []), strict=False))
    ]


def stray_problems(known: set[StreamKey], received: Received, who: str) -> list[str]:
    """Reports on streams nothing published to."""
    strays = sorted({s for s, _, _ in received.reports} - known)
    return [f"{who} {v} {s}: reports on a stream nothing published" for v, s in strays]


@dataclass(frozen=True, slots=True)
class RealFlow:
    """What the order entry did while the consumer stalled."""

    orders: int
    """Orders submitted (distinct client order ids)."""
    venues: tuple[str, ...]
    """Venues whose streams carried reports."""
    fills: int
    """Fills the ledger recorded for those orders."""
    ledger_vs_venue: tuple[str, ...] = ()
    """Where the ledger's orders and fills differ from the simulators' (empty: equal)."""
    entry_reports: int = 0
    """ExecReports the order entry counted as published (:attr:`OrderEntryStats.exec_reports`)."""


def exec_outcome(
    published: Mapping[StreamKey, int],
    injected: Mapping[StreamKey, Sequence[int]],
    stalled: Received,
    live: Received,
    pressure: Mapping[str, int],
    stall_s: float,
    flow: RealFlow,
) -> Outcome:
    """SC-003 from the order entry's streams (``published``: each stream's last number),
    the injected ones, what the stalled and the live consumer received, the stalled one's
    market data figures (``pressure``: ``coalesced``, ``snapshots_for_backlog``,
    ``spilled``: the evidence the stall was felt) and what the orders did (``flow``)."""
    real = sum(published.values())
    total = real + sum(len(ids) for ids in injected.values())
    known = set(published) | set(injected)
    problems = []
    for who, got in (("stalled", stalled), ("live", live)):
        problems += sequence_problems(published, got, who)
        problems += report_problems(injected, got, who)
        problems += stray_problems(known, got, who)
    problems += identity_problems(published, stalled, live, "stalled vs live")
    if flow.entry_reports < real:
        problems.append(
            f"the ledger numbered {real:,} reports but the entry published {flow.entry_reports:,}"
        )
    problems += [f"ledger vs venue: {d}" for d in flow.ledger_vs_venue[:5]]
    if len(flow.ledger_vs_venue) > 5:
        problems.append(f"ledger vs venue: {len(flow.ledger_vs_venue) - 5} more orders differ")
    by_stream = stalled.by_stream()
    delivered = sum(
        len({s for s, _ in by_stream.get(stream, [])} & set(range(1, n + 1)))
        for stream, n in published.items()
    )
    delivered += sum(
        len(set(ids) & {e for _, e in by_stream.get(stream, [])})
        for stream, ids in injected.items()
    )
    share = 100.0 * delivered / total if total else 0.0
    felt = pressure.get("coalesced", 0) > 0
    quiet = [] if real else ["no order's report was published: nothing real was measured"]
    if problems:
        note = "; ".join(problems[:6])
    else:
        note = (
            f"all {real:,} reports of {flow.orders:,} orders ({flow.fills:,} fills, ledger = "
            f"venues) on {len(published)} streams of {len(flow.venues)} venues, and all "
            f"{total - real:,} injected on {len(injected)} streams, in order to the stalled "
            f"consumer and to a live one; meanwhile the stalled one's market data "
            f"(max_pending {STALLED_MAX_PENDING}): {pressure.get('coalesced', 0):,} "
            f"coalesced, {pressure.get('snapshots_for_backlog', 0):,} backlog snapshots, "
            f"{pressure.get('spilled', 0):,} trades spilled to the DLQ"
        )
    note += "".join(f"; {q}" for q in quiet)
    if not felt:
        note += "; the stalled consumer's market data never coalesced: the stall was not felt"
    return Outcome(
        "SC-003",
        f"execution reports delivered in order to a consumer stalled {stall_s:.0f} s under "
        f"the full load: {real:,} reports of real orders on {len(flow.venues)} venues with order "
        f"faults, {total - real:,} injected",
        share,
        "%",
        CRITERIA["SC-003"].threshold,
        not problems and real > 0 and felt,
        note,
        {
            "real_reports": real,
            "injected": total - real,
            "delivered_to_stalled": delivered,
            "orders": flow.orders,
            "fills": flow.fills,
            "venues": list(flow.venues),
            "streams": {f"{v} {s}": n for (v, s), n in sorted(published.items())},
            "problems": problems,
            "stalled_market_data": dict(pressure),
            "stall_s": round(stall_s, 1),
        },
    )


def _report(venue: str, symbol: str, seq: int) -> ExecReport:
    order, step = divmod(seq - 1, len(_LIFECYCLE))
    state = _LIFECYCLE[step]
    filled = {ExecState.ACK: "0", ExecState.PARTIAL: "0.4", ExecState.FILLED: "1"}[state]
    fill = state is not ExecState.ACK
    return ExecReport(
        provider=venue,
        symbol=symbol,
        venue_symbol=symbol,
        seq_provider=seq,
        exchange_ts=None,
        ingest_ts=time.time_ns(),
        trace_id=new_trace_id(),
        client_order_id=f"verify-{venue}-{symbol}-{order}",
        state=state,
        side="buy",
        order_type="limit",
        price="100.0",
        qty="1",
        filled_qty=filled,
        last_fill_price="100.0" if fill else None,
        last_fill_qty="0.4" if state is ExecState.PARTIAL else "0.6" if fill else None,
    )


async def inject(
    gw: Gateway,
    reports: int,
    over_s: float,
    streams: Sequence[StreamKey] = INJECTED_STREAMS,
) -> dict[StreamKey, list[int]]:
    """Publishes ``reports`` execution reports at the provider boundary, evenly over
    ``over_s``, round robin over ``streams``; returns each stream's event ids in
    ``seq_provider`` order."""
    ids: dict[StreamKey, list[int]] = {s: [] for s in streams}
    rounds = max(1, round(over_s / INJECT_EVERY_S))
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    for r in range(1, rounds + 1):
        upto = reports * r // rounds
        while sent < upto:
            venue, symbol = streams[sent % len(streams)]
            event = _report(venue, symbol, len(ids[(venue, symbol)]) + 1)
            ids[(venue, symbol)].append(event.event_id)
            gw.conductor.publish(event)
            sent += 1
        await asyncio.sleep(max(0.0, start + r * INJECT_EVERY_S - loop.time()))
    return ids
