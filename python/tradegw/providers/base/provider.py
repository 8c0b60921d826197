"""What every venue adapter shares: the supervised session loop, book health, the frame
catch-all and event numbering. A venue subclasses :class:`VenueProvider` and fills in its
wire format and sync rule (see the hooks at the end of the class).

The session loop connects with bounded waits, reconnects with exponential backoff and jitter,
and is supervised: an exception escaping a hook is logged with the venue, counted
(``provider_restarts``) and the feed starts over after a backoff, so one venue's bug never
ends its feed silently and never touches the others. A watchdog ticks four times a second:
it drops a connection that carried nothing for ``stale_after_s``, sends the venue's
keep-alive, asks again for snapshots that did not come within ``resync_timeout_s``, refreshes
each synced book every ``refresh_interval_s`` (serving the old book until the new snapshot
replaces it) and gives the venue a tick of its own.

Book health: every book is ``synced`` or ``resyncing`` with a reason, published as a
``BookStatus`` on every change; no ``BookUpdate`` of a book leaves while it is not synced,
and the first event after a resync is a ``BookSnapshot``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from picows import WSError, WSMsgType, WSTransport

from tradegw.errors import BookError, one_line
from tradegw.providers.base.books import SnapshotToken, TrackedBook
from tradegw.providers.base.config import VenueConfig
from tradegw.providers.base.decode import FrameError
from tradegw.providers.base.rest import RestError
from tradegw.providers.base.session import Backoff, connect
from tradegw.schema import (
    BookSnapshot,
    BookStatus,
    BookUpdate,
    Level,
    ResyncReason,
    new_trace_id,
)
from tradegw.telemetry.histogram import LatencyHistogram
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from tradegw._core import BookAssembler
    from tradegw.providers.base.sink import EventSink
    from tradegw.schema import Event
    from tradegw.telemetry import Telemetry

log = logging.getLogger("tradegw.providers")

_TICK_S = 0.25

MALFORMED = (FrameError, BookError, ValueError, TypeError, KeyError, ArithmeticError)
"""What decoding or applying a frame (or one item of it) raises when the input is not what
the venue's protocol says: every venue catches exactly this, around a frame or an item."""


class VenueProvider(ABC):
    """Connects, subscribes, assembles and publishes one venue; run it with :meth:`run`."""

    name: ClassVar[str]
    """The venue's registry name, also the ``provider`` of its events."""
    full_book_diffs: ClassVar[bool] = False
    """True when the venue's diffs cover the whole book (Binance, Coinbase): updates are then
    published as the change of the top ``book_depth`` levels, which is what a consumer
    holding that many levels can apply. Kraken's diffs already are depth-limited."""

    def __init__(
        self,
        config: VenueConfig,
        sink: EventSink,
        telemetry: Telemetry,
        *,
        ws_url: str | None = None,
        rest_url: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.ws_url = ws_url or config.ws_url
        rest = rest_url if rest_url is not None else config.rest_url
        self.rest_url = "" if rest == "sim" else rest
        """The REST base URL, or "" when the adapter runs without REST."""
        self._sink = sink
        self._telemetry = telemetry
        self._counters = telemetry.counters
        self._ops = telemetry.ops
        self._rng = rng or random.Random()
        self._backoff = Backoff(config.reconnect, self._rng)
        self._books: dict[str, TrackedBook] = {}
        self._by_canonical: dict[str, TrackedBook] = {}
        self._seq: dict[tuple[str, str], int] = {}
        self._transport: WSTransport | None = None
        self._last_rx = 0.0
        self._last_ping = 0.0
        self._stopping = False
        self._reference_loaded = False
        self.connected_at = 0.0
        """When the current connection came up (monotonic seconds)."""
        self.on_decoded: Callable[[dict[str, Any], str], None] | None = None
        """Optional hook called with every decoded frame and its trace_id (benches use it to
        read the simulator's send stamp); None on the hot path. A venue that decodes a frame
        natively without building its dict passes the fields benches read from it instead
        (Kraken's and Coinbase's market data: ``channel`` and ``sim_send_ns``, when
        present; Binance's: ``event``, the event's name, and ``sim_send_ns``)."""
        self.connected = asyncio.Event()
        sink.register_book_source(self.name, self.book_snapshot)

    # ---- lifecycle ----

    async def run(self) -> None:
        """Keeps the feed up until :meth:`stop` (or cancellation), restarting it after any
        exception a hook lets escape."""
        try:
            while not self._stopping:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self._counters.inc("provider_restarts", self.name)
                    self._ops.emit("feed.restarted", venue=self.name, error=one_line(e))
                    log.exception(
                        "%s: feed failed (%s); restarting",
                        *(self.name, one_line(e)),
                        extra={"venue": self.name},
                    )
                    self._drop_transport()
                    self._all_resyncing("reconnect")
                    if not self._stopping:
                        await asyncio.sleep(self._backoff.next_delay())
        finally:
            await self.close()

    async def _session(self) -> None:
        while not self._reference_loaded and not self._stopping:
            try:
                await self.load_reference_data()
                self._reference_loaded = True
            except (RestError, *MALFORMED) as e:
                # Reference data the venue failed to give, or gave in a shape we cannot use:
                # nothing to subscribe with yet. Said once per attempt, with why.
                self._counters.inc("rest_failures", self.name)
                delay = self._backoff.next_delay()
                log.error(
                    "%s: waiting for reference data: %s; retry in %.2fs",
                    *(self.name, one_line(e), delay),
                    extra={"venue": self.name},
                )
                await asyncio.sleep(delay)
        while not self._stopping:
            try:
                url = self.connect_url()
                transport = await connect(url, self._on_frame, self._on_alive)
            except (OSError, TimeoutError, WSError) as e:
                # Refused, unreachable, timed out or a failed handshake: all retried.
                self._counters.inc("connect_failures", self.name)
                delay = self._backoff.next_delay()
                log.warning(
                    "%s: connect to %s failed (%s); retry in %.2fs",
                    *(self.name, url, one_line(e), delay),
                    extra={"venue": self.name},
                )
                await asyncio.sleep(delay)
                continue
            self._backoff.reset()
            self._transport = transport
            self._last_rx = self._last_ping = self.connected_at = time.monotonic()
            watchdog = asyncio.get_running_loop().create_task(self._watchdog(transport))
            try:
                self.on_connected()
                self.connected.set()
                await transport.wait_disconnected()
            except WSError as e:
                # A frame over the size limit, a bogus length, a reserved opcode: picows has
                # already closed the connection. It costs a reconnect, never the feed; the
                # offending bytes are gone, so the DLQ keeps what picows said of them.
                self._counters.inc("protocol_errors", self.name)
                log.warning(
                    "%s: WebSocket protocol error (%s); reconnecting",
                    *(self.name, one_line(e)),
                    extra={"venue": self.name},
                )
                self.dead_letter(b"", new_trace_id(), "protocol_error", one_line(e))
            finally:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
                self._drop_transport()
            if self._stopping:
                break
            self._counters.inc("reconnects", self.name)
            self._all_resyncing("reconnect")
            delay = self._backoff.next_delay()
            self._ops.emit("feed.reconnect", venue=self.name, delay_s=round(delay, 3))
            log.warning(
                "%s: disconnected; reconnecting in %.2fs",
                *(self.name, delay),
                extra={"venue": self.name},
            )
            await asyncio.sleep(delay)

    def stop(self) -> None:
        """Closes the connection and ends :meth:`run`."""
        self._stopping = True
        self.disconnect()

    def _drop_transport(self) -> None:
        transport, self._transport = self._transport, None
        self.connected.clear()
        if transport is not None:
            transport.disconnect()
            self.on_disconnected()

    @property
    def is_connected(self) -> bool:
        """Whether a connection is up now."""
        return self._transport is not None

    def quiet_s(self, now: float | None = None) -> float:
        """Seconds since the connection last carried anything (monotonic ``now``)."""
        return (time.monotonic() if now is None else now) - self._last_rx

    def disconnect(self) -> None:
        """Drops the current connection; the session loop reconnects after a backoff."""
        if self._transport is not None:
            self._transport.disconnect()

    async def _watchdog(self, transport: WSTransport) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            try:
                if not self._tick(time.monotonic()):
                    transport.disconnect()
                    return
            except Exception:
                # The session loop sees the disconnect and starts over; the watchdog must
                # never die on its own and leave a feed without one.
                self._counters.inc("provider_restarts", self.name)
                self._ops.emit("feed.restarted", venue=self.name, error="watchdog failed")
                log.exception("%s: watchdog failed; reconnecting", self.name)
                transport.disconnect()
                return

    def _tick(self, now: float) -> bool:
        """One watchdog turn; False when the connection must be dropped."""
        cfg = self.config
        if now - self._last_rx > cfg.stale_after_s:
            self._counters.inc("stale", self.name)
            quiet = round(now - self._last_rx, 3)
            self._ops.emit("feed.stale", venue=self.name, scope="connection", quiet_s=quiet)
            log.warning(
                "%s: no data for %.1fs; reconnecting",
                *(self.name, quiet),
                extra={"venue": self.name},
            )
            self._all_resyncing("stale")
            return False
        if now - self._last_ping > cfg.ping_interval_s:
            self._last_ping = now
            self.send_ping()
        book_stale = cfg.book_stale_after_s
        for book in self._books.values():
            if book.status == "resyncing" and book.resync_deadline and now > book.resync_deadline:
                self._counters.inc("resync_retries", self.name, book.canonical)
                self._request_snapshot(book)
            elif (
                book.status == "synced"
                and book_stale is not None
                and now - max(book.last_update, book.synced_at) > book_stale
            ):
                # The connection is alive (heartbeats, other symbols) but this book is not.
                self._counters.inc("stale_books", self.name, book.canonical)
                trace_id = new_trace_id()
                self._ops.emit(
                    "feed.stale",
                    trace_id=trace_id,
                    venue=self.name,
                    symbol=book.canonical,
                    scope="book",
                    quiet_s=round(now - max(book.last_update, book.synced_at), 3),
                )
                self.resync(book, "stale", trace_id)
            elif book.status == "synced" and now - book.synced_at > cfg.refresh_interval_s:
                # Keeps serving the old book: the status stays synced until the fresh
                # snapshot replaces it, so consumers see no gap.
                self._counters.inc("refreshes", self.name, book.canonical)
                book.synced_at = now
                self._request_snapshot(book)
        return self.on_tick(now)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Releases what the venue holds besides the socket (REST sessions); idempotent."""

    # ---- outgoing ----

    def send_text(self, payload: bytes) -> bool:
        """Sends one text frame; False when there is no connection."""
        if self._transport is None:
            return False
        self._transport.send(WSMsgType.TEXT, payload)
        return True

    # ---- incoming ----

    def _on_alive(self) -> None:
        self._last_rx = time.monotonic()

    def _on_frame(self, payload: bytes, ingest_ts: int) -> None:
        self._last_rx = time.monotonic()
        self._counters.inc("frames", self.name)
        trace_id = new_trace_id()
        try:
            self.handle_frame(payload, ingest_ts, trace_id)
        except MALFORMED as e:
            self.dead_letter(payload, trace_id, "malformed", f"{type(e).__name__}: {e}")
        except Exception as e:
            # A frame the handlers did not expect must still never end the feed.
            log.exception(
                "%s: frame handler failed trace_id=%s",
                *(self.name, trace_id),
                extra={"venue": self.name, "trace_id": trace_id},
            )
            self.dead_letter(payload, trace_id, "handler_error", f"{type(e).__name__}: {e}")

    def each_item(
        self,
        items: Iterable[Any],
        handle: Callable[[Any], None],
        payload: bytes,
        trace_id: str,
        what: str,
    ) -> None:
        """Calls ``handle`` for each item of a multi-item frame: a malformed item is that
        item's loss (counted, in the DLQ with the frame), never its neighbours'."""
        for item in items:
            try:
                handle(item)
            except MALFORMED as e:
                self.item_lost(payload, trace_id, what, e)

    def item_lost(self, payload: bytes, trace_id: str, what: str, error: Exception) -> None:
        """One item of a multi-item frame cannot be used (``what``: ``"trade"``, ...): it is
        counted and the frame kept in the DLQ, saying which item and why."""
        self.dead_letter(payload, trace_id, "malformed", f"{what}: {type(error).__name__}: {error}")

    def dead_letter(self, payload: bytes, trace_id: str, reason: str, detail: str) -> None:
        """Counts a frame that cannot be used and keeps it in the DLQ with its trace id."""
        self._counters.inc("dlq", self.name, reason)
        self._telemetry.dlq.put(
            venue=self.name, reason=reason, raw=payload, trace_id=trace_id, detail=detail
        )

    # ---- events ----

    def next_seq(self, symbol: str, event_type: str) -> int:
        """The provider's sequence number of the next event of ``(symbol, event_type)``."""
        key = (symbol, event_type)
        seq = self._seq.get(key, 0) + 1
        self._seq[key] = seq
        return seq

    def event_fields(
        self,
        venue_symbol: str,
        canonical: str,
        event_type: str,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
        *,
        numbered: bool = True,
    ) -> dict[str, Any]:
        """The fields every event of this venue carries, with the next sequence number of
        its stream (none when not ``numbered``, for events outside the stream):
        ``Trade(**provider.event_fields(...), price=..., ...)``."""
        return {
            "provider": self.name,
            "symbol": canonical,
            "venue_symbol": venue_symbol,
            "seq_provider": self.next_seq(venue_symbol, event_type) if numbered else None,
            "exchange_ts": exchange_ts,
            "ingest_ts": ingest_ts,
            "trace_id": trace_id,
        }

    def publish(self, event: Event) -> None:
        """Counts ``event`` and hands it downstream (the conductor, then the dispatcher)."""
        self._counters.inc("events", self.name, event.symbol, event.event_type)
        self._sink.publish(event)

    # ---- books ----

    def add_book(self, symbol: str, canonical: str, asm: BookAssembler) -> TrackedBook:
        """Starts tracking the book of ``symbol`` (resyncing until its first snapshot)."""
        book = TrackedBook(symbol, canonical, asm)
        self._books[symbol] = book
        self._by_canonical[canonical] = book
        return book

    def book(self, symbol: str) -> TrackedBook | None:
        """The tracked book of a venue symbol, or None."""
        return self._books.get(symbol)

    def subscribed(self, symbol: Any, what: str) -> TrackedBook:
        """The tracked book of ``symbol`` from a frame; ``FrameError`` (so the DLQ) for a
        symbol this adapter did not subscribe to."""
        book = self._books.get(symbol) if isinstance(symbol, str) else None
        if book is None:
            raise FrameError(f"{what} for an unsubscribed symbol {symbol!r:.40}")
        return book

    def tracked_books(self) -> list[TrackedBook]:
        """Every tracked book, in the order they were added."""
        return list(self._books.values())

    def expect_snapshot(self, book: TrackedBook) -> None:
        """Notes that a snapshot of ``book`` was asked for: ask again if none comes in time."""
        book.resync_deadline = time.monotonic() + self.config.resync_timeout_s

    def _request_snapshot(self, book: TrackedBook) -> None:
        self.expect_snapshot(book)
        self.request_snapshot(book, book.token())

    def on_book_outcome(
        self,
        book: TrackedBook,
        outcome: str,
        *,
        snapshot: bool,
        bids: list[Level],
        asks: list[Level],
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
        raw: bytes = b"",
    ) -> None:
        """Turns the assembler's answer to one snapshot or update into events and health.
        ``raw`` is the frame, kept in the DLQ when it fails its checksum (venues with
        checksums pass it)."""
        if outcome == "applied":
            book.last_update = self._last_rx
            if checksum is not None:
                self._counters.inc("checksum_ok", self.name, book.canonical)
            else:
                # Proven by its sequence (Binance's U/u, Coinbase's sequence_num) instead.
                self._counters.inc("sequence_ok", self.name, book.canonical)
            if snapshot:
                self._on_synced(book, checksum, exchange_ts, ingest_ts, trace_id)
            elif book.status == "synced":
                self._publish_update(book, bids, asks, checksum, exchange_ts, ingest_ts, trace_id)
        elif outcome == "checksum_mismatch":
            self._counters.inc("checksum_failed", self.name, book.canonical)
            self._ops.emit(
                "book.checksum_mismatch",
                trace_id=trace_id,
                venue=self.name,
                symbol=book.canonical,
                checksum=checksum,
            )
            # The frame could not be used: what it said is lost with the book it broke.
            self.dead_letter(
                raw, trace_id, "checksum_mismatch", f"{book.symbol}: venue checksum {checksum}"
            )
            self.resync(book, "checksum", trace_id)
        elif outcome == "gap":
            self._counters.inc("sequence_gaps", self.name, book.canonical)
            self.resync(book, "gap", trace_id)
        elif outcome == "crossed":
            self.resync(book, "crossed", trace_id)
        elif outcome == "needs_snapshot":
            # Updates racing a resync that was already asked for.
            self._counters.inc("updates_while_resyncing", self.name, book.canonical)
        elif outcome == "stale":
            self._counters.inc("stale_book_messages", self.name, book.canonical)
        # "buffered": held by the assembler until its snapshot arrives.

    def on_book_error(self, book: TrackedBook, payload: bytes, trace_id: str, e: Exception) -> None:
        """A book message that could not be read or applied: it is lost to us, so the book
        can no longer be trusted and resyncs."""
        self.dead_letter(payload, trace_id, "malformed", f"{book.symbol}: {type(e).__name__}: {e}")
        self.resync(book, "gap", trace_id)

    def _publish_update(
        self,
        book: TrackedBook,
        bids: list[Level],
        asks: list[Level],
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
    ) -> None:
        if self.full_book_diffs:
            # What changed within the published depth since the last event of this book,
            # worked out natively against the view the consumers hold.
            bids, asks = book.asm.book.top_changes(self.config.book_depth)
            if not bids and not asks:
                return  # nothing changed within the published depth
        self.publish(
            BookUpdate(
                **self.event_fields(
                    book.symbol, book.canonical, "BookUpdate", exchange_ts, ingest_ts, trace_id
                ),
                bids=bids,
                asks=asks,
                checksum=checksum,
            )
        )

    def _on_synced(
        self,
        book: TrackedBook,
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
    ) -> None:
        was = book.status
        if was != "synced" and book.reason is not None and book.resyncing_since:
            # A resync, not the first sync: how long the book was out of service.
            key = (self.name, book.reason)
            hist = self._telemetry.resync_ns.get(key)
            if hist is None:
                hist = self._telemetry.resync_ns[key] = LatencyHistogram()
            hist.record(int((time.monotonic() - book.resyncing_since) * 1e9))
        book.status = "synced"
        book.reason = None
        book.resync_deadline = 0.0
        book.synced_at = time.monotonic()
        if was != "synced":
            self._publish_status(book, ingest_ts, trace_id)
        snap = self._snapshot_event(book, checksum, exchange_ts, ingest_ts, trace_id)
        if self.full_book_diffs:
            book.asm.book.mark_top(self.config.book_depth)
        self.publish(snap)

    def _snapshot_event(
        self,
        book: TrackedBook,
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
        seq: bool = True,
    ) -> BookSnapshot:
        ob = book.asm.book
        depth = self.config.book_depth
        bids, asks = ob.top(depth)
        return BookSnapshot(
            **self.event_fields(
                book.symbol,
                book.canonical,
                "BookSnapshot",
                exchange_ts,
                ingest_ts,
                trace_id,
                numbered=seq,
            ),
            bids=bids,
            asks=asks,
            depth=depth,
            checksum=checksum if checksum is not None else self.book_checksum(book),
            price_precision=ob.price_precision,
            qty_precision=ob.qty_precision,
        )

    def _publish_status(self, book: TrackedBook, ingest_ts: int, trace_id: str) -> None:
        self.publish(
            BookStatus(
                **self.event_fields(
                    book.symbol, book.canonical, "BookStatus", None, ingest_ts, trace_id
                ),
                state=book.status,  # type: ignore[arg-type]
                reason=book.reason,
            )
        )

    def mark_resyncing(
        self, book: TrackedBook, reason: ResyncReason, trace_id: str | None = None
    ) -> bool:
        """Marks ``book`` resyncing (a ``BookStatus`` goes out); False if it already was."""
        if book.status == "resyncing" and book.reason is not None:
            return False
        if book.status == "synced":
            book.resyncing_since = time.monotonic()
        book.status = "resyncing"
        book.reason = reason
        self._publish_status(book, time.time_ns(), trace_id or new_trace_id())
        return True

    def _all_resyncing(self, reason: ResyncReason) -> None:
        for book in self._books.values():
            self.mark_resyncing(book, reason)

    def resync(self, book: TrackedBook, reason: ResyncReason, trace_id: str) -> None:
        """Takes ``book`` out of service and asks the venue for a fresh snapshot."""
        if self.mark_resyncing(book, reason, trace_id):
            self._counters.inc("resyncs", self.name, book.canonical)
            self._counters.inc(f"resyncs_{reason}", self.name)
            decision_id = new_decision_id()
            self._ops.emit(
                "book.resync",
                trace_id=trace_id,
                decision_id=decision_id,
                venue=self.name,
                symbol=book.canonical,
                reason=reason,
            )
            log.info(
                "%s: resync %s (%s) trace_id=%s",
                *(self.name, book.symbol, reason, trace_id),
                extra={
                    "venue": self.name,
                    "symbol": book.canonical,
                    "trace_id": trace_id,
                    "decision_id": decision_id,
                },
            )
            self._request_snapshot(book)

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        """A fresh snapshot event of a synced book (for consumers that fell behind)."""
        book = self._by_canonical.get(symbol)
        if book is None or book.status != "synced":
            return None
        return self._snapshot_event(book, None, None, time.time_ns(), new_trace_id(), seq=False)

    def last_update_seq(self, symbol: str) -> int:
        """The ``seq_provider`` of the last BookUpdate published for canonical ``symbol`` (0
        before the first): a snapshot taken now (:meth:`book_snapshot`) includes it, and
        the next diff of that book is this + 1."""
        book = self._by_canonical.get(symbol)
        return 0 if book is None else self._seq.get((book.symbol, "BookUpdate"), 0)

    def books(self) -> dict[str, tuple[str, BookAssembler]]:
        """Each book's status and assembler, by canonical symbol (for operators and tests)."""
        return {b.canonical: (b.status, b.asm) for b in self._books.values()}

    # ---- what each venue fills in ----

    def connect_url(self) -> str:
        """The URL of the next connection (venues that name their streams in it override)."""
        return self.ws_url

    async def load_reference_data(self) -> None:  # noqa: B027 - optional hook
        """Runs once before the first connection (REST instruments, precisions)."""

    @abstractmethod
    def on_connected(self) -> None:
        """A new connection is up: send the venue's subscriptions."""

    def on_disconnected(self) -> None:  # noqa: B027 - optional hook
        """The connection is gone (per-connection state, e.g. sequence counters, resets)."""

    @abstractmethod
    def handle_frame(self, payload: bytes, ingest_ts: int, trace_id: str) -> None:
        """Decodes one frame and publishes its events. Raising a ``FrameError`` (or
        ``ValueError``, ``KeyError``, ...) sends the frame to the DLQ."""

    @abstractmethod
    def request_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        """Asks the venue for a fresh snapshot of ``book`` (resubscribe, or a REST fetch
        whose answer is applied only while ``book.is_current(token)``)."""

    def send_ping(self) -> None:  # noqa: B027 - optional hook
        """Sends the venue's application-level keep-alive, if it has one."""

    def on_tick(self, now: float) -> bool:
        """The venue's own watchdog duties; return False to drop the connection."""
        return True

    def book_checksum(self, book: TrackedBook) -> int | None:
        """The venue checksum of the current book for snapshot events (None: the venue has
        none)."""
        return None
