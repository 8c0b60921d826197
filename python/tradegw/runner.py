"""``tradegw run``: simulators (when the config says ``"sim"``), the gateway, the demo
consumers, the live console and the run summary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tradegw.config import GatewayConfig
from tradegw.console import LiveConsole
from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.schema import EVENT_TYPES
from tradegw.sim.process import SimulatorProcess
from tradegw.telemetry import LatencyHistogram
from tradegw.telemetry.redact import redact_strings, redact_url

log = logging.getLogger("tradegw.run")

MARKET_DATA_TYPES = tuple(t.__name__ for t in EVENT_TYPES if t.__name__ != "ExecReport")


@dataclass
class DemoConsumer:
    """A configured consumer: its subscription and the object that handles its events."""

    name: str
    kind: str
    sub: Subscription
    handler: BookConsumer | TapeConsumer | QuoteConsumer
    delay_s: float = 0.0
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def drive(self) -> None:
        """Feeds the subscription to the handler until it ends."""
        async for event in self.sub:
            self.handler.on_event(event)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)


def _make_consumers(gw: Gateway, config: GatewayConfig) -> list[DemoConsumer]:
    kinds: dict[str, Callable[[], BookConsumer | TapeConsumer | QuoteConsumer]] = {
        "book": BookConsumer,
        "tape": TapeConsumer,
        "ticker": QuoteConsumer,
    }
    out = []
    for c in config.consumers:
        sub = gw.subscribe(
            venues=c.venues,
            symbols=c.symbols,
            types=c.types,
            name=c.name,
            max_pending=c.max_pending,
        )
        out.append(DemoConsumer(c.name, c.kind, sub, kinds[c.kind](), c.delay_ms / 1000))
    return out


_VENUE_FIGURES = (
    "frames",
    "checksum_ok",
    "checksum_failed",
    "bbo_checked",
    "bbo_mismatches",
    "sequence_gaps",
    "resyncs",
    "reconnects",
    "provider_restarts",
    "connect_failures",
    "rest_failures",
    "protocol_errors",
    "stale_books",
    "dlq",
)
_DUPLICATES = ("duplicate_trades", "duplicate_frames")
"""What a venue sent twice and the adapter dropped (trades by id, Coinbase frames by number)."""


def _dlq_by_reason(gw: Gateway, venue: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in gw.telemetry.counters.series().items():
        if key[:2] == ("dlq", venue) and len(key) > 2:
            out[key[2]] = out.get(key[2], 0) + n
    return out


def summarize(gw: Gateway, consumers: list[DemoConsumer], elapsed_s: float) -> dict[str, Any]:
    """The run summary (also written by ``--summary-json``): totals, then ``venues`` with the
    same figures per venue."""
    counters = gw.telemetry.counters
    venues: dict[str, dict[str, Any]] = {}
    for venue in gw.providers:
        events = {t: counters.get("events", venue, t) for t in MARKET_DATA_TYPES}
        figures: dict[str, Any] = {"events": events, "events_total": sum(events.values())}
        figures.update({name: counters.total(name, venue) for name in _VENUE_FIGURES})
        figures["duplicates_dropped"] = sum(counters.total(n, venue) for n in _DUPLICATES)
        figures["dlq_by_reason"] = _dlq_by_reason(gw, venue)
        figures["msgs_per_s"] = round(figures["frames"] / elapsed_s, 1) if elapsed_s > 0 else 0.0
        figures["consumer_books_match"] = _books_match(gw, consumers, venue)
        venues[venue] = figures
    events = {t: sum(v["events"][t] for v in venues.values()) for t in MARKET_DATA_TYPES}
    latency = LatencyHistogram()
    out_of_order = 0
    per_consumer = {}
    for c in consumers:
        latency.merge(c.sub.stats.latency)
        out_of_order += c.sub.stats.out_of_order
        s = c.sub.stats
        per_consumer[c.name] = {
            "delivered": s.delivered,
            "coalesced": s.coalesced,
            "snapshots_for_backlog": s.snapshots_for_backlog,
            "spilled": s.spilled,
            "out_of_order": s.out_of_order,
            "by_type": dict(s.by_type),
            "latency_us": s.latency.summary_us(),
        }
    matches = [v["consumer_books_match"] for v in venues.values()]
    books_match = None if all(m is None for m in matches) else all(m is not False for m in matches)
    return {
        "duration_s": round(elapsed_s, 3),
        "events": events,
        "events_total": sum(events.values()),
        "msgs_per_s": round(counters.get("frames") / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "checksum_ok": counters.get("checksum_ok"),
        "checksum_failed": counters.get("checksum_failed"),
        "sequence_gaps": counters.get("sequence_gaps"),
        "resyncs": counters.get("resyncs"),
        "reconnects": counters.get("reconnects"),
        "provider_restarts": counters.get("provider_restarts"),
        "connect_failures": counters.get("connect_failures"),
        "rest_failures": counters.get("rest_failures"),
        "protocol_errors": counters.get("protocol_errors"),
        "duplicates_dropped": sum(counters.get(n) for n in _DUPLICATES),
        "dlq": gw.telemetry.dlq.count,
        "dlq_by_reason": dict(gw.telemetry.dlq.by_reason),
        "dlq_not_written": gw.telemetry.dlq.not_written,
        "out_of_order_delivered": out_of_order,
        "latency_us": latency.summary_us(),
        "consumer_books_match": books_match,
        "venues": venues,
        "consumers": per_consumer,
        "reorder": gw.dispatcher.reorder_stats(),
    }


def _books_match(gw: Gateway, consumers: list[DemoConsumer], venue: str) -> bool | None:
    """Whether each demo book consumer's books of ``venue`` equal the provider's synced
    books (None when there is nothing to compare)."""
    provider = gw.providers.get(venue)
    book_consumers = [c for c in consumers if isinstance(c.handler, BookConsumer)]
    if provider is None or not book_consumers:
        return None
    for symbol, (status, asm) in provider.books().items():
        if status != "synced":
            continue
        depth = provider.config.book_depth
        for c in book_consumers:
            if not c.sub.wants(venue, symbol, "BookSnapshot"):
                continue
            assert isinstance(c.handler, BookConsumer)
            mine = c.handler.books.get((venue, symbol))
            if mine is None or mine.top(depth) != asm.book.top(depth):
                return False
    return True


async def run(
    config: GatewayConfig,
    *,
    duration_s: float | None = None,
    summary_path: Path | None = None,
    live: bool = True,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Runs until ``duration_s`` passes or SIGINT/SIGTERM; returns the summary."""
    sims: list[SimulatorProcess] = []
    urls: dict[str, str] = {}
    rest_urls: dict[str, str] = {}
    for venue, section in config.venues.configured():
        if not section.enabled or section.ws_url != "sim":
            continue
        sim = SimulatorProcess(venue, config.simulators.get(venue))
        await sim.start()
        sims.append(sim)
        urls[venue] = sim.ws_url
        rest_urls[venue] = sim.rest_url
        shown = f"{redact_url(sim.ws_url)} (REST {redact_url(sim.rest_url)})"
        say(f"started the {venue} simulator in a child process: {shown}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    gw = Gateway(config, urls=urls, rest_urls=rest_urls)
    consumers: list[DemoConsumer] = []
    started = time.monotonic()
    console: LiveConsole | None = None
    try:
        await gw.start()
        consumers = _make_consumers(gw, config)
        for c in consumers:
            c.task = loop.create_task(c.drive(), name=f"consumer-{c.name}")
        console = LiveConsole(gw, consumers, started, enabled=live)
        console.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)
    finally:
        if console is not None:
            console.stop()
        await gw.stop()
        for c in consumers:
            if c.task is not None:
                c.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await c.task
        for sim in sims:
            await sim.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    summary = redact_strings(summarize(gw, consumers, time.monotonic() - started))
    if summary_path is not None:
        # A few hundred bytes once at exit: not worth a thread.
        summary_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")  # noqa: ASYNC240
    return summary
