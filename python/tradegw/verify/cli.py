"""``tradegw verify [--scenario SC-00N]... [--json PATH] [--quick]``: runs the success
criteria's scenarios against the venue simulators and prints the table.

Exit status: 0 every measured criterion passed; 1 one failed, or a stop signal ended the
run before every selected criterion was measured (the table shows what was); 2 bad usage
(argparse's own exit, or a JSON path that cannot be written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tradegw.stopping import StopRequest
from tradegw.verify.outcome import CRITERIA

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_parser(commands: Any) -> None:
    """Adds ``verify`` to the ``tradegw`` parser's subcommands."""
    verify = commands.add_parser(
        "verify",
        help="prove the success criteria against the venue simulators (about 4 min)",
        description="Runs each success criterion (SC-001..SC-012) as a scenario on the venue "
        "simulators, with the load or fault that makes it hard, and prints what was measured "
        "against the plan's threshold. Exit 0: all passed; 1: one failed or the run was "
        "stopped; 2: bad usage.",
    )
    verify.add_argument(
        "--scenario",
        action="append",
        dest="criteria",
        choices=list(CRITERIA),
        metavar="SC-00N",
        help="only this criterion (repeatable; default: all)",
    )
    verify.add_argument("--json", type=Path, metavar="PATH", help="also write the report here")
    verify.add_argument(
        "--quick", action="store_true", help="a few seconds per scenario (what the tests run)"
    )


def run(args: argparse.Namespace, stop_request: StopRequest) -> int:
    """Runs the verification the parsed ``args`` ask for; returns the exit status."""
    import orjson
    import uvloop

    from tradegw.config import TelemetryConfig
    from tradegw.telemetry.logs import configure_logging
    from tradegw.verify.report import render_table, report_json
    from tradegw.verify.session import run_verify

    json_path: Path | None = args.json
    if json_path is not None and not json_path.parent.is_dir():
        print(f"tradegw verify: --json {json_path}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    # The scenarios break the feeds on purpose: the gateway's warnings about it are noise
    # here; what it did is in the table.
    configure_logging(TelemetryConfig(dlq_path=None, log_level="ERROR"))

    def say(text: str) -> None:
        print(f"tradegw verify: {text}", file=sys.stderr, flush=True)

    report = uvloop.run(
        run_verify(args.criteria, quick=args.quick, stop_request=stop_request, say=say)
    )
    print(render_table(report))
    if json_path is not None:
        try:
            json_path.write_bytes(orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2))
        except OSError as e:
            print(f"tradegw verify: cannot write {json_path}: {e.strerror or e}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_PASSED if report.passed else EXIT_FAILED
