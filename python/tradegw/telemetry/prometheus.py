"""The gateway's Prometheus metrics, read at scrape time.

The hot path only bumps plain counters (:class:`~tradegw.telemetry.Counters`, a
subscription's stats, the DLQ's counts); :class:`GatewayCollector` turns them into metric
families when ``/metrics`` is scraped (or the console refreshes), so a frame never pays for a
``prometheus_client`` call. The exposition format is prometheus_client's own.

Naming follows Prometheus: the ``tradegw_`` prefix, ``_total`` counters, seconds and bytes,
and bounded label sets only — ``venue``, ``symbol`` (the configured ones), ``type`` (event
types), ``reason``, ``state`` (book states, published order states), ``scope``, ``consumer``
(named consumers), ``merge_id``, ``event`` (ops event names) — never a per-event label
(orders are counted per venue and state, never per order). Process CPU and memory are the
standard ``process_*`` families of prometheus_client's process collector, under the names
every exporter uses, so existing dashboards and alerts read them unchanged.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from tradegw.telemetry.histogram import LatencyHistogram

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from tradegw.consumers.subscription import Subscription
    from tradegw.gateway import Gateway

__all__ = [
    "BOOK_STATES",
    "LATENCY_BUCKETS_S",
    "ORDER_STATES",
    "RESYNC_BUCKETS_S",
    "UNREGISTERED",
    "GatewayCollector",
    "MetricReadings",
    "book_state",
    "consumer_label",
    "metrics_registry",
]

LATENCY_BUCKETS_S = (
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
    2.5,
)
"""Socket → consumer latency buckets: the design's targets (300 µs, 1 ms) to overload."""
RESYNC_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Time-to-resync buckets: the design wants every resync done within 5 s."""
BOOK_STATES = ("synced", "resyncing", "stale")
RESYNC_REASONS = ("gap", "checksum", "crossed", "stale", "refresh", "reconnect")
UNNAMED = "(unnamed)"
"""The ``consumer`` label of subscriptions made without a name (summed together)."""
UNREGISTERED = "(unregistered)"
"""The ``venue`` label of orders naming a venue without an order adapter (refused)."""
ORDER_STATES = ("ACK", "PARTIAL", "FILLED", "CANCELLED", "REJECTED", "EXPIRED")
"""The published order states, each a ``state`` label of ``tradegw_order_states_total``."""


def book_state(status: str, reason: str | None) -> str:
    """A book's state as operators count it: ``synced``, ``stale`` (resyncing because it
    went quiet) or ``resyncing`` (any other reason)."""
    if status == "synced":
        return "synced"
    return "stale" if reason == "stale" else "resyncing"


def consumer_label(name: str) -> str:
    """The ``consumer`` label of a subscription named ``name``."""
    return name or UNNAMED


def metrics_registry(gw: Gateway) -> CollectorRegistry:
    """A registry of its own (never the process-wide default, so that two gateways in one
    process do not collide) with the gateway's metrics and the process's CPU and memory."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(gw))
    ProcessCollector(registry=registry)
    return registry


def _histogram(
    family: HistogramMetricFamily,
    labels: list[str],
    hist: LatencyHistogram,
    bounds_s: Sequence[float],
) -> None:
    """Adds ``hist`` (ns samples) to ``family`` as buckets in seconds."""
    counts = hist.cumulative([round(b * 1e9) for b in bounds_s])
    buckets = [(_le(b), float(c)) for b, c in zip(bounds_s, counts, strict=True)]
    buckets.append(("+Inf", float(hist.count)))
    family.add_metric(labels, buckets, sum_value=hist.total / 1e9)


def _le(bound: float) -> str:
    return repr(bound) if bound < 1 else f"{bound:g}"


class GatewayCollector(Collector):
    """Every ``tradegw_*`` family, read from the gateway when collected."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    def collect(self) -> Iterator[Metric]:
        """The gateway's metric families as they are now."""
        gw = self._gw
        counters = gw.telemetry.counters
        series = counters.series()
        by_name: defaultdict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
        for key, value in series.items():
            by_name[key[0]].append((key[1:], value))
        venues = list(gw.providers)
        yield from self._venue_counters(by_name, venues)
        yield from self._verification(by_name, venues)
        yield from self._resyncs(by_name, venues)
        yield from self._feeds(by_name, venues)
        yield from self._books()
        yield from self._consumers()
        yield from self._dlq()
        yield from self._ops()
        yield from self._merges()
        yield from self._orders()
        if gw.nats is not None:
            yield from gw.nats.metrics()
        if gw.shard is not None:
            yield from gw.shard.metrics()

    # ---- per venue and symbol ----

    def _venue_counters(
        self, by_name: Mapping[str, list[tuple[tuple[str, ...], int]]], venues: list[str]
    ) -> Iterator[Metric]:
        frames = CounterMetricFamily(
            "tradegw_frames",
            "WebSocket data frames received (a frame can carry several symbols)",
            labels=["venue"],
        )
        per_venue = _sum_by(by_name.get("frames", ()), 1)
        for venue in venues:
            frames.add_metric([venue], per_venue.get((venue,), 0))
        yield frames
        events = CounterMetricFamily(
            "tradegw_events", "canonical events published", labels=["venue", "symbol", "type"]
        )
        for labels, value in by_name.get("events", ()):
            if len(labels) == 3:
                events.add_metric(list(labels), value)
        yield events
        for name, help_text in (
            ("checksum_ok", "book messages whose venue checksum matched the book"),
            ("checksum_failed", "book messages whose venue checksum did not match"),
            ("sequence_ok", "book messages applied in sequence (venues without checksums)"),
        ):
            family = CounterMetricFamily(f"tradegw_{name}", help_text, labels=["venue", "symbol"])
            for labels, value in by_name.get(name, ()):
                if len(labels) == 2:
                    family.add_metric(list(labels), value)
            yield family
        gaps = CounterMetricFamily(
            "tradegw_sequence_gaps", "sequence gaps detected (each resyncs)", labels=["venue"]
        )
        gap_totals = _sum_by(by_name.get("sequence_gaps", ()), 1)
        for venue in venues:
            gaps.add_metric([venue], gap_totals.get((venue,), 0))
        yield gaps
        for name, counter, help_text in (
            ("reconnects", "reconnects", "connections lost and made again"),
            ("feed_restarts", "provider_restarts", "feeds started over after an exception"),
            ("rest_weight_used", "rest_weight", "REST request weight spent"),
            ("rest_retries", "rest_retries", "REST requests retried (429/418, 5xx, errors)"),
        ):
            family = CounterMetricFamily(f"tradegw_{name}", help_text, labels=["venue"])
            totals = _sum_by(by_name.get(counter, ()), 1)
            for venue in venues:
                family.add_metric([venue], totals.get((venue,), 0))
            yield family

    def _verification(
        self, by_name: Mapping[str, list[tuple[tuple[str, ...], int]]], venues: list[str]
    ) -> Iterator[Metric]:
        ratio = GaugeMetricFamily(
            "tradegw_verification_success_ratio",
            "book verifications that passed (checksums, sequences, Binance bookTicker checks) "
            "over all; absent until the venue's first",
            labels=["venue"],
        )
        totals = {
            name: _sum_by(by_name.get(name, ()), 1)
            for name in (
                "checksum_ok",
                "sequence_ok",
                "bbo_checked",
                "checksum_failed",
                "sequence_gaps",
                "bbo_mismatches",
            )
        }
        for venue in venues:
            key = (venue,)
            mismatches = totals["bbo_mismatches"].get(key, 0)
            ok = (
                totals["checksum_ok"].get(key, 0)
                + totals["sequence_ok"].get(key, 0)
                + totals["bbo_checked"].get(key, 0)
                - mismatches
            )
            failed = (
                totals["checksum_failed"].get(key, 0)
                + totals["sequence_gaps"].get(key, 0)
                + mismatches
            )
            if ok + failed:
                ratio.add_metric([venue], ok / (ok + failed))
        yield ratio

    def _resyncs(
        self, by_name: Mapping[str, list[tuple[tuple[str, ...], int]]], venues: list[str]
    ) -> Iterator[Metric]:
        resyncs = CounterMetricFamily(
            "tradegw_resyncs", "books taken out of service to resync", labels=["venue", "reason"]
        )
        for venue in venues:
            for reason in RESYNC_REASONS:
                n = _sum_by(by_name.get(f"resyncs_{reason}", ()), 1).get((venue,), 0)
                if n or reason in ("gap", "checksum", "stale"):
                    resyncs.add_metric([venue, reason], n)
        yield resyncs
        duration = HistogramMetricFamily(
            "tradegw_resync_duration_seconds",
            "time from a book leaving synced to its next snapshot applied",
            labels=["venue", "reason"],
        )
        for (venue, reason), hist in sorted(self._gw.telemetry.resync_ns.items()):
            _histogram(duration, [venue, reason], hist, RESYNC_BUCKETS_S)
        yield duration

    def _feeds(
        self, by_name: Mapping[str, list[tuple[tuple[str, ...], int]]], venues: list[str]
    ) -> Iterator[Metric]:
        stale = CounterMetricFamily(
            "tradegw_feed_stale",
            "connections (scope=connection) or books (scope=book) that went quiet too long",
            labels=["venue", "scope"],
        )
        connection = _sum_by(by_name.get("stale", ()), 1)
        books = _sum_by(by_name.get("stale_books", ()), 1)
        for venue in venues:
            stale.add_metric([venue, "connection"], connection.get((venue,), 0))
            stale.add_metric([venue, "book"], books.get((venue,), 0))
        yield stale
        connected = GaugeMetricFamily(
            "tradegw_feed_connected", "1 while the venue's connection is up", labels=["venue"]
        )
        quiet = GaugeMetricFamily(
            "tradegw_feed_quiet_seconds",
            "seconds since the venue's connection last carried anything",
            labels=["venue"],
        )
        now = time.monotonic()
        for venue, provider in self._gw.providers.items():
            connected.add_metric([venue], 1.0 if provider.is_connected else 0.0)
            if provider.is_connected:
                quiet.add_metric([venue], max(0.0, provider.quiet_s(now)))
        yield connected
        yield quiet

    def _books(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "tradegw_book_state",
            "1 for the state each book is in (synced, resyncing, stale), 0 for the others",
            labels=["venue", "symbol", "state"],
        )
        quiet = GaugeMetricFamily(
            "tradegw_book_quiet_seconds",
            "seconds since each synced book's last update (or its sync)",
            labels=["venue", "symbol"],
        )
        now = time.monotonic()
        for venue, provider in self._gw.providers.items():
            for book in provider.tracked_books():
                current = book_state(book.status, book.reason)
                for s in BOOK_STATES:
                    state.add_metric([venue, book.canonical, s], 1.0 if s == current else 0.0)
                if current == "synced":
                    since = max(book.last_update, book.synced_at)
                    quiet.add_metric([venue, book.canonical], max(0.0, now - since))
        yield state
        yield quiet

    # ---- per consumer ----

    def _consumers(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "tradegw_consumer_queue_depth", "events queued for the consumer", labels=["consumer"]
        )
        counters = {
            name: CounterMetricFamily(f"tradegw_consumer_{name}", help_text, labels=["consumer"])
            for name, help_text in (
                ("offered", "events the dispatcher offered the consumer"),
                ("delivered", "events the consumer took"),
                ("coalesced", "events replaced by a newer one (latest wins, backlog snapshot)"),
                ("spilled", "trades spilled to the DLQ past four times max_pending"),
                ("throttled", "times the consumer waited for its budget with events queued"),
                ("throttled_seconds", "time the consumer waited for its budget"),
            )
        }
        latency = HistogramMetricFamily(
            "tradegw_delivery_latency_seconds",
            "socket to consumer: from the frame leaving the socket to the consumer taking "
            "the event",
            labels=["consumer"],
        )
        grouped: defaultdict[str, list[Subscription]] = defaultdict(list)
        for sub in self._gw.dispatcher.subscriptions():
            grouped[consumer_label(sub.name)].append(sub)
        for name, subs in sorted(grouped.items()):
            hist = LatencyHistogram()
            sums = dict.fromkeys(counters, 0.0)
            queued = 0
            for sub in subs:
                stats = sub.stats
                queued += len(sub)
                hist.merge(stats.latency)
                sums["offered"] += stats.offered
                sums["delivered"] += stats.delivered
                sums["coalesced"] += stats.coalesced
                sums["spilled"] += stats.spilled
                sums["throttled"] += stats.throttled
                sums["throttled_seconds"] += stats.throttled_ns / 1e9
            depth.add_metric([name], queued)
            for key, family in counters.items():
                family.add_metric([name], sums[key])
            _histogram(latency, [name], hist, LATENCY_BUCKETS_S)
        yield depth
        yield from counters.values()
        yield latency

    # ---- the DLQ, ops events, merges ----

    def _dlq(self) -> Iterator[Metric]:
        dlq = self._gw.telemetry.dlq
        entries = CounterMetricFamily(
            "tradegw_dlq_entries",
            "messages kept in the dead-letter queue",
            labels=["venue", "reason"],
        )
        for (venue, reason), n in sorted(dlq.by_venue_reason.items()):
            entries.add_metric([venue, reason], n)
        yield entries
        yield CounterMetricFamily(
            "tradegw_dlq_not_written",
            "DLQ entries counted but not written (the writer behind or failing)",
            value=dlq.not_written,
        )
        yield GaugeMetricFamily(
            "tradegw_dlq_bytes", "bytes the DLQ's files hold", value=dlq.bytes_on_disk
        )

    def _ops(self) -> Iterator[Metric]:
        ops = self._gw.telemetry.ops
        emitted = CounterMetricFamily(
            "tradegw_ops_events", "ops events emitted to the telemetry queue", labels=["event"]
        )
        for name, n in sorted(ops.emitted.items()):
            emitted.add_metric([name], n)
        yield emitted
        yield CounterMetricFamily(
            "tradegw_ops_events_dropped",
            "ops events dropped unread because the telemetry queue was full",
            value=ops.dropped,
        )
        yield GaugeMetricFamily(
            "tradegw_ops_queue_depth", "ops events waiting for their reader", value=len(ops)
        )

    def _merges(self) -> Iterator[Metric]:
        windows = CounterMetricFamily(
            "tradegw_merge_windows",
            "merge windows closed: emitted, or suppressed for a missing venue",
            labels=["merge_id", "outcome"],
        )
        late = CounterMetricFamily(
            "tradegw_merge_late_dropped",
            "book fragments left out of a merge because their window had closed",
            labels=["merge_id"],
        )
        conductor = self._gw.conductor
        for spec in conductor.merges():
            stats = conductor.merge_stats(spec.merge_id)
            windows.add_metric([spec.merge_id, "emitted"], stats.emitted)
            windows.add_metric([spec.merge_id, "suppressed_partial"], stats.suppressed)
            late.add_metric([spec.merge_id], stats.late_dropped)
        yield windows
        yield late

    # ---- orders ----

    def _orders(self) -> Iterator[Metric]:
        entry = self._gw.order_entry
        stats = entry.stats
        venues = entry.venue_names()

        def label(venue: str) -> str:
            # Orders naming a venue that has no order adapter are refused before sending;
            # their names came from callers, so they share one label.
            return venue if venue in venues else UNREGISTERED

        open_orders = GaugeMetricFamily(
            "tradegw_orders_open",
            "orders that may still change (working, or sent and not yet answered)",
            labels=["venue"],
        )
        opened: dict[str, int] = dict.fromkeys(venues, 0)
        for venue, n in entry.open_counts().items():
            opened[label(venue)] = opened.get(label(venue), 0) + n
        for venue, n in opened.items():
            open_orders.add_metric([venue], n)
        yield open_orders
        placed = CounterMetricFamily(
            "tradegw_orders_placed",
            "orders sent to the venue (the first send of each)",
            labels=["venue"],
        )
        fills = CounterMetricFamily(
            "tradegw_order_fills", "fills of our orders recorded", labels=["venue"]
        )
        last_fill = GaugeMetricFamily(
            "tradegw_order_last_fill_timestamp_seconds",
            "wall-clock time of the last fill recorded; absent before the first",
            labels=["venue"],
        )
        for venue in venues:
            placed.add_metric([venue], stats.placed.get(venue, 0))
            fills.add_metric([venue], stats.venue_fills.get(venue, 0))
            if venue in stats.last_fill:
                last_fill.add_metric([venue], stats.last_fill[venue].recorded_ns / 1e9)
        yield placed
        states = CounterMetricFamily(
            "tradegw_order_states",
            "orders that moved into each published state (ACK, PARTIAL, FILLED, CANCELLED, "
            "REJECTED, EXPIRED); REJECTED counts refusals before sending too",
            labels=["venue", "state"],
        )
        entered: dict[tuple[str, str], int] = {
            (venue, state): 0 for venue in venues for state in ORDER_STATES
        }
        for (venue, state), n in stats.entered.items():
            key = (label(venue), state)
            entered[key] = entered.get(key, 0) + n
        for (venue, state), n in sorted(entered.items()):
            states.add_metric([venue, state], n)
        yield states
        yield fills
        yield last_fill


def _sum_by(
    rows: Sequence[tuple[tuple[str, ...], int]] | tuple[()], width: int
) -> dict[tuple[str, ...], int]:
    """Sums counter series by their first ``width`` labels."""
    out: dict[tuple[str, ...], int] = {}
    for labels, value in rows:
        key = labels[:width]
        out[key] = out.get(key, 0) + value
    return out


class MetricReadings:
    """One collection of a registry's samples, indexed by sample name, for readers in the
    process (the live console) that must show exactly what ``/metrics`` serves."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._by_name: defaultdict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for family in registry.collect():
            for s in family.samples:
                self._by_name[s.name].append((s.labels, s.value))

    def total(self, name: str, **labels: str) -> float:
        """The sum of sample ``name`` (``tradegw_frames_total``) over the series whose labels
        include ``labels``."""
        return sum(
            value
            for have, value in self._by_name.get(name, ())
            if all(have.get(k) == v for k, v in labels.items())
        )

    def value(self, name: str, **labels: str) -> float | None:
        """The first matching sample's value, or None."""
        for have, value in self._by_name.get(name, ()):
            if all(have.get(k) == v for k, v in labels.items()):
                return value
        return None

    def by_label(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """Sums of sample ``name`` by the value of ``label``, over matching series."""
        out: dict[str, float] = {}
        for have, value in self._by_name.get(name, ()):
            if label in have and all(have.get(k) == v for k, v in labels.items()):
                out[have[label]] = out.get(have[label], 0.0) + value
        return out
