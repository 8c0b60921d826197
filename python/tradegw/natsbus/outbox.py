"""ExecReports on their way to JetStream: held in bounded memory, then spooled to disk, never
dropped, handed back in the order they came.

The outbox is one FIFO in two parts: an older part on disk (a SQLite file, WAL,
``synchronous=FULL``: a spooled report is on disk when :meth:`ExecOutbox.spill` returns) and a
newer part in memory. A report is put in memory; the memory part moves to disk, whole, when it
is full, when NATS goes away or a publish fails (:meth:`ExecOutbox.spill`), and when the
gateway stops — so a report that has waited for an ack is on disk, and one the process
still holds at a clean stop is republished by the next run. The publisher always takes the
head (the oldest), so reports leave in the order they came, and acks arrive in that order.

What a crash can lose: reports still in memory that were never spooled — those that arrived
while NATS was up and acking, within the few milliseconds of their own publish. The order
ledger has every order and fill regardless (``OrderStatus``, ``ListOrders``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tradegw.state_db import open_state_db, transaction

SCHEMA_VERSION: Final = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    pos INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""
_READ_AHEAD = 256
"""Spooled reports read from disk at a time."""
_DELETE_EVERY = 64
"""Acked spooled rows deleted in one transaction (a crash before it republishes at most
this many, which JetStream and the remote consumers de-duplicate by id)."""


@dataclass(slots=True)
class OutboxItem:
    """One ExecReport to publish: its place in the outbox, id, subject and JSON."""

    pos: int
    msg_id: str
    subject: str
    payload: bytes


class ExecOutbox:
    """The FIFO of ExecReports not yet stored by JetStream (see the module docstring).

    ``path`` None keeps the "disk" part in an in-memory SQLite database: nothing survives
    the process (tests only).

    Raises:
        ConfigError: the spool file cannot be opened (names the file).
    """

    def __init__(self, path: str | Path | None, memory_max: int) -> None:
        if memory_max <= 0:
            raise ValueError(f"memory_max must be positive, got {memory_max}")
        self.path = Path(path) if path is not None else None
        self.memory_max = memory_max
        self._db = open_state_db(
            self.path,
            what="NATS ExecReport spool",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            synchronous="FULL",
        )
        self._mem: deque[OutboxItem] = deque()
        self._ahead: deque[OutboxItem] = deque()
        row = self._db.execute("SELECT count(*), coalesce(max(pos), 0) FROM outbox").fetchone()
        self._on_disk = int(row[0])
        self._next_pos = int(row[1]) + 1
        self._done = 0
        """Highest position acked (acks come in order)."""
        self._read_upto = 0
        """Highest position read ahead from disk."""
        self._undeleted = 0
        self.spooled = 0
        """Reports written to disk (a counter)."""
        self.recovered = self._on_disk
        """Reports found on disk at open (left by an earlier run)."""
        self._closed = False

    def __len__(self) -> int:
        return self._on_disk + len(self._mem)

    @property
    def on_disk(self) -> int:
        """Reports waiting on disk."""
        return self._on_disk

    @property
    def in_memory(self) -> int:
        """Reports waiting in memory."""
        return len(self._mem)

    def put(self, msg_id: str, subject: str, payload: bytes) -> None:
        """Adds one report at the tail; spills the memory part to disk first when it is full."""
        if len(self._mem) >= self.memory_max:
            self.spill()
        self._mem.append(OutboxItem(self._next_pos, msg_id, subject, payload))
        self._next_pos += 1

    def spill(self) -> int:
        """Moves every report held in memory to disk (one fsync'd transaction); returns how
        many moved."""
        if not self._mem:
            return 0
        rows = [(i.pos, i.msg_id, i.subject, i.payload) for i in self._mem]
        with transaction(self._db):
            self._db.executemany(
                "INSERT INTO outbox (pos, msg_id, subject, payload) VALUES (?, ?, ?, ?)", rows
            )
        self._on_disk += len(rows)
        self.spooled += len(rows)
        self._mem.clear()
        return len(rows)

    def head(self) -> OutboxItem | None:
        """The oldest report not yet acked, or None."""
        if self._on_disk:
            if not self._ahead:
                self._read_ahead()
            return self._ahead[0]
        return self._mem[0] if self._mem else None

    def _read_ahead(self) -> None:
        start = max(self._done, self._read_upto)
        rows = self._db.execute(
            "SELECT pos, msg_id, subject, payload FROM outbox WHERE pos > ? ORDER BY pos LIMIT ?",
            (start, _READ_AHEAD),
        ).fetchall()
        for pos, msg_id, subject, payload in rows:
            self._ahead.append(OutboxItem(int(pos), str(msg_id), str(subject), bytes(payload)))
        if rows:
            self._read_upto = int(rows[-1][0])

    def acked(self, item: OutboxItem) -> None:
        """``item``, the head, is stored by JetStream: it leaves the outbox."""
        if self._mem and self._mem[0] is item:
            self._mem.popleft()
        else:
            # Spooled, before or while it was being published.
            while self._ahead and self._ahead[0].pos <= item.pos:
                self._ahead.popleft()
            self._on_disk -= 1
            self._undeleted += 1
            if self._undeleted >= _DELETE_EVERY or not self._on_disk:
                self._done = item.pos
                self._delete_done()
        self._done = max(self._done, item.pos)

    def _delete_done(self) -> None:
        if self._undeleted:
            with transaction(self._db):
                self._db.execute("DELETE FROM outbox WHERE pos <= ?", (self._done,))
            self._undeleted = 0

    def close(self) -> None:
        """Spills what memory holds and closes the file (the next run republishes it)."""
        if self._closed:
            return
        self._closed = True
        self.spill()
        self._delete_done()
        self._db.close()
