"""Log output bounded in bytes and free of credentials: megabyte messages and tracebacks cut
with a visible marker, URLs with secrets masked in messages, tracebacks, third-party loggers,
the DLQ and the run summary, end to end through ``tradegw run``."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tradegw.cli import main
from tradegw.config.models import TelemetryConfig
from tradegw.telemetry import DeadLetterQueue, logs
from tradegw.telemetry.dlq import segment_files
from tradegw.telemetry.logs import (
    MESSAGE_MAX_BYTES,
    TRACEBACK_MAX_BYTES,
    BoundedRedactingFormatter,
    configure_logging,
)

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3t"
URL = f"wss://user:{SECRET}@127.0.0.1:1/ws?token={SECRET}&depth=10"
# "2026-01-01 00:00:00,000 WARNING <logger name> ": the fixed part before each message.
PREFIX_MAX = 80


@pytest.fixture
def root_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever configure_logging adds to the root logger is gone after the test."""
    root = logging.getLogger()
    # A handler an earlier test installed through configure_logging (a whole `tradegw run`
    # in process) would write this test's records a second time: set it aside meanwhile.
    prior = logs._installed
    if prior is not None:
        root.removeHandler(prior)
    handlers, level = list(root.handlers), root.level
    monkeypatch.setattr(logs, "_installed", None)
    yield
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    if prior is not None:
        root.addHandler(prior)


def _log_to(path: Path, level: str = "INFO", fmt: str = "text") -> None:
    configure_logging(
        TelemetryConfig(log_path=str(path), log_level=level, log_format=fmt)  # type: ignore[arg-type]
    )


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The file's records, one JSON object per line (every line must parse)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _records(path: Path) -> list[str]:
    """The file's records (a record's traceback lines follow its first line)."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line[:4].isdigit() and out:
            out.append(line)
        elif out:
            out[-1] += line
        else:
            out.append(line)
    return out


def _record(**kw: object) -> logging.LogRecord:
    fields: dict[str, object] = {
        "name": "tradegw.test",
        "level": logging.WARNING,
        "pathname": __file__,
        "lineno": 1,
        "msg": "",
        "args": (),
        "exc_info": None,
    }
    fields.update(kw)
    return logging.LogRecord(**fields)


# ---- bounds ----


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("dead letter: %s from %s (%s)", ("malformed", "kraken", "x" * 5_000_000)),
        ("frame %r", (b"\x00" * 5_000_000,)),  # repr would be 20 MB
        ("x" * 5_000_000, ()),
        ("%(value)s", ({"value": "y" * 5_000_000},)),
        ("wide %s", ("é" * 5_000_000,)),  # two bytes a character: cut on a boundary
    ],
)
def test_a_5_mb_message_becomes_a_bounded_line_with_a_marker(
    tmp_path: Path, root_logging: None, msg: str, args: tuple[object, ...]
) -> None:
    path = tmp_path / "log"
    _log_to(path)
    logging.getLogger("tradegw.test").warning(msg, *args)
    data = path.read_bytes()
    assert len(data) <= MESSAGE_MAX_BYTES + PREFIX_MAX
    text = data.decode("utf-8")  # strict: no character cut in half
    assert "… [truncated " in text
    dropped = int(text.rsplit("[truncated ", 1)[1].split(" ")[0])
    assert dropped > 4_900_000


def test_the_marker_counts_the_bytes_that_were_cut() -> None:
    f = BoundedRedactingFormatter("%(message)s", message_max_bytes=100)
    out = f.format(_record(msg="%s", args=("a" * 1000,)))
    assert len(out.encode()) <= 100
    kept = out.split("…")[0]
    assert out == kept + f"… [truncated {1000 - len(kept)} bytes]"
    # A message that fits is left whole, with no marker.
    assert f.format(_record(msg="%s", args=("a" * 100,))) == "a" * 100


def test_a_huge_traceback_is_bounded_and_keeps_its_start(
    tmp_path: Path, root_logging: None
) -> None:
    path = tmp_path / "log"
    _log_to(path)
    try:
        raise ValueError("price " + "9" * 3_000_000)
    except ValueError:
        logging.getLogger("tradegw.test").exception("frame handler failed trace_id=%s", "t1")
    data = path.read_bytes()
    assert len(data) <= MESSAGE_MAX_BYTES + TRACEBACK_MAX_BYTES + PREFIX_MAX
    text = data.decode("utf-8")
    assert "frame handler failed trace_id=t1\nTraceback (most recent call last):" in text
    assert "ValueError: price 999" in text
    assert text.rstrip().endswith(" bytes]")


def test_a_wrong_call_is_reported_as_logging_always_did() -> None:
    f = BoundedRedactingFormatter()
    with pytest.raises(TypeError):
        f.format(_record(msg="%d items", args=("x" * 100_000,)))


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("frame %r", (b"\x00" * 5_000_000,)),  # JSON escapes every backslash again
        ("wide %s", ("é" * 5_000_000,)),
    ],
)
def test_a_5_mb_message_is_bounded_in_json_too(
    tmp_path: Path, root_logging: None, msg: str, args: tuple[object, ...]
) -> None:
    path = tmp_path / "log"
    _log_to(path, fmt="json")
    logging.getLogger("tradegw.test").warning(msg, *args)
    (record,) = _json_lines(path)
    assert len(record["message"].encode()) <= MESSAGE_MAX_BYTES
    assert "… [truncated " in record["message"]


# ---- JSON lines ----


def test_json_lines_carry_time_level_logger_and_what_is_known(
    tmp_path: Path, root_logging: None
) -> None:
    path = tmp_path / "log"
    _log_to(path, fmt="json")
    log = logging.getLogger("tradegw.providers")
    log.warning(
        "kraken: resync %s (%s) trace_id=%s",
        *("BTC/USD", "gap", "0123456789abcdef"),
        extra={"venue": "kraken", "symbol": "BTC-USD", "trace_id": "0123456789abcdef"},
    )
    log.info("resync done trace_id=%s", "fedcba9876543210")  # known from the text alone
    log.error('plain\nline with "quotes" and \ud800 a lone surrogate')
    try:
        raise KeyError("boom")
    except KeyError:
        log.exception("handler failed", extra={"venue": "coinbase", "count": 3, "ok": True})
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4  # one line per record, tracebacks included
    first, second, third, fourth = (orjson.loads(line) for line in lines)
    assert first["level"] == "WARNING"
    assert first["logger"] == "tradegw.providers"
    assert first["message"] == "kraken: resync BTC/USD (gap) trace_id=0123456789abcdef"
    assert (first["venue"], first["symbol"], first["trace_id"]) == (
        "kraken",
        "BTC-USD",
        "0123456789abcdef",
    )
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.tzinfo is not None
    assert abs(stamp.timestamp() - time.time()) < 60
    assert second["trace_id"] == "fedcba9876543210"
    assert "venue" not in second
    assert third["message"].startswith('plain\nline with "quotes"')
    assert fourth["venue"] == "coinbase"
    assert (fourth["count"], fourth["ok"]) == (3, True)
    assert "KeyError: 'boom'" in fourth["exc_info"]


def test_auto_is_text_at_a_terminal_and_json_otherwise(
    capsys: pytest.CaptureFixture[str], root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging(TelemetryConfig(log_path=None))
    logging.getLogger("tradegw.test").warning("piped %s", URL)
    # Only this record: whatever an earlier test left running may write here too.
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "piped" in x]
    assert orjson.loads(line)["message"] == "piped wss://***@127.0.0.1:1/ws?token=***&depth=10"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    configure_logging(TelemetryConfig(log_path=None))
    logging.getLogger("tradegw.test").warning("at a terminal")
    err = capsys.readouterr().err
    assert "WARNING tradegw.test at a terminal" in err


# ---- redaction ----


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_logged_exception_with_a_secret_url_is_redacted_in_message_and_traceback(
    tmp_path: Path, root_logging: None, fmt: str
) -> None:
    path = tmp_path / "log"
    _log_to(path, fmt=fmt)
    try:
        raise OSError(f"cannot connect to {URL}")
    except OSError as e:
        logging.getLogger("tradegw.provider").exception("connect to %s failed (%s)", URL, e)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    if fmt == "json":
        (record,) = _json_lines(path)
        text = record["message"] + "\n" + record["exc_info"]
    assert "connect to wss://***@127.0.0.1:1/ws?token=***&depth=10 failed" in text
    assert "OSError: cannot connect to wss://***@127.0.0.1:1/ws?token=***&depth=10" in text
    # The source line of the raise statement is in the traceback too.
    assert 'raise OSError(f"cannot connect to {URL}")' in text


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_logger_is_covered_including_third_party_ones(
    tmp_path: Path, root_logging: None, fmt: str
) -> None:
    path = tmp_path / "log"
    _log_to(path, "DEBUG", fmt)
    for name in ("aiohttp.client", "asyncio", "picows", "tradegw.rest"):
        logging.getLogger(name).warning("GET %s", URL)
    logging.getLogger("tradegw").info("stack", stack_info=True)
    # An extra field is redacted too.
    logging.getLogger("tradegw").warning("x", extra={"url": URL})
    if fmt == "json":
        assert _json_lines(path)[-1]["url"] == "wss://***@127.0.0.1:1/ws?token=***&depth=10"
    records = _records(path) if fmt == "text" else path.read_text().splitlines()
    assert len(records) == 6
    assert all(SECRET not in r for r in records)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_secret_straddling_the_bound_leaves_nothing(
    tmp_path: Path, root_logging: None, fmt: str
) -> None:
    path = tmp_path / "log"
    _log_to(path, fmt=fmt)
    log = logging.getLogger("tradegw.test")
    # Put the URL's user-info and then its token right across the cut.
    for pad in range(MESSAGE_MAX_BYTES - 120, MESSAGE_MAX_BYTES, 7):
        log.warning("%s %s %s", "p" * pad, URL, "q" * MESSAGE_MAX_BYTES)
    records = _records(path) if fmt == "text" else path.read_text().splitlines()
    assert len(records) == len(range(MESSAGE_MAX_BYTES - 120, MESSAGE_MAX_BYTES, 7))
    for r in records:
        assert "s3c" not in r, r[-200:]


def test_stderr_is_used_without_a_log_path(
    capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    configure_logging(TelemetryConfig(log_path=None, log_format="text"))
    logging.getLogger("tradegw.test").warning("connect to %s failed", URL)
    err = capsys.readouterr().err
    assert "WARNING tradegw.test connect to wss://***@" in err
    assert SECRET not in err
    # The handler follows sys.stderr: one that was replaced since is never written.
    assert isinstance(logs._installed, logging.StreamHandler)
    assert logs._installed.stream is sys.stderr


def test_a_second_call_replaces_only_its_own_handler(tmp_path: Path, root_logging: None) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    _log_to(tmp_path / "a")
    _log_to(tmp_path / "b", "WARNING")
    added = [h for h in root.handlers if h not in before]
    assert len(added) == 1
    assert isinstance(added[0], logging.FileHandler)
    assert added[0].baseFilename == str(tmp_path / "b")
    assert root.level == logging.WARNING
    assert all(h in root.handlers for h in before)


def test_a_dlq_entry_detail_and_extra_fields_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "dlq"
    dlq = DeadLetterQueue(path)
    raw = b'{"note": "raw frames are kept as sent: key=abc"}'
    try:
        entry = dlq.put(
            venue="kraken",
            reason="handler_error",
            raw=raw,
            trace_id="t1",
            detail=f"OSError: cannot connect to {URL}",
            url=URL,
        )
        long = dlq.put(
            venue="kraken",
            reason="malformed",
            raw=b"{}",
            trace_id="t2",
            detail="v" * 1000 + f" {URL}" + "w" * 5000,  # the URL across the detail's cut
        )
    finally:
        dlq.close()
    assert (
        entry["detail"] == "OSError: cannot connect to wss://***@127.0.0.1:1/ws?token=***&depth=10"
    )
    assert entry["url"] == "wss://***@127.0.0.1:1/ws?token=***&depth=10"
    assert entry["raw"] == raw.decode()
    assert long["detail_truncated"] is True
    assert SECRET[:3] not in long["detail"]
    written = b"".join(p.read_bytes() for p in segment_files(path))
    assert len(written.splitlines()) == 2
    assert SECRET.encode() not in written


# ---- end to end ----


@pytest.mark.timeout(60)
def test_tradegw_run_never_writes_a_secret(
    tmp_path: Path, root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path, dlq_path, summary = tmp_path / "gw.log", tmp_path / "dlq", tmp_path / "s.json"
    config = tmp_path / "gw.yaml"
    # Nothing listens on port 1: connections are refused, REST fails, and both are logged
    # (the connection with its URL).
    config.write_text(
        f"""\
venues:
  kraken:
    ws_url: "ws://user:{SECRET}@127.0.0.1:1/?token={SECRET}"
    symbols: [BTC/USD]
    reconnect: {{initial_s: 0.05, max_s: 0.2}}
  coinbase:
    ws_url: "ws://user:{SECRET}@127.0.0.1:1/?token={SECRET}"
    rest_url: "http://user:{SECRET}@127.0.0.1:1/?apiKey={SECRET}"
    symbols: [BTC-USD]
    rest: {{attempts: 1}}
    reconnect: {{initial_s: 0.05, max_s: 0.2}}
telemetry:
  log_path: {log_path}
  dlq_path: {dlq_path}
  log_level: DEBUG
""",
        encoding="utf-8",
    )
    args = ["run", "--config", str(config), "--duration", "1", "--no-live"]
    assert main([*args, "--summary-json", str(summary)]) == 0
    out, err = capsys.readouterr()
    logged = log_path.read_text(encoding="utf-8")
    records = _json_lines(log_path)  # a log file is JSON lines by default
    assert {r["venue"] for r in records if "venue" in r} >= {"kraken"}
    assert "connect to ws://***@127.0.0.1:1/?token=*** failed" in logged
    assert "coinbase: waiting for reference data" in logged
    for name, text in (
        ("log", logged),
        ("dlq", "".join(p.read_text(encoding="utf-8") for p in segment_files(dlq_path))),
        ("summary", summary.read_text(encoding="utf-8")),
        ("stdout", out),
        ("stderr", err),
    ):
        assert SECRET not in text, name
    assert orjson.loads(summary.read_bytes())["venues"].keys() == {"kraken", "coinbase"}
