"""``tradegw verify``: the plan's success criteria (SC-001..SC-012) proven against the venue
simulators.

Each criterion is measured by a scenario — a rig of simulators in child processes on
127.0.0.1, a gateway and consumers, with the load or fault that makes the criterion hard —
and reported as a row: what was measured, the value, the plan's threshold, pass or fail.

>>> report = await run_verify(["SC-003"], quick=True)
>>> report.passed, report.outcomes[0].value
(True, 100.0)
"""

from tradegw.verify.outcome import CRITERIA, Criterion, Outcome, Scenario
from tradegw.verify.report import render_table, report_json
from tradegw.verify.session import Report, RunContext, all_scenarios, run_verify

__all__ = [
    "CRITERIA",
    "Criterion",
    "Outcome",
    "Report",
    "RunContext",
    "Scenario",
    "all_scenarios",
    "render_table",
    "report_json",
    "run_verify",
]
