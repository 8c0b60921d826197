"""One open merge window: when and by which fragment it opened, and the fragments it has
counted per venue."""

from __future__ import annotations

from collections.abc import Iterable

from tradegw.conductor.clock import Timer


class MergeWindow:
    """The state of one open window of a merge (a merge has at most one open at a time).

    It holds counts only: the merged book is read from the venues' assembled books at the
    close, so the fragments themselves need not be kept.
    """

    __slots__ = (
        "deadline",
        "fragments",
        "open_trace_id",
        "open_ts",
        "opened_at",
        "seq",
        "timer",
        "total",
    )

    def __init__(self, seq: int, open_ts: int, opened_at: float, deadline: float, trace_id: str):
        self.seq = seq
        """Number of this window within its merge (1, 2, ...)."""
        self.open_ts = open_ts
        """``ingest_ts`` of the fragment that opened the window (wall ns)."""
        self.opened_at = opened_at
        """Monotonic time when the window opened."""
        self.deadline = deadline
        """Monotonic time at which the window closes by time."""
        self.open_trace_id = trace_id
        """trace_id of the fragment that opened the window."""
        self.fragments: dict[str, int] = {}
        """Fragments counted per venue."""
        self.total = 0
        """Fragments counted over every venue."""
        self.timer: Timer | None = None
        """The pending close by time; None once cancelled or fired."""

    def count(self, venue: str) -> int:
        """Counts one fragment of ``venue``; returns the window's total."""
        self.fragments[venue] = self.fragments.get(venue, 0) + 1
        self.total += 1
        return self.total

    def silent(self, venues: Iterable[str]) -> list[str]:
        """The venues of ``venues`` that sent no fragment in this window, sorted."""
        return sorted(v for v in venues if v not in self.fragments)

    def cancel_timer(self) -> None:
        """Calls off the close by time (closing by count, or discarding the window)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
