"""``tradegw verify --quick``: each scenario on the real simulators (child processes) through
the Python API, the command line with ``--json``, and a stop signal in the middle of a
scenario. Values are checked to be plausible and within the plan's thresholds only (the
verdicts themselves are the measurement tool's; tests never assert finer timings)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from tests.integration.test_run_signals import _kill_all, _processes_carrying
from tradegw.verify.outcome import Outcome
from tradegw.verify.session import STOPPED, run_verify


async def _verify(*criteria: str) -> dict[str, Outcome]:
    report = await run_verify(criteria, quick=True)
    got = {o.criterion: o for o in report.outcomes}
    assert sorted(got) == sorted(criteria)
    for o in got.values():
        assert o.passed is True, (o.criterion, o.value, o.note)
    assert report.passed
    return got


@pytest.mark.timeout(90)
async def test_full_load_latency_degradation_and_checksums() -> None:
    got = await _verify("SC-001", "SC-011", "SC-012")
    latency = got["SC-001"]
    assert latency.value is not None
    assert 0 < latency.value < 200
    assert latency.figures["latency_us"]["count"] > 1_000
    assert latency.figures["msgs_per_s"] > 500
    degradation = got["SC-011"].figures
    assert degradation["books_match"] is True
    assert all(c["spilled"] == 0 for c in degradation["consumers"].values())
    checks = got["SC-012"].figures
    assert checks["checksum_ok"] > 100
    assert checks["bbo_checked"] > 50
    assert got["SC-012"].value == 100.0


@pytest.mark.timeout(90)
async def test_no_disorder_under_faulty_feeds() -> None:
    figures = (await _verify("SC-002"))["SC-002"].figures
    assert figures["out_of_order_gateway"] == figures["out_of_order_audit"] == 0
    assert figures["audited"] > 1_000
    assert figures["resyncs"]["gap"] > 0


@pytest.mark.timeout(90)
async def test_fair_share_beside_greedy_and_stalled() -> None:
    outcome = (await _verify("SC-004"))["SC-004"]
    assert outcome.value is not None
    assert outcome.value >= 25.0
    assert outcome.figures["alone_per_s"] > 300


@pytest.mark.timeout(90)
async def test_routing_changes_under_churn() -> None:
    outcome = (await _verify("SC-005"))["SC-005"]
    assert outcome.value is not None
    assert outcome.value < 1000
    assert outcome.figures["changes_per_s"] > 50
    assert outcome.figures["subscribes_with_events"] > 50
    assert outcome.figures["strays"] == outcome.figures["missed"] == 0


@pytest.mark.timeout(120)
async def test_resync_after_each_fault() -> None:
    outcome = (await _verify("SC-006"))["SC-006"]
    assert outcome.value is not None
    assert outcome.value < 5
    assert set(outcome.figures["per_fault"]) == {"gap", "checksum", "stale"}
    assert all(outcome.figures["per_fault"].values())


@pytest.mark.timeout(120)
async def test_merges_on_threshold_and_never_partial() -> None:
    got = await _verify("SC-009", "SC-010")
    assert got["SC-009"].value is not None
    assert got["SC-009"].value >= 95
    assert got["SC-010"].value == 0
    assert got["SC-010"].figures["emitted"] > 0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tradegw", "verify", *args]


@pytest.mark.timeout(90)
def test_the_command_writes_json_and_exits_0(tmp_path: Path) -> None:
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    path = cwd / "verify.json"
    proc = subprocess.run(
        _command("--quick", "--scenario", "SC-012", "--scenario", "SC-008", "--json", str(path)),
        capture_output=True,
        text=True,
        timeout=80,
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SC-012" in proc.stdout
    assert "PASSED" in proc.stdout
    report = orjson.loads(path.read_bytes())
    assert report["passed"] is True
    assert report["quick"] is True
    rows = {r["criterion"]: r for r in report["criteria"]}
    assert set(rows) == {"SC-008", "SC-012"}
    assert rows["SC-012"]["passed"] is True
    assert rows["SC-012"]["value"] == 100.0
    assert rows["SC-008"]["passed"] is True
    assert rows["SC-008"]["value"] == 0
    assert rows["SC-008"]["figures"]["reached_while_disabled"] == 0
    # Nothing was written where it ran: the rigs keep their state and DLQ in memory; the
    # order rig's ledger and the simulators' config files (keys) were in private temporary
    # folders, all removed.
    assert sorted(p.name for p in cwd.iterdir()) == ["verify.json"]
    assert list(tmp.iterdir()) == []


def test_an_unknown_criterion_is_bad_usage() -> None:
    proc = subprocess.run(
        _command("--scenario", "SC-099"), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "SC-099" in proc.stderr


@pytest.mark.timeout(60)
def test_a_signal_stops_verify_cleanly(tmp_path: Path) -> None:
    token = f"TRADEGW_VERIFY_TEST={uuid.uuid4().hex}"
    env = {**os.environ, token.split("=")[0]: token.split("=")[1]}
    proc = subprocess.Popen(
        _command("--quick", "--scenario", "SC-003", "--scenario", "SC-004"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        # The scenario has started: its simulators run.
        line = proc.stderr.readline().decode()
        assert "SC-003" in line
        deadline = time.monotonic() + 20
        while len(_processes_carrying(token)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_processes_carrying(token)) >= 4  # verify and its three simulators
        # Into the scenario: the simulators serve, the gateway syncs or the stall runs.
        time.sleep(2.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
        assert proc.returncode == 1, err
        text = out.decode()
        assert STOPPED in text
        assert "STOPPED" in text
        assert "SC-004" in text  # the scenario after it is listed, not run
        assert took < 10
        assert _processes_carrying(token) == []
    finally:
        _kill_all(proc, token)
