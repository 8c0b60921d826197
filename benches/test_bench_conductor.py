"""The conductor's cost per event on the providers → dispatcher path.

Every event of every venue passes through ``Conductor.publish`` on its way to the
dispatcher; an event of a symbol no merge watches must cost one dict lookup there. The
dispatcher is a no-op here; the ``harness only`` row is the provider calling that no-op
dispatcher directly, as it did before the conductor, to subtract from the others.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit._factories import ManualClock, book_snapshot, book_update

from benches._workload import label
from tradegw.conductor import Conductor, MergeSpec
from tradegw.schema import BookSnapshot, Event
from tradegw.telemetry import Telemetry


class _NoOpDispatcher:
    def publish(self, event: Event) -> None:
        pass

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        return book_snapshot(symbol, bids=[("1.0", "1")], asks=[("2.0", "1")], provider=provider)

    def register_book_source(self, provider: str, source: Any) -> None:
        pass


def _conductor(*merged_symbols: str) -> Conductor:
    conductor = Conductor(_NoOpDispatcher(), Telemetry(), ManualClock())  # type: ignore[arg-type]
    for i, symbol in enumerate(merged_symbols):
        conductor.merge(
            MergeSpec(
                merge_id=f"m{i}",
                symbol=symbol,
                venues=frozenset({"kraken", "coinbase"}),
                window_s=3600.0,
                max_events=10_000_000,
            )
        )
    return conductor


def _event() -> Event:
    event = book_update("BTC-USD", provider="kraken", bids=[("1.0", "2")])
    event.ingest_ts = 2**62  # after any close: never a late fragment
    return event


@pytest.mark.benchmark(group="conductor-publish")
def test_publish_direct_harness(benchmark: Any) -> None:
    label(benchmark, "harness only")
    benchmark(_NoOpDispatcher().publish, _event())


@pytest.mark.benchmark(group="conductor-publish")
def test_publish_no_merge_on_the_symbol(benchmark: Any) -> None:
    label(benchmark, "no merge on the symbol")
    conductor = _conductor("ETH-USD")
    benchmark(conductor.publish, _event())
    assert conductor.merge_stats("m0").closed == 0


@pytest.mark.benchmark(group="conductor-publish")
def test_publish_fragment_of_a_merged_symbol(benchmark: Any) -> None:
    label(benchmark, "fragment of a merged symbol")
    conductor = _conductor("BTC-USD")
    benchmark(conductor.publish, _event())
    assert conductor.engine.watched["BTC-USD"][0].window is not None
