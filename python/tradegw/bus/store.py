"""The control bus's configuration state in SQLite: what a restart restores.

Subscriptions, consumers' budgets, merge configs and the trading mode are written here as
each control message is applied, and read back when the gateway starts; events are never
stored (the plan: no replay). One file, WAL journal: a write is one short transaction on the
event loop's thread (control messages are rare next to market data), and with WAL and
``synchronous=NORMAL`` a committed change survives the process being killed (the OS has it);
only a power cut may lose the last few, which the user re-sends.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tradegw.state_db import open_state_db, transaction

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    consumer TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    venues TEXT,
    symbols TEXT,
    types TEXT,
    PRIMARY KEY (consumer, subscription_id)
);
CREATE TABLE IF NOT EXISTS budgets (
    consumer TEXT PRIMARY KEY,
    rate REAL NOT NULL,
    burst REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS merges (
    merge_id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    venues TEXT NOT NULL,
    window_s REAL NOT NULL,
    max_events INTEGER NOT NULL,
    depth INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """One subscription of a consumer (None = any, as in a route filter)."""

    consumer: str
    subscription_id: str
    venues: tuple[str, ...] | None
    symbols: tuple[str, ...] | None
    types: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class StoredMerge:
    """One merge config and the subscription that routes its events to a consumer."""

    merge_id: str
    consumer: str
    subscription_id: str
    symbol: str
    venues: tuple[str, ...]
    window_s: float
    max_events: int
    depth: int


@dataclass(slots=True)
class StoredState:
    """Everything a restart restores."""

    subscriptions: list[StoredSubscription] = field(default_factory=list)
    budgets: dict[str, tuple[float, float]] = field(default_factory=dict)
    merges: list[StoredMerge] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def _list(values: tuple[str, ...] | None) -> str | None:
    return None if values is None else orjson.dumps(sorted(values)).decode()


def _tuple(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(orjson.loads(text))


class ControlStore:
    """The state file (``path``), or memory only (``path`` None: nothing survives)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        self._db = open_state_db(
            self.path,
            what="control state",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            synchronous="NORMAL",
        )

    def load(self) -> StoredState:
        """Everything stored, in the order it was written."""
        state = StoredState()
        db = self._db
        for row in db.execute(
            "SELECT consumer, subscription_id, venues, symbols, types FROM subscriptions "
            "ORDER BY rowid"
        ):
            state.subscriptions.append(
                StoredSubscription(row[0], row[1], _tuple(row[2]), _tuple(row[3]), _tuple(row[4]))
            )
        for consumer, rate, burst in db.execute("SELECT consumer, rate, burst FROM budgets"):
            state.budgets[consumer] = (rate, burst)
        for row in db.execute(
            "SELECT merge_id, consumer, subscription_id, symbol, venues, window_s, max_events, "
            "depth FROM merges ORDER BY rowid"
        ):
            venues = _tuple(row[4]) or ()
            state.merges.append(StoredMerge(row[0], row[1], row[2], row[3], venues, *row[5:]))
        state.settings = dict(db.execute("SELECT key, value FROM settings"))
        return state

    def put_subscription(self, sub: StoredSubscription) -> None:
        """Adds or replaces one subscription."""
        self._db.execute(
            "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
            (
                sub.consumer,
                sub.subscription_id,
                _list(sub.venues),
                _list(sub.symbols),
                _list(sub.types),
            ),
        )

    def delete_subscriptions(self, consumer: str, subscription_id: str | None) -> None:
        """Removes one subscription of ``consumer``, or all of them (None), and the merges
        they routed."""
        with self._transaction():
            if subscription_id is None:
                self._db.execute("DELETE FROM subscriptions WHERE consumer = ?", (consumer,))
                self._db.execute("DELETE FROM merges WHERE consumer = ?", (consumer,))
            else:
                key = (consumer, subscription_id)
                self._db.execute(
                    "DELETE FROM subscriptions WHERE consumer = ? AND subscription_id = ?", key
                )
                self._db.execute(
                    "DELETE FROM merges WHERE consumer = ? AND subscription_id = ?", key
                )

    def put_budget(self, consumer: str, budget: tuple[float, float] | None) -> None:
        """Sets (None: clears) a consumer's budget."""
        if budget is None:
            self._db.execute("DELETE FROM budgets WHERE consumer = ?", (consumer,))
        else:
            self._db.execute("INSERT OR REPLACE INTO budgets VALUES (?, ?, ?)", (consumer, *budget))

    def put_merge(self, merge: StoredMerge, sub: StoredSubscription) -> None:
        """Adds a merge config and the subscription routing its events, in one transaction."""
        with self._transaction():
            self.put_subscription(sub)
            self._db.execute(
                "INSERT OR REPLACE INTO merges VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    merge.merge_id,
                    merge.consumer,
                    merge.subscription_id,
                    merge.symbol,
                    _list(merge.venues),
                    merge.window_s,
                    merge.max_events,
                    merge.depth,
                ),
            )

    def set_setting(self, key: str, value: str) -> None:
        """Sets one named setting (the trading mode)."""
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Closes the file (every write is already committed)."""
        self._db.close()

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db)
