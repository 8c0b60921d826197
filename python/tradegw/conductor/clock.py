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
    """Monotonic time and timers for window deadlines, wall time for event timestamps.

    A timer may fire a little early (a loop's timers round to its own clock); the engine
    checks the time when it does."""

    def time(self) -> float:
        """Monotonic seconds, on the same clock as :meth:`call_at` deadlines."""

    def wall_ns(self) -> int:
        """Wall-clock ns since the epoch (the clock of events' ``ingest_ts``)."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Runs ``callback`` once :meth:`time` reaches ``when``."""


class LoopClock:
    """``time.monotonic`` and ``time.time_ns``, with timers on the running event loop.

    Deadlines are kept on ``time.monotonic`` rather than ``loop.time()``: uvloop's loop
    time moves in whole milliseconds (cached per loop turn), too coarse to measure how late a
    close ran. Timers are set with ``loop.call_later`` for the time left, so the two clocks
    never need to agree. The loop is looked up on each call, so the engine may be built
    before the loop runs (the gateway is built outside it).
    """

    __slots__ = ()

    def time(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall_ns(self) -> int:
        """``time.time_ns()``."""
        return time.time_ns()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """``loop.call_later`` on the running loop, for the time until ``when``."""
        return asyncio.get_running_loop().call_later(max(0.0, when - time.monotonic()), callback)
