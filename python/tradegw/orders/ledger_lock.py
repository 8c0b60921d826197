"""One order entry per ledger file: an exclusive lock on a file beside it.

Idempotency rests on "look the id up, then record it" never being interleaved with another
writer's; within one process the event loop sees to that, across processes this lock does.
Whoever opens a ledger file (a gateway, or ``tradegw order`` sending to a venue directly)
takes ``<ledger>.lock`` with ``flock`` (non-blocking) and writes its pid and what it is into
it; a second opener is refused with :class:`~tradegw.errors.LedgerInUse` saying who holds
it. The kernel drops the lock when the holder's file closes, crash included, so a lock file
left behind by a dead process holds nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Final

from tradegw.errors import LedgerInUse

_MAX_HOLDER_BYTES: Final = 512


def lock_path(ledger_path: Path) -> Path:
    """The lock file of a ledger file: ``orders.sqlite`` -> ``orders.sqlite.lock``."""
    return ledger_path.with_name(ledger_path.name + ".lock")


class LedgerLock:
    """Holds the lock of one ledger file until :meth:`release` (or until garbage-collected,
    so that an object abandoned half-built never keeps a ledger locked)."""

    def __init__(self, ledger_path: Path, holder: str) -> None:
        """Takes the lock at once, never waiting.

        Raises:
            LedgerInUse: another open file holds it (another process, or another ledger
                object on the same file in this one).
            OSError: the lock file cannot be opened.
        """
        self.path = lock_path(ledger_path)
        self._fd: int | None = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LedgerInUse(
                f"{ledger_path}: the order ledger is in use by {holder}; one order entry per "
                "ledger (a second could send a client_order_id the first is sending)",
                holder,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        text = f"pid {os.getpid()} ({holder})".encode()[:_MAX_HOLDER_BYTES]
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Gives the lock up (idempotent). The file stays: removing it could let two
        openers lock two different files of the same name."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, _MAX_HOLDER_BYTES, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"


__all__ = ["LedgerLock", "lock_path"]
