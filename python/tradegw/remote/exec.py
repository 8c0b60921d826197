"""ExecReports for a remote consumer: a durable JetStream consumer, acknowledged only once
handled, de-duplicated by the reports' stable ids across crashes and restarts.

Each report in the stream carries ``Nats-Msg-Id`` ``<ledger>.<venue>.<symbol>.<seq>``:
``seq`` counts 1, 2, 3, ... per (venue, symbol) in one order ledger, and the sink stores a
stream's reports in that order. So one number per (durable, ledger, venue, symbol), the
*high-water mark* of the reports handled, says which reports were handled: those at or
below it. It is kept in a SQLite file (``state_path``, ``synchronous=FULL``) and written
*before* the report is acknowledged to JetStream:

- a report at or below its mark is a redelivery of one handled already: acknowledged,
  never delivered (a crash between the write and the ack, or JetStream's own redelivery);
- one already held for the consumer (delivered to it, not yet handled) is not delivered
  again (JetStream redelivers a report not acknowledged within ``ack_wait``);
- a number more than one past the next expected waits for the missing ones: those a consumer
  that died had fetched come again after ``ack_wait`` (JetStream's redelivery), so a
  stream's reports reach the consumer in order; after ``ack_wait`` + 2 s without them it is
  a gap (reported: ``gaps``, ``on_gap``) and what waited is delivered.

*Handled* means: with ``async for``, the consumer asked for the next event; with
``batches()``, for the next batch; with a callback, the callback returned. A consumer that
crashes while handling a report gets it again after its restart (it was not handled); one
whose handling completed never gets it again: each report is handled exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tradegw.natsbus.bridge import cancel_all
from tradegw.natsbus.wire import HEADER_MSG_ID, ExecId, Subjects, parse_exec_msg_id
from tradegw.schema import ExecReport, from_json
from tradegw.state_db import open_state_db, transaction

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from tradegw.consumers.subscription import Subscription

log = logging.getLogger("tradegw.remote")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (
    durable TEXT NOT NULL,
    ledger TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (durable, ledger, venue, symbol)
);
"""
SCHEMA_VERSION: Final = 1
_FETCH = 64
_GAP_MARGIN_S = 2.0
"""How much longer than ``ack_wait`` a stream waits for a missing report before going on."""
_Stream = tuple[str, str, str]
_RETRY_S = (0.25, 5.0)
_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


class DedupStore:
    """The high-water marks of handled ExecReports, per (durable, ledger, venue, symbol).

    Raises:
        ConfigError: the file cannot be opened (names it).
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._db = open_state_db(
            self.path,
            what="remote ExecReport de-dup marks",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            synchronous="FULL",
        )
        self._marks: dict[tuple[str, str, str, str], int] = {
            (str(d), str(le), str(v), str(s)): int(q)
            for d, le, v, s, q in self._db.execute(
                "SELECT durable, ledger, venue, symbol, seq FROM handled"
            )
        }

    def mark(self, durable: str, rid: ExecId) -> int:
        """The high-water mark of ``rid``'s stream (0: none handled)."""
        return self._marks.get((durable, rid.ledger, rid.venue, rid.symbol), 0)

    def handled(self, durable: str, rid: ExecId) -> None:
        """Records ``rid`` as handled (on disk when this returns)."""
        key = (durable, rid.ledger, rid.venue, rid.symbol)
        if rid.seq <= self._marks.get(key, 0):
            return
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO handled (durable, ledger, venue, symbol, seq) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (durable, ledger, venue, symbol) DO UPDATE SET seq = excluded.seq",
                (*key, rid.seq),
            )
        self._marks[key] = rid.seq

    def close(self) -> None:
        """Closes the file."""
        self._db.close()


@dataclass
class ExecStats:
    """What one durable consumer has seen."""

    received: int = 0
    delivered: int = 0
    duplicates: int = 0
    """Redeliveries of reports handled (or held) already: acknowledged, not delivered."""
    gaps: int = 0
    """Reports whose number skipped past the next expected one (delivered all the same)."""
    malformed: int = 0
    """Messages in the stream that are not a report of ours (terminated, logged)."""
    acked: int = 0


@dataclass(frozen=True, slots=True)
class ExecGap:
    """A stream's ExecReport numbers skipped (``expected`` to ``got`` - 1 never came)."""

    durable: str
    venue: str
    symbol: str
    expected: int
    got: int


class ExecFeed:
    """One durable pull consumer feeding ExecReports to one subscription (``sub``)."""

    def __init__(
        self,
        js: JetStreamContext,
        subjects: Subjects,
        sub: Subscription,
        store: DedupStore,
        *,
        stream: str,
        durable: str,
        venues: frozenset[str] | None,
        symbols: frozenset[str] | None,
        deliver: Literal["new", "all"],
        ack_wait_s: float,
        max_ack_pending: int,
        on_gap: Callable[[ExecGap], None] | None = None,
    ) -> None:
        self._js = js
        self._subjects = subjects
        self._sub = sub
        self._store = store
        self.stream = stream
        self.durable = durable
        self._venues = venues
        self._symbols = symbols
        self._deliver_policy = deliver
        self._ack_wait_s = ack_wait_s
        self._max_pending = max_ack_pending
        self._on_gap = on_gap
        self.stats = ExecStats()
        # Delivered to the consumer, not yet handled: by the event object's id.
        self._held: dict[int, tuple[ExecReport, Msg, ExecId]] = {}
        self._held_ids: dict[tuple[str, str, str, int], int] = {}
        self._last: dict[_Stream, int] = {}
        self._waiting: dict[_Stream, dict[int, tuple[ExecReport, Msg, ExecId]]] = {}
        self._waiting_since: dict[_Stream, float] = {}
        self._gap_wait_s = ack_wait_s + _GAP_MARGIN_S
        self._acks: asyncio.Queue[Msg] = asyncio.Queue()
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: list[asyncio.Task[None]] = []

    def consumer_config(self) -> ConsumerConfig:
        """The durable consumer this feed reads."""
        filters = [
            self._subjects.exec_pattern(v, s)
            for v in (sorted(self._venues) if self._venues is not None else [None])
            for s in (sorted(self._symbols) if self._symbols is not None else [None])
        ]
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW
            if self._deliver_policy == "new"
            else DeliverPolicy.ALL,
            ack_wait=self._ack_wait_s,
            max_ack_pending=self._max_pending,
            filter_subjects=filters,
        )

    async def start(self) -> None:
        """Makes (or finds) the durable consumer and starts fetching.

        Raises:
            ValueError: the durable exists with settings this one cannot take.
        """
        try:
            await self._ensure_consumer()
        except (*_ERRORS, nats.js.errors.NotFoundError, nats.js.errors.ServiceUnavailableError):
            # No stream yet (no gateway has connected to this server yet), or JetStream
            # unavailable for now: the fetch loop makes the consumer once it can.
            log.info(
                "ExecReports of %s: stream %s not there yet; waiting", self.durable, self.stream
            )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._fetch_loop(), name=f"exec-{self.durable}"),
            loop.create_task(self._ack_loop(), name=f"exec-acks-{self.durable}"),
        ]

    async def _ensure_consumer(self) -> None:
        try:
            await self._js.add_consumer(self.stream, self.consumer_config())
        except nats.js.errors.BadRequestError as e:
            raise ValueError(
                f"durable consumer {self.durable!r} of stream {self.stream} exists with other "
                f"settings ({e.description}): use another name or delete it"
            ) from e

    async def _fetch_loop(self) -> None:
        delay = _RETRY_S[0]
        psub = None
        while True:
            try:
                if psub is None:
                    psub = await self._js.pull_subscribe_bind(self.durable, self.stream)
                room = self._max_pending - len(self._held)
                if room <= 0:
                    self._room.clear()
                    await self._room.wait()
                    continue
                msgs = await psub.fetch(min(_FETCH, room), timeout=1.0)
            except nats.errors.TimeoutError:
                self._expire()
                continue
            except (nats.js.errors.NotFoundError, nats.js.errors.ServiceUnavailableError):
                # No such consumer (the stream came after us, or the server lost its store):
                # make it (again).
                psub = None
                await asyncio.sleep(delay)
                with contextlib.suppress(*_ERRORS, nats.js.errors.APIError, ValueError):
                    await self._ensure_consumer()
                continue
            except (*_ERRORS, nats.js.errors.APIError) as e:
                log.debug("ExecReports of %s: fetch failed: %r", self.durable, e)
                await asyncio.sleep(delay)
                delay = min(_RETRY_S[1], delay * 2)
                continue
            delay = _RETRY_S[0]
            for msg in msgs:
                self._on_msg(msg)
            self._expire()

    def _on_msg(self, msg: Msg) -> None:
        self.stats.received += 1
        rid = parse_exec_msg_id((msg.headers or {}).get(HEADER_MSG_ID, ""))
        try:
            if rid is None:
                raise ValueError("no Nats-Msg-Id of an ExecReport")
            report = from_json(msg.data)
            if not isinstance(report, ExecReport):
                raise ValueError(f"a {report.event_type}, not an ExecReport")
        except ValueError as e:
            self.stats.malformed += 1
            log.error("ExecReports of %s: message %r refused: %s", self.durable, msg.subject, e)
            self._acks.put_nowait(msg)  # acknowledged: it can never be delivered
            return
        mark = self._store.mark(self.durable, rid)
        held_key = (rid.ledger, rid.venue, rid.symbol, rid.seq)
        if rid.seq <= mark or held_key in self._held_ids:
            self.stats.duplicates += 1
            if rid.seq <= mark:
                self._acks.put_nowait(msg)
            else:  # held: the newer delivery is the one to acknowledge
                key = self._held_ids[held_key]
                self._held[key] = (self._held[key][0], msg, rid)
            return
        stream = (rid.ledger, rid.venue, rid.symbol)
        waiting = self._waiting.get(stream)
        if waiting is not None and rid.seq in waiting:
            self.stats.duplicates += 1
            waiting[rid.seq] = (waiting[rid.seq][0], msg, rid)
            return
        if rid.seq > max(mark, self._last.get(stream, 0)) + 1:
            # An earlier one is missing: usually one a consumer that died had fetched, which
            # JetStream delivers again after ack_wait. Wait for it, so that order holds.
            if waiting is None:
                waiting = self._waiting[stream] = {}
                self._waiting_since[stream] = time.monotonic()
            waiting[rid.seq] = (report, msg, rid)
            return
        self._deliver(stream, report, msg, rid)
        self._release(stream)

    def _deliver(self, stream: _Stream, report: ExecReport, msg: Msg, rid: ExecId) -> None:
        expected = max(self._store.mark(self.durable, rid), self._last.get(stream, 0)) + 1
        if rid.seq > expected:
            self.stats.gaps += 1
            if self._on_gap is not None:
                self._on_gap(ExecGap(self.durable, rid.venue, rid.symbol, expected, rid.seq))
        self._last[stream] = max(rid.seq, self._last.get(stream, 0))
        self._held[id(report)] = (report, msg, rid)
        self._held_ids[(rid.ledger, rid.venue, rid.symbol, rid.seq)] = id(report)
        self.stats.delivered += 1
        self._sub.offer(report)

    def _release(self, stream: _Stream, *, give_up: bool = False) -> None:
        """Delivers what waited for the reports now delivered; with ``give_up``, past the
        missing ones (a gap, reported)."""
        waiting = self._waiting.get(stream)
        while waiting:
            nxt = self._last.get(stream, 0) + 1
            seq = nxt if nxt in waiting else (min(waiting) if give_up else None)
            if seq is None:
                break
            self._deliver(stream, *waiting.pop(seq))
        if not waiting:
            self._waiting.pop(stream, None)
            self._waiting_since.pop(stream, None)

    def _expire(self) -> None:
        """Gives up waiting for reports missing longer than ack_wait and a margin."""
        now = time.monotonic()
        for stream, since in list(self._waiting_since.items()):
            if now - since > self._gap_wait_s:
                self._release(stream, give_up=True)

    def handled(self, event: ExecReport) -> None:
        """The consumer has handled ``event``: record it, then acknowledge it."""
        entry = self._held.pop(id(event), None)
        if entry is None:
            return
        _, msg, rid = entry
        self._held_ids.pop((rid.ledger, rid.venue, rid.symbol, rid.seq), None)
        self._store.handled(self.durable, rid)
        self._acks.put_nowait(msg)
        self._room.set()

    async def _ack_loop(self) -> None:
        while True:
            msg = await self._acks.get()
            try:
                await msg.ack()
                self.stats.acked += 1
            except (*_ERRORS, nats.errors.MsgAlreadyAckdError) as e:
                # Recorded as handled already: a redelivery will be acknowledged then.
                log.debug("ExecReports of %s: ack not sent: %r", self.durable, e)
            finally:
                self._acks.task_done()

    async def stop(self) -> None:
        """Stops fetching and sends the acks of what was handled; what is held unhandled
        comes again (after ``ack_wait``, or to the next run)."""
        if self._tasks and not self._acks.empty():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._acks.join()
        await cancel_all(self._tasks)
        self._tasks.clear()
