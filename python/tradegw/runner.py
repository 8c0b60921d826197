"""``tradegw run``: simulators (when the config says ``"sim"``), the gateway, the demo
consumers, the live console and the run summary."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tradegw.config import GatewayConfig
from tradegw.console import LiveConsole
from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer
from tradegw.consumers.demo_strategy import TouchQuoter
from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.orders.sim_keys import prepare_sim_trading
from tradegw.schema import EVENT_TYPES, MERGED_EVENT_TYPES, ExecReport
from tradegw.sim.process import SimulatorProcess
from tradegw.stopping import StopRequest
from tradegw.telemetry import LatencyHistogram, Telemetry
from tradegw.telemetry.ops_events import log_ops_events
from tradegw.telemetry.redact import redact_strings, redact_url

log = logging.getLogger("tradegw.run")

MARKET_DATA_TYPES = tuple(
    t.__name__ for t in EVENT_TYPES if t is not ExecReport and t not in MERGED_EVENT_TYPES
)
"""The event types a venue's feed produces (its per-venue counts in the summary)."""


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
        on_event = self.handler.on_event
        if not self.delay_s:
            # Everything queued at each wake-up in one turn of this loop.
            async for batch in self.sub.batches():
                for event in batch:
                    on_event(event)
            return
        # A deliberately slow consumer takes one event at a time, so that what piles up
        # meanwhile stays in its queue, where it can still be coalesced.
        async for event in self.sub:
            on_event(event)
            await asyncio.sleep(self.delay_s)


def make_consumers(gw: Gateway, config: GatewayConfig) -> list[DemoConsumer]:
    """Subscribes the config's consumers (``consumers:``) to ``gw``, each with its demo
    handler; nothing is driven yet (run each one's :meth:`DemoConsumer.drive`)."""
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
            budget=c.budget.as_tuple() if c.budget is not None else None,
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


def _events_by_type(gw: Gateway, venue: str) -> dict[str, int]:
    """``venue``'s events by type (counted per symbol and type)."""
    out = dict.fromkeys(MARKET_DATA_TYPES, 0)
    for key, n in gw.telemetry.counters.series().items():
        if key[:2] == ("events", venue) and key[-1] in out:
            out[key[-1]] += n
    return out


def _dlq_by_reason(gw: Gateway, venue: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in gw.telemetry.counters.series().items():
        if key[:2] == ("dlq", venue) and len(key) > 2:
            out[key[2]] = out.get(key[2], 0) + n
    return out


def summarize(
    gw: Gateway,
    consumers: list[DemoConsumer],
    elapsed_s: float,
    strategy: TouchQuoter | None = None,
    open_orders: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The run summary (also written by ``--summary-json``): totals, then ``venues`` with the
    same figures per venue, ``orders`` per trading venue (``open_orders`` by venue as the
    ledger held them before it closed; None: read from it now) and, when it ran, what the
    demo strategy did and saw."""
    counters = gw.telemetry.counters
    venues: dict[str, dict[str, Any]] = {}
    for venue in gw.providers:
        events = _events_by_type(gw, venue)
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
        "merges": merge_figures(gw),
        "orders": _orders(gw, open_orders),
        "demo_strategy": _strategy(strategy),
    }


def _orders(gw: Gateway, open_orders: Mapping[str, int] | None) -> dict[str, dict[str, int]]:
    """Per venue with order entry: orders placed, how many ended filled, cancelled,
    rejected and expired, fills recorded, and orders still open (``open_orders``, or read
    from the ledger, which is then open: a gateway without order venues is never asked)."""
    venues = gw.order_entry.venue_names()
    if not venues:
        return {}
    stats = gw.order_entry.stats
    open_now = gw.order_entry.open_counts() if open_orders is None else open_orders
    out = {}
    for venue in venues:
        out[venue] = {
            "placed": stats.placed.get(venue, 0),
            "filled": stats.entered.get((venue, "FILLED"), 0),
            "cancelled": stats.entered.get((venue, "CANCELLED"), 0),
            "rejected": stats.entered.get((venue, "REJECTED"), 0),
            "expired": stats.entered.get((venue, "EXPIRED"), 0),
            "fills": stats.venue_fills.get(venue, 0),
            "open": open_now.get(venue, 0),
        }
    return out


def _strategy(strategy: TouchQuoter | None) -> dict[str, Any] | None:
    if strategy is None:
        return None
    s = strategy.stats
    return {
        "venues": strategy.venues,
        "submitted": s.submitted,
        "crossing": s.crossing,
        "cancels": s.cancels,
        "fills": s.fills,
        "rejected": s.rejected,
        "unaffordable": s.unaffordable,
        "exec_reports": s.reports,
        "exec_reports_out_of_order": s.out_of_order,
        "state_regressions": s.state_regressions,
        "by_venue": s.by_venue,
    }


def merge_figures(gw: Gateway) -> dict[str, dict[str, Any]]:
    """Each merge's windows: emitted, suppressed, closed by time (with the timers' lateness)
    and by count, the share closed on threshold (SC-009) and late fragments left out."""
    out = {}
    for spec in gw.conductor.merges():
        s = gw.conductor.merge_stats(spec.merge_id)
        out[spec.merge_id] = {
            "symbol": spec.symbol,
            "venues": sorted(spec.venues),
            "emitted": s.emitted,
            "suppressed_partial": s.suppressed,
            "late_dropped": s.late_dropped,
            "closed_by_time": s.closed_by_time,
            "closed_by_count": s.closed_by_count,
            "on_threshold": round(s.adherence(), 4),
            "close_lateness_us": s.close_lateness.summary_us(),
        }
    return out


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


SIM_GRACE_S = 0.5
"""How long a simulator has to exit on SIGTERM before it is killed. They exit in milliseconds;
the bound keeps the whole stop well within 2 s even when one does not."""

GATEWAY_STOP_S = 1.0
"""The most the gateway, consumers and console get to stop before the simulators are stopped
all the same."""

DEMO_STOP_S = 0.4
"""Of that, the most the demo strategy waits for the cancels of its open orders."""


class RunFailed(Exception):
    """The run ended on an unexpected exception, its ``__cause__``. Everything it started was
    stopped and :attr:`summary` built (and written, where asked) all the same."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("the run failed")
        self.summary = summary


async def start_simulators(
    config: GatewayConfig, sims: list[SimulatorProcess], say: Callable[[str], None]
) -> tuple[dict[str, str], dict[str, str]]:
    """Starts a simulator child process for each enabled venue whose ``ws_url`` is
    ``"sim"``, appending each to ``sims`` before it starts (so that a stop while it starts
    still reaches its child); returns the WebSocket and REST URLs by venue."""
    urls: dict[str, str] = {}
    rest_urls: dict[str, str] = {}
    for venue, section in config.venues.configured():
        if not section.enabled or section.ws_url != "sim":
            continue
        sim = SimulatorProcess(venue, config.simulators.get(venue))
        sims.append(sim)
        await sim.start()
        urls[venue] = sim.ws_url
        rest_urls[venue] = sim.rest_url
        shown = f"{redact_url(sim.ws_url)} (REST {redact_url(sim.rest_url)})"
        say(f"started the {venue} simulator in a child process: {shown}")
    return urls, rest_urls


def demo_venues(config: GatewayConfig) -> list[str]:
    """The venues the demo strategy trades: none while it is off, else those it names or
    every enabled venue on its simulator."""
    demo = config.demo_strategy
    if not demo.enabled:
        return []
    simulated = [v for v, s in config.venues.configured() if s.enabled and s.ws_url == "sim"]
    return [v for v in demo.venues or simulated if v in simulated]


class _Started:
    """What one run has started so far, so that every way out stops exactly that."""

    def __init__(self, config: GatewayConfig, say: Callable[[str], None]) -> None:
        # Order entry on where the demo strategy trades, keys for the simulators that trade.
        self.trading = prepare_sim_trading(config, trade_on=demo_venues(config))
        self.config = self.trading.config
        self.say = say
        self.sims: list[SimulatorProcess] = []
        self.gw: Gateway | None = None
        self.consumers: list[DemoConsumer] = []
        self.strategy: TouchQuoter | None = None
        self.open_orders: dict[str, int] = {}
        """Open orders by venue when the gateway stopped (its ledger is closed then)."""
        self.console: LiveConsole | None = None
        self.ops_log: asyncio.Task[None] | None = None
        self.started: float | None = None
        """When the gateway started (monotonic seconds); the run's figures count from here."""

    async def run(self, live: bool, duration_s: float | None) -> None:
        """Starts the simulators, the gateway, the consumers and the console, then waits
        ``duration_s`` (forever when None). Only ever ended by cancellation or an exception;
        every step until then awaits, so a cancel lands promptly at any point."""
        urls, rest_urls = await start_simulators(self.config, self.sims, self.say)
        loop = asyncio.get_running_loop()
        self.gw = Gateway(
            self.config, urls=urls, rest_urls=rest_urls, credentials=self.trading.credentials
        )
        self.started = time.monotonic()
        # The config's consumers exist before the control state is restored, so that what
        # `tradegw ctl` subscribed them to last time is theirs again.
        self.consumers = make_consumers(self.gw, self.config)
        venues = demo_venues(self.config)
        if venues:
            balances = {v: (b.named, b.otherwise) for v, b in self.trading.balances.items()}
            self.strategy = TouchQuoter(
                self.gw, self.config.demo_strategy, venues, balances=balances
            )
        await self.gw.start()
        server = self.gw.control_server
        if server is not None and server.address is not None:
            host, port = server.address
            self.say(f"control socket on {host}:{port} (tradegw ctl state)")
        if self.gw.metrics_url:
            health = self.gw.metrics_url.removesuffix("/metrics") + "/healthz"
            self.say(f"metrics on {self.gw.metrics_url} (health: {health})")
        self.ops_log = loop.create_task(log_ops_events(self.gw.telemetry.ops), name="ops-log")
        for c in self.consumers:
            c.task = loop.create_task(c.drive(), name=f"consumer-{c.name}")
        if self.strategy is not None:
            self.strategy.start()
            self.say(f"demo strategy trading on {', '.join(self.strategy.venues)}")
        self.console = LiveConsole(self.gw, self.consumers, self.started, enabled=live)
        self.console.start()
        if duration_s is None:
            await loop.create_future()
        else:
            await asyncio.sleep(duration_s)

    def kill_simulators(self) -> None:
        """SIGKILLs every simulator child now (they are reaped by :meth:`stop`)."""
        for sim in self.sims:
            sim.kill()

    async def stop(self) -> None:
        """Stops what started, newest first; the simulators whatever happened before."""
        try:
            async with asyncio.timeout(GATEWAY_STOP_S):
                await self._stop_gateway()
        except TimeoutError:
            log.warning("the gateway took over %.1f s to stop; stopping the rest", GATEWAY_STOP_S)
        finally:
            await asyncio.gather(*(sim.stop(SIM_GRACE_S) for sim in self.sims))

    async def _stop_gateway(self) -> None:
        if self.console is not None:
            self.console.stop()
        if self.ops_log is not None:
            self.ops_log.cancel()
        if self.strategy is not None:
            # While the gateway still runs: its open orders are cancelled at the venues.
            await self.strategy.stop(within_s=DEMO_STOP_S)
        if self.gw is not None:
            self.open_orders = self.gw.order_entry.open_counts()
            await self.gw.stop()
        for c in self.consumers:
            if c.task is not None:
                c.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await c.task


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Awaits ``work`` until it ends or ``stop`` is set, whichever comes first; a stop cancels
    it and waits for its cleanup. Re-raises its exception."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        task.cancel()
        await asyncio.wait({task})
    if not task.cancelled():
        task.result()


def _unstarted_gateway(started: _Started) -> Gateway:
    """A gateway that never starts, for the summary of a run stopped before its own existed:
    the same venues and keys, every figure zero. Its simulator venues get a URL that is never
    dialled, and its telemetry keeps no DLQ file."""
    config = started.config
    never_dialled = {
        venue: "ws://127.0.0.1:0"
        for venue, section in config.venues.configured()
        if section.enabled and section.ws_url == "sim"
    }
    return Gateway(
        config,
        urls=never_dialled,
        telemetry=Telemetry(),
        credentials=started.trading.credentials,
    )


async def run(
    config: GatewayConfig,
    *,
    duration_s: float | None = None,
    summary_path: Path | None = None,
    live: bool = True,
    say: Callable[[str], None] = print,
    stop_request: StopRequest | None = None,
) -> dict[str, Any]:
    """Runs until ``duration_s`` passes or SIGINT/SIGTERM arrives, at any moment of start-up
    included; returns the summary, written to ``summary_path`` too.

    Every way out stops whatever had started, the simulator children last (killed when they
    do not exit within :data:`SIM_GRACE_S`; at once on a second signal). ``stop_request`` is
    one the caller installed already (``tradegw.cli.main`` does so before its imports, and a
    signal it counted before this call stops the run before anything starts); without it the
    run installs its own for its duration.

    Raises:
        RunFailed: an unexpected exception ended the run (or its summary could not be
            built or written); the summary was written all the same where possible.
    """
    own_request = stop_request is None
    request = stop_request or StopRequest()
    if own_request:
        request.install()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    started = _Started(config, say)

    def on_signal(count: int) -> None:
        if not stop.is_set():
            log.info("stopping on %s", signal.Signals(request.signals[-1]).name)
        stop.set()
        if count > 1:
            # Asked twice: no more grace for the simulators.
            started.kill_simulators()

    def from_handler(count: int) -> None:
        # Inside the signal handler, between any two bytecodes: only hand over to the loop.
        loop.call_soon_threadsafe(on_signal, count)

    forget = request.listen(from_handler)
    if request.count:
        on_signal(request.count)  # signals from before this run listened
    failure: Exception | None = None
    try:
        try:
            if not stop.is_set():
                await _until_stopped(started.run(live, duration_s), stop)
        finally:
            await started.stop()
    except Exception as e:
        failure = e
    finally:
        forget()
        if own_request:
            request.restore()
    elapsed = time.monotonic() - started.started if started.started is not None else 0.0
    try:
        gw = started.gw or _unstarted_gateway(started)
        summary = redact_strings(
            summarize(gw, started.consumers, elapsed, started.strategy, started.open_orders)
        )
    except Exception as e:
        failure = failure or e
        summary = redact_strings({"duration_s": round(elapsed, 3), "error": f"no summary: {e!r}"})
    if summary_path is not None:
        try:
            # A few hundred bytes once at exit: not worth a thread.
            summary_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")  # noqa: ASYNC240
        except OSError as e:
            failure = failure or e
    if failure is not None:
        raise RunFailed(summary) from failure
    return summary
