"""A log-linear latency histogram: constant memory, O(1) record, ~3 % bucket resolution.

Recording happens once per delivered event, so it must cost well under a microsecond; sorting
samples at report time would need memory proportional to the run length instead.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence

# Each power of two is split into 32 linear sub-buckets: values are kept to ~3 %.
_SUB_BITS = 5
_SUB = 1 << _SUB_BITS


def _index(value: int) -> int:
    if value < _SUB:
        return max(value, 0)
    shift = value.bit_length() - _SUB_BITS - 1
    return ((shift + 1) << _SUB_BITS) + ((value >> shift) - _SUB)


def _lower_bound(index: int) -> int:
    if index < _SUB:
        return index
    block, sub = divmod(index, _SUB)
    shift = block - 1
    return (_SUB + sub) << shift


class LatencyHistogram:
    """Counts non-negative integer samples (nanoseconds, say) and reports percentiles."""

    __slots__ = ("_counts", "count", "max", "total")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0
        self.total = 0
        self.max = 0

    def record(self, value: int) -> None:
        """Adds one sample; negative values (clock skew) count as zero."""
        if value < 0:
            value = 0
        i = _index(value)
        self._counts[i] = self._counts.get(i, 0) + 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    def record_many(self, values: Iterable[int]) -> None:
        """Adds several samples."""
        for v in values:
            self.record(v)

    def merge(self, other: LatencyHistogram) -> None:
        """Adds every sample of ``other``."""
        for i, c in other._counts.items():
            self._counts[i] = self._counts.get(i, 0) + c
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> int:
        """The value at percentile ``p`` (0-100): the lower bound of its bucket, capped by the
        largest sample. 0 when empty."""
        if self.count == 0:
            return 0
        # Nearest rank: the smallest value with at least p % of the samples at or below it.
        rank = max(1, math.ceil(self.count * p / 100.0))
        seen = 0
        for i in sorted(self._counts):
            seen += self._counts[i]
            if seen >= rank:
                return min(_lower_bound(i), self.max)
        return self.max

    def cumulative(self, bounds: Sequence[int]) -> list[int]:
        """For each of the ascending ``bounds``, the samples at or below it, as Prometheus
        histogram buckets count them. A bucket is counted under a bound its lower edge does
        not pass, so a count can include samples up to one bucket (~3 %) above the bound."""
        first = [0] * (len(bounds) + 1)
        for i, c in self._counts.items():
            first[bisect.bisect_left(bounds, _lower_bound(i))] += c
        return list(itertools.accumulate(first[:-1]))

    def summary_us(self) -> dict[str, float]:
        """p50/p99/p999/max/mean in microseconds, for ns samples."""
        mean = self.total / self.count if self.count else 0.0
        return {
            "p50": round(self.percentile(50) / 1000, 1),
            "p99": round(self.percentile(99) / 1000, 1),
            "p999": round(self.percentile(99.9) / 1000, 1),
            "max": round(self.max / 1000, 1),
            "mean": round(mean / 1000, 1),
            "count": self.count,
        }
