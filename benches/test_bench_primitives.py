"""Reorder buffer, coalescer and token bucket: the per-event costs on the dispatch path.

All use the default (monotonic) clock, as the gateway does, so the clock read is included.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from tests.reference import RefCoalescer, RefReorderBuffer, RefTokenBucket

from benches._workload import label
from tradegw._core import Coalescer, ReorderBuffer, TokenBucket

# --------------------------------------------------------------------------- ReorderBuffer


def _in_order(benchmark: Any, buffer: ReorderBuffer | RefReorderBuffer) -> None:
    # An in-order feed (venue sequence or ingest sequence): every push releases at once.
    seqs = itertools.count()
    item = object()
    push = buffer.push

    def step() -> None:
        push(1, next(seqs), item)

    benchmark(step)
    assert buffer.stats()["held"] == 0


@pytest.mark.benchmark(group="reorder-push-in-order")
def test_reorder_push_core(benchmark: Any) -> None:
    label(benchmark, "core")
    _in_order(benchmark, ReorderBuffer())


@pytest.mark.benchmark(group="reorder-push-in-order")
def test_reorder_push_reference(benchmark: Any) -> None:
    label(benchmark, "reference")
    _in_order(benchmark, RefReorderBuffer())


# --------------------------------------------------------------------------- Coalescer

KEYS = 4
COALESCABLE_PER_ROUND = 12  # over 4 keys: 4 queued, 8 replaced in place
TRADES_PER_ROUND = 4  # never coalesced
OPS_PER_ROUND = COALESCABLE_PER_ROUND + TRADES_PER_ROUND + 1  # pushes + one pop


def _round_trip(benchmark: Any, queue: Coalescer | RefCoalescer) -> None:
    ticker = object()
    trade = object()
    push = queue.push
    pop = queue.pop

    def step() -> None:
        for i in range(COALESCABLE_PER_ROUND):
            push(i % KEYS, ticker, True)
            if i % 3 == 0:
                push(100, trade, False)
        pop(64)

    benchmark(step)
    assert len(queue) == 0


@pytest.mark.benchmark(group="coalescer-push-pop")
def test_coalescer_core(benchmark: Any) -> None:
    label(benchmark, "core", OPS_PER_ROUND, "op")
    _round_trip(benchmark, Coalescer())


@pytest.mark.benchmark(group="coalescer-push-pop")
def test_coalescer_reference(benchmark: Any) -> None:
    label(benchmark, "reference", OPS_PER_ROUND, "op")
    _round_trip(benchmark, RefCoalescer())


# --------------------------------------------------------------------------- TokenBucket


@pytest.mark.benchmark(group="token-bucket-try-acquire")
def test_bucket_core(benchmark: Any) -> None:
    bucket = TokenBucket(1e12, 1e12)  # never runs dry: measure the decision, not a refusal
    label(benchmark, "core")
    assert benchmark(bucket.try_acquire)


@pytest.mark.benchmark(group="token-bucket-try-acquire")
def test_bucket_reference(benchmark: Any) -> None:
    bucket = RefTokenBucket(1e12, 1e12)
    label(benchmark, "reference")
    assert benchmark(bucket.try_acquire)
