"""The time a merge engine reads and the timers it sets, behind one small interface so that
tests drive windows with a hand-moved clock instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that can be called off (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None:
        """Stops the callback from running; no effect once it has run."""


class MergeClock(Protocol):
    """Monotonic time and timers for window deadlines, wall time for event timestamps."""

    def time(self) -> float:
        """Monotonic seconds, on the same clock as :meth:`call_at` deadlines."""

    def wall_ns(self) -> int:
        """Wall-clock ns since the epoch (the clock of events' ``ingest_ts``)."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Runs ``callback`` once :meth:`time` reaches ``when``."""


class LoopClock:
    """The running event loop's clock and timers, and ``time.time_ns``.

    The loop is looked up on each call rather than kept, so the engine may be built before
    the loop runs (the gateway is built outside it)."""

    __slots__ = ()

    def time(self) -> float:
        """The running loop's monotonic time."""
        return asyncio.get_running_loop().time()

    def wall_ns(self) -> int:
        """``time.time_ns()``."""
        return time.time_ns()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """``loop.call_at`` on the running loop."""
        return asyncio.get_running_loop().call_at(when, callback)
