"""The dead-letter queue: every venue message we could not use, kept for an operator.

A malformed frame must never kill a feed and never vanish: it is counted, logged with its
trace_id and kept here, in memory (the last ``keep`` entries) and, when a folder is
configured, as one JSON line in files that rotate by size with a bound on their total:

- ``<folder>/dlq-<UTC start time>-<n>.jsonl``, a new file once the current one would pass
  ``max_file_bytes``; the oldest files are deleted while all of them together pass
  ``max_total_bytes`` (the file being written is never deleted, so the bound holds whenever
  it is at least twice ``max_file_bytes``, which the config enforces);
- written by a thread of its own, fed through a bounded queue: the event loop only builds
  the entry. Should the disk fall behind by more than the queue holds, entries are counted
  (:attr:`DeadLetterQueue.not_written`) instead of written, never waited for.

Each entry: ``time`` (ISO 8601, UTC), ``ts_ns``, ``venue``, ``reason``, ``trace_id``,
``detail``, ``raw`` (the venue's bytes as text, or base64 when they are not UTF-8, as
``raw_encoding`` says), ``raw_bytes`` (the original length), ``truncated``, and any extra
fields (``consumer``). :func:`read_entries` reads a folder or file back
(``tradegw dlq``).

``detail`` and any extra fields are redacted (:mod:`tradegw.telemetry.redact`): they are our
words, built from exception messages that can quote a URL with its credentials. ``raw`` is
not: it is the venue's frame byte for byte, kept so that it can be replayed, which a rewrite
would defeat, and where words like ``key=`` or ``@`` are ordinary data. The gateway reads
public market data and sends no credentials in frames, so a venue has none of ours to echo.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from tradegw.telemetry.redact import redact_prefix, redact_strings

log = logging.getLogger("tradegw.dlq")

__all__ = [
    "DEFAULT_FILE_BYTES",
    "DEFAULT_TOTAL_BYTES",
    "DeadLetterQueue",
    "iso_time",
    "read_entries",
    "segment_files",
]

_RAW_LIMIT = 64 * 1024
"""Bytes (or characters, for text) of a message's raw content written to the DLQ file."""
_RECENT_RAW_LIMIT = 4 * 1024
"""Characters of raw text kept in memory per recent entry (1000 entries: at most ~4 MB)."""
_DETAIL_LIMIT = 1024
"""Characters of the explanation kept: a venue sending megabyte-long field values must not
grow memory, the file or the log through the error message that quotes them."""
DEFAULT_FILE_BYTES = 16 * 1024 * 1024
DEFAULT_TOTAL_BYTES = 256 * 1024 * 1024
_QUEUE_ENTRIES = 10_000
"""Entries waiting for the writer thread at most (each at most ~90 KiB of text)."""
_SEGMENT_GLOB = "dlq-*.jsonl"
_SEGMENT_NUMBERS = itertools.count(1)
"""Numbers the files a process starts, so that two writers never share one."""


def iso_time(ts_ns: int) -> str:
    """``ts_ns`` (ns since the epoch) as ISO 8601 in UTC with microseconds:
    ``2026-01-02T03:04:05.678901Z``."""
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _raw_text(raw: bytes | str) -> tuple[str, str, bool]:
    """``(text, encoding, truncated)``: the first :data:`_RAW_LIMIT` of ``raw`` as UTF-8
    text, or as base64 when the bytes are not UTF-8. Cut before decoding, so a
    multi-megabyte frame is never copied whole."""
    if isinstance(raw, str):
        return raw[:_RAW_LIMIT], "utf-8", len(raw) > _RAW_LIMIT
    head = raw[:_RAW_LIMIT]
    truncated = len(raw) > _RAW_LIMIT
    try:
        return head.decode("utf-8"), "utf-8", truncated
    except UnicodeDecodeError as e:
        # The cut can land inside a character of valid text: keep the text before it.
        if truncated and e.reason == "unexpected end of data" and e.start >= len(head) - 3:
            return head[: e.start].decode("utf-8"), "utf-8", truncated
        return base64.b64encode(head).decode("ascii"), "base64", truncated


class DeadLetterQueue:
    """Store of rejected messages: counted, kept in memory, and written to rotating files
    under ``path`` (a folder) by a thread, when ``path`` is set."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        keep: int = 1000,
        *,
        max_file_bytes: int = DEFAULT_FILE_BYTES,
        max_total_bytes: int = DEFAULT_TOTAL_BYTES,
    ) -> None:
        if max_file_bytes <= 0 or max_total_bytes < max_file_bytes:
            raise ValueError("need 0 < max_file_bytes <= max_total_bytes")
        self.path = Path(path) if path is not None else None
        """The folder of the DLQ's files, or None (memory only)."""
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.count = 0
        self.by_reason: dict[str, int] = {}
        self.by_venue_reason: dict[tuple[str, str], int] = {}
        self.not_written = 0
        """Entries counted but not written: the writer was too far behind, or failed."""
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._writer: _SegmentWriter | None = None

    def put(
        self,
        *,
        venue: str,
        reason: str,
        raw: bytes | str,
        trace_id: str,
        detail: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        """Records one rejected message and returns the stored entry (never waits)."""
        text, encoding, truncated = _raw_text(raw)
        ts_ns = time.time_ns()
        entry: dict[str, Any] = {
            "time": iso_time(ts_ns),
            "ts_ns": ts_ns,
            "venue": venue,
            "reason": reason,
            "trace_id": trace_id,
            "detail": redact_prefix(detail, _DETAIL_LIMIT),
            "detail_truncated": len(detail) > _DETAIL_LIMIT,
            "raw": text,
            "raw_encoding": encoding,
            "raw_bytes": len(raw),
            "truncated": truncated,
            **redact_strings(extra),
        }
        self.count += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        key = (venue, reason)
        self.by_venue_reason[key] = self.by_venue_reason.get(key, 0) + 1
        self.recent.append(
            entry if len(text) <= _RECENT_RAW_LIMIT else {**entry, "raw": text[:_RECENT_RAW_LIMIT]}
        )
        log.warning(
            "dead letter: %s from %s (%s)",
            reason,
            venue,
            entry["detail"],
            extra={"trace_id": trace_id, "reason": reason, "venue": venue},
        )
        if self.path is not None:
            if self._writer is None:
                self._writer = _SegmentWriter(self.path, self.max_file_bytes, self.max_total_bytes)
            if not self._writer.offer(entry):
                if not self.not_written:
                    log.error("DLQ writer for %s is behind or failing; counting only", self.path)
                self.not_written += 1
        return entry

    @property
    def bytes_on_disk(self) -> int:
        """What the DLQ's files hold together (as the writer last counted)."""
        return self._writer.total_bytes if self._writer is not None else 0

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Waits (blocking) until everything put so far is written; False on timeout. For
        tests and shutdown: the event loop never needs to wait for the writer."""
        return self._writer.flush(timeout_s) if self._writer is not None else True

    def close(self, timeout_s: float = 5.0) -> None:
        """Writes what is queued and stops the writer thread (idempotent)."""
        if self._writer is not None:
            self._writer.close(timeout_s)
            self.not_written += self._writer.failed
            self._writer = None


class _SegmentWriter:
    """The thread that owns the DLQ's files: appends, rotates by size, deletes the oldest."""

    def __init__(self, folder: Path, max_file_bytes: int, max_total_bytes: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.total_bytes = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | threading.Event | None] = queue.Queue(
            _QUEUE_ENTRIES
        )
        self._file: IO[bytes] | None = None
        self._file_path: Path | None = None
        self._file_bytes = 0
        self._sizes: dict[Path, int] = {}
        self._thread = threading.Thread(target=self._run, name="tradegw-dlq-writer", daemon=True)
        self._thread.start()

    def offer(self, entry: dict[str, Any]) -> bool:
        """Queues ``entry`` for writing; False when the queue is full (nothing waits)."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            return False
        return True

    def flush(self, timeout_s: float) -> bool:
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def close(self, timeout_s: float) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)

    # ---- the thread ----

    def _run(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for path in segment_files(self.folder):
                self._sizes[path] = path.stat().st_size
            self.total_bytes = sum(self._sizes.values())
            self._trim()
        except OSError as e:
            log.error("DLQ folder %s unusable: %s", self.folder, e)
        q = self._queue
        while True:
            item = q.get()
            # Everything already queued goes out in one write-and-flush.
            batch = [item]
            while True:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = False
            for it in batch:
                if it is None:
                    stop = True
                elif isinstance(it, threading.Event):
                    self._flush_file()
                    it.set()
                else:
                    self._write(orjson.dumps(it) + b"\n")
            self._flush_file()
            if stop:
                if self._file is not None:
                    self._file.close()
                return

    def _write(self, line: bytes) -> None:
        try:
            if self._file is None or (
                self._file_bytes and self._file_bytes + len(line) > self.max_file_bytes
            ):
                self._rotate()
            assert self._file is not None
            assert self._file_path is not None
            self._file.write(line)
        except OSError as e:
            self.failed += 1
            if self.failed == 1:
                log.error("DLQ write to %s failed: %s", self.folder, e)
            return
        self._file_bytes += len(line)
        self._sizes[self._file_path] = self._file_bytes
        self.total_bytes += len(line)
        if self.total_bytes > self.max_total_bytes:
            self._trim()

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        number = next(_SEGMENT_NUMBERS)
        path = self.folder / f"dlq-{stamp}-{os.getpid()}-{number:04d}.jsonl"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._file_path = path
        self._file_bytes = self._file.tell()
        self._sizes[path] = self._file_bytes

    def _trim(self) -> None:
        """Deletes the oldest files until the total is within the bound (never the one
        being written)."""
        for path in sorted(self._sizes, key=_segment_order):
            if self.total_bytes <= self.max_total_bytes:
                return
            if path == self._file_path:
                continue
            size = self._sizes.pop(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self.total_bytes -= size

    def _flush_file(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as e:
                self.failed += 1
                log.error("DLQ flush to %s failed: %s", self.folder, e)


def _segment_order(path: Path) -> tuple[float, str]:
    # Modification time first: names sort by start time too, but two processes started in
    # the same second (or clocks set back) must still lose their oldest data first.
    try:
        return (path.stat().st_mtime, path.name)
    except OSError:
        return (0.0, path.name)


def segment_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The DLQ files in ``folder``, oldest first."""
    return sorted(Path(folder).glob(_SEGMENT_GLOB), key=_segment_order)


def read_entries(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every entry of a DLQ folder (its files oldest first) or of one DLQ file; a line that
    is not a JSON object (a write cut by a crash) is skipped."""
    p = Path(path)
    files = segment_files(p) if p.is_dir() else [p]
    for f in files:
        try:
            handle = f.open("rb")
        except FileNotFoundError:  # deleted by the writer's rotation meanwhile
            continue
        with handle:
            for line in handle:
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    yield entry
