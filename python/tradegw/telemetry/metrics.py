"""Counters and the telemetry hub shared by providers, the dispatcher and consumers."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import TYPE_CHECKING

from tradegw.telemetry.dlq import DEFAULT_FILE_BYTES, DEFAULT_TOTAL_BYTES, DeadLetterQueue
from tradegw.telemetry.histogram import LatencyHistogram
from tradegw.telemetry.ops_events import DEFAULT_CAPACITY, OpsEventQueue

if TYPE_CHECKING:
    from tradegw.config.models import TelemetryConfig


class Counters:
    """Named integer counters, optionally labelled: ``inc("resyncs", "kraken", "BTC-USD")``.

    ``inc`` touches one series only (it runs several times per venue frame); totals are
    summed when read, which happens a few times a second at most.
    """

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: defaultdict[tuple[str, ...], int] = defaultdict(int)

    def inc(self, name: str, *labels: str, by: int = 1) -> None:
        """Adds ``by`` to the series ``name`` with ``labels``."""
        self._values[(name, *labels)] += by

    def get(self, name: str, *labels: str) -> int:
        """One series' value; with no labels, the total over every series of ``name``."""
        if labels:
            return self._values.get((name, *labels), 0)
        return sum(v for k, v in self._values.items() if k[0] == name)

    def total(self, name: str, *labels: str) -> int:
        """The sum over every series of ``name`` whose labels start with ``labels``
        (``total("resyncs", "kraken")`` adds up Kraken's per-symbol series)."""
        n = len(labels)
        return sum(v for k, v in self._values.items() if k[0] == name and k[1 : n + 1] == labels)

    def totals(self) -> dict[str, int]:
        """Totals by name."""
        out: dict[str, int] = {}
        for k, v in self._values.items():
            out[k[0]] = out.get(k[0], 0) + v
        return out

    def series(self) -> dict[tuple[str, ...], int]:
        """Every series as incremented."""
        return dict(self._values)


class Telemetry:
    """Everything ops-only in one place: counters, latency, the DLQ, the ops event queue
    and the books' time to resync."""

    def __init__(
        self,
        dlq_path: str | os.PathLike[str] | None = None,
        *,
        ops_capacity: int = DEFAULT_CAPACITY,
        dlq_file_bytes: int = DEFAULT_FILE_BYTES,
        dlq_total_bytes: int = DEFAULT_TOTAL_BYTES,
    ) -> None:
        self.counters = Counters()
        self.dlq = DeadLetterQueue(
            dlq_path, max_file_bytes=dlq_file_bytes, max_total_bytes=dlq_total_bytes
        )
        self.latency = LatencyHistogram()
        self.ops = OpsEventQueue(ops_capacity)
        self.resync_ns: dict[tuple[str, str], LatencyHistogram] = {}
        """How long books took to resync (ns, from leaving ``synced`` to the next snapshot
        applied), by (venue, reason)."""

    @classmethod
    def from_config(cls, config: TelemetryConfig) -> Telemetry:
        """The telemetry a config's ``telemetry:`` section asks for."""
        return cls(
            config.dlq_path,
            ops_capacity=config.ops_queue_size,
            dlq_file_bytes=config.dlq_file_bytes,
            dlq_total_bytes=config.dlq_total_bytes,
        )

    def close(self) -> None:
        """Writes what the DLQ holds and releases its files."""
        self.dlq.close()
