"""Fair share end to end (SC-004): with a greedy and a stalled consumer beside it, a third
consumer still receives at least 25 % of its subscribed bandwidth.

Subscribed bandwidth is what the venues publish for a consumer's subscriptions, per second:
measured here as that consumer's own delivery rate while it is alone (nothing slow beside it
and nothing coalesced: it then receives everything offered). The same gateway and simulator
then get a greedy consumer (3 ms of CPU per event, every event type, far more work than the
one core can do) and a stalled one (subscribed, never reading), and the third consumer's
rate is measured again over the same length of time.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration._loopback import wait_for
from tradegw.config import GatewayConfig
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.server import KrakenSimulator

PAIRS = ["BTC/USD", "ETH/USD", "MATIC/USD"]
WINDOW_S = 3.0


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def count_over(sub: Subscription, counted: list[int], seconds: float) -> float:
    """Events per second ``sub``'s reader took over the next ``seconds``."""
    start, t0 = counted[0], time.monotonic()
    await asyncio.sleep(seconds)
    return (counted[0] - start) / (time.monotonic() - t0)


@pytest.mark.timeout(60)
async def test_a_consumer_keeps_its_share_beside_a_greedy_and_a_stalled_one() -> None:
    sim = KrakenSimulator(KrakenSimConfig(pairs=PAIRS, rate=1500.0, seed=5))
    await sim.start()
    config = GatewayConfig.model_validate(
        {
            "venues": {"kraken": {"symbols": PAIRS, "book_depth": 10}},
            "telemetry": {"dlq_path": None},
        }
    )
    gw = Gateway(config, urls={"kraken": sim.ws_url}, rest_urls={"kraken": ""})
    tasks: list[asyncio.Task[None]] = []
    try:
        await gw.start()
        fair = gw.subscribe(name="fair", types=["Trade", "Ticker", "BookUpdate"])
        fair_count = [0]

        async def read_fair() -> None:
            async for batch in fair.batches():
                fair_count[0] += len(batch)

        tasks.append(asyncio.create_task(read_fair()))
        assert await wait_for(lambda: fair_count[0] > 500, 10)
        alone = await count_over(fair, fair_count, WINDOW_S)

        greedy = gw.subscribe(name="greedy")
        stalled = gw.subscribe(name="stalled", max_pending=1_000)

        async def read_greedy() -> None:
            async for _ in greedy:
                busy(0.003)

        tasks.append(asyncio.create_task(read_greedy()))
        await asyncio.sleep(0.5)
        shared = await count_over(fair, fair_count, WINDOW_S)

        # The greedy consumer was offered more than it could take (its queue coalesced)
        # and was made to yield; the stalled one took nothing and its queue coalesced.
        assert greedy.stats.offered > greedy.stats.delivered
        assert greedy._clock.yields > 10
        assert stalled.stats.delivered == 0
        assert stalled.stats.coalesced > 0
        assert alone > 300
        share = shared / alone
        assert share >= 0.25, (alone, shared)
        # It kept up: no backlog of book diffs had to be replaced by a snapshot (tickers
        # may coalesce between its turns: latest wins, as for any consumer).
        assert fair.stats.snapshots_for_backlog == 0
        print(f"fair share: alone {alone:.0f}/s, beside greedy+stalled {shared:.0f}/s")
        assert fair.stats.out_of_order == 0
    finally:
        for task in tasks:
            task.cancel()
        await gw.stop()
        await sim.stop()
