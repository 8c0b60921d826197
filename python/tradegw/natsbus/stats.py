"""What the NATS bridge counts, and its Prometheus families (``tradegw_nats_*``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from tradegw.natsbus.outbox import OutboxCursor


@dataclass(slots=True)
class NatsStats:
    """Plain counters, bumped on the hot path and read when ``/metrics`` is scraped."""

    published: Counter[str] = field(default_factory=Counter)
    """Messages published, by kind: ``md`` (core NATS) and ``exec`` (stored by JetStream)."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Market-data events not published, by reason: ``disconnected``, ``error``."""
    exec_duplicates: int = 0
    """ExecReports JetStream answered as already stored (a retry of one that got through)."""
    exec_retries: int = 0
    """JetStream publishes that failed or timed out and were tried again."""
    reconnects: int = 0
    disconnects: int = 0
    connected: bool = False
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Requests answered, by (service, outcome): ``snapshot``/``ok``, ``unknown_symbol``,
    ``not_synced``, ``bad_subject``; ``control``/``ok``, ``refused``."""


def metric_families(stats: NatsStats, outbox: OutboxCursor) -> Iterator[Metric]:
    """The bridge's metric families as they are now."""
    published = CounterMetricFamily(
        "tradegw_nats_published",
        "messages published to NATS: md (core NATS), exec (stored and acked by JetStream)",
        labels=["kind"],
    )
    for kind in ("md", "exec"):
        published.add_metric([kind], stats.published[kind])
    yield published
    dropped = CounterMetricFamily(
        "tradegw_nats_dropped",
        "market-data events not published (NATS away, or a publish error); never ExecReports",
        labels=["reason"],
    )
    for reason in ("disconnected", "error"):
        dropped.add_metric([reason], stats.dropped[reason])
    yield dropped
    yield GaugeMetricFamily(
        "tradegw_nats_pending",
        "ExecReports in the order ledger's outbox not yet stored by JetStream",
        value=outbox.pending(),
    )
    yield CounterMetricFamily(
        "tradegw_nats_exec_catchup",
        "ExecReports JetStream lacked when the sink (re)connected or started, published from "
        "the order ledger's outbox",
        value=outbox.catchup,
    )
    yield CounterMetricFamily(
        "tradegw_nats_exec_retries",
        "JetStream publishes of an ExecReport that failed or timed out (tried again)",
        value=stats.exec_retries,
    )
    yield CounterMetricFamily(
        "tradegw_nats_exec_duplicates",
        "ExecReport publishes JetStream had stored already (de-duplicated by Nats-Msg-Id)",
        value=stats.exec_duplicates,
    )
    yield CounterMetricFamily(
        "tradegw_nats_reconnects",
        "times the connection to NATS was lost and made again",
        value=stats.reconnects,
    )
    yield GaugeMetricFamily(
        "tradegw_nats_connected", "1 while connected to NATS", value=float(stats.connected)
    )
    requests = CounterMetricFamily(
        "tradegw_nats_requests",
        "snapshot and control requests answered over NATS, by outcome",
        labels=["service", "outcome"],
    )
    for (service, outcome), n in sorted(stats.requests.items()):
        requests.add_metric([service, outcome], n)
    yield requests
