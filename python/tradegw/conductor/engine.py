"""The windowed merge engine (DESIGN.md, "Merge"; the plan's LM-05, SC-009, SC-010).

Per merge — a canonical symbol and the venues it needs — a window opens on the first book
fragment (a ``BookSnapshot`` or ``BookUpdate`` of one of its venues for that symbol) and
closes ``window_s`` later by a timer, or synchronously on its ``max_events``-th fragment,
whichever comes first. At the close each venue's *current assembled book* is read from the
dispatcher's book sources and consolidated into a :class:`~tradegw.schema.MergedBookSnapshot`
followed by a :class:`~tradegw.schema.MergedBBO`.

A window is suppressed — never emitted — when one of its venues sent no fragment in it or
has no synced book at the close (``merge.suppressed_partial`` and a warning naming the
venues). A fragment stamped (``ingest_ts``) at or before the last close of its merge belongs
to a window already closed: it is left out of the merge (``merge.late_dropped``), though it
still reaches consumers as a normal event. Windows live in memory only; stopping discards the
open ones.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from tradegw.conductor.clock import LoopClock, MergeClock
from tradegw.conductor.consolidate import consolidate
from tradegw.conductor.spec import MergeSpec
from tradegw.conductor.window import MergeWindow
from tradegw.schema import (
    MERGED_PROVIDER,
    CloseReason,
    MergedBBO,
    MergedBookSnapshot,
    MergedLevel,
)
from tradegw.telemetry.histogram import LatencyHistogram
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from tradegw.dispatch import BookSource
    from tradegw.schema import BookSnapshot, Event
    from tradegw.telemetry import Counters
    from tradegw.telemetry.ops_events import OpsEventQueue

log = logging.getLogger("tradegw.conductor")

FRAGMENT_TYPES: Final = frozenset({"BookSnapshot", "BookUpdate"})
"""The event types that count as a venue's fragment of a merge window."""

CLOSE_TOLERANCE_S: Final = 0.050
"""How late a close by time may run and still count as on threshold (SC-009)."""


@dataclass(slots=True)
class MergeStats:
    """What one merge has done since it was added."""

    emitted: int = 0
    """Windows published as merged events."""
    suppressed: int = 0
    """Windows suppressed because a venue was silent or not synced."""
    late_dropped: int = 0
    """Fragments left out because their window had closed."""
    closed_by_time: int = 0
    closed_by_count: int = 0
    closed_on_threshold: int = 0
    """Closes by time within :data:`CLOSE_TOLERANCE_S` of ``window_s``, plus every close by
    count (which happens on exactly the ``max_events``-th fragment)."""
    close_lateness: LatencyHistogram = field(default_factory=LatencyHistogram)
    """How long after its deadline each close by time ran, in ns."""

    @property
    def closed(self) -> int:
        """Windows closed, emitted or suppressed."""
        return self.closed_by_time + self.closed_by_count

    def adherence(self) -> float:
        """The share of closed windows that closed on threshold (1.0 before any close)."""
        return self.closed_on_threshold / self.closed if self.closed else 1.0


class RunningMerge:
    """A configured merge and its running state (its open window, the last close)."""

    __slots__ = ("last_close_ts", "spec", "stats", "window", "windows")

    def __init__(self, spec: MergeSpec) -> None:
        self.spec = spec
        self.window: MergeWindow | None = None
        self.windows = 0
        # ns; a fragment stamped at or before it belongs to a window already closed.
        self.last_close_ts = -1
        self.stats = MergeStats()


class MergeEngine:
    """Every configured merge, fed fragments by :meth:`observe`, publishing through
    ``publish`` and reading the venues' books through ``books``.

    Args:
        publish: Where merged events go (the dispatcher's ``publish``).
        books: ``(venue, symbol) -> BookSnapshot | None``, the assembled book of a venue or
            None while it is not synced (the dispatcher's ``book_snapshot``).
        counters: Telemetry counters (``merge.*``).
        clock: Time and timers; the running event loop's by default.
        ops: Where ``merge.late_dropped`` and ``merge.suppressed_partial`` ops events go
            (none when None).
    """

    def __init__(
        self,
        publish: Callable[[Event], None],
        books: BookSource,
        counters: Counters,
        clock: MergeClock | None = None,
        ops: OpsEventQueue | None = None,
    ) -> None:
        self._publish = publish
        self._ops = ops
        self._books = books
        self._counters = counters
        self._clock: MergeClock = clock or LoopClock()
        self._merges: dict[str, RunningMerge] = {}
        self.watched: dict[str, tuple[RunningMerge, ...]] = {}
        """Merges by canonical symbol: the one lookup every published event pays. Changed
        in place, so a holder of this dict sees merges come and go."""

    # ---- configuration ----

    def add(self, spec: MergeSpec) -> None:
        """Starts merging ``spec`` (its first window opens on its next fragment).

        Raises:
            ValueError: a merge with the same ``merge_id`` exists.
        """
        if spec.merge_id in self._merges:
            raise ValueError(f"merge_id {spec.merge_id!r} is already in use")
        merge = RunningMerge(spec)
        self._merges[spec.merge_id] = merge
        self.watched[spec.symbol] = (*self.watched.get(spec.symbol, ()), merge)
        log.info(
            "merge %s: %s over %s, window %gs or %d fragments, depth %d",
            *(spec.merge_id, spec.symbol, "+".join(sorted(spec.venues))),
            *(spec.window_s, spec.max_events, spec.depth),
        )

    def remove(self, merge_id: str) -> MergeSpec:
        """Stops a merge; its open window, if any, is discarded unpublished.

        Raises:
            KeyError: no merge has that id.
        """
        merge = self._merges.pop(merge_id)
        symbol = merge.spec.symbol
        rest = tuple(m for m in self.watched[symbol] if m is not merge)
        if rest:
            self.watched[symbol] = rest
        else:
            del self.watched[symbol]
        self._discard(merge, "removed")
        log.info("merge %s: removed", merge_id)
        return merge.spec

    def specs(self) -> list[MergeSpec]:
        """Every merge, in the order they were added."""
        return [m.spec for m in self._merges.values()]

    def stats(self, merge_id: str) -> MergeStats:
        """The figures of one merge. Raises ``KeyError`` for an unknown id."""
        return self._merges[merge_id].stats

    def discard_windows(self) -> int:
        """Drops every open window unpublished (the gateway stops: nothing about windows
        outlives the process); returns how many there were. The merges stay configured."""
        return sum(self._discard(m, "stopped") for m in self._merges.values())

    def _discard(self, merge: RunningMerge, why: str) -> bool:
        window = merge.window
        if window is None:
            return False
        window.cancel_timer()
        merge.window = None
        self._counters.inc("merge.discarded", merge.spec.merge_id)
        log.info(
            "merge %s: window %d discarded (%s) trace_id=%s",
            *(merge.spec.merge_id, window.seq, why, window.open_trace_id),
        )
        return True

    # ---- fragments ----

    def observe(self, event: Event, merges: Iterable[RunningMerge]) -> None:
        """Counts ``event`` into the open window of each merge in ``merges`` (those watching
        its symbol) that takes it: a book fragment of one of the merge's venues."""
        if event.event_type not in FRAGMENT_TYPES:
            return
        venue = event.provider
        for merge in merges:
            if venue in merge.spec.venues:
                self._fragment(merge, venue, event)

    def _fragment(self, merge: RunningMerge, venue: str, event: Event) -> None:
        if event.ingest_ts <= merge.last_close_ts:
            merge.stats.late_dropped += 1
            self._counters.inc("merge.late_dropped", merge.spec.merge_id, venue)
            if self._ops is not None:
                self._ops.emit(
                    "merge.late_dropped",
                    trace_id=event.trace_id,
                    venue=venue,
                    symbol=event.symbol,
                    merge_id=merge.spec.merge_id,
                    late_ns=merge.last_close_ts - event.ingest_ts,
                )
            return
        window = merge.window
        if window is None:
            window = self._open(merge, event)
        if window.count(venue) >= merge.spec.max_events:
            self._close(merge, window, "count", event.trace_id)

    def _open(self, merge: RunningMerge, event: Event) -> MergeWindow:
        clock = self._clock
        now = clock.time()
        merge.windows += 1
        window = MergeWindow(
            merge.windows, event.ingest_ts, now, now + merge.spec.window_s, event.trace_id
        )
        window.timer = clock.call_at(
            window.deadline, functools.partial(self._on_deadline, merge, window)
        )
        merge.window = window
        log.debug(
            "merge %s: window %d opened by %s trace_id=%s",
            *(merge.spec.merge_id, window.seq, event.provider, event.trace_id),
        )
        return window

    def _on_deadline(self, merge: RunningMerge, window: MergeWindow) -> None:
        if merge.window is not window:
            return  # closed by count or discarded in the same loop turn as the timer fired
        if self._clock.time() < window.deadline:
            # Fired early (timer rounding): a window never closes before window_s.
            window.timer = self._clock.call_at(
                window.deadline, functools.partial(self._on_deadline, merge, window)
            )
            return
        window.timer = None
        self._close(merge, window, "time", None)

    # ---- closing ----

    def _close(
        self,
        merge: RunningMerge,
        window: MergeWindow,
        reason: CloseReason,
        close_trace_id: str | None,
    ) -> None:
        merge.window = None
        window.cancel_timer()
        # Never before the window opened, even if the wall clock stepped back meanwhile.
        close_ts = max(self._clock.wall_ns(), window.open_ts)
        merge.last_close_ts = max(merge.last_close_ts, close_ts)
        stats = merge.stats
        merge_id = merge.spec.merge_id
        if reason == "time":
            lateness = self._clock.time() - window.deadline
            stats.closed_by_time += 1
            stats.close_lateness.record(int(lateness * 1e9))
            if lateness <= CLOSE_TOLERANCE_S:
                stats.closed_on_threshold += 1
            else:
                self._counters.inc("merge.close_late", merge_id)
        else:
            stats.closed_by_count += 1
            stats.closed_on_threshold += 1
        self._counters.inc("merge.closed", merge_id, reason)
        try:
            self._emit(merge, window, reason, close_ts, close_trace_id)
        except Exception:
            # Closing runs inside a venue's frame handler (by count) or a loop timer (by
            # time): a bug here must cost this window, never the venue's feed.
            self._counters.inc("merge.errors", merge_id)
            log.exception(
                "merge %s: window %d failed to close trace_id=%s",
                *(merge_id, window.seq, window.open_trace_id),
            )

    def _emit(
        self,
        merge: RunningMerge,
        window: MergeWindow,
        reason: CloseReason,
        close_ts: int,
        close_trace_id: str | None,
    ) -> None:
        spec = merge.spec
        silent = window.silent(spec.venues)
        books: dict[str, BookSnapshot] = {}
        unsynced = []
        for venue in sorted(spec.venues):
            if venue in window.fragments:
                snapshot = self._books(venue, spec.symbol)
                if snapshot is None:
                    unsynced.append(venue)
                else:
                    books[venue] = snapshot
        if silent or unsynced:
            merge.stats.suppressed += 1
            self._counters.inc("merge.suppressed_partial", spec.merge_id)
            if self._ops is not None:
                self._ops.emit(
                    "merge.suppressed_partial",
                    trace_id=window.open_trace_id,
                    decision_id=new_decision_id(),
                    symbol=spec.symbol,
                    merge_id=spec.merge_id,
                    window_seq=window.seq,
                    missing=silent + unsynced,
                    silent=silent,
                    unsynced=unsynced,
                    close_reason=reason,
                )
            log.warning(
                "merge %s: window %d of %s suppressed, missing venues %s (no fragment: %s; "
                "not synced: %s); closed by %s after %d fragments %s trace_id=%s "
                "close_trace_id=%s",
                *(spec.merge_id, window.seq, spec.symbol, silent + unsynced, silent, unsynced),
                *(reason, window.total, window.fragments, window.open_trace_id, close_trace_id),
            )
            return
        book = consolidate(books, spec.depth)
        common: dict[str, Any] = {
            "provider": MERGED_PROVIDER,
            "symbol": spec.symbol,
            "venue_symbol": spec.symbol,
            "seq_provider": None,
            "exchange_ts": None,
            "ingest_ts": close_ts,
            "trace_id": window.open_trace_id,
            "merge_id": spec.merge_id,
        }
        self._publish(
            MergedBookSnapshot(
                **common,
                bids=book.bids,
                asks=book.asks,
                depth=spec.depth,
                venues=sorted(spec.venues),
                fragments=dict(sorted(window.fragments.items())),
                window_seq=window.seq,
                window_open_ts=window.open_ts,
                window_close_ts=close_ts,
                close_reason=reason,
                crossed=book.crossed,
            )
        )
        bid = book.bids[0] if book.bids else None
        ask = book.asks[0] if book.asks else None
        self._publish(
            MergedBBO(
                **common,
                bid=bid.price if bid else None,
                bid_qty=bid.qty if bid else None,
                bid_venues=_venues(bid),
                ask=ask.price if ask else None,
                ask_qty=ask.qty if ask else None,
                ask_venues=_venues(ask),
                crossed=book.crossed,
                window_seq=window.seq,
            )
        )
        merge.stats.emitted += 1
        self._counters.inc("merge.emitted", spec.merge_id)
        log.debug(
            "merge %s: window %d of %s emitted, closed by %s after %d fragments %s%s "
            "trace_id=%s close_trace_id=%s",
            *(spec.merge_id, window.seq, spec.symbol, reason, window.total, window.fragments),
            *(", crossed" if book.crossed else "", window.open_trace_id, close_trace_id),
        )


def _venues(level: MergedLevel | None) -> dict[str, str]:
    return dict(level.venues) if level is not None else {}
