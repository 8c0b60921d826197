"""The remote consumer: a gateway's events over NATS, with the in-process API.

>>> async with tradegw.remote.connect("nats://10.0.0.5:4222") as gw:
...     async for ev in gw.subscribe(symbols=["BTC-USD"], types=["BookSnapshot", "BookUpdate"]):
...         ...

What arrives goes through checks of its own before it reaches a local dispatcher and the
same :class:`~tradegw.consumers.Subscription` queues an in-process consumer has (coalescing,
backlog snapshots, spill, time slices, budgets): books by :mod:`tradegw.remote.books` (a diff
is never applied to a book that cannot be proven), other market data by their wire numbers
(duplicates dropped, losses counted) and ``seq_provider`` (gaps reported: counted in
:attr:`RemoteGateway.stats` and passed to :attr:`RemoteGateway.on_gap`), ExecReports by
:mod:`tradegw.remote.exec` (a durable JetStream consumer, handled exactly once).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import nats
import nats.errors

from tradegw.config.models import DispatcherConfig
from tradegw.dispatch import Dispatcher
from tradegw.dispatch.routing import RouteFilter
from tradegw.natsbus.bridge import cancel_all
from tradegw.natsbus.wire import (
    BOOK_TYPES,
    HEADER_EPOCH,
    HEADER_ERROR,
    HEADER_SEQ,
    HEADER_UPDATE_SEQ,
    TYPE_TOKENS,
    Subjects,
    stream_key,
)
from tradegw.remote.books import RemoteBooks
from tradegw.remote.decode import decode_event
from tradegw.remote.exec import DedupStore, ExecFeed, ExecGap
from tradegw.remote.subscription import RemoteSubscription
from tradegw.schema import BookSnapshot, Event
from tradegw.telemetry import Telemetry

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription as NatsSubscription

    from tradegw.consumers.subscription import Subscription

log = logging.getLogger("tradegw.remote")

EventCallback = Callable[[Event], Awaitable[None] | None]
MAX_PATTERNS = 256
"""Subject patterns one client subscribes at most; past it symbols are widened to ``*``."""
_ASK_RETRY_S = (0.25, 5.0)
_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class StreamGap:
    """Numbers a stream skipped: ``seq_provider`` ``expected`` to ``got`` - 1 never reached
    this consumer (coalesced or spilled at the gateway, or lost on the way)."""

    venue: str
    symbol: str
    event_type: str
    expected: int
    got: int


@dataclass
class RemoteStats:
    """What the client received (books have theirs in ``books.stats``, ExecReports in each
    subscription's ``feed.stats``)."""

    received: int = 0
    malformed: int = 0
    """Messages that were not an event (counted, logged, dropped)."""
    duplicates: int = 0
    lost: int = 0
    """Market-data messages (not of books) that never arrived (``Tradegw-Seq`` skipped)."""
    gaps: Counter[str] = field(default_factory=Counter)
    """``seq_provider`` gaps by event type (not books): see :class:`StreamGap`."""
    restarts: int = 0
    snapshot_requests: Counter[str] = field(default_factory=Counter)
    """Snapshot request outcomes: ``ok``, ``not_synced``, ``unknown_symbol``, ``timeout``,
    ``no_responders``, ``error``."""


@dataclass
class _Stream:
    epoch: str
    n: int
    seq: int | None


class _LocalDispatcher(Dispatcher):
    """The local fan-out: events come in already checked and in order, so they go straight
    to the subscriptions; a slow local consumer's backlog snapshot is the local book."""

    def __init__(self, telemetry: Telemetry, books: RemoteBooks) -> None:
        super().__init__(DispatcherConfig(), telemetry)
        self._books = books

    def publish(self, event: Event) -> None:
        self.published += 1
        self._deliver(event)

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        return self._books.snapshot(provider, symbol)


class RemoteGateway:
    """A gateway reached over NATS (made by :func:`tradegw.remote.connect`)."""

    def __init__(
        self,
        nc: Client,
        *,
        prefix: str = "tradegw",
        stream: str = "TRADEGW_EXEC",
        state_path: str | Path | None = "tradegw-remote.sqlite",
        snapshot_timeout_s: float = 2.0,
        ack_wait_s: float = 30.0,
        max_ack_pending: int = 1_000,
    ) -> None:
        self.nc = nc
        self.subjects = Subjects(prefix)
        self.stream = stream
        self.state_path = state_path
        self.snapshot_timeout_s = snapshot_timeout_s
        self.ack_wait_s = ack_wait_s
        self.max_ack_pending = max_ack_pending
        self.telemetry = Telemetry()
        self.books = RemoteBooks(self._ask_snapshot)
        """The books as delivered, with the rule that proves them (:mod:`tradegw.remote.books`)."""
        self.dispatcher = _LocalDispatcher(self.telemetry, self.books)
        self.stats = RemoteStats()
        self.on_gap: Callable[[StreamGap | ExecGap], None] | None = None
        """Called with every gap of a trade, ticker, candle or merged stream and every
        ExecReport gap (books resync instead: see :attr:`books`)."""
        self._streams: dict[tuple[str, str, str], _Stream] = {}
        self._md: dict[str, NatsSubscription] = {}
        self._subs: list[RemoteSubscription] = []
        self._feeds: list[ExecFeed] = []
        self._dedup: DedupStore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._interest_lock = asyncio.Lock()
        self._closed = False

    # ---- subscribing ----

    def subscribe(
        self,
        *,
        venues: Collection[str] | None = None,
        symbols: Collection[str] | None = None,
        types: Collection[str] | None = None,
        name: str = "",
        max_pending: int = 10_000,
        budget: tuple[float, float] | None = None,
        callback: EventCallback | None = None,
        durable: str | None = None,
        deliver: Literal["new", "all"] = "new",
    ) -> RemoteSubscription:
        """Events of ``venues``, ``symbols`` and ``types`` (each None = any), as
        :meth:`Gateway.subscribe <tradegw.gateway.Gateway.subscribe>` gives them.

        ExecReports come from the durable JetStream consumer ``durable`` (made if new; a
        new one starts with the reports published from then on, or with every report the
        stream keeps if ``deliver="all"``); without ``durable`` a subscription gets market
        data only. A BookUpdate subscription also receives the book's BookSnapshots (a diff
        is meaningless without the snapshot it continues).

        The subscription is put in place at the NATS server in the background: iterating
        it (or ``await sub.ready()``) waits for that.

        Raises:
            ValueError: ``types`` names ExecReport without ``durable`` (at once), or
                ``durable`` exists with settings this subscription cannot take (when
                iterated, or from ``ready()``).
        """
        if self._closed:
            raise RuntimeError("this remote gateway is closed")
        wanted = set(types) if types is not None else None
        if wanted is not None and "ExecReport" in wanted and durable is None:
            raise ValueError("ExecReports come from a durable JetStream consumer: pass durable=")
        md_types: set[str] | None = None
        if wanted is not None:
            md_types = wanted - {"ExecReport"}
            if "BookUpdate" in md_types:
                md_types.add("BookSnapshot")
        sub = self.dispatcher.subscribe(
            venues=venues,
            symbols=symbols,
            types=md_types,
            name=name,
            max_pending=max_pending,
            budget=budget,
        )
        ready = asyncio.get_running_loop().create_future()
        rsub = RemoteSubscription(sub, ready)
        self._subs.append(rsub)
        exec_wanted = durable is not None and (wanted is None or "ExecReport" in wanted)

        async def set_up() -> None:
            try:
                if exec_wanted:
                    assert durable is not None
                    rsub.feed = await self._exec_feed(sub, durable, venues, symbols, deliver)
                await self._update_interest()
            except (ValueError, *_ERRORS) as e:
                ready.set_exception(e)
            else:
                ready.set_result(None)

        self._spawn(set_up(), f"remote-subscribe-{name}")
        if callback is not None:
            self._spawn(_drive(rsub, callback), f"remote-consumer-{name}")
        return rsub

    async def _exec_feed(
        self,
        sub: Subscription,
        durable: str,
        venues: Collection[str] | None,
        symbols: Collection[str] | None,
        deliver: Literal["new", "all"],
    ) -> ExecFeed:
        if self._dedup is None:
            self._dedup = DedupStore(self.state_path)
        feed = ExecFeed(
            self.nc.jetstream(timeout=self.snapshot_timeout_s),
            self.subjects,
            sub,
            self._dedup,
            stream=self.stream,
            durable=durable,
            venues=frozenset(venues) if venues is not None else None,
            symbols=frozenset(symbols) if symbols is not None else None,
            deliver=deliver,
            ack_wait_s=self.ack_wait_s,
            max_ack_pending=self.max_ack_pending,
            on_gap=self._gap,
        )
        await feed.start()
        self._feeds.append(feed)
        return feed

    def unsubscribe(self, sub: RemoteSubscription) -> None:
        """Ends ``sub`` (it finishes once drained)."""
        sub.close()
        self._spawn(self._update_interest(), "remote-interest")

    async def _update_interest(self) -> None:
        """Subscribes to what the live subscriptions want, as subject patterns that never
        overlap (a message arrives once, and a book's messages through one subscription,
        in order)."""
        async with self._interest_lock:
            live = [s for s in self._subs if not s.closed]
            filters = [f for s in live for f in s.subscription.filters.values()]
            want = _patterns(self.subjects, filters)
            for pattern in set(self._md) - want:
                with contextlib.suppress(*_ERRORS):
                    await self._md.pop(pattern).unsubscribe()
            for pattern in sorted(want - set(self._md)):
                self._md[pattern] = await self.nc.subscribe(pattern, cb=self._on_md)

    # ---- market data in ----

    async def _on_md(self, msg: Msg) -> None:
        self.stats.received += 1
        headers = msg.headers or {}
        try:
            epoch = headers[HEADER_EPOCH]
            n = int(headers[HEADER_SEQ])
            event = decode_event(msg.data)
        except (KeyError, ValueError) as e:
            self.stats.malformed += 1
            log.warning("remote: message on %s refused: %s", msg.subject, e)
            return
        route = self.dispatcher.routing.route
        if event.event_type in BOOK_TYPES:
            p, s = event.provider, event.symbol
            if not (route(p, s, "BookUpdate") or route(p, s, "BookSnapshot")) and not route(
                p, s, event.event_type
            ):
                return
            for ev in self.books.on_message(event, epoch, n):
                self.dispatcher.publish(ev)
            return
        if not route(event.provider, event.symbol, event.event_type):
            return
        if self._in_order(event, epoch, n):
            self.dispatcher.publish(event)

    def _in_order(self, event: Event, epoch: str, n: int) -> bool:
        key = stream_key(event.provider, event.symbol, event.event_type)
        seq = event.seq_provider
        st = self._streams.get(key)
        if st is None or st.epoch != epoch:
            if st is not None:
                self.stats.restarts += 1
            self._streams[key] = _Stream(epoch, n, seq)
            return True
        if n <= st.n:
            self.stats.duplicates += 1
            return False
        if n > st.n + 1:
            self.stats.lost += n - st.n - 1
        if seq is not None and st.seq is not None and seq > st.seq + 1:
            self.stats.gaps[event.event_type] += 1
            self._gap(StreamGap(event.provider, event.symbol, event.event_type, st.seq + 1, seq))
        st.n = n
        st.seq = seq if seq is not None else st.seq
        return True

    def _gap(self, gap: StreamGap | ExecGap) -> None:
        if self.on_gap is not None:
            try:
                self.on_gap(gap)
            except Exception:
                log.exception("remote: on_gap failed on %s", gap)

    # ---- snapshots ----

    def _ask_snapshot(self, venue: str, symbol: str, token: int) -> None:
        self._spawn(self._ask(venue, symbol, token), f"snapshot-{venue}-{symbol}")

    async def _ask(self, venue: str, symbol: str, token: int) -> None:
        delay = _ASK_RETRY_S[0]
        subject = self.subjects.snapshot(venue, symbol)
        while True:
            outcome = await self._ask_once(subject, venue, symbol, token)
            self.stats.snapshot_requests[outcome] += 1
            if outcome == "ok":
                return
            await asyncio.sleep(delay)
            delay = min(_ASK_RETRY_S[1], delay * 2)
            if not self.books.waiting(venue, symbol, token):
                return

    async def _ask_once(self, subject: str, venue: str, symbol: str, token: int) -> str:
        try:
            reply = await self.nc.request(subject, b"", timeout=self.snapshot_timeout_s)
        except nats.errors.NoRespondersError:
            return "no_responders"
        except _ERRORS:
            return "timeout"
        headers = reply.headers or {}
        if HEADER_ERROR in headers:
            return headers[HEADER_ERROR] or "error"
        try:
            snap = decode_event(reply.data)
            if not isinstance(snap, BookSnapshot):
                raise ValueError(f"a {snap.event_type}, not a BookSnapshot")
            update_seq = int(headers[HEADER_UPDATE_SEQ])
        except (KeyError, ValueError) as e:
            log.warning("remote: snapshot reply on %s refused: %s", subject, e)
            return "error"
        for ev in self.books.on_reply(
            venue, symbol, token, headers.get(HEADER_EPOCH), snap, update_seq
        ):
            self.dispatcher.publish(ev)
        return "ok"

    # ---- lifecycle ----

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Ends every subscription (their iterators finish once drained), stops the
        ExecReport feeds (acks of what was handled are sent first) and closes the
        connection."""
        if self._closed:
            return
        self._closed = True
        for feed in self._feeds:
            await feed.stop()
        await cancel_all(list(self._tasks))
        for sub in self._subs:
            sub.close()
        with contextlib.suppress(*_ERRORS):
            await self.nc.close()
        if self._dedup is not None:
            self._dedup.close()

    async def __aenter__(self) -> RemoteGateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _patterns(subjects: Subjects, filters: Sequence[RouteFilter]) -> set[str]:
    """Subject patterns covering ``filters`` that no message matches twice."""
    specs: set[tuple[str | None, str | None, str | None]] = set()
    for f in filters:
        types = f.types
        if types is not None:
            types = types - {"ExecReport"}
            if not types:
                continue
        tokens: list[str | None] = [None]  # a book's every type through one subscription
        if types is not None and not types & BOOK_TYPES:
            tokens = [*sorted({TYPE_TOKENS[t] for t in types})]
        venues: list[str | None] = [None] if f.venues is None else [*sorted(f.venues)]
        symbols: list[str | None] = [None] if f.symbols is None else [*sorted(f.symbols)]
        if len(venues) * len(symbols) * len(tokens) > MAX_PATTERNS:
            symbols = [None]
        specs.update(itertools.product(venues, symbols, tokens))
    if any(_overlap(a, b) for a, b in itertools.combinations(specs, 2)):
        return {f"{subjects.prefix}.md.>"}
    return {subjects.md_pattern(*spec) for spec in specs}


def _overlap(a: tuple[str | None, ...], b: tuple[str | None, ...]) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


async def _drive(sub: RemoteSubscription, callback: EventCallback) -> None:
    async for event in sub:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("remote consumer %r failed on %s", sub.name, event.event_type)


class _Connecting:
    """What :func:`connect` returns: await it, or use it in ``async with``."""

    def __init__(self, coro: Callable[[], Awaitable[RemoteGateway]]) -> None:
        self._coro = coro
        self._gw: RemoteGateway | None = None

    def __await__(self) -> Generator[Any, None, RemoteGateway]:
        return self._coro().__await__()

    async def __aenter__(self) -> RemoteGateway:
        self._gw = await self._coro()
        return self._gw

    async def __aexit__(self, *exc: object) -> None:
        if self._gw is not None:
            await self._gw.close()


def connect(
    servers: str | Sequence[str],
    *,
    prefix: str = "tradegw",
    stream: str = "TRADEGW_EXEC",
    state_path: str | Path | None = "tradegw-remote.sqlite",
    name: str = "tradegw-remote",
    snapshot_timeout_s: float = 2.0,
    ack_wait_s: float = 30.0,
    max_ack_pending: int = 1_000,
    reconnect_wait_s: float = 0.5,
) -> _Connecting:
    """Connects to the NATS server(s) a gateway publishes to; ``await`` it for a
    :class:`RemoteGateway`, or ``async with connect(...) as gw:``.

    ``state_path`` is the SQLite file of the ExecReport de-dup marks (what each durable
    consumer has handled; None: memory, forgotten at exit). ``ack_wait_s``: an ExecReport
    delivered and not handled within it is delivered by JetStream again (and recognised:
    never twice to the consumer); ``max_ack_pending``: reports held unhandled at most.
    The connection reconnects for ever.

    Raises:
        nats.errors.NoServersError: no server could be reached (from the await).
    """

    async def open_() -> RemoteGateway:
        nc = await nats.connect(
            servers=[servers] if isinstance(servers, str) else list(servers),
            name=name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=reconnect_wait_s,
        )
        return RemoteGateway(
            nc,
            prefix=prefix,
            stream=stream,
            state_path=state_path,
            snapshot_timeout_s=snapshot_timeout_s,
            ack_wait_s=ack_wait_s,
            max_ack_pending=max_ack_pending,
        )

    return _Connecting(open_)
