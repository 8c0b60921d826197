"""The verification's report: a plain-text table for the terminal and JSON for ``--json``."""

from __future__ import annotations

import textwrap
from typing import Any

from tradegw.verify.session import Report

REPORT_VERSION = 1
"""Layout version of the JSON report."""

_MEASURED_WIDTH = 46
_NOTE_WIDTH = 96
_COLUMNS = ("criterion", "what was measured", "value", "threshold", "result")


def render_table(report: Report) -> str:
    """The report as a table: one row per criterion (what was measured wrapped within its
    column), its note indented below it, then a summary line."""
    rows = [(o, textwrap.wrap(o.measured, _MEASURED_WIDTH) or [""]) for o in report.outcomes]
    value_w = max([len(_COLUMNS[2]), *(len(o.shown_value()) for o, _ in rows)])
    threshold_w = max([len(_COLUMNS[3]), *(len(o.threshold) for o, _ in rows)])
    widths = (9, _MEASURED_WIDTH, value_w, threshold_w)

    def line(cells: tuple[str, str, str, str, str]) -> str:
        padded = [cell.ljust(w) for cell, w in zip(cells[:4], widths, strict=True)]
        return "  ".join([*padded, cells[4]]).rstrip()

    rule = tuple("-" * w for w in (*widths, len(_COLUMNS[4])))
    out = [line(_COLUMNS), line(rule)]  # type: ignore[arg-type]
    for o, measured in rows:
        out.append(line((o.criterion, measured[0], o.shown_value(), o.threshold, o.status)))
        out.extend(line(("", more, "", "", "")) for more in measured[1:])
        if o.note:
            out.extend(
                textwrap.wrap(
                    o.note,
                    _NOTE_WIDTH,
                    initial_indent=" " * 11 + "· ",
                    subsequent_indent=" " * 13,
                )
            )
    out.append("")
    out.append(summary_line(report))
    return "\n".join(out)


def summary_line(report: Report) -> str:
    """One line: the verdict, the counts, how long it took and where."""
    measured = [o for o in report.outcomes if o.passed is not None]
    passed = sum(o.passed is True for o in measured)
    m = report.machine()
    minutes, seconds = divmod(round(report.elapsed_s), 60)
    verdict = "PASSED" if report.passed else "STOPPED" if report.stopped else "FAILED"
    parts = [
        f"tradegw verify{' --quick' if report.quick else ''}: {verdict}: "
        f"{passed} of {len(measured)} measured criteria passed"
    ]
    unrun = [o.criterion for o in report.outcomes if o.passed is None]
    if unrun:
        parts.append(f"{', '.join(unrun)} not run")
    parts.append(
        f"{minutes} min {seconds:02d} s on {m['cpus']} CPUs, Python {m['python']}, {m['platform']}"
    )
    return "; ".join(parts)


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON data (``--json``)."""
    return {
        "report_version": REPORT_VERSION,
        "passed": report.passed,
        "stopped": report.stopped,
        "quick": report.quick,
        "elapsed_s": round(report.elapsed_s, 3),
        "machine": report.machine(),
        "criteria": [o.as_json() for o in report.outcomes],
    }
