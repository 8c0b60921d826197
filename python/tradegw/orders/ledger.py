"""The idempotency ledger: every order and fill in SQLite, written before anything is sent.

One file (``orders.ledger_path``; None keeps it in memory, for tests), WAL journal and
``synchronous=FULL``: a commit returns only once it is on disk, so the row and state written
before a send survive a crash that happens after the first byte left. That costs about
0.25 ms per commit on this project's VMs (measured with 500 commits), small next to a venue
round trip; every write is one short transaction on the event loop's thread, which keeps
"look the id up, then record it" free of any await in between (two submits of one id can
never both pass).

Tables: ``orders`` keyed by ``client_order_id``; ``fills`` keyed by ``(client_order_id,
venue_exec_id)`` so a fill reported twice is recorded once; ``report_streams`` holding the
last ExecReport ``seq_provider`` per (venue, symbol), bumped in the same transaction as the
change it numbers, so numbering carries on after a restart; ``ledger_identity`` holding one
random id, made with the file, that names this numbering (:attr:`OrderLedger.identity`).

**The ExecReport outbox.** ``exec_outbox`` holds every ExecReport the ledger numbered, as
the exact bytes published (:func:`tradegw.schema.to_json`), written in the same transaction
as the change it announces and the counter bump that numbered it: a change is on disk with
its report or not at all, and no report exists without its change (no fsync beyond the one
the change pays). Its ``pos`` only grows (``AUTOINCREMENT``), so reading after a position
gives every report in the order it was made. Sinks that publish elsewhere (the NATS sink)
read it from their own position, :meth:`OrderLedger.register_sink` themselves and record
what the other side confirmed (``exec_sink_marks``, :meth:`OrderLedger.confirm`).
Retention (:class:`ReportRetention`): a report is deleted only once every registered sink has
confirmed it, and then once it is older than ``keep_s`` or more than ``keep_last`` newer
reports of its stream exist; nothing a sink has not confirmed is ever deleted.

A ledger file has one writer at a time: opening it takes ``<file>.lock``
(:mod:`tradegw.orders.ledger_lock`), and a second opener — another gateway, or ``tradegw
order`` sending directly while a gateway runs — is refused with
:class:`~tradegw.errors.LedgerInUse` naming the holder.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tradegw.errors import ConfigError
from tradegw.orders.ledger_lock import LedgerLock
from tradegw.orders.record import FillRecord, OrderRecord
from tradegw.orders.reports import exec_report
from tradegw.orders.states import OPEN_ORDER_STATES, OrderState
from tradegw.schema import ExecReport, to_json
from tradegw.state_db import open_state_db, transaction

if TYPE_CHECKING:
    from tradegw.config.models import OrdersConfig

SCHEMA_VERSION: Final = 2
"""2 added the ExecReport outbox (``exec_outbox``, ``exec_sinks``, ``exec_sink_marks``); a
version 1 file is brought to 2 when opened (its reports made before have no outbox rows)."""
_UPGRADES_FROM: Final = (1,)

_OPEN = ", ".join(f"'{s.value}'" for s in sorted(OPEN_ORDER_STATES))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    venue_symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT,
    time_in_force TEXT NOT NULL,
    post_only INTEGER NOT NULL,
    state TEXT NOT NULL,
    venue_order_id TEXT,
    filled_qty TEXT NOT NULL,
    avg_price TEXT,
    reason TEXT,
    decision_id TEXT,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    send_attempts INTEGER NOT NULL,
    last_sent_ns INTEGER,
    cancel_requested INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (venue) WHERE state IN ({_OPEN});
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_ns);
CREATE TABLE IF NOT EXISTS fills (
    client_order_id TEXT NOT NULL,
    venue_exec_id TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT,
    fee_asset TEXT,
    exchange_ts INTEGER,
    recorded_ns INTEGER NOT NULL,
    PRIMARY KEY (client_order_id, venue_exec_id)
);
CREATE TABLE IF NOT EXISTS report_streams (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol)
);
CREATE TABLE IF NOT EXISTS ledger_identity (id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exec_outbox (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    seq INTEGER NOT NULL,
    recorded_ns INTEGER NOT NULL,
    report BLOB NOT NULL,
    UNIQUE (venue, symbol, seq)
);
CREATE TABLE IF NOT EXISTS exec_sinks (
    sink TEXT PRIMARY KEY,
    registered_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS exec_sink_marks (
    sink TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (sink, venue, symbol)
);
"""

_COLUMNS: Final = (
    "client_order_id",
    "venue",
    "symbol",
    "venue_symbol",
    "side",
    "type",
    "qty",
    "price",
    "time_in_force",
    "post_only",
    "state",
    "venue_order_id",
    "filled_qty",
    "avg_price",
    "reason",
    "decision_id",
    "created_ns",
    "updated_ns",
    "send_attempts",
    "last_sent_ns",
    "cancel_requested",
)
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM orders"
_INSERT: Final = (
    f"INSERT INTO orders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)
_UPDATE: Final = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in _COLUMNS[1:])} WHERE client_order_id = ?"
)
_NEXT_SEQ: Final = (
    "INSERT INTO report_streams (venue, symbol, seq) VALUES (?, ?, 1) "
    "ON CONFLICT (venue, symbol) DO UPDATE SET seq = seq + 1 RETURNING seq"
)
_KEEP_REPORT: Final = (
    "INSERT INTO exec_outbox (venue, symbol, seq, recorded_ns, report) VALUES (?, ?, ?, ?, ?)"
)
_PRUNE_EVERY: Final = 1024
"""Reports numbered between two retention passes made by the commits themselves (in the
transaction of the 1,024th: no commit of its own)."""
_PRUNE_MAX_ROWS: Final = 50_000
"""Rows one retention pass deletes at most (a long-unpruned outbox shrinks over several)."""
_PRUNE_IN_COMMIT_ROWS: Final = 4 * _PRUNE_EVERY
"""... and at most, when the pass rides on an order's commit (keeps that commit short)."""
DAY_S: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class ReportRetention:
    """How long the outbox keeps a report every registered sink has confirmed: until it is
    older than ``keep_s`` or more than ``keep_last`` newer reports of its (venue, symbol)
    exist, whichever comes first. Unconfirmed reports are always kept."""

    keep_s: float = DAY_S
    keep_last: int = 10_000

    def __post_init__(self) -> None:
        if self.keep_s < 0 or self.keep_last < 0:
            raise ValueError(f"retention must not be negative: {self}")

    @classmethod
    def of(cls, config: OrdersConfig) -> ReportRetention:
        """The retention ``orders.reports_keep_days`` and ``reports_keep_last`` say."""
        return cls(keep_s=config.reports_keep_days * DAY_S, keep_last=config.reports_keep_last)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One kept ExecReport: its place in the outbox (``pos``, growing), its stream and number,
    when it was recorded and its bytes (:func:`tradegw.schema.to_json` of the report)."""

    pos: int
    venue: str
    symbol: str
    seq: int
    recorded_ns: int
    report: bytes


Stream = tuple[str, str]
"""(venue, canonical symbol): one ExecReport numbering."""


def _row(order: OrderRecord) -> tuple[Any, ...]:
    return (
        order.client_order_id,
        order.venue,
        order.symbol,
        order.venue_symbol,
        order.side,
        order.type,
        order.qty,
        order.price,
        order.time_in_force,
        int(order.post_only),
        order.state.value,
        order.venue_order_id,
        order.filled_qty,
        order.avg_price,
        order.reason,
        order.decision_id,
        order.created_ns,
        order.updated_ns,
        order.send_attempts,
        order.last_sent_ns,
        int(order.cancel_requested),
    )


def _order(row: tuple[Any, ...]) -> OrderRecord:
    fields = dict(zip(_COLUMNS, row, strict=True))
    fields["state"] = OrderState(fields["state"])
    fields["post_only"] = bool(fields["post_only"])
    fields["cancel_requested"] = bool(fields["cancel_requested"])
    return OrderRecord(**fields)


class OrderLedger:
    """Orders and fills in ``path`` (None: memory only, nothing survives the process), held
    exclusively until :meth:`close`; ``holder`` says who holds it to whoever is refused.

    Raises:
        LedgerInUse: another order entry holds the file.
        ConfigError: the file cannot be opened, or holds another schema version.
    """

    def __init__(
        self,
        path: str | Path | None,
        *,
        holder: str = "a tradegw gateway",
        retention: ReportRetention | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.retention = retention or ReportRetention()
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []
        self._since_prune = 0
        self.pruned = 0
        """Outbox rows deleted by retention since the ledger was opened (a counter)."""
        self._lock: LedgerLock | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._lock = LedgerLock(self.path, holder)
            except OSError as e:
                raise ConfigError(f"{self.path}: order ledger cannot be locked: {e}") from e
        try:
            self._db = open_state_db(
                self.path,
                what="order ledger",
                schema=_SCHEMA,
                version=SCHEMA_VERSION,
                synchronous="FULL",
                upgrades_from=_UPGRADES_FROM,
            )
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self.commits = 0
        row = self._db.execute("SELECT id FROM ledger_identity").fetchone()
        if row is None:
            with transaction(self._db):
                self._db.execute(
                    "INSERT INTO ledger_identity (id) VALUES (?)", (secrets.token_hex(8),)
                )
            row = self._db.execute("SELECT id FROM ledger_identity").fetchone()
        self.identity: str = str(row[0])
        """16 hex digits made with the ledger file and kept in it: ExecReport numbers
        (``seq_provider`` per venue and symbol) are unique within one identity, across
        restarts (a new file, or a ledger in memory, starts a new identity and numbering)."""
        with self._transaction():
            self.pruned += self._prune()

    # ---- reads ----

    def get(self, client_order_id: str) -> OrderRecord | None:
        """The order ``client_order_id``, or None."""
        row = self._db.execute(
            f"{_SELECT} WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else _order(row)

    def open_orders(self, venue: str | None = None) -> list[OrderRecord]:
        """Every order that may still change (NEW, SENT, UNKNOWN, ACK, PARTIAL), oldest
        first; of ``venue`` only when given."""
        query = f"{_SELECT} WHERE state IN ({_OPEN})"
        args: tuple[str, ...] = ()
        if venue is not None:
            query += " AND venue = ?"
            args = (venue,)
        return [_order(r) for r in self._db.execute(query + " ORDER BY created_ns, rowid", args)]

    def open_counts(self) -> dict[str, int]:
        """How many orders may still change (see :meth:`open_orders`), by venue."""
        rows = self._db.execute(
            f"SELECT venue, count(*) FROM orders WHERE state IN ({_OPEN}) GROUP BY venue"
        )
        return {str(venue): int(n) for venue, n in rows}

    def orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        open_only: bool = False,
        limit: int | None = 100,
    ) -> list[OrderRecord]:
        """Orders newest first, filtered by ``venue`` and ``symbol``; at most ``limit``
        (None: all)."""
        where: list[str] = []
        args: list[Any] = []
        if venue is not None:
            where.append("venue = ?")
            args.append(venue)
        if symbol is not None:
            where.append("symbol = ?")
            args.append(symbol)
        if open_only:
            where.append(f"state IN ({_OPEN})")
        query = _SELECT + (f" WHERE {' AND '.join(where)}" if where else "")
        query += " ORDER BY created_ns DESC, rowid DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        return [_order(r) for r in self._db.execute(query, args)]

    def has_fill(self, client_order_id: str, venue_exec_id: str) -> bool:
        """Whether that fill is recorded."""
        row = self._db.execute(
            "SELECT 1 FROM fills WHERE client_order_id = ? AND venue_exec_id = ?",
            (client_order_id, venue_exec_id),
        ).fetchone()
        return row is not None

    def fills(self, client_order_id: str) -> list[FillRecord]:
        """The order's fills in the order they were recorded."""
        return [
            FillRecord(
                client_order_id=r[0],
                venue_exec_id=r[1],
                qty=r[2],
                price=r[3],
                fee=r[4],
                fee_asset=r[5],
                exchange_ts=r[6],
                recorded_ns=r[7],
            )
            for r in self._db.execute(
                "SELECT client_order_id, venue_exec_id, qty, price, fee, fee_asset, "
                "exchange_ts, recorded_ns FROM fills WHERE client_order_id = ? ORDER BY rowid",
                (client_order_id,),
            )
        ]

    def last_seq(self, venue: str, symbol: str) -> int:
        """The last ExecReport ``seq_provider`` given out for (``venue``, ``symbol``); 0 if
        none."""
        row = self._db.execute(
            "SELECT seq FROM report_streams WHERE venue = ? AND symbol = ?", (venue, symbol)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def count(self) -> int:
        """How many orders are recorded."""
        return int(self._db.execute("SELECT count(*) FROM orders").fetchone()[0])

    # ---- writes ----

    def add(self, order: OrderRecord, *, announce: bool = False) -> ExecReport | None:
        """Records a new order (on disk when this returns); when ``announce``, also takes the
        next ExecReport number of (venue, symbol) and keeps the report in the outbox, in the
        same transaction, and returns it (None otherwise).

        Raises:
            sqlite3.IntegrityError: an order with that ``client_order_id`` is recorded (ask
                :meth:`get` first); nothing is changed.
            ValueError: ``announce`` for an order in a state that is never published.
        """
        report: ExecReport | None = None
        with self._transaction():
            self._db.execute(_INSERT, _row(order))
            if announce:
                report = self._keep_report(order, None, None)
        self._committed(report)
        return report

    def commit(
        self,
        order: OrderRecord,
        *,
        fill: FillRecord | None = None,
        announce: bool = False,
        exchange_ts: int | None = None,
    ) -> ExecReport | None:
        """Writes ``order``'s new state, with ``fill`` when given, in one transaction; when
        ``announce``, also takes the next ExecReport number of (venue, symbol) and keeps the
        report of the change (:func:`~tradegw.orders.reports.exec_report`, with ``fill`` and
        ``exchange_ts``) in the outbox, in that same transaction, and returns it (None
        otherwise). Whatever fails rolls all of it back.

        Raises:
            sqlite3.IntegrityError: ``fill`` is already recorded (ask :meth:`has_fill` first).
            KeyError: no order ``order.client_order_id`` is recorded.
            ValueError: ``announce`` for an order in a state that is never published.
        """
        report: ExecReport | None = None
        with self._transaction():
            if fill is not None:
                self._db.execute(
                    "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fill.client_order_id,
                        fill.venue_exec_id,
                        fill.qty,
                        fill.price,
                        fill.fee,
                        fill.fee_asset,
                        fill.exchange_ts,
                        fill.recorded_ns,
                    ),
                )
            row = _row(order)
            if self._db.execute(_UPDATE, (*row[1:], row[0])).rowcount != 1:
                raise KeyError(order.client_order_id)
            if announce:
                report = self._keep_report(order, fill, exchange_ts)
        self._committed(report)
        return report

    def _keep_report(
        self, order: OrderRecord, fill: FillRecord | None, exchange_ts: int | None
    ) -> ExecReport:
        # Inside the change's transaction: the number, the report and the change are one.
        seq = int(self._db.execute(_NEXT_SEQ, (order.venue, order.symbol)).fetchone()[0])
        report = exec_report(order, seq, fill=fill, exchange_ts=exchange_ts)
        self._db.execute(
            _KEEP_REPORT, (order.venue, order.symbol, seq, self._clock(), to_json(report))
        )
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._since_prune = 0
            self.pruned += self._prune(_PRUNE_IN_COMMIT_ROWS)
        return report

    def _committed(self, report: ExecReport | None) -> None:
        self.commits += 1
        if report is not None:
            for listener in self._listeners:
                listener()

    # ---- the ExecReport outbox ----

    def on_report(self, listener: Callable[[], None]) -> None:
        """Calls ``listener()`` after every commit that kept a report (on the writer's
        thread, after the commit: the report is readable then)."""
        self._listeners.append(listener)

    def outbox_after(self, pos: int, limit: int = 256) -> list[OutboxRow]:
        """Up to ``limit`` kept reports after position ``pos``, in the order they were made."""
        return [
            OutboxRow(int(p), str(v), str(s), int(q), int(t), bytes(r))
            for p, v, s, q, t, r in self._db.execute(
                "SELECT pos, venue, symbol, seq, recorded_ns, report FROM exec_outbox "
                "WHERE pos > ? ORDER BY pos LIMIT ?",
                (pos, limit),
            )
        ]

    def outbox_streams(self) -> dict[Stream, tuple[int, int]]:
        """``(first, last)`` number kept per stream that has reports in the outbox."""
        out: dict[Stream, tuple[int, int]] = {}
        for venue, symbol in self._db.execute("SELECT venue, symbol FROM report_streams"):
            first, last = self._db.execute(
                "SELECT min(seq), max(seq) FROM exec_outbox WHERE venue = ? AND symbol = ?",
                (venue, symbol),
            ).fetchone()
            if first is not None:
                out[(str(venue), str(symbol))] = (int(first), int(last))
        return out

    def outbox_position(self, done: dict[Stream, int]) -> int:
        """The position just before the first kept report not in ``done`` (a number per
        stream: reports at or below it are done; a stream not named: none), i.e. where a
        reader that has ``done`` continues; the last position when every report is done."""
        first: int | None = None
        for venue, symbol in self._db.execute("SELECT venue, symbol FROM report_streams"):
            row = self._db.execute(
                "SELECT min(pos) FROM exec_outbox WHERE venue = ? AND symbol = ? AND seq > ?",
                (venue, symbol, done.get((str(venue), str(symbol)), 0)),
            ).fetchone()
            if row[0] is not None and (first is None or int(row[0]) < first):
                first = int(row[0])
        if first is not None:
            return first - 1
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'exec_outbox'")
        last = row.fetchone()
        return 0 if last is None else int(last[0])

    def outbox_count(self, after: int = 0) -> int:
        """How many reports are kept after position ``after``."""
        row = self._db.execute("SELECT count(*) FROM exec_outbox WHERE pos > ?", (after,))
        return int(row.fetchone()[0])

    def register_sink(self, sink: str) -> None:
        """Names a sink that reads the outbox: from now on no report is deleted before
        ``sink`` has confirmed it (:meth:`confirm`). Registering again changes nothing."""
        with self._transaction():
            self._db.execute(
                "INSERT INTO exec_sinks (sink, registered_ns) VALUES (?, ?) "
                "ON CONFLICT (sink) DO NOTHING",
                (sink, self._clock()),
            )

    def forget_sink(self, sink: str) -> None:
        """Stops holding reports for ``sink`` (a sink retired for good): what only it had not
        confirmed becomes subject to retention."""
        with self._transaction():
            self._db.execute("DELETE FROM exec_sinks WHERE sink = ?", (sink,))
            self._db.execute("DELETE FROM exec_sink_marks WHERE sink = ?", (sink,))

    def sinks(self) -> list[str]:
        """The registered sinks."""
        return [str(r[0]) for r in self._db.execute("SELECT sink FROM exec_sinks ORDER BY sink")]

    def sink_marks(self, sink: str) -> dict[Stream, int]:
        """What ``sink`` confirmed: per stream, the number at and below which it needs no
        report."""
        return {
            (str(v), str(s)): int(q)
            for v, s, q in self._db.execute(
                "SELECT venue, symbol, seq FROM exec_sink_marks WHERE sink = ?", (sink,)
            )
        }

    def confirm(self, sink: str, marks: dict[Stream, int]) -> int:
        """Records that ``sink`` needs no report at or below ``marks`` (per stream; a mark
        never goes down), and applies retention in the same transaction; returns how many
        reports retention deleted."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO exec_sink_marks (sink, venue, symbol, seq) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sink, venue, symbol) DO UPDATE SET seq = max(seq, excluded.seq)",
                [(sink, v, s, q) for (v, s), q in marks.items()],
            )
            deleted = self._prune()
        self.pruned += deleted
        return deleted

    def _prune(self, budget: int = _PRUNE_MAX_ROWS) -> int:
        """Deletes what retention allows, ``budget`` rows at most (inside a transaction);
        returns how many rows."""
        sinks = [str(r[0]) for r in self._db.execute("SELECT sink FROM exec_sinks")]
        marks: dict[Stream, list[int]] = {}
        for v, s, q in self._db.execute(
            "SELECT venue, symbol, seq FROM exec_sink_marks JOIN exec_sinks USING (sink)"
        ):
            marks.setdefault((str(v), str(s)), []).append(int(q))
        cutoff = self._clock() - int(self.retention.keep_s * 1e9)
        deleted = 0
        streams = self._db.execute("SELECT venue, symbol, seq FROM report_streams").fetchall()
        for venue, symbol, last in streams:
            confirmed = marks.get((str(venue), str(symbol)), [])
            # A sink with no mark on the stream has confirmed none of it.
            upto = min(confirmed) if len(confirmed) == len(sinks) and sinks else 0
            if not sinks:
                upto = int(last)
            if upto <= 0 or budget <= 0:
                continue
            cur = self._db.execute(
                "DELETE FROM exec_outbox WHERE pos IN (SELECT pos FROM exec_outbox "
                "WHERE venue = ? AND symbol = ? AND seq <= ? AND (seq <= ? OR recorded_ns < ?) "
                "ORDER BY seq LIMIT ?)",
                (venue, symbol, upto, int(last) - self.retention.keep_last, cutoff, budget),
            )
            deleted += cur.rowcount
            budget -= cur.rowcount
        return deleted

    def close(self) -> None:
        """Closes the file (every write is already committed) and gives up its lock."""
        self._db.close()
        if self._lock is not None:
            self._lock.release()

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db)


__all__ = ["SCHEMA_VERSION", "OrderLedger", "OutboxRow", "ReportRetention", "Stream"]
