"""What a verification produces: the success criteria it knows, one :class:`Outcome` per
criterion, and the :class:`Scenario` that measures one or more of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tradegw.verify.session import RunContext


@dataclass(frozen=True, slots=True)
class Criterion:
    """One success criterion of the plan (``seed/plan.md``, "Success Metrics")."""

    id: str
    """``SC-001`` ... ``SC-012``."""
    summary: str
    """The plan's words, shortened."""
    threshold: str
    """The plan's threshold as the table shows it."""


CRITERIA: Final[dict[str, Criterion]] = {
    c.id: c
    for c in (
        Criterion("SC-001", "p99 socket→consumer latency, normal conditions", "< 200 ms"),
        Criterion("SC-002", "out-of-order deliveries within the lateness window", "= 0"),
        Criterion(
            "SC-003", "execution reports delivered in order, none lost or coalesced", "100 %"
        ),
        Criterion("SC-004", "fair share of subscribed bandwidth, 3+ consumers", "≥ 25 %"),
        Criterion("SC-005", "routing updates take effect", "< 1 s"),
        Criterion("SC-006", "book resync after gap, checksum mismatch or staleness", "< 5 s"),
        Criterion("SC-007", "no duplicate order for a reused client_order_id", "100 %"),
        Criterion("SC-008", "trading switch: no false positives", "= 0"),
        Criterion("SC-009", "merge windows closed on threshold (time or count)", "≥ 95 %"),
        Criterion("SC-010", "partial merge windows emitted", "= 0"),
        Criterion("SC-011", "3 consumers x 50 symbols x 3 providers without degradation", "= 0"),
        Criterion("SC-012", "checksum verification success rate", "> 99.5 %"),
    )
}
"""Every criterion of the plan, in its order."""


@dataclass(slots=True)
class Outcome:
    """One criterion's result: what was measured, its value, the threshold and the verdict.

    ``passed`` is None when nothing was measured (a run stopped before this one); such a
    row is never a failure of the criterion, though a stopped run does not pass as a
    whole.
    """

    criterion: str
    measured: str
    """What was measured, under which load or fault."""
    value: float | None
    """The measured value in ``unit`` (None: nothing measured)."""
    unit: str
    threshold: str
    """The plan's threshold, e.g. ``< 200 ms``."""
    passed: bool | None
    note: str = ""
    """What else the reader needs: the design's sharper target, evidence that the fault
    bit, what failed."""
    figures: dict[str, Any] = field(default_factory=dict)
    """The raw numbers behind the verdict (written to ``--json``)."""
    status_text: str | None = None
    """The status shown instead of pass/FAIL when ``passed`` is None."""

    @property
    def status(self) -> str:
        """``pass``, ``FAIL``, or why there is no verdict."""
        if self.passed is None:
            return self.status_text or "not run"
        return "pass" if self.passed else "FAIL"

    def shown_value(self) -> str:
        """The value with its unit, rounded for a table."""
        if self.value is None:
            return "—"
        v = self.value
        if self.unit == "%":
            return f"{v:.2f} %" if v < 100 else "100 %"
        if (float(v).is_integer() and abs(v) >= 10) or v == 0:
            return f"{int(v):,} {self.unit}".rstrip()
        digits = 3 if abs(v) < 1 else 2 if abs(v) < 100 else 1
        return f"{v:.{digits}f} {self.unit}".rstrip()

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON data."""
        return {
            "criterion": self.criterion,
            "measured": self.measured,
            "value": self.value,
            "unit": self.unit,
            "threshold": self.threshold,
            "passed": self.passed,
            "status": self.status,
            "note": self.note,
            "figures": self.figures,
        }


def unmeasured(criterion: str, status_text: str, note: str = "") -> Outcome:
    """A row without a verdict (one a stopped run never reached)."""
    c = CRITERIA[criterion]
    return Outcome(criterion, c.summary, None, "", c.threshold, None, note, status_text=status_text)


def failed(criterion: str, measured: str, unit: str, why: str) -> Outcome:
    """A failed row for a scenario that could not measure (an error, a timeout)."""
    return Outcome(criterion, measured, None, unit, CRITERIA[criterion].threshold, False, why)


ScenarioRun = Callable[["RunContext"], Awaitable[list[Outcome]]]
"""Runs a scenario; returns one outcome per criterion of it that the context selects."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A rig (simulators, gateway, consumers) with the load or fault that makes its criteria
    hard, measuring one or more criteria in one run."""

    name: str
    criteria: tuple[str, ...]
    run: ScenarioRun
    budget_s: tuple[float, float]
    """The most a run may take (full, quick) before it counts as failed: a generous bound,
    there only so that a hung rig cannot hang ``tradegw verify``."""
