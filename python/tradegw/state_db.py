"""The SQLite files tradegw keeps state in (the control bus's state, the order ledger):
opened one way, versioned one way, written in explicit transactions.

Both are small, written on the event loop's thread in short transactions, in WAL mode; they
differ in durability (``synchronous``): the ledger's rows must be on disk before an order's
first byte leaves (FULL), the control state only has to survive the process (NORMAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from tradegw.errors import ConfigError


def open_state_db(
    path: Path | None,
    *,
    what: str,
    schema: str,
    version: int,
    synchronous: Literal["NORMAL", "FULL"],
    upgrades_from: tuple[int, ...] = (),
) -> sqlite3.Connection:
    """The database at ``path`` (None: in memory), with ``schema`` created and its
    ``user_version`` set to ``version``; autocommit (use :func:`transaction`). A file of a
    version in ``upgrades_from`` is brought to ``version`` by ``schema`` itself (for
    schemas that only add tables and indexes, ``CREATE ... IF NOT EXISTS``).

    Raises:
        ConfigError: naming the file and ``what`` it holds — it cannot be opened, is not
            SQLite, or was written by another schema version.
    """
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(":memory:" if path is None else path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found not in (0, version, *upgrades_from):
            raise ConfigError(
                f"{path}: {what} schema {found}, this tradegw reads {version}: move the file aside"
            )
        db.executescript(schema)
        db.execute(f"PRAGMA user_version = {version}")
    except (sqlite3.Error, OSError) as e:
        raise ConfigError(f"{path}: {what} cannot be opened: {e}") from e
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, ``ROLLBACK`` on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
