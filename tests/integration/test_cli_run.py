"""``tradegw run`` as a user runs it: the embedded default config (simulator in a child
process, three demo consumers), the summary file, Ctrl-C, and a bad config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tradegw.cli import main
from tradegw.orders.ledger import OrderLedger

MARKET_TYPES = ("BookSnapshot", "BookUpdate", "BookStatus", "Trade", "Ticker", "KlineSummary")


def _tradegw() -> list[str]:
    script = Path(sys.executable).with_name("tradegw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradegw.cli"]


def _check_summary(summary: dict[str, object]) -> None:
    assert summary["checksum_failed"] == 0
    assert isinstance(summary["checksum_ok"], int)
    assert summary["checksum_ok"] > 0
    assert summary["out_of_order_delivered"] == 0
    events = summary["events"]
    assert isinstance(events, dict)
    for etype in MARKET_TYPES:
        assert events[etype] > 0, f"no {etype}: {events}"
    assert summary["consumer_books_match"] is True
    latency = summary["latency_us"]
    assert isinstance(latency, dict)
    assert latency["count"] > 0
    assert 0 < latency["p50"] <= latency["p99"] <= latency["p999"]
    for key in ("resyncs", "reconnects", "dlq"):
        assert key in summary
    venues = summary["venues"]
    assert isinstance(venues, dict)
    assert venues, "no venue in the summary"
    for name, figures in venues.items():
        assert figures["checksum_failed"] == 0, name
        assert figures["sequence_gaps"] == 0, name
        assert figures["consumer_books_match"] is True, name
        for etype in MARKET_TYPES:
            assert figures["events"][etype] > 0, f"{name}: no {etype}"
    assert sum(v["events_total"] for v in venues.values()) == summary["events_total"]


@pytest.mark.timeout(60)
def test_run_default_config_writes_a_clean_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The embedded default keeps its state, order ledger, control address and DLQ in the
    # current folder.
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "s.json"
    assert main(["run", "--duration", "4", "--summary-json", str(out), "--no-live"]) == 0
    summary = orjson.loads(out.read_bytes())
    _check_summary(summary)
    assert (tmp_path / "tradegw-state.sqlite").is_file()
    assert not (tmp_path / "tradegw-control.addr").exists()  # removed when the run ended
    # The demo strategy is off by default: no venue trades, the order ledger stays empty.
    assert summary["orders"] == {}
    assert summary["demo_strategy"] is None
    ledger = OrderLedger(tmp_path / "tradegw-orders.sqlite")
    try:
        assert ledger.count() == 0
    finally:
        ledger.close()


@pytest.mark.timeout(90)
def test_run_with_the_demo_strategy_shows_orders_and_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "s.json"
    args = ["run", "--demo-strategy", "--duration", "10", "--summary-json", str(out), "--no-live"]
    assert main(args) == 0
    printed = capsys.readouterr()
    summary = orjson.loads(out.read_bytes())
    _check_summary(summary)  # market data is as clean as without it
    assert "demo strategy trading on binance, coinbase, kraken" in printed.out
    orders = summary["orders"]
    assert sorted(orders) == ["binance", "coinbase", "kraken"]
    for venue, o in orders.items():
        line = next(x for x in printed.out.splitlines() if x.startswith(f"  orders {venue}:"))
        assert f"placed {o['placed']}, filled {o['filled']}" in line
        assert o["placed"] > 0, (venue, o)
        assert o["fills"] > 0, (venue, o)
        assert o["open"] == 0, (venue, o)  # the strategy cancelled what it left at stop
        assert o["rejected"] <= max(2, o["placed"] // 10), (venue, o)
    assert sum(o["cancelled"] for o in orders.values()) > 0
    demo = summary["demo_strategy"]
    assert demo["submitted"] == sum(o["placed"] for o in orders.values())
    assert demo["exec_reports_out_of_order"] == 0
    assert demo["state_regressions"] == 0
    assert demo["unaffordable"] == 0
    # Keys were made for the simulators: none of their parts was printed.
    for text in (printed.out, printed.err, out.read_text()):
        assert "PRIVATE KEY" not in text
        assert "organizations/" not in text  # a Coinbase key name


@pytest.mark.timeout(60)
def test_ctrl_c_ends_the_run_cleanly_with_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    proc = subprocess.Popen(
        [*_tradegw(), "run", "--no-live", "--summary-json", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,  # the embedded default must work from any folder
    )
    try:
        assert proc.stdout is not None
        started = [proc.stdout.readline() for _ in range(3)]
        for venue in ("binance", "coinbase", "kraken"):
            assert any(f"started the {venue} simulator" in line for line in started), started
        time.sleep(4)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "checksum ok" in stdout
    assert "metrics on http://127.0.0.1:" in stdout  # the embedded default serves them
    _check_summary(orjson.loads(out.read_bytes()))


@pytest.mark.timeout(30)
def test_bad_config_names_file_and_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues:\n  kraken:\n    book_depth: 7\n", encoding="utf-8")
    proc = subprocess.run(
        [*_tradegw(), "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr
    assert "venues.kraken.book_depth" in proc.stderr
    assert proc.stderr.count("\n") == 1, "one message, no traceback"
