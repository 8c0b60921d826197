"""Ops-only telemetry: counters, latency histograms, the dead-letter queue and structured logs.

Nothing here is ever delivered to consumers; it serves operators (the live console, the run
summary, logs and the DLQ file).
"""

from tradegw.telemetry.dlq import DeadLetterQueue
from tradegw.telemetry.histogram import LatencyHistogram
from tradegw.telemetry.metrics import Counters, Telemetry

__all__ = ["Counters", "DeadLetterQueue", "LatencyHistogram", "Telemetry"]
