"""Log output: every record bounded in bytes and with credentials redacted.

A venue sending megabyte-long field values reaches the log through the error messages that
quote them; each record's message is therefore capped at :data:`MESSAGE_MAX_BYTES` and its
traceback (with any stack) at :data:`TRACEBACK_MAX_BYTES`, each cut marked
``… [truncated N bytes]``. The handler sits on the root logger, so third-party loggers
(aiohttp, picows, asyncio) go through the same formatter, and with it through
:func:`~tradegw.telemetry.redact.redact`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from tradegw.telemetry.redact import redact_prefix

if TYPE_CHECKING:
    from tradegw.config.models import TelemetryConfig

__all__ = [
    "MESSAGE_MAX_BYTES",
    "TRACEBACK_MAX_BYTES",
    "BoundedRedactingFormatter",
    "configure_logging",
]

MESSAGE_MAX_BYTES = 8 * 1024
"""UTF-8 bytes of a record's message (after %-formatting), truncation marker included."""
TRACEBACK_MAX_BYTES = 32 * 1024
"""UTF-8 bytes of a record's traceback and stack text, truncation marker included."""

_CLIPPABLE = (str, bytes, bytearray)

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(telemetry: TelemetryConfig) -> None:
    """Sends log records at ``telemetry.log_level`` and above to ``telemetry.log_path`` (or
    standard error), bounded and redacted by :class:`BoundedRedactingFormatter`.

    Replaces the handler an earlier call installed and leaves every other handler alone
    (the test runner's, an embedding application's).
    """
    global _installed
    root = logging.getLogger()
    handler: logging.Handler
    if telemetry.log_path is not None:
        # backslashreplace: a lone surrogate a venue managed to get into a message must not
        # turn the line into a "--- Logging error ---" on stderr.
        handler = logging.FileHandler(
            telemetry.log_path, encoding="utf-8", errors="backslashreplace"
        )
    else:
        handler = _StderrHandler()
    handler.setFormatter(BoundedRedactingFormatter(FORMAT))
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    root.setLevel(telemetry.log_level)
    _installed = handler


_installed: logging.Handler | None = None


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (as the logging
    module's own last-resort handler does), so a replaced stderr is never written after it
    was closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class BoundedRedactingFormatter(logging.Formatter):
    """A formatter whose output has a message of at most ``message_max_bytes`` and a
    traceback of at most ``traceback_max_bytes`` (UTF-8), both redacted.

    The record is not changed beyond what :class:`logging.Formatter` itself sets
    (``message``, ``asctime``, the ``exc_text`` cache of the unredacted traceback), so other
    handlers of the same record see what they would have seen.
    """

    def __init__(
        self,
        fmt: str | None = FORMAT,
        datefmt: str | None = None,
        *,
        message_max_bytes: int = MESSAGE_MAX_BYTES,
        traceback_max_bytes: int = TRACEBACK_MAX_BYTES,
    ) -> None:
        super().__init__(fmt, datefmt)
        self.message_max_bytes = message_max_bytes
        self.traceback_max_bytes = traceback_max_bytes

    def format(self, record: logging.LogRecord) -> str:
        """The record as one bounded, redacted entry (the message line, then any
        traceback)."""
        message, dropped = self._message(record)
        record.message = _bounded(message, self.message_max_bytes, dropped)
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        trace = record.exc_text or ""
        if record.stack_info:
            trace = (trace + "\n" if trace else "") + self.formatStack(record.stack_info)
        if trace:
            text += "\n" + _bounded(trace, self.traceback_max_bytes)
        return text

    def _message(self, record: logging.LogRecord) -> tuple[str, int]:
        """``record.getMessage()`` with each overlong ``str``/``bytes`` argument cut before
        formatting (a ``%r`` of a 5 MB frame would otherwise build a 20 MB string only to cut
        it), and the UTF-8 bytes those cuts removed."""
        cap = self.message_max_bytes
        args = record.args
        if not args:
            msg = str(record.msg)
            if len(msg) > cap:
                return msg[:cap], _utf8_len(msg, cap)
            return msg, 0
        # A character is at least one byte: an argument longer than the bound in characters
        # (or bytes) cannot fit whole, so its excess would never reach the line anyway.
        for arg in args.values() if isinstance(args, Mapping) else args:
            if isinstance(arg, _CLIPPABLE) and len(arg) > cap:
                break
        else:  # the usual case: nothing long, nothing to copy
            return record.getMessage(), 0
        dropped = 0

        def clip(arg: Any) -> Any:
            nonlocal dropped
            if isinstance(arg, _CLIPPABLE) and len(arg) > cap:
                dropped += _utf8_len(arg, cap) if isinstance(arg, str) else len(arg) - cap
                return arg[:cap]
            return arg

        msg = str(record.msg)
        if isinstance(args, Mapping):
            capped: tuple[Any, ...] | Mapping[str, Any] = {k: clip(v) for k, v in args.items()}
        else:
            capped = tuple(clip(a) for a in args)
        try:
            return msg % capped, dropped
        except (TypeError, ValueError):
            # The call itself was wrong (say "%d" with a str); let logging report it exactly
            # as it would have, from the untouched arguments.
            return record.getMessage(), 0


def _utf8_len(text: str, start: int = 0) -> int:
    """UTF-8 bytes of ``text[start:]`` (a lone surrogate counts as the 3 bytes it takes)."""
    if text.isascii():  # O(1) for a str, and most text is ASCII
        return len(text) - start
    tail = text[start:] if start else text
    try:
        return len(tail.encode())
    except UnicodeEncodeError:
        # Only here: "surrogatepass" has no fast path and is fifty times slower.
        return len(tail.encode("utf-8", "surrogatepass"))


def _bounded(text: str, max_bytes: int, dropped: int = 0) -> str:
    """``text`` redacted and cut to at most ``max_bytes`` UTF-8 bytes, marker included;
    ``dropped`` bytes were already cut from it before it got here."""
    # Redaction runs on a prefix of at most max_bytes characters (all that can fit), so a
    # megabyte message costs a slice, not a regex scan of the whole.
    head = redact_prefix(text, max_bytes)
    cut = dropped > 0 or len(text) > max_bytes
    # Characters take 1 to 4 bytes: a head this short fits whatever it holds, unencoded.
    if not cut and len(head) * 4 <= max_bytes:
        return head
    data = head.encode("utf-8", "surrogatepass")
    if not cut and len(data) <= max_bytes:
        return head
    total = dropped + _utf8_len(text)
    # The count shown can only be smaller than total: reserve room for the longest marker.
    room = max(0, max_bytes - len(_marker(total).encode()))
    kept = _cut_utf8(data, room)
    # Counted against the redacted head, so a mask that replaced a value makes the figure
    # approximate by the difference in length; it says how much is missing, not a checksum.
    return kept + _marker(max(0, total - _utf8_len(kept)))


def _marker(dropped: int) -> str:
    return f"… [truncated {dropped} bytes]"


def _cut_utf8(data: bytes, limit: int) -> str:
    """The longest prefix of ``data`` within ``limit`` bytes that ends on a character
    boundary, decoded."""
    if len(data) <= limit:
        return data.decode("utf-8", "surrogatepass")
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass")
