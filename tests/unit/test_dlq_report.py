"""``tradegw dlq``: lists and summarises a DLQ folder or file, filtered by reason, venue and
time."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from tradegw.cli import main
from tradegw.dlq_report import parse_since
from tradegw.telemetry import DeadLetterQueue
from tradegw.telemetry.dlq import iso_time

pytestmark = pytest.mark.timeout(30)

HOUR_NS = 3600 * 10**9


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A DLQ folder: an old file written by hand (two hours ago), then a fresh run's."""
    dlq_dir = tmp_path / "dlq"
    dlq_dir.mkdir()
    old_ns = time.time_ns() - 2 * HOUR_NS
    old = {
        "time": iso_time(old_ns),
        "ts_ns": old_ns,
        "venue": "binance",
        "reason": "malformed",
        "trace_id": "0" * 16,
        "detail": "old",
        "raw": "{}",
        "raw_encoding": "utf-8",
    }
    (dlq_dir / "dlq-20000101T000000Z-1-0001.jsonl").write_bytes(
        orjson.dumps(old) + b"\n" + b'{"cut by a cra\n'
    )
    dlq = DeadLetterQueue(dlq_dir)
    dlq.put(venue="kraken", reason="malformed", raw=b'{"bad":', trace_id="1" * 16, detail="a")
    dlq.put(venue="kraken", reason="checksum_mismatch", raw=b"{}", trace_id="2" * 16)
    dlq.put(venue="coinbase", reason="malformed", raw=b"\xff", trace_id="3" * 16)
    dlq.close()
    return dlq_dir


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    status = main(["dlq", *args])
    return status, capsys.readouterr().out.splitlines()


def test_lists_every_entry_oldest_first_then_a_summary(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = _run(capsys, str(folder))
    assert status == 0
    listed = lines[:4]
    for line, digit in zip(listed, "0123", strict=True):
        assert digit * 16 in line
    assert "base64:/w==" in listed[3]  # bytes that are not UTF-8, as stored
    assert lines[4].startswith(f"4 entries of 4 in {folder}, from ")
    assert lines[5] == "  by reason: malformed 3, checksum_mismatch 1"
    assert lines[6] == "  by venue: kraken 2, binance 1, coinbase 1"


@pytest.mark.parametrize(
    ("args", "trace_digits"),
    [
        (["--reason", "malformed"], "013"),
        (["--reason", "malformed", "--reason", "checksum_mismatch"], "0123"),
        (["--venue", "kraken"], "12"),
        (["--venue", "kraken", "--reason", "malformed"], "1"),
        (["--since", "1h"], "123"),
        (["--since", "90m", "--venue", "binance"], ""),
        (["--venue", "nowhere"], ""),
    ],
)
def test_filters(
    folder: Path, capsys: pytest.CaptureFixture[str], args: list[str], trace_digits: str
) -> None:
    status, lines = _run(capsys, str(folder), "--json", *args)
    assert status == 0
    assert [orjson.loads(line)["trace_id"][0] for line in lines] == list(trace_digits)


def test_since_an_iso_time_and_the_summary_alone(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    since = iso_time(time.time_ns() - HOUR_NS)
    status, lines = _run(capsys, str(folder), "--summary", "--since", since)
    assert status == 0
    assert lines[0].startswith(f"3 entries of 4 in {folder}")
    assert lines[1] == "  by reason: malformed 2, checksum_mismatch 1"


def test_one_file_and_the_configs_folder(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (first,) = sorted(folder.glob("dlq-2000*.jsonl"))
    status, lines = _run(capsys, str(first), "--summary")
    assert status == 0
    assert lines[0].startswith(f"1 entries of 1 in {first}, from ")
    config = tmp_path / "gw.yaml"
    config.write_text(f"telemetry: {{dlq_path: {folder}}}\n", encoding="utf-8")
    status, lines = _run(capsys, "--config", str(config), "--summary")
    assert status == 0
    assert lines[0].startswith("4 entries of 4")


def test_a_missing_folder_or_a_bad_since_is_a_usage_error(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", str(tmp_path / "nothing")]) == 2
    assert "no DLQ at" in capsys.readouterr().err
    assert main(["dlq", str(folder), "--since", "yesterday"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err


def test_parse_since() -> None:
    now = 10**18
    assert parse_since("90s", now) == now - 90 * 10**9
    assert parse_since("1.5h", now) == now - 5400 * 10**9
    assert parse_since("2d", now) == now - 2 * 86_400 * 10**9
    assert parse_since("2026-01-01T00:00:00") == parse_since("2026-01-01T00:00:00+00:00")
    assert parse_since("2026-01-01T01:00:00+01:00") == parse_since("2026-01-01T00:00:00Z")
