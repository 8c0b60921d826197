"""Counters and the telemetry hub shared by providers, the dispatcher and consumers."""

from __future__ import annotations

import os
from collections import defaultdict

from tradegw.telemetry.dlq import DeadLetterQueue
from tradegw.telemetry.histogram import LatencyHistogram


class Counters:
    """Named integer counters, optionally labelled: ``inc("resyncs", "kraken", "BTC-USD")``."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: defaultdict[tuple[str, ...], int] = defaultdict(int)

    def inc(self, name: str, *labels: str, by: int = 1) -> None:
        """Adds ``by`` to ``name`` (and to its labelled series when labels are given)."""
        self._values[(name,)] += by
        if labels:
            self._values[(name, *labels)] += by

    def get(self, name: str, *labels: str) -> int:
        """The current value (0 when never incremented)."""
        return self._values.get((name, *labels), 0)

    def totals(self) -> dict[str, int]:
        """Unlabelled totals by name."""
        return {k[0]: v for k, v in self._values.items() if len(k) == 1}

    def series(self) -> dict[tuple[str, ...], int]:
        """Every series, labelled ones included."""
        return dict(self._values)


class Telemetry:
    """Everything ops-only in one place: counters, latency, the DLQ."""

    def __init__(self, dlq_path: str | os.PathLike[str] | None = None) -> None:
        self.counters = Counters()
        self.dlq = DeadLetterQueue(dlq_path)
        self.latency = LatencyHistogram()

    def close(self) -> None:
        """Releases files."""
        self.dlq.close()
