"""``tradegw run --role merge``: the windowed merge engine in a process of its own, fed from
NATS.

The process runs no venue. Its merges (``merges:`` in its config, or ``MergedSubscribe`` sent
to it) read each venue's book as a remote consumer does (:mod:`tradegw.remote`: a diff is
applied only to a book proven by the wire's numbers, a snapshot is asked for on any gap),
and its :class:`~tradegw.conductor.MergeEngine` is the in-process one, with the same rules:
a window opens on a book fragment (``BookSnapshot`` or ``BookUpdate``) of one of the merge's
venues, closes ``window_s`` later or on its ``max_events``-th fragment, and is emitted only
if every venue sent a fragment in it and has a synced book at the close — a venue's book is
synced here when its remote copy is proven and the venue's last ``BookStatus`` said
``synced``. A fragment stamped (``ingest_ts``, the shard's clock) at or before the merge's
last close (this process's clock: keep the hosts' clocks in step, NTP) is left out and
counted (``merge.late_dropped``). The merged events are published on
``<prefix>.md.merged.<symbol>.book`` and ``.bbo`` by the NATS sink, numbered as any stream.

The process is a shard too (``shard.name``, default ``merge``): it claims
``merged.<symbol>`` for each merge, answers control messages on
``<prefix>.control.<name>`` and takes its part of those sent to every shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats.errors
import orjson

from tradegw.conductor.spec import MergeSpec, new_merge_id
from tradegw.config import GatewayConfig, VenuesConfig
from tradegw.gateway import Gateway
from tradegw.natsbus.config import ShardConfig, SinksConfig
from tradegw.providers.registry import venue_names
from tradegw.schema import MERGED_PROVIDER, BookSnapshot, BookStatus
from tradegw.stopping import StopRequest
from tradegw.telemetry.ops_events import log_ops_events
from tradegw.telemetry.redact import redact_strings

if TYPE_CHECKING:
    from tradegw.remote import RemoteGateway, RemoteSubscription

log = logging.getLogger("tradegw.merge")

DEFAULT_NAME = "merge"
"""The shard name of a merge-role process whose config has no ``shard`` section."""
BOOK_TYPES = ("BookSnapshot", "BookUpdate", "BookStatus")
_CONNECT_RETRY_S = (0.25, 5.0)
_FEED_QUEUE = 100_000
"""The feed's local queue per merge: fragments are counted as they come, so it holds little
unless this process falls far behind (then its book diffs coalesce, as anywhere)."""


def merge_role_config(config: GatewayConfig) -> GatewayConfig:
    """``config`` (read with ``role="merge"``) as the merge process runs it: no venue, no
    config merges (added once the process runs), the sink publishing merged events only
    (never the books it reads), and a shard named ``merge`` by default."""
    sink = config.sinks.nats.model_copy(update={"venues": [MERGED_PROVIDER], "snapshots": False})
    return config.model_copy(
        update={
            "venues": VenuesConfig(),
            "merges": [],
            "sinks": SinksConfig(nats=sink),
            "shard": config.shard or ShardConfig(name=DEFAULT_NAME),
            # No venue trades here: no order ledger file (and no lock on one).
            "orders": config.orders.model_copy(update={"ledger_path": None}),
        }
    )


class MergeGateway(Gateway):
    """A :class:`~tradegw.gateway.Gateway` whose merges read the venues' books from NATS
    (see the module docstring). ``config`` is read with ``role="merge"``."""

    def __init__(self, config: GatewayConfig) -> None:
        super().__init__(merge_role_config(config))
        self.role_config = config
        assert self.shard is not None  # merge_role_config gave it a shard section
        self.shard.role = "merge"
        self.feed: RemoteGateway | None = None
        """The connection the books come through (None until connected)."""
        self._status: dict[tuple[str, str], str] = {}
        self._feeds: dict[str, RemoteSubscription] = {}
        self._feed_tasks: dict[str, asyncio.Task[None]] = {}
        self._connecting: asyncio.Task[None] | None = None
        self._fed = asyncio.Event()
        for venue in venue_names():
            self.dispatcher.register_book_source(venue, self._book)
        for m in config.merges:
            self.merge(
                m.symbol,
                m.venues,
                window_s=m.window_s,
                max_events=m.max_events,
                depth=m.depth,
                merge_id=m.merge_id,
            )

    # ---- merges ----

    def merge(
        self,
        symbol: str,
        venues: Collection[str],
        *,
        window_s: float = 10.0,
        max_events: int = 1000,
        depth: int = 10,
        merge_id: str | None = None,
    ) -> str:
        """Starts a merge of ``venues``' books of ``symbol``, read from NATS (no venue runs
        here); returns its id. Raises ``ValueError`` for a bad field or an id in use."""
        if isinstance(venues, str):
            raise ValueError(f"venues must be a collection of venue names, got {venues!r:.80}")
        spec = MergeSpec(
            merge_id=new_merge_id(symbol) if merge_id is None else merge_id,
            symbol=symbol,
            venues=frozenset(venues),
            window_s=window_s,
            max_events=max_events,
            depth=depth,
        )
        self.conductor.merge(spec)
        if self.feed is not None:
            self._follow(self.feed, spec)
        return spec.merge_id

    def unmerge(self, merge_id: str) -> None:
        """Stops a merge and its feed. Raises ``KeyError`` for an unknown id."""
        self.conductor.unmerge(merge_id)
        sub = self._feeds.pop(merge_id, None)
        if sub is not None and self.feed is not None:
            self.feed.unsubscribe(sub)
        task = self._feed_tasks.pop(merge_id, None)
        if task is not None:
            task.cancel()

    def venue_symbols(self) -> dict[str, frozenset[str] | None]:
        """Each venue's canonical symbols that some live shard publishes (None while none
        lists the venue), and the merged symbols."""
        out: dict[str, frozenset[str] | None] = {}
        registry = self.shard.registry if self.shard is not None else {}
        for venue in venue_names():
            symbols: set[str] = set()
            for info in registry.values():
                streams = info.get("streams")
                if isinstance(streams, dict):
                    symbols.update(str(s) for s in streams.get(venue, ()))
            # None while no live shard lists the venue: the control bus then says "not
            # loaded yet, try again" (a shard writes its symbols' names once its venue has
            # loaded them, and this process reads them within a second).
            out[venue] = frozenset(symbols) if symbols else None
        out[MERGED_PROVIDER] = frozenset(spec.symbol for spec in self.conductor.merges())
        return out

    # ---- the feed ----

    def _book(self, venue: str, symbol: str) -> BookSnapshot | None:
        """A venue's book for a close: its proven remote copy, unless the venue's last
        BookStatus said it is not synced."""
        if self.feed is None or self._status.get((venue, symbol), "synced") != "synced":
            return None
        return self.feed.books.snapshot(venue, symbol)

    def _follow(self, feed: RemoteGateway, spec: MergeSpec) -> None:
        sub = feed.subscribe(
            venues=spec.venues,
            symbols=[spec.symbol],
            types=BOOK_TYPES,
            name=f"merge-{spec.merge_id}",
            max_pending=_FEED_QUEUE,
        )
        self._feeds[spec.merge_id] = sub
        self._feed_tasks[spec.merge_id] = asyncio.get_running_loop().create_task(
            self._observe(spec.merge_id, sub), name=f"merge-feed-{spec.merge_id}"
        )

    async def _observe(self, merge_id: str, sub: RemoteSubscription) -> None:
        engine = self.conductor.engine
        async for batch in sub.batches():
            for event in batch:
                if isinstance(event, BookStatus):
                    self._status[event.provider, event.symbol] = event.state
                    continue
                merges = engine.watched.get(event.symbol, ())
                mine = [m for m in merges if m.spec.merge_id == merge_id]
                if mine:
                    engine.observe(event, mine)

    async def _connect(self) -> None:
        from tradegw.remote import connect

        c = self.config.sinks.nats
        delay = _CONNECT_RETRY_S[0]
        while True:
            try:
                feed = await connect(
                    c.servers,
                    prefix=c.subject_prefix,
                    state_path=None,
                    name=f"{c.name}-merge-feed",
                    reconnect_wait_s=c.reconnect_wait_s,
                )
                break
            except (nats.errors.Error, OSError, TimeoutError) as e:
                if delay == _CONNECT_RETRY_S[0]:
                    log.warning("merge role: cannot reach NATS at %s (%s); retrying", c.servers, e)
                await asyncio.sleep(delay)
                delay = min(_CONNECT_RETRY_S[1], delay * 2)
        self.feed = feed
        self._fed.set()
        log.info("merge role: reading books from %s", c.servers)
        for spec in self.conductor.merges():
            self._follow(feed, spec)

    async def start(self) -> None:
        """Starts the gateway side (sink, control, claims) and connects the feed in the
        background (the process never waits for NATS)."""
        await super().start()
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect(), name="merge-feed-connect"
        )

    async def wait_feeding(self, within_s: float = 10.0) -> None:
        """Waits until the feed is connected and its subscriptions are in place."""
        async with asyncio.timeout(within_s):
            await self._fed.wait()
            for sub in list(self._feeds.values()):
                await sub.ready()

    async def stop(self) -> None:
        """Stops the feed, then the gateway side (open windows are discarded)."""
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        for task in self._feed_tasks.values():
            task.cancel()
        await asyncio.gather(*self._feed_tasks.values(), return_exceptions=True)
        self._feed_tasks.clear()
        if self.feed is not None:
            await self.feed.close()
        await super().stop()

    def feed_figures(self) -> dict[str, Any]:
        """What the feed has seen: books synced, snapshot requests, lost and duplicate
        messages, restarts of the shards it reads."""
        if self.feed is None:
            return {"connected": False}
        books = self.feed.books.stats
        return {
            "connected": True,
            "books_synced": len(self.feed.books.synced()),
            "snapshot_requests": dict(self.feed.stats.snapshot_requests),
            "book_messages_lost": books.lost,
            "book_duplicates": books.duplicates,
            "book_gaps": books.gaps,
            "shard_restarts": books.restarts,
            "malformed": self.feed.stats.malformed,
        }


# ---- the run ----


def summarize(gw: MergeGateway, elapsed_s: float) -> dict[str, Any]:
    """The merge role's run summary: each merge's windows, the feed, what went to NATS."""
    from tradegw.runner import merge_figures  # the run's own module: loaded when it runs

    bridge = gw.nats
    return {
        "role": "merge",
        "shard": gw.shard.name if gw.shard is not None else None,
        "duration_s": round(elapsed_s, 3),
        "merges": merge_figures(gw),
        "feed": gw.feed_figures(),
        "published": dict(bridge.stats.published) if bridge is not None else {},
    }


def summary_text(s: dict[str, Any]) -> str:
    """The summary for people: one line per merge."""
    lines = [f"tradegw merge role ({s['shard']}): {s['duration_s']}s, feed {s['feed']}"]
    for merge_id, m in s["merges"].items():
        lines.append(
            f"  {merge_id} {m['symbol']} over {'+'.join(m['venues'])}: emitted {m['emitted']},"
            f" suppressed {m['suppressed_partial']}, late dropped {m['late_dropped']},"
            f" closed by time {m['closed_by_time']} / count {m['closed_by_count']}"
        )
    return "\n".join(lines)


async def run_merge(
    config: GatewayConfig,
    *,
    duration_s: float | None = None,
    summary_path: Path | None = None,
    say: Callable[[str], None] = print,
    stop_request: StopRequest | None = None,
) -> dict[str, Any]:
    """Runs the merge role until ``duration_s`` passes or SIGINT/SIGTERM; returns the
    summary, written to ``summary_path`` too."""
    request = stop_request or StopRequest()
    if stop_request is None:
        request.install()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(count: int) -> None:
        if not stop.is_set():
            log.info("stopping on %s", signal.Signals(request.signals[-1]).name)
        stop.set()

    def from_handler(count: int) -> None:
        # Inside the signal handler, between any two bytecodes: only hand over to the loop.
        loop.call_soon_threadsafe(on_signal, count)

    forget = request.listen(from_handler)
    if request.count:
        on_signal(request.count)
    gw = MergeGateway(config)
    started = time.monotonic()
    ops_log = loop.create_task(log_ops_events(gw.telemetry.ops), name="ops-log")
    try:
        if not stop.is_set():
            await gw.start()
            shard = gw.shard.name if gw.shard is not None else DEFAULT_NAME
            say(
                f"merge role {shard}: {len(gw.conductor.merges())} merges, reading books and "
                f"publishing merged events over NATS at {', '.join(config.sinks.nats.servers)}"
            )
            if gw.metrics_url:
                say(f"metrics on {gw.metrics_url}")
            waiting: list[asyncio.Task[Any]] = [loop.create_task(stop.wait())]
            if duration_s is not None:
                waiting.append(loop.create_task(asyncio.sleep(duration_s)))
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waiting:
                    task.cancel()
    finally:
        ops_log.cancel()
        await gw.stop()
        forget()
        if stop_request is None:
            request.restore()
    summary = redact_strings(summarize(gw, time.monotonic() - started))
    if summary_path is not None:
        summary_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")  # noqa: ASYNC240
    return summary
