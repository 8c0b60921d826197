"""The base of a venue's feed: step the market, render what changed, fan frames out.

A frame is built once per stream (say Kraken ``book`` of ``BTC/USD`` at depth 25) and handed
to every subscriber of that stream; subscribers decide per connection what actually goes out
(stalls, faults, time stamps). A venue's feed implements :meth:`MarketFeed.publish` (and
:meth:`MarketFeed.depths` if its book channel is depth-limited).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from tradegw.sim.market import Market, StepResult
from tradegw.sim.stats import SimStats
from tradegw.sim.subscriptions import Subscriptions


class MarketFeed(ABC):
    """Subscriptions plus the publishing of market steps, for one venue."""

    def __init__(self, market: Market, stats: SimStats) -> None:
        self.market = market
        self.stats = stats
        self.subscriptions = Subscriptions(list(market.pairs))
        self.step_observers: list[Callable[[str, StepResult, int], object]] = []
        """Called with ``(pair name, step, now_ns)`` after each step is published (the
        matching engine fills resting orders against the step's trades)."""

    def step(self, name: str, now_ns: int) -> int:
        """Advance pair ``name`` one market event and publish it; returns frames built."""
        result = self.market.step(name, self.depths(name), now_ns)
        self.stats.steps += 1
        built = self.publish(name, result, now_ns)
        self.stats.frames_built += built
        for observe in self.step_observers:
            observe(name, result, now_ns)
        return built

    def depths(self, name: str) -> Iterable[int]:
        """The book depths whose diffs the market must compute for pair ``name`` this step.

        Venues whose book channel sends full-book changes need none (the default).
        """
        return ()

    @abstractmethod
    def publish(self, name: str, result: StepResult, now_ns: int) -> int:
        """Render one step of pair ``name`` for its subscribers; returns frames built."""
