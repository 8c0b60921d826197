"""The live console of ``tradegw run``: a header, a health line per venue, an orders line
per trading venue, the consumers' lag, the metrics URL and the last ops events, then the
busiest books with their best bid/ask, refreshed in place (rich). Ops view only.

Its figures are read from the same Prometheus registry ``/metrics`` serves (once a second),
so the console and a scrape can never disagree; the books table reads the demo consumers'
own books, and the last fill's symbol, side, quantity and price come from the order entry
(a price is no metric label)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer
from tradegw.telemetry import LatencyHistogram

if TYPE_CHECKING:
    from tradegw.gateway import Gateway
    from tradegw.runner import DemoConsumer
    from tradegw.telemetry.prometheus import MetricReadings

_REFRESH_S = 0.25
_READ_METRICS_S = 1.0
"""How often the metrics are collected for the console: rates are per second anyway, and a
collection walks every series."""
_OPS_SHOWN = 3


class LiveConsole:
    """Renders the gateway's state about four times a second while the run lasts."""

    def __init__(
        self,
        gw: Gateway,
        consumers: list[DemoConsumer],
        started: float,
        *,
        enabled: bool = True,
        console: Console | None = None,
        max_rows: int = 20,
    ) -> None:
        self._gw = gw
        self._consumers = consumers
        self._started = started
        self._enabled = enabled
        self._console = console or Console()
        self._max_rows = max_rows
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None
        # Imported here: prometheus_client is start-up time a run stopped early never needs.
        from tradegw.telemetry.prometheus import metrics_registry

        server = getattr(gw, "ops_server", None)
        self._registry = server.registry if server is not None else metrics_registry(gw)
        self._readings: MetricReadings | None = None
        self._read_at = 0.0
        # (when, frames by venue) of the previous reading, for msgs/s.
        self._frames_before: tuple[float, dict[str, float]] | None = None
        self._rates: dict[str, float] = {}

    def start(self) -> None:
        """Starts refreshing (no-op when disabled)."""
        if not self._enabled:
            return
        self._live = Live(
            self.render(), console=self._console, refresh_per_second=4, transient=False
        )
        self._live.start()
        self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_S)
            if self._live is not None:
                self._live.update(self.render())

    def stop(self) -> None:
        """Draws the last frame and stops."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._live is not None:
            with contextlib.suppress(Exception):
                self._live.update(self.render())
            self._live.stop()
            self._live = None

    def readings(self) -> MetricReadings:
        """The metrics as last collected (at most :data:`_READ_METRICS_S` old)."""
        now = time.monotonic()
        if self._readings is None or now - self._read_at >= _READ_METRICS_S:
            from tradegw.telemetry.prometheus import MetricReadings

            self._readings = MetricReadings(self._registry)
            self._read_at = now
            frames = self._readings.by_label("tradegw_frames_total", "venue")
            if self._frames_before is not None:
                t0, before = self._frames_before
                if now > t0:
                    self._rates = {
                        v: (n - before.get(v, 0.0)) / (now - t0) for v, n in frames.items()
                    }
            self._frames_before = (now, frames)
        return self._readings

    def render(self) -> Group:
        """One frame: a header, a health line per venue, the consumers, the metrics URL
        and the last ops events, then the busiest books."""
        gw = self._gw
        m = self.readings()
        now = time.monotonic()
        latency = LatencyHistogram()
        for consumer in self._consumers:
            latency.merge(consumer.sub.stats.latency)
        lat = latency.summary_us()
        failed = m.total("tradegw_checksum_failed_total")
        header = Text.assemble(
            ("tradegw ", "bold"),
            f"{now - self._started:6.1f}s  ",
            (f"{sum(self._rates.values()):8.0f} msg/s  ", "cyan"),
            ("checksum ok ", ""),
            (f"{m.total('tradegw_checksum_ok_total'):.0f}", "green"),
            "  failed ",
            (f"{failed:.0f}", "red" if failed else "green"),
            f"  resyncs {m.total('tradegw_resyncs_total'):.0f}",
            f"  reconnects {m.total('tradegw_reconnects_total'):.0f}",
            f"  dlq {m.total('tradegw_dlq_entries_total'):.0f}",
            f"  latency p50 {lat['p50']:.0f}us p99 {lat['p99']:.0f}us",
        )
        statuses = {
            (venue, symbol): status
            for venue, p in gw.providers.items()
            for symbol, (status, _) in p.books().items()
        }
        lines: list[Text | Table] = [header]
        for venue in gw.providers:
            lines.append(self._venue_line(m, venue))
        for venue in gw.order_entry.venue_names():
            lines.append(self._orders_line(m, venue))
        lines.append(self._consumer_line(m))
        lines.append(self._ops_line(m))
        lines.append(self._book_table(statuses))
        return Group(*lines)

    def _venue_line(self, m: MetricReadings, venue: str) -> Text:
        """Synced/stale/resyncing books, msgs/s, checks, resyncs, reconnects and DLQ."""
        states = m.by_label("tradegw_book_state", "state", venue=venue)
        synced, stale, resyncing = (int(states.get(s, 0)) for s in ("synced", "stale", "resyncing"))
        books = synced + stale + resyncing
        ratio = m.value("tradegw_verification_success_ratio", venue=venue)
        failed = m.total("tradegw_checksum_failed_total", venue=venue)
        return Text.assemble(
            (f"  {venue:<9}", "bold"),
            (f"books {synced}/{books} synced", "green" if synced == books else "yellow"),
            (f", {stale} stale", "yellow" if stale else ""),
            (f", {resyncing} resyncing", "yellow" if resyncing else ""),
            f"  frames {m.total('tradegw_frames_total', venue=venue):.0f}",
            f"  {self._rates.get(venue, 0.0):.0f} msg/s",
            f"  checksum ok {m.total('tradegw_checksum_ok_total', venue=venue):.0f}",
            (f" failed {failed:.0f}", "red" if failed else ""),
            ("  verified -" if ratio is None else f"  verified {ratio * 100:.2f}%"),
            f"  gaps {m.total('tradegw_sequence_gaps_total', venue=venue):.0f}",
            f"  resyncs {m.total('tradegw_resyncs_total', venue=venue):.0f}",
            f"  reconnects {m.total('tradegw_reconnects_total', venue=venue):.0f}",
            f"  dlq {m.total('tradegw_dlq_entries_total', venue=venue):.0f}",
        )

    def _orders_line(self, m: MetricReadings, venue: str) -> Text:
        """A trading venue's orders: open now, placed, and how many ended filled,
        cancelled, rejected or expired; its fills and the last one."""
        states = m.by_label("tradegw_order_states_total", "state", venue=venue)
        rejected = states.get("REJECTED", 0.0)
        at = m.value("tradegw_order_last_fill_timestamp_seconds", venue=venue)
        last = self._gw.order_entry.stats.last_fill.get(venue)
        if at is None or last is None:
            shown = "-"
        else:
            age = max(0.0, time.time() - at)
            shown = f"{last.symbol} {last.side} {last.qty} @ {last.price}, {age:.1f}s ago"
        return Text.assemble(
            (f"  orders {venue:<9}", "bold"),
            f"open {m.total('tradegw_orders_open', venue=venue):.0f}",
            f"  placed {m.total('tradegw_orders_placed_total', venue=venue):.0f}",
            (f"  filled {states.get('FILLED', 0.0):.0f}", "green"),
            f"  cancelled {states.get('CANCELLED', 0.0):.0f}",
            (f"  rejected {rejected:.0f}", "red" if rejected else ""),
            f"  expired {states.get('EXPIRED', 0.0):.0f}",
            f"  fills {m.total('tradegw_order_fills_total', venue=venue):.0f}",
            f"  last fill {shown}",
        )

    def _consumer_line(self, m: MetricReadings) -> Text:
        """Each consumer's lag (events queued) and what it lost to coalescing and spills."""
        depth = m.by_label("tradegw_consumer_queue_depth", "consumer")
        coalesced = m.by_label("tradegw_consumer_coalesced_total", "consumer")
        spilled = m.by_label("tradegw_consumer_spilled_total", "consumer")
        parts: list[str | tuple[str, str]] = [("  consumers ", "bold")]
        for name in sorted(depth):
            lag = depth[name]
            parts.append(
                (
                    f" {name}: lag {lag:.0f}, coalesced {coalesced.get(name, 0):.0f},"
                    f" spilled {spilled.get(name, 0):.0f} ",
                    "yellow" if lag or spilled.get(name) else "",
                )
            )
        return Text.assemble(*parts)

    def _ops_line(self, m: MetricReadings) -> Text:
        """The metrics URL, the DLQ count and the last ops events."""
        ops = self._gw.telemetry.ops
        last = list(ops.recent)[-_OPS_SHOWN:]
        shown = "; ".join(
            " ".join(x for x in (e.name, e.venue, e.symbol, str(e.fields.get("reason") or "")) if x)
            for e in reversed(last)
        )
        url = getattr(self._gw, "metrics_url", "") or "(no ops server)"
        return Text.assemble(
            ("  metrics ", "bold"),
            url,
            f"  dlq {m.total('tradegw_dlq_entries_total'):.0f}",
            f"  ops events {m.total('tradegw_ops_events_total'):.0f}",
            f" (dropped {m.total('tradegw_ops_events_dropped_total'):.0f})",
            f"  last: {shown}" if shown else "",
        )

    def _book_table(self, statuses: dict[tuple[str, str], str]) -> Table:
        table = Table(expand=False, show_edge=False, pad_edge=False)
        columns = ("venue", "symbol", "book", "bid", "ask", "updates", "trades", "last", "ticker")
        for col in columns:
            table.add_column(col, justify="left" if col in ("venue", "symbol", "book") else "right")
        books = _handler(self._consumers, BookConsumer)
        tape = _handler(self._consumers, TapeConsumer)
        quotes = _handler(self._consumers, QuoteConsumer)

        def activity(key: tuple[str, str]) -> int:
            return (books.updates.get(key, 0) if books else 0) + (
                tape.trades.get(key, 0) if tape else 0
            )

        # Books that are not synced always show; the rest, busiest first, fill the table.
        keys = sorted(statuses, key=lambda k: (statuses[k] == "synced", -activity(k), k))
        shown = sorted(keys[: self._max_rows], key=lambda k: (statuses[k] == "synced", k))
        for key in shown:
            bid = ask = "-"
            updates = 0
            if books is not None and key in books.books:
                b = books.books[key]
                bb, ba = b.best_bid(), b.best_ask()
                bid = f"{bb[1]} @ {bb[0]}" if bb else "-"
                ask = f"{ba[1]} @ {ba[0]}" if ba else "-"
                updates = books.updates.get(key, 0)
            trades = tape.trades.get(key, 0) if tape else 0
            last = tape.last[key].price if tape and key in tape.last else "-"
            tick = quotes.tickers.get(key) if quotes else None
            status = statuses[key]
            table.add_row(
                key[0],
                key[1],
                Text(status, "green" if status == "synced" else "yellow"),
                bid,
                ask,
                str(updates),
                str(trades),
                last,
                f"{tick.bid} / {tick.ask}" if tick else "-",
            )
        if len(keys) > len(shown):
            table.caption = f"{len(keys) - len(shown)} quieter books not shown"
        return table


_H = TypeVar("_H", BookConsumer, TapeConsumer, QuoteConsumer)


def _handler(consumers: list[DemoConsumer], kind: type[_H]) -> _H | None:
    return next((c.handler for c in consumers if isinstance(c.handler, kind)), None)
