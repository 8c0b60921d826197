"""SC-006: a book resyncs within 5 s of a sequence gap, a checksum mismatch or staleness,
each injected by the simulators on the full default load:

- gap: Coinbase skips a ``sequence_num`` (every book of the connection resyncs at once) and
  Binance drops a diff (one book refetches its REST snapshot);
- checksum: Kraken sends a book update with a wrong CRC32;
- staleness: Kraken's feed stalls (nothing at all is sent) for longer than the gateway's
  ``stale_after_s``; the gateway drops the connection and reconnects.

An observer receives every ``BookStatus``. A resync lasts from a book's ``resyncing``
status (its ``ingest_ts``: when the gateway noticed, with the reason) to its next ``synced``
(the ``ingest_ts`` of the snapshot that synced it); the worst per fault is reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tradegw.consumers.subscription import Subscription
from tradegw.schema import BookStatus
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import add_faults, rig_config
from tradegw.verify.session import RunContext

LIMIT_S = 5.0


@dataclass(frozen=True, slots=True)
class FaultTimes:
    """When the simulators inject (seconds from their start) and how staleness is set up."""

    shots: tuple[float, ...]
    """When Coinbase skips a number, Binance drops a diff and Kraken corrupts a checksum."""
    stall_at: float
    stale_after_s: float
    """The gateway's Kraken ``stale_after_s`` (the default 5 s in a full run)."""

    @property
    def stall_s(self) -> float:
        """The stall outlasts the staleness bound by enough for the watchdog to notice."""
        return self.stale_after_s + 2.0

    @property
    def last_s(self) -> float:
        """When the last fault has certainly been noticed."""
        return self.stall_at + self.stale_after_s + 1.0


FULL = FaultTimes(shots=(6.0, 10.0, 14.0), stall_at=18.0, stale_after_s=5.0)
QUICK = FaultTimes(shots=(4.0, 5.5), stall_at=7.0, stale_after_s=1.0)
RESYNCED_WITHIN_S = 15.0
"""How long every book may take to be synced again after the last fault."""

FAULTS: dict[str, tuple[str, str]] = {
    "gap": ("coinbase skip_sequence, binance drop", "gap"),
    "checksum": ("kraken corrupt_checksum", "checksum"),
    "stale": ("kraken stall", "stale"),
}
"""Each injected fault: what the simulators do, and the resync reason it must show as."""


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """One BookStatus as the observer received it."""

    provider: str
    symbol: str
    state: str
    reason: str | None
    ingest_ts: int


@dataclass
class Resync:
    """One resync of one book."""

    provider: str
    symbol: str
    reason: str
    started_ns: int
    ended_ns: int | None
    """None: not synced again by the end."""

    def seconds(self, end_ns: int) -> float:
        """How long it lasted (until ``end_ns`` if it never ended)."""
        return ((self.ended_ns if self.ended_ns is not None else end_ns) - self.started_ns) / 1e9


@dataclass
class StatusLog:
    """Every BookStatus an observer received."""

    seen: list[StatusSeen] = field(default_factory=list)

    async def drain(self, sub: Subscription) -> None:
        """Records every BookStatus of ``sub`` until it ends."""
        async for batch in sub.batches():
            for ev in batch:
                if isinstance(ev, BookStatus):
                    self.seen.append(
                        StatusSeen(ev.provider, ev.symbol, ev.state, ev.reason, ev.ingest_ts)
                    )


def resyncs(statuses: Iterable[StatusSeen]) -> list[Resync]:
    """Pairs each book's ``resyncing`` (with a reason) with its next ``synced``."""
    open_: dict[tuple[str, str], Resync] = {}
    out: list[Resync] = []
    for s in statuses:
        book = (s.provider, s.symbol)
        if s.state == "resyncing" and s.reason is not None:
            if book not in open_:
                r = Resync(s.provider, s.symbol, s.reason, s.ingest_ts, None)
                open_[book] = r
                out.append(r)
        elif s.state == "synced" and book in open_:
            open_.pop(book).ended_ns = s.ingest_ts
    return out


def resync_outcome(found: list[Resync], end_ns: int, stale_after_s: float) -> Outcome:
    """SC-006 from every resync seen: the worst per fault must be under 5 s, and each fault
    must have caused at least one resync with its reason."""
    per_fault: dict[str, dict[str, Any]] = {}
    worst = 0.0
    for fault, (_, reason) in FAULTS.items():
        mine = [r for r in found if r.reason == reason]
        by_venue: dict[str, list[float]] = {}
        for r in mine:
            by_venue.setdefault(r.provider, []).append(r.seconds(end_ns))
        per_fault[fault] = {
            venue: {"resyncs": len(times), "worst_s": max(times)}
            for venue, times in sorted(by_venue.items())
        }
        worst = max([worst, *(max(t) for t in by_venue.values())])
    unfinished = [r for r in found if r.ended_ns is None]
    missing = [fault for fault, venues in per_fault.items() if not venues]
    parts = []
    for fault, venues in per_fault.items():
        shown = ", ".join(
            f"{v} {_duration(f['worst_s'])} ({f['resyncs']} resyncs)" for v, f in venues.items()
        )
        parts.append(f"{fault}: {shown or 'none seen'}")
    note = "worst per fault: " + "; ".join(parts)
    note += f"; staleness noticed after stale_after_s {stale_after_s:g} s (not counted)"
    if unfinished:
        note += f"; {len(unfinished)} never synced again"
    if missing:
        note += f"; no resync seen for {', '.join(missing)}: not proven"
    other = sorted({r.reason for r in found} - {reason for _, reason in FAULTS.values()})
    if other:
        note += f"; other resyncs: {', '.join(other)}"
    return Outcome(
        "SC-006",
        "slowest book resync after a sequence gap (Coinbase, Binance), a checksum mismatch "
        "(Kraken), a stalled feed (Kraken), full load",
        worst,
        "s",
        CRITERIA["SC-006"].threshold,
        not missing and not unfinished and worst < LIMIT_S,
        note,
        {"per_fault": per_fault, "unfinished": len(unfinished), "stale_after_s": stale_after_s},
    )


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _faults(raw: dict[str, Any], times: FaultTimes) -> None:
    shots = list(times.shots)
    add_faults(raw, "coinbase", {"kind": "skip_sequence", "at_seconds": shots})
    add_faults(raw, "binance", {"kind": "drop", "at_seconds": shots})
    add_faults(raw, "kraken", {"kind": "corrupt_checksum", "at_seconds": shots})
    add_faults(
        raw, "kraken", {"kind": "stall", "at_seconds": [times.stall_at], "duration": times.stall_s}
    )
    raw["venues"]["kraken"]["stale_after_s"] = times.stale_after_s


async def run(ctx: RunContext) -> list[Outcome]:
    """Injects each fault on the full load and times every resync."""
    times = QUICK if ctx.quick else FULL
    config = rig_config(lambda raw: _faults(raw, times))
    log = StatusLog()
    async with ctx.rig(config) as rig:
        gw = rig.gw
        statuses = gw.subscribe(name="book-status", types=["BookStatus"], max_pending=1_000_000)
        rig.spawn(log.drain(statuses), "book-status")
        loop = asyncio.get_running_loop()
        # The fault clocks run from the simulators' start, which is now.
        started = loop.time()
        await rig.start()
        await rig.wait_synced()
        await asyncio.sleep(max(0.0, started + times.last_s - loop.time()))
        await rig.wait_synced(RESYNCED_WITHIN_S)
        # The last synced statuses are still on their way to the observer.
        await asyncio.sleep(0.2)
        end_ns = time.time_ns()
    return [resync_outcome(resyncs(log.seen), end_ns, times.stale_after_s)]


SCENARIO = Scenario(
    "book resync after injected gaps, checksum mismatches and a stalled feed",
    ("SC-006",),
    run,
    (120.0, 60.0),
)
