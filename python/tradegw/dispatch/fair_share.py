"""Fair share of the event loop between consumers: each takes its events in time slices.

Every consumer, the providers and the dispatcher share one thread. A consumer that spends a
millisecond on each event and has ten thousand queued would, left alone, hold the loop for
ten seconds: no socket is read, no other consumer runs. Python cannot preempt it, but every
event it takes comes through its subscription's iterator, which can make it give the loop
back. So each consumer works in slices of about ``slice_ns`` of its own time: when a slice is
spent and more events are waiting, the iterator yields one loop turn (``asyncio.sleep(0)``),
in which the providers read their sockets and every other consumer gets its own slice. The
loop runs ready tasks in turn, so each consumer gets a slice per turn however greedy the
others are: the share of loop time is by slices, not by events, and a greedy consumer's
backlog coalesces in its own queue (the rules of its subscription) while the others keep up.

The slice is counted in events, sized from what this consumer's events have cost it so far
(reading the clock once per slice rather than once per event), and checked against the
clock when the count runs out, so a consumer whose events get cheaper is not made to yield
early. A cheap consumer (a few µs per event) gets slices of thousands of events and yields
only under a large backlog.
"""

from __future__ import annotations

import time

_FIRST_GUESS = 16
"""Events in a consumer's first slice, before its cost per event is known."""
_MAX_SLICE = 4096


class SliceClock:
    """One consumer's time slices: how many events it may take before it yields the loop."""

    __slots__ = ("_cost_ns", "_granted", "_started", "left", "slice_ns", "slices", "yields")

    def __init__(self, slice_ns: int) -> None:
        if slice_ns <= 0:
            raise ValueError(f"slice_ns must be positive, got {slice_ns}")
        self.slice_ns = slice_ns
        self.left = 0
        """Events the consumer may still take in the current slice (0 before the first one:
        it begins when the consumer first asks, not when the subscription was made)."""
        self.slices = 0
        """Slices begun."""
        self.yields = 0
        """Slices that ended with the consumer made to give the loop back."""
        self._cost_ns = 0
        self._granted = 0
        self._started = 0

    @property
    def cost_ns(self) -> int:
        """The consumer's recent time per event (0 until measured)."""
        return self._cost_ns

    def begin(self) -> None:
        """A slice starts: the consumer has the loop (it was woken, or it just yielded)."""
        self._started = time.perf_counter_ns()
        self.slices += 1
        self.left = self._granted = self._events_in(self.slice_ns, self._cost_ns)

    def spent(self) -> bool:
        """Called when :attr:`left` has run out: True when the slice's time is up (the
        consumer must yield, then :meth:`begin`), else :attr:`left` is topped up from the
        time that remains at the cost per event seen in this slice."""
        if self._started == 0:
            self.begin()
            return False
        elapsed = time.perf_counter_ns() - self._started
        if elapsed >= self.slice_ns:
            self._learn(elapsed)
            self.yields += 1
            return True
        taken = self._granted - self.left
        more = self._events_in(self.slice_ns - elapsed, elapsed // taken if taken else 0)
        self.left += more
        self._granted += more
        return False

    def end(self) -> None:
        """The slice ends early: the consumer is about to wait (nothing queued, or out of
        budget)."""
        self._learn(time.perf_counter_ns() - self._started)

    def _learn(self, elapsed: int) -> None:
        taken = self._granted - self.left
        if taken <= 0:
            return
        per_event = elapsed // taken
        cost = self._cost_ns
        # A short memory: a consumer whose work changes is re-measured within a few slices.
        self._cost_ns = per_event if cost == 0 else (3 * cost + per_event) // 4

    @staticmethod
    def _events_in(ns: int, cost_ns: int) -> int:
        if cost_ns <= 0:
            return _FIRST_GUESS
        return max(1, min(_MAX_SLICE, ns // cost_ns))
