"""Log output: one JSON object per line (or text for people at a terminal), every record
bounded in bytes and with credentials redacted.

:class:`JsonFormatter` writes ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
then ``venue``, ``symbol``, ``trace_id``, ``decision_id`` and any other field a call passed
in ``extra`` where known (a ``trace_id=<16 hex>`` the message itself quotes counts as known),
and ``exc_info`` with the traceback: what log shippers and ``jq`` read. ``log_format: auto``
(the default) writes text when the log is a terminal and JSON otherwise (files, pipes).

A venue sending megabyte-long field values reaches the log through the error messages that
quote them; each record's message is therefore capped at :data:`MESSAGE_MAX_BYTES` and its
traceback (with any stack) at :data:`TRACEBACK_MAX_BYTES`, each cut marked
``… [truncated N bytes]``. The handler sits on the root logger, so third-party loggers
(aiohttp, picows, asyncio) go through the same formatter, and with it through
:func:`~tradegw.telemetry.redact.redact`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from tradegw.telemetry.redact import redact_prefix

if TYPE_CHECKING:
    from tradegw.config.models import TelemetryConfig

__all__ = [
    "MESSAGE_MAX_BYTES",
    "TRACEBACK_MAX_BYTES",
    "BoundedRedactingFormatter",
    "JsonFormatter",
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
    standard error), one JSON object per line (:class:`JsonFormatter`) or as text
    (:class:`BoundedRedactingFormatter`) as ``telemetry.log_format`` says, bounded and
    redacted either way.

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
    fmt = telemetry.log_format
    if fmt == "auto":
        fmt = "text" if telemetry.log_path is None and sys.stderr.isatty() else "json"
    handler.setFormatter(JsonFormatter() if fmt == "json" else BoundedRedactingFormatter(FORMAT))
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


CONTEXT_FIELDS = ("venue", "symbol", "trace_id", "decision_id")
"""Written right after the message when the record knows them."""
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
"""Attributes every record has: anything else came from ``extra``."""
_TRACE_IN_TEXT = re.compile(r"\btrace_id=([0-9a-f]{16})\b")
_EXTRA_MAX_CHARS = 1024


class JsonFormatter(BoundedRedactingFormatter):
    """One JSON object per record, on one line; the message and traceback bounded as
    :class:`BoundedRedactingFormatter` bounds them, every string of ``extra`` redacted and
    cut to 1 KiB."""

    def __init__(
        self,
        *,
        message_max_bytes: int = MESSAGE_MAX_BYTES,
        traceback_max_bytes: int = TRACEBACK_MAX_BYTES,
    ) -> None:
        super().__init__(
            None, message_max_bytes=message_max_bytes, traceback_max_bytes=traceback_max_bytes
        )

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        message, dropped = self._message(record)
        message = _bounded(message, self.message_max_bytes, dropped)
        out: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        fields = record.__dict__
        for key in CONTEXT_FIELDS:
            value = fields.get(key)
            if value is not None:
                out[key] = _field(value)
        if "trace_id" not in out:
            quoted = _TRACE_IN_TEXT.search(message)
            if quoted is not None:
                out["trace_id"] = quoted.group(1)
        for key, value in fields.items():
            if key not in _STANDARD and key not in out:
                out[key] = _field(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        trace = record.exc_text or ""
        if record.stack_info:
            trace = (trace + "\n" if trace else "") + self.formatStack(record.stack_info)
        if trace:
            out["exc_info"] = _bounded(trace, self.traceback_max_bytes)
        try:
            return orjson.dumps(out).decode()
        except TypeError:
            # A lone surrogate (orjson refuses them): written escaped, never an error.
            clean = {
                k: v.encode("utf-8", "backslashreplace").decode() if isinstance(v, str) else v
                for k, v in out.items()
            }
            return orjson.dumps(clean, default=str).decode()


def _iso_utc(created: float) -> str:
    return (
        datetime.fromtimestamp(created, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _field(value: Any) -> Any:
    """An ``extra`` value as JSON can hold it: numbers, booleans and None as they are,
    strings (and anything else, as its ``str``) redacted and cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple) and len(value) <= 64:
        return [_field(v) for v in value]
    text = value if isinstance(value, str) else str(value)
    return redact_prefix(text, _EXTRA_MAX_CHARS)


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
