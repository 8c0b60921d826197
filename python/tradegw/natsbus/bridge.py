"""The gateway's NATS bridge: one connection, the sink, the snapshot and control services.

Started by the gateway when ``sinks.nats.enabled`` is true (:attr:`Gateway.nats
<tradegw.gateway.Gateway.nats>`). The gateway never waits for NATS: the sink's subscription
exists from the start, the connection is made in the background and retried for ever, and
what arrives meanwhile is handled as while NATS is away (market data dropped and counted;
ExecReports wait in the order ledger's outbox, where they were kept when they were made). At
every (re)connection the JetStream stream is made or brought to the configured settings, and
the sink finds where JetStream is before it publishes ExecReports again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import nats
import nats.errors
import nats.js.errors
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from tradegw.dispatch.routing import RouteFilter
from tradegw.errors import one_line
from tradegw.natsbus.outbox import SINK_NAME, OutboxCursor
from tradegw.natsbus.services import ControlService, SnapshotService
from tradegw.natsbus.sink import PUBLISH_ERRORS, NatsSink
from tradegw.natsbus.stats import NatsStats, metric_families
from tradegw.natsbus.wire import Subjects, new_epoch
from tradegw.schema import EVENT_CLASSES

if TYPE_CHECKING:
    from nats.aio.client import Client
    from prometheus_client.metrics_core import Metric

    from tradegw.gateway import Gateway
    from tradegw.natsbus.config import NatsSinkConfig

log = logging.getLogger("tradegw.nats")

SINK_CONSUMER = "nats-sink"
"""The name of the sink's subscription (its queue in the consumer metrics)."""
_CONNECT_RETRY_S = (0.25, 5.0)
_STOP_GRACE_S = 2.0
"""How long a stopping gateway lets JetStream take what the outbox holds for it (the rest
waits in the ledger for the next run)."""
_CONFIRM_EVERY_S = 1.0
"""How often what JetStream acked is confirmed to the ledger (its retention needs it)."""
_MARKET_TYPES = tuple(t for t in EVENT_CLASSES if t != "ExecReport")


class NatsBridge:
    """See the module docstring. Construct it with the gateway, before anything can write
    to its order ledger: the sink registers there, so no report is deleted before JetStream
    has it."""

    def __init__(self, gw: Gateway, config: NatsSinkConfig) -> None:
        self.config = config
        self.subjects = Subjects(config.subject_prefix)
        self.epoch = new_epoch()
        """This run's ``Tradegw-Epoch``."""
        self.stats = NatsStats()
        if config.spool_path is not None or config.exec_memory_max is not None:
            log.warning(
                "NATS: sinks.nats.spool_path and exec_memory_max are no longer used (the order "
                "ledger keeps every ExecReport until JetStream has it); remove them"
            )
        if gw.order_ledger.path is None:
            log.warning(
                "NATS: the order ledger is in memory (orders.ledger_path not set): ExecReports "
                "JetStream has not stored when the gateway ends are lost with it"
            )
        exec_filter = RouteFilter.of(config.venues, config.symbols, config.types)
        self.outbox = OutboxCursor(
            gw.order_ledger,
            SINK_NAME,
            lambda venue, symbol: exec_filter.matches(venue, symbol, "ExecReport"),
        )
        """The sink's place in the order ledger's ExecReport outbox."""
        gw.order_ledger.on_report(self._on_report)
        self._gw = gw
        self.sink: NatsSink | None = None
        self.nc: Client | None = None
        self.snapshots = SnapshotService(gw, self.subjects, self.epoch, self.stats)
        self.control = ControlService(gw, self.subjects, self.stats)
        self._stream_check = asyncio.Event()
        self.ready = asyncio.Event()
        """Set while connected with the stream in place."""
        self._tasks: list[asyncio.Task[None]] = []
        self._sink_task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def connected(self) -> bool:
        """Whether the connection to NATS is up."""
        return self.nc is not None and self.nc.is_connected

    async def start(self) -> None:
        """Subscribes the sink to the dispatcher and starts connecting (without waiting)."""
        c = self.config
        sub = self._gw.dispatcher.subscribe(
            venues=c.venues,
            symbols=c.symbols,
            # ExecReports are read from the ledger's outbox, not taken from the dispatcher.
            types=[t for t in (_MARKET_TYPES if c.types is None else c.types) if t != "ExecReport"],
            name=SINK_CONSUMER,
            max_pending=c.max_pending,
        )
        self.sink = NatsSink(
            sub,
            self.subjects,
            epoch=self.epoch,
            ledger=self._gw.order_ledger.identity,
            stream=c.stream,
            ack_timeout_s=c.ack_timeout_s,
            outbox=self.outbox,
            stats=self.stats,
            ops=self._gw.telemetry.ops,
        )
        self.sink.on_stream_lost = self.stream_lost
        waiting = self.outbox.pending()
        if waiting:
            log.info(
                "NATS: %d ExecReport(s) in the order ledger after what JetStream last confirmed; "
                "published first once connected",
                waiting,
            )
        loop = asyncio.get_running_loop()
        self._sink_task = loop.create_task(self.sink.run(), name="nats-sink")
        self._tasks = [
            loop.create_task(self.sink.run_exec(), name="nats-exec"),
            loop.create_task(self._connect(), name="nats-connect"),
            loop.create_task(self._keep_stream(), name="nats-stream"),
            loop.create_task(self._confirm(), name="nats-confirm"),
        ]

    def _on_report(self) -> None:
        # The ledger kept a report (on the loop's thread, after its commit).
        if self.sink is not None:
            self.sink.drained.clear()
            self.sink.wake()

    async def _confirm(self) -> None:
        while True:
            await asyncio.sleep(_CONFIRM_EVERY_S)
            self.outbox.flush()

    async def wait_connected(self, within_s: float = 10.0) -> None:
        """Waits until connected with the stream in place (TimeoutError after
        ``within_s``)."""
        async with asyncio.timeout(within_s):
            await self.ready.wait()

    # ---- the connection ----

    async def _connect(self) -> None:
        c = self.config
        delay = _CONNECT_RETRY_S[0]
        while not self._stopping:
            try:
                nc = await nats.connect(
                    servers=c.servers,
                    name=c.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=c.reconnect_wait_s,
                    connect_timeout=c.connect_timeout_s,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                )
                break
            except (*PUBLISH_ERRORS, ValueError) as e:
                if delay == _CONNECT_RETRY_S[0]:
                    log.warning("NATS: cannot connect to %s (%s); retrying", c.servers, e)
                await asyncio.sleep(delay)
                delay = min(_CONNECT_RETRY_S[1], delay * 2)
        else:
            return
        if self._stopping:  # connected as the gateway stopped (a cancel nats.connect ate)
            with contextlib.suppress(*PUBLISH_ERRORS):
                await nc.close()
            return
        self.nc = nc
        assert self.sink is not None
        self.sink.nc = nc
        self.sink.js = nc.jetstream(timeout=c.ack_timeout_s)
        self.stats.connected = True
        self._gw.telemetry.ops.emit("nats.connected", server=_server(nc), reconnect=False)
        log.info("NATS: connected to %s", _server(nc))
        if c.snapshots:
            await self.snapshots.subscribe(nc)
        if c.control:
            await self.control.subscribe(nc)
        self._stream_check.set()

    async def _on_disconnected(self) -> None:
        if not self.stats.connected:
            return
        self.stats.connected = False
        self.stats.disconnects += 1
        self.ready.clear()
        self._gw.telemetry.ops.emit("nats.disconnected")
        log.warning(
            "NATS: disconnected; market data is dropped, ExecReports wait in the order ledger"
        )
        self.outbox.positioned = False

    async def _on_reconnected(self) -> None:
        self.stats.connected = True
        self.stats.reconnects += 1
        nc = self.nc
        server = _server(nc) if nc is not None else ""
        self._gw.telemetry.ops.emit("nats.connected", server=server, reconnect=True)
        log.info("NATS: reconnected to %s", server)
        # The server may have come back without its store: make sure the stream is there.
        if self.sink is not None:
            self.sink.stream_ready = False
        self.outbox.positioned = False  # JetStream may have more, or less, than we think
        self.ready.clear()
        self._stream_check.set()

    async def _on_error(self, e: Exception) -> None:
        log.debug("NATS: %r", e)

    # ---- the stream ----

    def stream_config(self) -> StreamConfig:
        """The JetStream stream of ExecReports as configured."""
        c = self.config
        return StreamConfig(
            name=c.stream,
            subjects=[self.subjects.exec_all],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=c.stream_max_age_s,
            duplicate_window=c.duplicate_window_s,
            num_replicas=c.stream_replicas,
        )

    async def _keep_stream(self) -> None:
        delay = _CONNECT_RETRY_S[0]
        while True:
            await self._stream_check.wait()
            self._stream_check.clear()
            sink = self.sink
            nc = self.nc
            if sink is None or nc is None or not nc.is_connected or sink.stream_ready:
                continue
            try:
                await self._ensure_stream(nc)
            except (*PUBLISH_ERRORS, nats.js.errors.APIError) as e:
                self._gw.telemetry.ops.emit("nats.stream_error", error=one_line(e))
                log.warning("NATS: stream %s not ready (%r); retrying", self.config.stream, e)
                await asyncio.sleep(delay)
                delay = min(_CONNECT_RETRY_S[1], delay * 2)
                self._stream_check.set()
                continue
            delay = _CONNECT_RETRY_S[0]
            sink.stream_ready = True
            self.ready.set()
            sink.wake()

    async def _ensure_stream(self, nc: Client) -> None:
        js = nc.jetstream(timeout=self.config.ack_timeout_s)
        want = self.stream_config()
        try:
            info = await js.stream_info(want.name or "")
        except nats.js.errors.NotFoundError:
            await js.add_stream(want)
            log.info("NATS: stream %s made for %s", want.name, want.subjects)
            return
        have = info.config
        if (
            have.subjects != want.subjects
            or have.max_age != want.max_age
            or have.duplicate_window != want.duplicate_window
            or have.num_replicas != want.num_replicas
        ):
            await js.update_stream(want)
            log.info("NATS: stream %s brought to the configured settings", want.name)

    def stream_lost(self) -> None:
        """The sink found no stream for a subject: make it again."""
        self.outbox.positioned = False
        self.ready.clear()
        self._stream_check.set()

    # ---- metrics and stop ----

    def metrics(self) -> Iterator[Metric]:
        """The ``tradegw_nats_*`` families."""
        return metric_families(self.stats, self.outbox)

    async def stop(self) -> None:
        """Lets the sink take what its queue holds, gives JetStream a moment to take the
        ExecReports the sink has not published (the rest wait in the ledger for the next
        run), confirms what JetStream acked to the ledger and closes the connection."""
        self._stopping = True
        sink = self.sink
        if sink is not None:
            sink.sub.close()
            if self._sink_task is not None:
                try:
                    async with asyncio.timeout(_STOP_GRACE_S):
                        await self._sink_task
                except TimeoutError:
                    self._sink_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._sink_task
            if self.connected and not sink.drained.is_set() and self.outbox.pending():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_STOP_GRACE_S):
                        await sink.drained.wait()
        await cancel_all(self._tasks)
        self._tasks.clear()
        await self.control.stop()
        self.stats.connected = False
        if self.nc is not None:
            with contextlib.suppress(*PUBLISH_ERRORS):
                await self.nc.close()
            self.nc = None
        self.stats.connected = False
        self.outbox.flush()


async def cancel_all(tasks: list[asyncio.Task[None]], within_s: float = 2.0) -> None:
    """Cancels ``tasks`` and waits for them, ``within_s`` at most: a task that swallows its
    cancellation (asyncio.wait_for in a library can) must not hold up a stop for ever."""
    for task in tasks:
        task.cancel()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=within_s)
        for task in pending:
            log.warning("NATS: task %s did not end when cancelled", task.get_name())


def _server(nc: Client) -> str:
    url = nc.connected_url
    return f"{url.hostname}:{url.port}" if url is not None else ""
