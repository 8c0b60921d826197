"""SIGINT and SIGTERM at any moment of ``tradegw run`` (issue 8, item 8), an unexpected error
in the run, and the gateway killed outright.

What "start-up" covers here: from the moment ``tradegw.cli.main`` has installed its handlers
(its first line; the test sees it in ``/proc/PID/status``, where SigCgt gains SIGTERM, which
Python never catches on its own) through the three simulators starting in child processes,
the gateway, the consumers, and on into the run. Before that moment the interpreter is still
starting and importing the console script's module (tens of milliseconds); a signal there
gets Python's default treatment (SIGTERM ends the process, SIGINT raises KeyboardInterrupt)
while nothing has started that could outlive it, so a seed whose delay falls there sends its
signal at the first moment the gateway can answer for it, the most import-heavy one.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from tradegw.cli import EXIT_FAILED, EXIT_OK, main
from tradegw.config import load_config
from tradegw.gateway import Gateway
from tradegw.runner import RunFailed, run
from tradegw.sim.process import SimulatorProcess
from tradegw.stopping import StopRequest

# Three venues on their simulators, two symbols each, one consumer: every kind of child and
# every start-up step, at a fraction of the embedded default's cost.
SMALL_CONFIG = """\
venues:
  binance:
    ws_url: sim
    rest_url: sim
    symbols: [BTCUSDT, ETHUSDT]
    channels: [depth, trade, bookTicker, ticker, kline]
    book_depth: 10
    snapshot_limit: 100
  coinbase:
    ws_url: sim
    rest_url: sim
    symbols: [BTC-USD, ETH-USD]
    channels: [level2, market_trades, ticker, candles]
    book_depth: 10
  kraken:
    ws_url: sim
    rest_url: sim
    symbols: [BTC/USD, ETH/USD]
    channels: [book, trade, ticker, ohlc]
    book_depth: 10
simulators:
  binance: {pairs: 2, rate: 100, seed: 7}
  coinbase: {pairs: 2, rate: 100, seed: 7}
  kraken: {pairs: 2, rate: 100, seed: 7}
consumers:
  - {name: books, kind: book, types: [BookSnapshot, BookUpdate, BookStatus]}
telemetry:
  dlq_path: null
"""
VENUES = {"binance", "coinbase", "kraken"}

SEEDS = range(24)
"""One after the other: the early seeds' exit time is mostly the rest of the imports (about
0.5 s of CPU), so gateways started side by side on this 2-core machine measure the machine
more than the gateway."""
WINDOW_S = 3.0
"""Signals land up to this long after the launch: past the start-up on an idle machine
(about 1.7 s to the consumers) and well inside it on a loaded one."""
EXIT_WITHIN_S = 2.0


def _tradegw() -> list[str]:
    script = Path(sys.executable).with_name("tradegw")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradegw.cli"]


def _handlers_installed(pid: int) -> bool:
    """Whether ``pid`` catches SIGTERM yet, i.e. ``tradegw.cli.main`` has begun."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def _kill_all(proc: subprocess.Popen[bytes], token: str) -> None:
    """Kills the gateway if it still runs and whatever it left behind, so that nothing a
    test started outlives it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pid in _processes_carrying(token):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _processes_carrying(token: str) -> list[int]:
    """Live processes whose environment holds ``token``: the gateway and every descendant,
    re-parented or not (a zombie's environment is gone, so it does not count)."""
    needle = token.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class Outcome:
    """What one seed did and saw."""

    seed: int
    signals: list[str]
    delay_s: float
    handlers_at_s: float = 0.0
    sent_at_s: float = 0.0
    exit_s: float = 0.0
    returncode: int | None = None
    sims_reported: int = 0
    stderr: str = ""
    summary: dict[str, object] | None = None
    summary_error: str = ""
    leftovers: list[int] = field(default_factory=list)
    files_left: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything this seed got wrong, empty when all is well."""
        out = []
        if self.exit_s > EXIT_WITHIN_S:
            out.append(f"exit {self.exit_s:.2f} s after the signal")
        if self.returncode != EXIT_OK:
            out.append(f"status {self.returncode}")
        if "Traceback" in self.stderr:
            out.append("traceback on stderr")
        if self.summary is None:
            out.append(f"no summary: {self.summary_error}")
        else:
            venues = self.summary.get("venues")
            if not isinstance(venues, dict) or set(venues) != VENUES:
                out.append(f"summary venues {venues!r}")
            if self.summary.get("duration_s") == 0.0 and self.summary.get("events_total") != 0:
                out.append("events counted before the gateway started")
        if self.leftovers:
            out.append(f"processes left: {self.leftovers}")
        if self.files_left:
            out.append(f"temporary files left: {self.files_left}")
        return out


def _one_seed(seed: int, tmp_path: Path, config: Path) -> Outcome:
    rng = random.Random(seed)
    sig = rng.choice((signal.SIGINT, signal.SIGTERM))
    # One in five lands in the first 50 ms, while the interpreter is still importing.
    delay_s = rng.uniform(0, 0.05) if rng.random() < 0.2 else rng.uniform(0, WINDOW_S)
    # One in three sends a second signal while the first one's shutdown is under way.
    second_after_s = rng.uniform(0.0, 0.3) if rng.random() < 1 / 3 else None
    outcome = Outcome(seed, [sig.name], delay_s)
    if second_after_s is not None:
        outcome.signals.append(f"{sig.name}+{second_after_s * 1000:.0f}ms")
    summary_path = tmp_path / f"summary-{seed}.json"
    # The simulators' config files go here, so that any left behind is seen.
    tmpdir = tmp_path / f"tmp-{seed}"
    tmpdir.mkdir()
    token = f"tradegw-signals-{seed}-{uuid.uuid4().hex}"
    argv = ["run", "--config", str(config), "--duration", "30", "--no-live"]
    argv += ["--summary-json", str(summary_path)]
    launched = time.monotonic()
    proc = subprocess.Popen(
        [*_tradegw(), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "TRADEGW_SIGNALS_TEST": token, "TMPDIR": str(tmpdir)},
        cwd=tmp_path,
    )
    lines: list[tuple[float, bytes]] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line))

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        while not _handlers_installed(proc.pid):
            assert proc.poll() is None, "the gateway ended before its handlers were in"
            assert time.monotonic() - launched < 20, "no handlers after 20 s"
            time.sleep(0.001)
        outcome.handlers_at_s = time.monotonic() - launched
        time.sleep(max(0.0, launched + delay_s - time.monotonic()))
        sent = time.monotonic()
        outcome.sent_at_s = sent - launched
        proc.send_signal(sig)
        second_at = None if second_after_s is None else sent + second_after_s
        # Polled rather than waited for, to send the second signal on time meanwhile.
        while proc.poll() is None and time.monotonic() - sent < 10:
            if second_at is not None and time.monotonic() >= second_at:
                proc.send_signal(sig)
                second_at = None
            time.sleep(0.002)
        outcome.exit_s = time.monotonic() - sent
        outcome.leftovers = _processes_carrying(token)
        outcome.files_left = sorted(f.name for f in tmpdir.iterdir())
    finally:
        _kill_all(proc, token)
    reader.join(5)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()
    outcome.returncode = proc.returncode
    outcome.stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    outcome.sims_reported = sum(b"started the" in line for t, line in lines if t < sent)
    try:
        outcome.summary = orjson.loads(summary_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        outcome.summary_error = repr(e)
    return outcome


@pytest.mark.timeout(240)
def test_a_signal_at_any_moment_of_start_up_ends_the_run_cleanly(tmp_path: Path) -> None:
    """Per seed, SIGINT or SIGTERM (and sometimes a second one during the shutdown) at a
    random moment of the first 3 s: the run ends within 2 s, status 0, no traceback, a
    summary that parses, and no process or temporary file of the run left."""
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    outcomes = [_one_seed(seed, tmp_path, config) for seed in SEEDS]
    report = [
        f"seed {o.seed:2}: {'+'.join(o.signals):22} delay {o.delay_s:5.3f} s, handlers at"
        f" {o.handlers_at_s:5.3f} s, sent at {o.sent_at_s:5.3f} s with {o.sims_reported}"
        f" simulators up, run {(o.summary or {}).get('duration_s')} s,"
        f" exit {o.exit_s * 1000:4.0f} ms after; {', '.join(o.problems()) or 'ok'}"
        for o in outcomes
    ]
    print("\n".join(report))
    print(f"slowest exit after the signal: {max(o.exit_s for o in outcomes) * 1000:.0f} ms")
    failed = [line for line, o in zip(report, outcomes, strict=True) if o.problems()]
    assert not failed, "\n".join(failed) + "\n" + "\n".join(o.stderr for o in outcomes)
    # The seeds reached the stages that cost the most: before any simulator was up (imports,
    # the first child starting) and between them (children running, one half-started). How
    # many got as far as a running gateway depends on the machine's speed, so it is only
    # reported.
    assert any(o.sims_reported == 0 for o in outcomes)
    assert any(0 < o.sims_reported < len(VENUES) for o in outcomes)
    running = sum(bool((o.summary or {}).get("duration_s")) for o in outcomes)
    print(f"{running} of {len(outcomes)} signals reached a running gateway")


def _sim_children() -> list[int]:
    """This process's live children running a simulator."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The parent pid is the 2nd field after the parenthesised command name.
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if ppid == me and b"tradegw.sim" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    """The small three-venue config as a file."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG, encoding="utf-8")
    return path


@pytest.mark.timeout(60)
def test_simulators_die_with_a_gateway_killed_outright(tmp_path: Path, small_config: Path) -> None:
    """SIGKILL leaves the gateway no say: its children go on their own (the parent-death
    signal they asked for before exec)."""
    token = f"tradegw-killed-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [*_tradegw(), "run", "--config", str(small_config), "--duration", "30", "--no-live"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        # A gateway killed outright cannot remove its simulators' config files: in tmp_path
        # they go with it.
        env={**os.environ, "TRADEGW_SIGNALS_TEST": token, "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        started = [proc.stdout.readline() for _ in VENUES]
        assert all(b"started the" in line for line in started), started
        assert len(_processes_carrying(token)) == 1 + len(VENUES)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + EXIT_WITHIN_S
        while _processes_carrying(token) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _processes_carrying(token) == []
    finally:
        _kill_all(proc, token)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.timeout(60)
def test_an_error_in_start_up_stops_the_simulators_and_still_writes_the_summary(
    tmp_path: Path,
    small_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def boom(self: Gateway) -> None:
        assert len(_sim_children()) == len(VENUES), "the simulators run when the gateway starts"
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Gateway, "start", boom)
    out = tmp_path / "s.json"
    argv = ["run", "--config", str(small_config), "--no-live", "--summary-json", str(out)]
    assert main(argv) == EXIT_FAILED
    assert _sim_children() == []
    assert capsys.readouterr().err == "tradegw: run failed: RuntimeError: boom\n"
    summary = orjson.loads(out.read_bytes())
    assert set(summary["venues"]) == VENUES
    assert summary["events_total"] == 0


@pytest.mark.timeout(60)
async def test_a_simulator_failing_half_started_is_killed(
    small_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[int] = []

    async def no_urls(self: SimulatorProcess, proc: object, within_s: float) -> None:
        spawned.extend(_sim_children())
        raise TimeoutError

    monkeypatch.setattr(SimulatorProcess, "_read_urls", no_urls)
    with pytest.raises(RunFailed) as info:
        await run(load_config(small_config), duration_s=5, live=False, say=lambda _: None)
    assert isinstance(info.value.__cause__, TimeoutError)
    assert len(spawned) == 1, "the first simulator's child was running"
    assert _sim_children() == []
    assert info.value.summary["events_total"] == 0


@pytest.mark.timeout(30)
async def test_a_stop_requested_before_the_run_starts_nothing(
    tmp_path: Path, small_config: Path
) -> None:
    request = StopRequest()
    request.install()
    try:
        signal.raise_signal(signal.SIGTERM)  # its handler runs before this returns
        assert request.count == 1
        out = tmp_path / "s.json"
        summary = await run(
            load_config(small_config), duration_s=30, summary_path=out, stop_request=request
        )
    finally:
        request.restore()
    assert _sim_children() == []
    assert summary == orjson.loads(out.read_bytes())
    assert summary["duration_s"] == 0.0
    assert summary["events_total"] == 0
    assert summary["consumer_books_match"] is None
    assert {v["events_total"] for v in summary["venues"].values()} == {0}


@pytest.mark.timeout(30)
async def test_a_summary_that_cannot_be_written_fails_the_run(
    tmp_path: Path, small_config: Path
) -> None:
    request = StopRequest()
    request.signals.append(signal.SIGINT)  # stopped before it starts: nothing to wait for
    with pytest.raises(RunFailed) as info:
        await run(
            load_config(small_config),
            summary_path=tmp_path / "missing" / "s.json",
            stop_request=request,
        )
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert info.value.summary["events_total"] == 0
