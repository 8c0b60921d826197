"""The dead-letter queue: every venue message we could not use, kept for an operator.

A malformed frame must never kill a feed and never vanish: it is counted, logged with its
trace_id and appended here as one JSON line (persisted to a file when a path is configured),
with the raw text so it can be replayed once the cause is fixed.

``detail`` and any extra fields are redacted (:mod:`tradegw.telemetry.redact`): they are our
words, built from exception messages that can quote a URL with its credentials. ``raw`` is
not: it is the venue's frame byte for byte, kept so that it can be replayed, which a rewrite
would defeat, and where words like ``key=`` or ``@`` are ordinary data. The gateway reads
public market data and sends no credentials in frames, so a venue has none of ours to echo.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from tradegw.telemetry.redact import redact_prefix, redact_strings

log = logging.getLogger("tradegw.dlq")

_RAW_LIMIT = 64 * 1024
"""Characters of a message's raw text written to the DLQ file."""
_RECENT_RAW_LIMIT = 4 * 1024
"""Characters of raw text kept in memory per recent entry (1000 entries: at most ~4 MB)."""
_DETAIL_LIMIT = 1024
"""Characters of the explanation kept: a venue sending megabyte-long field values must not
grow memory, the file or the log through the error message that quotes them."""
_FILE_LIMIT = 256 * 1024 * 1024


class DeadLetterQueue:
    """Append-only store of rejected messages with an in-memory tail for inspection."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        keep: int = 1000,
        max_file_bytes: int = _FILE_LIMIT,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.max_file_bytes = max_file_bytes
        self.file_bytes = 0
        self.not_written = 0
        """Entries counted but no longer written because the file reached its bound."""
        self.count = 0
        self.by_reason: dict[str, int] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered append: each entry reaches the OS as soon as it is written, so a
            # crash loses nothing already reported.
            self._file = self.path.open("a", buffering=1, encoding="utf-8")
            self.file_bytes = self._file.tell()

    def put(
        self,
        *,
        provider: str,
        reason: str,
        raw: bytes | str,
        trace_id: str,
        detail: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        """Records one rejected message and returns the stored entry."""
        # Cut before decoding: a multi-megabyte frame is never copied whole.
        head = raw[: _RAW_LIMIT * 4 + 4] if isinstance(raw, bytes) else raw[: _RAW_LIMIT + 1]
        text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
        entry: dict[str, Any] = {
            "ts": time.time_ns(),
            "provider": provider,
            "reason": reason,
            "trace_id": trace_id,
            "detail": redact_prefix(detail, _DETAIL_LIMIT),
            "detail_truncated": len(detail) > _DETAIL_LIMIT,
            "raw": text[:_RAW_LIMIT],
            "raw_bytes": len(raw),
            "truncated": len(head) < len(raw) or len(text) > _RAW_LIMIT,
            **redact_strings(extra),
        }
        self.count += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        self.recent.append(
            entry if len(text) <= _RECENT_RAW_LIMIT else {**entry, "raw": text[:_RECENT_RAW_LIMIT]}
        )
        log.warning(
            "dead letter: %s from %s (%s)",
            reason,
            provider,
            entry["detail"],
            extra={"trace_id": trace_id, "reason": reason, "provider": provider},
        )
        if self._file is not None:
            line = orjson.dumps(entry).decode() + "\n"
            if self.file_bytes + len(line) > self.max_file_bytes:
                if not self.not_written:
                    log.error(
                        "DLQ file %s reached %d bytes; counting only", self.path, self.file_bytes
                    )
                self.not_written += 1
            else:
                self._file.write(line)
                self.file_bytes += len(line)
        return entry

    def close(self) -> None:
        """Closes the file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None
