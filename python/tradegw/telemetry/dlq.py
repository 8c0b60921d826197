"""The dead-letter queue: every venue message we could not use, kept for an operator.

A malformed frame must never kill a feed and never vanish: it is counted, logged with its
trace_id and appended here as one JSON line (persisted to a file when a path is configured),
with the raw text so it can be replayed once the cause is fixed.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("tradegw.dlq")

_RAW_LIMIT = 64 * 1024


class DeadLetterQueue:
    """Append-only store of rejected messages with an in-memory tail for inspection."""

    def __init__(self, path: str | os.PathLike[str] | None = None, keep: int = 1000) -> None:
        self.path = Path(path) if path is not None else None
        self.count = 0
        self.by_reason: dict[str, int] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Line-buffered append: each entry reaches the OS as soon as it is written, so a
            # crash loses nothing already reported.
            self._file = self.path.open("a", buffering=1, encoding="utf-8")

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
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        entry: dict[str, Any] = {
            "ts": time.time_ns(),
            "provider": provider,
            "reason": reason,
            "trace_id": trace_id,
            "detail": detail,
            "raw": text[:_RAW_LIMIT],
            "truncated": len(text) > _RAW_LIMIT,
            **extra,
        }
        self.count += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        self.recent.append(entry)
        log.warning(
            "dead letter: %s from %s (%s)",
            reason,
            provider,
            detail,
            extra={"trace_id": trace_id, "reason": reason, "provider": provider},
        )
        if self._file is not None:
            self._file.write(orjson.dumps(entry).decode() + "\n")
        return entry

    def close(self) -> None:
        """Closes the file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None
