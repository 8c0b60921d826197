"""Telemetry: the log-linear latency histogram, the dead-letter queue and the counters."""

from __future__ import annotations

import base64
import logging
import math
import random
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tradegw.telemetry import Counters, DeadLetterQueue, LatencyHistogram, Telemetry
from tradegw.telemetry.dlq import _SegmentWriter, read_entries, segment_files

# Bucket resolution: 32 linear sub-buckets per power of two.
RESOLUTION = 1 / 32


def exact_percentile(values: list[int], p: float) -> int:
    """Nearest-rank percentile (the smallest value with at least p % of samples at or
    below it)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[rank - 1]


# ---- histogram ----


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_bucket_resolution_of_exact(seed: int) -> None:
    rng = random.Random(seed)
    # Latency-like data: a log-normal body around 50 µs with a heavy tail, in ns.
    values = [int(rng.lognormvariate(math.log(50_000), 1.2)) for _ in range(10_000)]
    values += [rng.randint(0, 40) for _ in range(100)]  # and some tiny ones
    values += [rng.randint(10**9, 10**12) for _ in range(100)]  # and some huge ones
    h = LatencyHistogram()
    h.record_many(values)
    assert h.count == len(values)
    assert h.total == sum(values)
    assert h.max == max(values)
    # Ranks count * p / 100 that are whole numbers, so every percentile definition agrees.
    for p in (1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100):
        exact = exact_percentile(values, p)
        got = h.percentile(p)
        assert got <= exact, (p, got, exact)
        assert exact - got <= exact * RESOLUTION, (p, got, exact)


def test_small_values_are_exact() -> None:
    h = LatencyHistogram()
    h.record_many(range(64))
    for v in (1, 10, 31, 32, 33, 63):
        # rank v + 1 out of 64 samples 0..63 is the value v itself
        assert h.percentile((v + 1) * 100 / 64) == v


def test_median_of_an_odd_number_of_samples() -> None:
    """The value at percentile 50 of five samples is the third smallest by every percentile
    definition (nearest rank, linear interpolation, the median). Values below 32 have exact
    buckets, and 1000 is far from 1 in any bucket scheme."""
    h = LatencyHistogram()
    h.record_many([1, 2, 3, 4, 5])
    assert h.percentile(50) == 3
    skewed = LatencyHistogram()
    skewed.record_many([1, 1, 1000, 1000, 1000])
    assert 1000 * (1 - RESOLUTION) <= skewed.percentile(50) <= 1000


def test_percentile_is_capped_by_the_largest_sample() -> None:
    h = LatencyHistogram()
    h.record(1_000_003)
    assert h.percentile(50) <= 1_000_003
    assert h.percentile(100) <= 1_000_003
    assert 1_000_003 - h.percentile(100) <= 1_000_003 * RESOLUTION


def test_negative_samples_count_as_zero() -> None:
    h = LatencyHistogram()
    h.record(-5)
    h.record(10)
    assert h.count == 2
    assert h.total == 10
    assert h.percentile(50) == 0
    assert h.percentile(100) == 10


def test_merge_equals_recording_everything_in_one() -> None:
    rng = random.Random(3)
    a_vals = [rng.randint(0, 10**7) for _ in range(1000)]
    b_vals = [rng.randint(10**5, 10**9) for _ in range(1000)]
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    a.record_many(a_vals)
    b.record_many(b_vals)
    both.record_many(a_vals + b_vals)
    a.merge(b)
    assert (a.count, a.total, a.max) == (both.count, both.total, both.max)
    for p in (0, 10, 50, 90, 99, 99.9, 100):
        assert a.percentile(p) == both.percentile(p)
    assert a.summary_us() == both.summary_us()
    assert b.count == 1000  # the merged-in histogram is unchanged


def test_merge_of_empty_changes_nothing() -> None:
    h = LatencyHistogram()
    h.record(500)
    h.merge(LatencyHistogram())
    assert (h.count, h.total, h.max) == (1, 500, 500)
    empty = LatencyHistogram()
    empty.merge(h)
    assert empty.percentile(50) == h.percentile(50)


def test_summary_us() -> None:
    h = LatencyHistogram()
    h.record_many([10_000] * 98 + [1_000_000, 2_000_000])  # 10 µs mostly, then 1 ms and 2 ms
    s = h.summary_us()
    assert set(s) == {"p50", "p99", "p999", "max", "mean", "count"}
    assert s["count"] == 100
    assert s["p50"] == pytest.approx(10.0, rel=RESOLUTION)
    assert s["p99"] == pytest.approx(1000.0, rel=RESOLUTION)
    assert s["p999"] == pytest.approx(2000.0, rel=RESOLUTION)
    assert s["p999"] <= 2000.0
    assert s["max"] == 2000.0
    assert s["mean"] == pytest.approx((98 * 10_000 + 3_000_000) / 100 / 1000, abs=0.1)


def test_empty_histogram() -> None:
    h = LatencyHistogram()
    assert h.percentile(50) == 0
    assert h.percentile(99.9) == 0
    assert h.summary_us() == {
        "p50": 0.0,
        "p99": 0.0,
        "p999": 0.0,
        "max": 0.0,
        "mean": 0.0,
        "count": 0,
    }


# ---- dead-letter queue ----


def read_dir(path: Path) -> list[dict[str, Any]]:
    """Every entry of a DLQ folder, oldest first."""
    return list(read_entries(path))


def test_dlq_in_memory() -> None:
    dlq = DeadLetterQueue(keep=2)
    e1 = dlq.put(venue="kraken", reason="malformed", raw=b"{bad", trace_id="0" * 16)
    dlq.put(venue="kraken", reason="malformed", raw="x", trace_id="1" * 16, detail="why")
    dlq.put(venue="kraken", reason="stale", raw="y", trace_id="2" * 16, extra_field=3)
    assert e1["raw"] == "{bad"
    assert e1["raw_encoding"] == "utf-8"
    assert e1["truncated"] is False
    assert dlq.count == 3
    assert dlq.by_reason == {"malformed": 2, "stale": 1}
    assert dlq.by_venue_reason == {("kraken", "malformed"): 2, ("kraken", "stale"): 1}
    assert [e["trace_id"] for e in dlq.recent] == ["1" * 16, "2" * 16]  # keeps the last 2
    assert dlq.recent[-1]["extra_field"] == 3
    assert dlq.path is None
    assert dlq.flush()
    dlq.close()


def test_dlq_writes_json_lines_off_the_loop_and_keeps_them_across_runs(tmp_path: Path) -> None:
    folder = tmp_path / "sub" / "dlq"  # parents are created, by the writer
    dlq = DeadLetterQueue(folder)
    assert not folder.exists()  # nothing written, nothing made
    main_thread = threading.get_ident()
    writers: set[int] = set()
    real_rotate = _SegmentWriter._rotate

    def rotate(self: _SegmentWriter) -> None:
        writers.add(threading.get_ident())
        real_rotate(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_SegmentWriter, "_rotate", rotate)
        dlq.put(venue="kraken", reason="malformed", raw=b'{"a": 1}', trace_id="a" * 16)
        assert dlq.flush()
    assert writers
    assert main_thread not in writers
    assert [e["raw"] for e in read_dir(folder)] == ['{"a": 1}']
    dlq.put(
        venue="kraken",
        reason="checksum_mismatch",
        raw="{}",
        trace_id="b" * 16,
        detail="crc 1 != 2",
        consumer="books",
    )
    dlq.close()
    dlq.close()  # idempotent

    again = DeadLetterQueue(folder)
    again.put(venue="coinbase", reason="malformed", raw=b"\xff\xfe", trace_id="c" * 16)
    again.close()
    lines = read_dir(folder)
    assert len(segment_files(folder)) == 2  # a file per run
    assert [e["trace_id"] for e in lines] == ["a" * 16, "b" * 16, "c" * 16]
    assert [e["reason"] for e in lines] == ["malformed", "checksum_mismatch", "malformed"]
    assert lines[1]["detail"] == "crc 1 != 2"
    assert lines[1]["consumer"] == "books"
    assert lines[2]["venue"] == "coinbase"
    # Bytes that are not UTF-8 are kept exactly, as base64.
    assert (lines[2]["raw"], lines[2]["raw_encoding"]) == ("//4=", "base64")
    assert base64.b64decode(lines[2]["raw"]) == b"\xff\xfe"
    for e in lines:
        assert isinstance(e["ts_ns"], int)
        parsed = datetime.fromisoformat(e["time"])
        assert abs(parsed.timestamp() - e["ts_ns"] / 1e9) < 1e-5
    assert again.count == 1  # counts are per process run


def test_dlq_truncates_huge_raw_and_a_cut_inside_a_character_stays_text(tmp_path: Path) -> None:
    dlq = DeadLetterQueue(tmp_path)
    huge = "x" * (64 * 1024 + 10)
    entry = dlq.put(venue="kraken", reason="malformed", raw=huge, trace_id="d" * 16)
    exact = dlq.put(venue="kraken", reason="malformed", raw="y" * (64 * 1024), trace_id="e" * 16)
    # 64 KiB of bytes ends in the middle of a two-byte character.
    accents = ("a" + "é" * 40_000).encode()
    cut = dlq.put(venue="kraken", reason="malformed", raw=accents, trace_id="f" * 16)
    dlq.close()
    assert entry["truncated"] is True
    assert len(entry["raw"]) == 64 * 1024
    assert exact["truncated"] is False
    assert cut["raw_encoding"] == "utf-8"
    assert cut["truncated"] is True
    assert accents.decode().startswith(cut["raw"])
    lines = read_dir(tmp_path)
    assert lines[0]["truncated"] is True
    assert lines[0]["raw"] == huge[: 64 * 1024]
    assert len(lines[1]["raw"]) == 64 * 1024


def test_dlq_logs_with_trace_id(caplog: pytest.LogCaptureFixture) -> None:
    dlq = DeadLetterQueue()
    with caplog.at_level(logging.WARNING, logger="tradegw.dlq"):
        dlq.put(venue="kraken", reason="malformed", raw="x", trace_id="f" * 16, detail="oops")
    (record,) = caplog.records
    assert record.trace_id == "f" * 16  # type: ignore[attr-defined]
    assert record.venue == "kraken"  # type: ignore[attr-defined]
    assert "malformed" in record.getMessage()
    assert "oops" in record.getMessage()


def test_dlq_rotates_by_size_and_stays_within_its_total(tmp_path: Path) -> None:
    per_file, total = 64 * 1024, 4 * 64 * 1024
    dlq = DeadLetterQueue(tmp_path, keep=5, max_file_bytes=per_file, max_total_bytes=total)
    huge = b'{"price":"' + b"9" * 5_000_000 + b'"}'
    entry = dlq.put(
        venue="binance", reason="malformed", raw=huge, trace_id="f" * 16, detail="x" * 10**6
    )
    assert entry["truncated"] is True
    assert entry["raw_bytes"] == len(huge)
    assert len(entry["raw"]) == 64 * 1024
    assert entry["detail_truncated"] is True
    assert len(entry["detail"]) == 1024
    # What stays in memory is smaller still.
    assert len(dlq.recent[-1]["raw"]) == 4 * 1024
    sent = [f"{i:016x}" for i in range(200)]
    for trace_id in sent:
        dlq.put(venue="binance", reason="malformed", raw=b"y" * 20_000, trace_id=trace_id)
        assert dlq.flush()
        on_disk = sum(p.stat().st_size for p in segment_files(tmp_path))
        assert on_disk <= total
        assert dlq.bytes_on_disk == on_disk
    dlq.close()
    files = segment_files(tmp_path)
    assert len(files) >= 4  # rotated
    assert all(p.stat().st_size <= per_file for p in files)
    kept = [e["trace_id"] for e in read_dir(tmp_path)]
    # The oldest went first: what is left is the newest entries, in order, none missing.
    assert kept == sent[-len(kept) :]
    assert len(kept) >= 9
    assert dlq.count == 201
    assert dlq.not_written == 0
    assert sum(len(e["raw"]) for e in dlq.recent) <= 5 * 4 * 1024


def test_dlq_counts_what_a_stuck_writer_could_not_take(tmp_path: Path) -> None:
    dlq = DeadLetterQueue(tmp_path)
    dlq.put(venue="kraken", reason="malformed", raw="x", trace_id="0" * 16)
    writer = dlq._writer
    assert writer is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer, "offer", lambda entry: False)  # a queue that is full
        for _ in range(3):
            dlq.put(venue="kraken", reason="malformed", raw="x", trace_id="1" * 16)
    dlq.close()
    assert dlq.count == 4
    assert dlq.not_written == 3
    assert len(read_dir(tmp_path)) == 1


# ---- counters ----


def test_counters_labels_and_totals() -> None:
    c = Counters()
    c.inc("frames")
    c.inc("frames", "kraken")
    c.inc("frames", "kraken", by=3)
    c.inc("resyncs", "kraken", "BTC-USD")
    c.inc("resyncs", "kraken", "ETH-USD", by=2)
    assert c.get("frames") == 5
    assert c.get("frames", "kraken") == 4
    assert c.get("resyncs") == 3
    assert c.get("resyncs", "kraken", "ETH-USD") == 2
    assert c.get("resyncs", "kraken") == 0  # only the exact label set is a series
    assert c.get("never") == 0
    assert c.totals() == {"frames": 5, "resyncs": 3}
    # Series are exactly what was incremented; totals are summed when read.
    assert c.series() == {
        ("frames",): 1,
        ("frames", "kraken"): 4,
        ("resyncs", "kraken", "BTC-USD"): 1,
        ("resyncs", "kraken", "ETH-USD"): 2,
    }
    assert "never" not in c.totals()  # get() does not create series


def test_telemetry_hub(tmp_path: Path) -> None:
    t = Telemetry(tmp_path / "dlq")
    t.counters.inc("x")
    t.latency.record(5)
    t.dlq.put(venue="kraken", reason="r", raw="", trace_id="0" * 16)
    t.close()
    assert t.dlq.path == tmp_path / "dlq"
    assert len(read_dir(tmp_path / "dlq")) == 1
    assert Telemetry().dlq.path is None


# ---- Prometheus buckets ----


@pytest.mark.parametrize("seed", range(3))
def test_cumulative_buckets_match_exact_counts_within_a_bucket(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(math.log(200_000), 1.5)) for _ in range(5000)]
    h = LatencyHistogram()
    h.record_many(values)
    bounds = [50_000, 100_000, 250_000, 1_000_000, 10_000_000, 10**9]
    got = h.cumulative(bounds)
    assert got == sorted(got)
    for bound, count in zip(bounds, got, strict=True):
        # Never fewer than the samples at or below the bound, never more than those within
        # one bucket (~3 %) above it.
        assert sum(v <= bound for v in values) <= count
        assert count <= sum(v <= bound * (1 + RESOLUTION) for v in values)


def test_the_embedded_config_and_bad_ops_or_dlq_sizes(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from tradegw.config import load_config
    from tradegw.config.models import TelemetryConfig

    config = load_config(None)
    assert config.ops.port == 0
    assert config.ops.host == "127.0.0.1"
    assert config.telemetry.dlq_path == "tradegw-dlq"
    with pytest.raises(ValidationError, match="at least twice dlq_file_bytes"):
        TelemetryConfig(dlq_file_bytes=8 << 20, dlq_total_bytes=10 << 20)
    telemetry = Telemetry.from_config(
        TelemetryConfig(dlq_path=str(tmp_path), dlq_file_bytes=1 << 20, dlq_total_bytes=3 << 20)
    )
    assert telemetry.dlq.max_total_bytes == 3 << 20
    assert telemetry.ops.capacity == 10_000
