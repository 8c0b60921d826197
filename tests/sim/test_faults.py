"""The venue-neutral fault plan and injector, without sockets (a recording target)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from tradegw.sim.config import load_fault_plan
from tradegw.sim.faults import FAULT_KINDS, FaultInjector, FaultPlan, FaultScope, FaultSpec
from tradegw.sim.wire import DataFrame

pytestmark = pytest.mark.timeout(10)


class _StalePlan(FaultPlan):
    """What a venue with kinds of its own declares (Binance's old REST snapshot, say)."""

    venue_kinds: ClassVar[Mapping[str, FaultScope]] = {"stale_snapshot": "http", "skip_seq": "ws"}


class _Target:
    """Records what the injector does to a connection."""

    def __init__(self) -> None:
        self.sent: list[DataFrame] = []
        self.held: list[DataFrame] = []
        self.events: list[str] = []

    def emit(self, frame: DataFrame) -> None:
        self.sent.append(frame)

    def holding(self, frame: DataFrame) -> bool:
        return bool(self.held)

    def hold(self, frame: DataFrame) -> None:
        self.held.append(frame)

    def send_malformed(self) -> None:
        self.events.append("malformed")

    def stall(self, seconds: float) -> None:
        self.events.append(f"stall {seconds}")

    def abort(self) -> None:
        self.events.append("abort")


class _Checked(DataFrame):
    __slots__ = ()
    corruptible = True

    def corrupted(self) -> DataFrame:
        return _Checked(self.channel, self.symbol, b"corrupt", self.loss_detectable)


def _plan(*specs: dict[str, object], plan_type: type[FaultPlan] = FaultPlan) -> FaultPlan:
    return plan_type.model_validate({"faults": list(specs)})


def test_specs_and_plans_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs rate, at_seconds or after_messages"):
        FaultSpec(kind="drop")
    with pytest.raises(ValidationError):
        FaultSpec(kind="drop", rate=1.5)
    with pytest.raises(ValidationError, match="negative"):
        FaultSpec(kind="stall", at_seconds=[-1])
    with pytest.raises(ValidationError):
        FaultSpec(kind="Not A Kind", rate=0.1)
    with pytest.raises(ValidationError, match="unknown fault kind 'explode'"):
        _plan({"kind": "explode", "rate": 0.1})
    with pytest.raises(ValidationError, match="unknown fault kind 'stale_snapshot'"):
        _plan({"kind": "stale_snapshot", "rate": 0.1})
    path = tmp_path / "faults.yaml"
    path.write_text("- kind: drop\n  rate: 0.01\n- kind: stall\n  at_seconds: [5]\n")
    assert [f.kind for f in load_fault_plan(path).faults] == ["drop", "stall"]
    path.write_text("faults:\n  - kind: stale_snapshot\n    after_messages: [3]\n")
    plan = load_fault_plan(path, _StalePlan)
    assert isinstance(plan, _StalePlan)
    assert plan.faults[0].after_messages == [3]
    with pytest.raises(ValidationError, match="unknown fault kind"):
        load_fault_plan(path)
    path.write_text("")
    assert load_fault_plan(path).faults == []
    path.write_text("just text")
    with pytest.raises(ValueError, match="expected a list of faults"):
        load_fault_plan(path)
    # As untrusted as a config file: bounded aliases and size.
    names = "abcdefghi"
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in itertools.pairwise(names)
    )
    path.write_text(laughs)
    with pytest.raises(ValueError, match="aliases expand"):
        load_fault_plan(path)
    path.write_bytes(b"#" * (2 * 1024 * 1024))
    with pytest.raises(ValueError, match="larger than"):
        load_fault_plan(path)


def test_venue_kinds_fire_where_the_venue_asks_and_are_counted() -> None:
    plan = _plan(
        {"kind": "stale_snapshot", "after_messages": [1]},
        {"kind": "skip_seq", "rate": 1.0, "symbols": ["BTCUSDT"], "max_count": 2},
        plan_type=_StalePlan,
    )
    assert _StalePlan.kinds() == (*FAULT_KINDS, "stale_snapshot", "skip_seq")
    injector = FaultInjector(plan, seed=1)
    assert injector.counts == dict.fromkeys(_StalePlan.kinds(), 0)
    # HTTP scope: after_messages counts REST requests as http_fault() counts them.
    injector.http_fault()
    assert injector.fire("stale_snapshot") is None
    injector.http_fault()
    fired = injector.fire("stale_snapshot")
    assert fired is not None
    assert fired.kind == "stale_snapshot"
    assert injector.fire("stale_snapshot") is None  # a one-shot
    assert [injector.fire("skip_seq", "ETHUSDT") for _ in range(3)] == [None, None, None]
    assert [bool(injector.fire("skip_seq", "BTCUSDT")) for _ in range(3)] == [True, True, False]
    assert injector.counts["stale_snapshot"] == 1
    assert injector.counts["skip_seq"] == 2
    assert injector.fire("drop") is None  # a common kind the plan does not use
    with pytest.raises(ValueError, match="unknown fault kind"):
        injector.fire("nope")


def test_corruption_needs_a_frame_with_an_integrity_field() -> None:
    injector = FaultInjector(_plan({"kind": "corrupt_checksum", "rate": 1.0}), seed=1)
    target = _Target()
    injector.deliver(target, DataFrame("trade", "BTC/USD", b"plain"))
    injector.deliver(target, _Checked("book", "BTC/USD", b"good"))
    assert [f.data for f in target.sent] == [b"plain", b"corrupt"]
    assert injector.counts["corrupt_checksum"] == 1, "the plain frame was not eligible"


def test_drop_and_reorder_only_take_loss_detectable_frames() -> None:
    plan = _plan({"kind": "drop", "rate": 1.0, "max_count": 1}, {"kind": "reorder", "rate": 1.0})
    injector = FaultInjector(plan, seed=1)
    target = _Target()
    injector.deliver(target, DataFrame("book", "BTC/USD", b"snapshot"))
    injector.deliver(target, DataFrame("book", "BTC/USD", b"u1", loss_detectable=True))
    injector.deliver(target, DataFrame("book", "BTC/USD", b"u2", loss_detectable=True))
    injector.deliver(target, DataFrame("book", "BTC/USD", b"u3", loss_detectable=True))
    assert [f.data for f in target.sent] == [b"snapshot", b"u3"]
    assert [f.data for f in target.held] == [b"u2"]
    assert injector.counts["drop"] == 1
    assert injector.counts["reorder"] == 1


def test_connection_faults_by_message_and_by_time() -> None:
    plan = _plan(
        {"kind": "bad_json", "after_messages": [0]},
        {"kind": "stall", "after_messages": [1], "duration": 0.5},
        {"kind": "disconnect", "at_seconds": [0.0]},
    )
    injector = FaultInjector(plan, seed=1, start=0.0)
    target = _Target()
    injector.deliver(target, DataFrame("trade", "BTC/USD", b"a"))
    injector.deliver(target, DataFrame("trade", "BTC/USD", b"b"))
    assert target.events == ["malformed", "stall 0.5"]
    assert [f.data for f in target.sent] == [b"a"], "a stall swallows the frame"
    others = [_Target(), _Target()]
    injector.tick(others)
    assert [t.events for t in others] == [["abort"], ["abort"]]
    assert injector.counts["disconnect"] == 2


@pytest.mark.timeout(60)
def test_the_simulator_reads_fault_files_without_the_native_core(tmp_path: Path) -> None:
    """The simulators stay independent of ``tradegw._core`` (they check it): reading a fault
    file must not drag in the gateway's config package, which needs the core."""
    import subprocess
    import sys

    path = tmp_path / "faults.yaml"
    path.write_text("- kind: drop\n  rate: 0.01\n")
    code = (
        "import sys; sys.modules['tradegw._core'] = None\n"
        "from tradegw.sim.config import load_fault_plan\n"
        f"print(load_fault_plan({str(path)!r}).faults[0].kind)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=50, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "drop"
