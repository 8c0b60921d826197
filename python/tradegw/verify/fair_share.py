"""SC-004: with a greedy and a stalled consumer beside it, a third consumer still receives at
least 25 % of its subscribed bandwidth — measured as ``tests/integration/test_fair_share.py``
does, with the simulator in a child process (a venue does not slow down for our consumers).

Subscribed bandwidth is what the venue publishes for the consumer's subscriptions, per
second: its delivery rate while it is alone (nothing slow beside it and nothing coalesced,
it then receives everything offered). The same gateway then gets a greedy consumer (3 ms of
CPU per event, every type: far more work than the core can do) and a stalled one
(subscribed, never reading), and the third consumer's rate is measured again over the same
length of time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tradegw.consumers.subscription import Subscription
from tradegw.verify.outcome import CRITERIA, Outcome, Scenario
from tradegw.verify.rig import rig_config
from tradegw.verify.session import RunContext

PAIRS = ["BTC/USD", "ETH/USD", "MATIC/USD"]
RATE = 1500.0
"""Kraken simulator messages per second (the integration test's figure)."""
WINDOW_S = (5.0, 3.0)
"""Each measurement window (full, quick)."""
GREEDY_COST_S = 0.003
SETTLE_S = 0.5
FAIR_TYPES = ["Trade", "Ticker", "BookUpdate"]


def burn(seconds: float) -> None:
    """Keeps the CPU busy for ``seconds`` (a consumer's work per event)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class DeliveryCounter:
    """Counts what a consumer takes."""

    def __init__(self) -> None:
        self.events = 0

    async def rate_over(self, seconds: float) -> float:
        """Events per second taken over the next ``seconds``."""
        start, t0 = self.events, time.monotonic()
        await asyncio.sleep(seconds)
        return (self.events - start) / (time.monotonic() - t0)

    async def take(self, sub: Subscription) -> None:
        """Takes ``sub``'s events in batches until it ends."""
        async for batch in sub.batches():
            self.events += len(batch)


async def greedy_reader(sub: Subscription) -> None:
    """Burns :data:`GREEDY_COST_S` of CPU on every event, one event at a time."""
    async for _ in sub:
        burn(GREEDY_COST_S)


def fair_share_outcome(
    alone: float, shared: float, greedy: dict[str, int], stalled: dict[str, int], window_s: float
) -> Outcome:
    """SC-004 from the fair consumer's rate alone and beside the others; ``greedy`` and
    ``stalled`` are those consumers' figures, the evidence that they pressed."""
    share = 100.0 * shared / alone if alone > 0 else 0.0
    pressed = greedy["offered"] > greedy["delivered"] and stalled["coalesced"] > 0
    note = (
        f"alone {alone:,.0f} events/s, beside a greedy (3 ms CPU per event, all types) and a "
        f"stalled consumer {shared:,.0f} events/s over {window_s:g} s each; greedy took "
        f"{greedy['delivered']:,} of {greedy['offered']:,} offered, stalled coalesced "
        f"{stalled['coalesced']:,}"
    )
    if not pressed:
        note += "; the greedy and stalled consumers did not press: nothing was proven"
    return Outcome(
        "SC-004",
        f"a consumer's share of its subscribed bandwidth beside a greedy and a stalled one "
        f"(Kraken, {len(PAIRS)} symbols, {RATE:,.0f} msgs/s)",
        share,
        "%",
        CRITERIA["SC-004"].threshold,
        alone > 0 and share >= 25.0 and pressed,
        note,
        {"alone_per_s": alone, "shared_per_s": shared, "greedy": greedy, "stalled": stalled},
    )


async def run(ctx: RunContext) -> list[Outcome]:
    """Measures the fair consumer alone, then beside a greedy and a stalled consumer."""

    def kraken_only(raw: dict[str, Any]) -> None:
        kraken = raw["venues"]["kraken"]
        kraken["symbols"] = PAIRS
        raw["venues"] = {"kraken": kraken}
        raw["simulators"]["kraken"].update(pairs=PAIRS, rate=RATE, seed=5)

    window_s = WINDOW_S[ctx.quick]
    fair = DeliveryCounter()
    async with ctx.rig(rig_config(kraken_only)) as rig:
        gw = rig.gw
        await rig.start()
        await rig.wait_synced()
        fair_sub = gw.subscribe(name="fair", types=FAIR_TYPES)
        rig.spawn(fair.take(fair_sub), "fair")
        await asyncio.sleep(SETTLE_S)
        alone = await fair.rate_over(window_s)
        greedy = gw.subscribe(name="greedy")
        stalled = gw.subscribe(name="stalled", max_pending=1_000)
        rig.spawn(greedy_reader(greedy), "greedy")
        await asyncio.sleep(SETTLE_S)
        shared = await fair.rate_over(window_s)
        greedy_figures = {
            "offered": greedy.stats.offered,
            "delivered": greedy.stats.delivered,
        }
        stalled_figures = {
            "coalesced": stalled.stats.coalesced,
            "delivered": stalled.stats.delivered,
        }
    return [fair_share_outcome(alone, shared, greedy_figures, stalled_figures, window_s)]


SCENARIO = Scenario(
    "fair share beside a greedy and a stalled consumer",
    ("SC-004",),
    run,
    (60.0, 40.0),
)
