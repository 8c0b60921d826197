"""The NATS sink's place in the order ledger's ExecReport outbox.

The order ledger keeps every ExecReport it numbers, as the bytes to publish, in the same
transaction as the change it announces (:mod:`tradegw.orders.ledger`). So the sink holds no
report of its own, in memory or on disk: it reads the outbox from a position and publishes
what it reads. A crash of the gateway loses nothing the sink had not published yet — the
next run on the same ledger reads it again.

Where to start is what JetStream says, not what this process remembers: at every
(re)connection the sink asks JetStream for the last report of each stream kept in the
outbox (:meth:`OutboxCursor.position` takes the answers), and goes on from the first report
JetStream lacks, in the outbox's order — which is each stream's numbering — before anything
newer. What it publishes and JetStream acks is *confirmed* to the ledger under the sink's
name, at most once a second (:meth:`OutboxCursor.flush`): the ledger deletes no report a
registered sink has not confirmed. Reports of streams the sink does not publish (its
``venues``/``symbols``/``types`` filters) are confirmed as they are passed over.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tradegw.orders.ledger import OrderLedger, OutboxRow, Stream

SINK_NAME: Final = "nats"
"""The NATS sink's name in the ledger's register of sinks (``exec_sinks``)."""
_READ_AHEAD: Final = 256
"""Reports read from the ledger at a time."""


class OutboxCursor:
    """Reads ``ledger``'s ExecReport outbox for the sink ``sink`` (registered with the
    ledger here, so nothing it has not confirmed is deleted from now on). ``accepts(venue,
    symbol)`` says which streams the sink publishes."""

    def __init__(self, ledger: OrderLedger, sink: str, accepts: Callable[[str, str], bool]) -> None:
        self.ledger = ledger
        self.sink = sink
        self._accepts = accepts
        ledger.register_sink(sink)
        self._marks: dict[Stream, int] = ledger.sink_marks(sink)
        """What the ledger has as confirmed by this sink."""
        self._done: dict[Stream, int] = dict(self._marks)
        """Per stream, the number at and below which the sink has nothing to publish:
        JetStream has it (found at positioning, or acked since) or the sink passes it over."""
        self._pos = ledger.outbox_position(self._done)
        self._ahead: deque[OutboxRow] = deque()
        self._dirty = False
        self.positioned = False
        """Whether the cursor stands where JetStream's last answers put it (false until the
        first :meth:`position`, and again after anything that may have changed what JetStream
        has: a reconnection, a publish that failed)."""
        self.catchup = 0
        """Reports JetStream lacked when the cursor was positioned (a counter): reports a
        crash, an outage or a lost store kept from it, published again from the ledger."""

    def streams(self) -> dict[Stream, tuple[int, int]]:
        """The streams the sink publishes that have reports in the outbox: ``(first, last)``
        number kept."""
        return {s: r for s, r in self.ledger.outbox_streams().items() if self._accepts(*s)}

    def mark(self, stream: Stream) -> int:
        """The highest number of ``stream`` the ledger has as confirmed by this sink."""
        return self._marks.get(stream, 0)

    def position(self, stored: dict[Stream, int], kept: dict[Stream, tuple[int, int]]) -> int:
        """Stands the cursor just before the first report JetStream lacks: ``stored`` is the
        last number JetStream has of each stream, ``kept`` the ``(first, last)`` the outbox
        had of each (:meth:`streams`). Returns how many reports JetStream lacks."""
        self._done = {**self._marks, **stored}
        self._pos = self.ledger.outbox_position(self._done)
        self._ahead.clear()
        self._dirty = True  # what JetStream has is confirmed, a crashed run's last acks too
        self.positioned = True
        lacking = 0
        for stream, (first, last) in kept.items():
            lacking += max(0, last - max(stored.get(stream, 0), first - 1))
        self.catchup += lacking
        return lacking

    def head(self) -> OutboxRow | None:
        """The next report to publish, or None when there is none (yet)."""
        while True:
            if not self._ahead:
                self._ahead.extend(self.ledger.outbox_after(self._pos, _READ_AHEAD))
                if not self._ahead:
                    return None
            row = self._ahead[0]
            stream = (row.venue, row.symbol)
            if row.seq <= self._done.get(stream, 0):
                self._passed(row)  # JetStream has it already
            elif not self._accepts(*stream):
                self._done[stream] = row.seq  # not ours to publish: confirmed as passed over
                self._dirty = True
                self._passed(row)
            else:
                return row

    def acked(self, row: OutboxRow) -> None:
        """``row``, the head, is stored by JetStream."""
        self._done[(row.venue, row.symbol)] = row.seq
        self._dirty = True
        self._passed(row)

    def _passed(self, row: OutboxRow) -> None:
        if self._ahead and self._ahead[0] is row:
            self._ahead.popleft()
        self._pos = row.pos

    def pending(self) -> int:
        """Reports in the outbox after the cursor (waiting for JetStream, give or take those
        of other streams the sink passes over)."""
        return self.ledger.outbox_count(self._pos)

    def flush(self) -> None:
        """Confirms to the ledger what JetStream acked since the last flush (one short
        transaction; the ledger applies its retention in it)."""
        if not self._dirty:
            return
        raised = {s: q for s, q in self._done.items() if q > self._marks.get(s, 0)}
        self._dirty = False
        if raised:
            self.ledger.confirm(self.sink, raised)
            self._marks.update(raised)


__all__ = ["SINK_NAME", "OutboxCursor"]
