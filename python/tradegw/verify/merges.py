"""SC-009 and SC-010: windowed merges over the three venues on the full default load.

The embedded default's three venues quote ``BTC-EUR``, ``ETH-BTC`` and ``ETH-EUR`` in
common (Binance's ``BTCEUR`` is canonically ``BTC-EUR``); four merges run side by side:

- ``by-time``: BTC-EUR over all three, closing every 0.5 s;
- ``by-count``: ETH-BTC over all three, closing on its 20th fragment;
- ``mixed``: ETH-EUR over all three, 1 s or 15 fragments, whichever comes first;
- ``two-venues``: BTC-USD over Coinbase and Kraken, every 0.5 s (needs no Binance).

The plan's windows (10 s or 1000 events) are shortened so that a run of seconds closes
hundreds of windows. SC-009 is the share of closes on threshold as the engine counts it
(a close by time at most 50 ms after ``window_s``, a close by count on exactly
``max_events``), checked independently on the emitted snapshots. SC-010 then stops
Binance's simulator mid-run: no merged snapshot may be emitted whose venues did not all send
a fragment and have a synced book at its close (judged from the venues' ``BookStatus``
timeline, independently of the engine), the three-venue windows must be suppressed
(``merge.suppressed_partial``) while the two-venue merge keeps emitting.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradegw.conductor.engine import CLOSE_TOLERANCE_S
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.schema import BookStatus, MergedBookSnapshot
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import rig_config
from tradegw.verify.session import RunContext

THREE = ("binance", "coinbase", "kraken")


@dataclass(frozen=True, slots=True)
class MergePlan:
    """One merge of the scenario."""

    merge_id: str
    symbol: str
    venues: tuple[str, ...]
    window_s: float
    max_events: int


MERGES = (
    MergePlan("by-time", "BTC-EUR", THREE, 0.5, 1_000_000),
    MergePlan("by-count", "ETH-BTC", THREE, 30.0, 20),
    MergePlan("mixed", "ETH-EUR", THREE, 1.0, 15),
    MergePlan("two-venues", "BTC-USD", ("coinbase", "kraken"), 0.5, 1_000_000),
)
STOPPED_VENUE = "binance"
MERGE_S = (20.0, 6.0)
"""How long the merges run with every venue up (full, quick): SC-009's window."""
AFTER_STOP_S = (10.0, 4.0)
"""How long they run once Binance is gone (full, quick)."""
ADHERENCE_PERCENT = 95.0


@dataclass(frozen=True, slots=True)
class MergedSeen:
    """One emitted merged snapshot, as a consumer received it."""

    merge_id: str
    venues: tuple[str, ...]
    fragments: Mapping[str, int]
    close_reason: str
    open_ns: int
    close_ns: int


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """One venue book's status change."""

    provider: str
    symbol: str
    state: str
    ingest_ts: int


@dataclass
class MergeLog:
    """The merged snapshots and the venues' book statuses a consumer received."""

    merged: list[MergedSeen] = field(default_factory=list)
    statuses: list[StatusSeen] = field(default_factory=list)

    async def drain(self, sub: Subscription) -> None:
        """Records until ``sub`` ends."""
        async for batch in sub.batches():
            for ev in batch:
                if isinstance(ev, MergedBookSnapshot):
                    self.merged.append(
                        MergedSeen(
                            ev.merge_id or "",
                            tuple(ev.venues),
                            dict(ev.fragments),
                            ev.close_reason,
                            ev.window_open_ts,
                            ev.window_close_ts,
                        )
                    )
                elif isinstance(ev, BookStatus):
                    self.statuses.append(StatusSeen(ev.provider, ev.symbol, ev.state, ev.ingest_ts))


@dataclass(frozen=True, slots=True)
class CloseFigures:
    """One merge's closes as the engine counted them (``MergeStats``)."""

    closed_by_time: int
    closed_by_count: int
    on_threshold: int
    emitted: int
    suppressed: int
    lateness_us: Mapping[str, float]

    def as_json(self) -> dict[str, Any]:
        """The figures as plain JSON data."""
        return {
            "closed_by_time": self.closed_by_time,
            "closed_by_count": self.closed_by_count,
            "on_threshold": self.on_threshold,
            "emitted": self.emitted,
            "suppressed_partial": self.suppressed,
            "close_lateness_us": dict(self.lateness_us),
        }


def adherence_outcome(
    closes: Mapping[str, CloseFigures], emitted: Sequence[MergedSeen], seconds: float
) -> Outcome:
    """SC-009 from the engine's counts per merge, checked on the emitted snapshots: a close
    by count carries exactly ``max_events`` fragments, a close by time spans at least
    ``window_s`` from the opening fragment."""
    plans = {m.merge_id: m for m in MERGES}
    closed = sum(c.closed_by_time + c.closed_by_count for c in closes.values())
    on = sum(c.on_threshold for c in closes.values())
    share = 100.0 * on / closed if closed else 0.0
    by_time = sum(c.closed_by_time for c in closes.values())
    by_count = sum(c.closed_by_count for c in closes.values())
    wrong = []
    for s in emitted:
        plan = plans.get(s.merge_id)
        if plan is None:
            continue
        if s.close_reason == "count" and sum(s.fragments.values()) != plan.max_events:
            wrong.append(f"{s.merge_id}: closed by count with {sum(s.fragments.values())}")
        if s.close_reason == "time" and s.close_ns - s.open_ns < plan.window_s * 1e9:
            wrong.append(f"{s.merge_id}: closed by time after {(s.close_ns - s.open_ns) / 1e6} ms")
    late = max((c.lateness_us.get("max", 0.0) for c in closes.values()), default=0.0)
    p99 = max((c.lateness_us.get("p99", 0.0) for c in closes.values()), default=0.0)
    note = (
        f"{closed} windows in {seconds:.0f} s: {by_time} closed by time (timer lateness p99 "
        f"{p99 / 1000:.1f} ms, max {late / 1000:.1f} ms; on threshold within "
        f"{CLOSE_TOLERANCE_S * 1000:.0f} ms), {by_count} by count; windows shortened from the "
        "plan's 10 s/1000 events to 0.5-1 s/15-20 fragments"
    )
    if wrong:
        note += f"; emitted snapshots contradict the engine: {'; '.join(wrong[:3])}"
    if not (by_time and by_count):
        note += "; not both kinds of close happened: not proven"
    return Outcome(
        "SC-009",
        f"merge windows closed on threshold, {len(closes)} merges (3 over all venues), full load",
        share,
        "%",
        CRITERIA["SC-009"].threshold,
        share >= ADHERENCE_PERCENT and not wrong and by_time > 0 and by_count > 0,
        note,
        {
            "closed": closed,
            "on_threshold": on,
            "merges": {k: v.as_json() for k, v in closes.items()},
            "contradictions": wrong,
        },
    )


def partial_emissions(emitted: Sequence[MergedSeen], statuses: Sequence[StatusSeen]) -> list[str]:
    """The emitted snapshots that were partial: a required venue missing from it, sending no
    fragment in its window, or without a synced book at its close (by the ``BookStatus``
    events that venue published)."""
    plans = {m.merge_id: m for m in MERGES}
    symbols = {m.merge_id: m.symbol for m in MERGES}
    timeline: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for status in statuses:
        timeline.setdefault((status.provider, status.symbol), []).append(
            (status.ingest_ts, status.state)
        )
    for changes in timeline.values():
        changes.sort()
    out = []
    for snap in emitted:
        plan = plans.get(snap.merge_id)
        required = set(plan.venues) if plan is not None else set(snap.venues)
        where = f"{snap.merge_id} window closed at {snap.close_ns}"
        if set(snap.venues) != required:
            out.append(f"{where}: venues {sorted(snap.venues)}")
            continue
        for venue in sorted(required):
            if snap.fragments.get(venue, 0) < 1:
                out.append(f"{where}: no fragment from {venue}")
                continue
            changes = timeline.get((venue, symbols.get(snap.merge_id, "")), [])
            # The state in force at the close: the last change at or before it.
            i = bisect.bisect_right(changes, (snap.close_ns, "~"))
            state = changes[i - 1][1] if i else "never synced"
            if state != "synced":
                out.append(f"{where}: {venue} was {state}")
    return out


def partial_outcome(
    emitted: Sequence[MergedSeen],
    statuses: Sequence[StatusSeen],
    stopped_ns: int,
    suppressed_after: Mapping[str, int],
) -> Outcome:
    """SC-010: no partial snapshot ever emitted; after ``stopped_ns`` (Binance gone) the
    merges needing it were suppressed (``suppressed_after`` by merge) and the one that does
    not need it kept emitting."""
    partial = partial_emissions(emitted, statuses)
    needing = [m.merge_id for m in MERGES if STOPPED_VENUE in m.venues]
    others = [m.merge_id for m in MERGES if STOPPED_VENUE not in m.venues]
    after = [s for s in emitted if s.close_ns > stopped_ns]
    kept = sum(1 for s in after if s.merge_id in others)
    suppressed = sum(suppressed_after.get(m, 0) for m in needing)
    note = (
        f"{len(emitted)} merged snapshots checked against each venue's BookStatus timeline; "
        f"after {STOPPED_VENUE}'s simulator stopped: {suppressed} windows suppressed "
        f"(merge.suppressed_partial), {kept} emitted by the merge that needs no "
        f"{STOPPED_VENUE}"
    )
    if partial:
        note += f"; partial: {'; '.join(partial[:3])}"
    if not suppressed or not kept:
        note += "; the stop was not felt as it must be: not proven"
    return Outcome(
        "SC-010",
        f"partial merge windows emitted, {STOPPED_VENUE}'s simulator stopped mid-run",
        float(len(partial)),
        "",
        CRITERIA["SC-010"].threshold,
        not partial and suppressed > 0 and kept > 0 and bool(emitted),
        note,
        {
            "emitted": len(emitted),
            "partial": partial,
            "suppressed_after_stop": dict(suppressed_after),
            "emitted_after_stop_without_binance": kept,
        },
    )


async def run(ctx: RunContext) -> list[Outcome]:
    """Runs the merges on the full load, then (for SC-010) without Binance."""

    def with_merges(raw: dict[str, Any]) -> None:
        raw["merges"] = [
            {
                "merge_id": m.merge_id,
                "symbol": m.symbol,
                "venues": list(m.venues),
                "window_s": m.window_s,
                "max_events": m.max_events,
            }
            for m in MERGES
        ]

    log = MergeLog()
    outcomes = []
    async with ctx.rig(rig_config(with_merges)) as rig:
        gw = rig.gw
        sub = gw.subscribe(
            name="merges",
            venues=["merged", *THREE],
            symbols=sorted({m.symbol for m in MERGES}),
            types=["MergedBookSnapshot", "BookStatus"],
            max_pending=1_000_000,
        )
        rig.spawn(log.drain(sub), "merges")
        await rig.start()
        await rig.wait_synced()
        base = _closes_now(gw)
        started = time.monotonic()
        await asyncio.sleep(MERGE_S[ctx.quick])
        seconds = time.monotonic() - started
        phase1 = _closes_now(gw)
        if ctx.wants("SC-009"):
            emitted = list(log.merged)
            outcomes.append(adherence_outcome(_since(base, phase1), emitted, seconds))
        if ctx.wants("SC-010"):
            stopped_ns = time.time_ns()
            await rig.stop_simulator(STOPPED_VENUE)
            await asyncio.sleep(AFTER_STOP_S[ctx.quick])
            now = _closes_now(gw)
            suppressed_after = {k: now[k].suppressed - phase1[k].suppressed for k in now}
            await asyncio.sleep(0.1)  # the last merged events reach the consumer
            outcomes.append(partial_outcome(log.merged, log.statuses, stopped_ns, suppressed_after))
    return outcomes


def _closes_now(gw: Gateway) -> dict[str, CloseFigures]:
    out = {}
    for spec in gw.conductor.merges():
        s = gw.conductor.merge_stats(spec.merge_id)
        out[spec.merge_id] = CloseFigures(
            s.closed_by_time,
            s.closed_by_count,
            s.closed_on_threshold,
            s.emitted,
            s.suppressed,
            s.close_lateness.summary_us(),
        )
    return out


def _since(
    before: Mapping[str, CloseFigures], after: Mapping[str, CloseFigures]
) -> dict[str, CloseFigures]:
    """What each merge closed between two readings (the lateness summary is the later
    reading's: a histogram cannot be subtracted, and start-up closes are few)."""
    return {
        k: CloseFigures(
            a.closed_by_time - before[k].closed_by_time,
            a.closed_by_count - before[k].closed_by_count,
            a.on_threshold - before[k].on_threshold,
            a.emitted - before[k].emitted,
            a.suppressed - before[k].suppressed,
            a.lateness_us,
        )
        for k, a in after.items()
    }


SCENARIO = Scenario(
    "windowed merges over the three venues, then one venue stopped",
    ("SC-009", "SC-010"),
    run,
    (120.0, 60.0),
)
