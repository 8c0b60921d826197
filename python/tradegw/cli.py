"""The ``tradegw`` command.

``tradegw run [--config PATH] [--duration S] [--summary-json PATH] [--no-live]
[--demo-strategy] [--role gateway|merge]``: without ``--config`` it runs the embedded default
(the venue simulators in child processes and three demo consumers, no network);
``--demo-strategy`` turns the demo strategy on (``demo_strategy.enabled``); ``--role merge``
runs the config's merges alone, reading the venues' books from NATS
(:mod:`tradegw.conductor.role`). ``tradegw ctl COMMAND ...`` sends a control message
to a running gateway (:mod:`tradegw.ctl`); ``tradegw order submit|cancel|status|list``
handles orders through it, or with ``--config`` directly when none runs
(:mod:`tradegw.orders.cli`, its own exit statuses); ``tradegw verify [--scenario SC-00N]...
[--json PATH] [--quick]`` proves the success criteria against the simulators
(:mod:`tradegw.verify`, its own exit statuses in :mod:`tradegw.verify.cli`); ``tradegw dlq
[PATH]`` lists and summarises the dead-letter queue (:mod:`tradegw.dlq_report`); ``tradegw
schema`` prints the events' JSON schema.

SIGINT (Ctrl-C) or SIGTERM stops the run at any moment, start-up and shutdown included: from
the first line of :func:`main` on (before the heavy imports), whatever started is stopped,
the simulator children are reaped, the summary is written and printed. A second signal
kills the simulators at once instead of granting them a grace period. ``tradegw verify`` is
stopped the same way: the scenario in progress is stopped, the table shows what was measured.

Exit status:

- 0: the run ended, at ``--duration`` or on SIGINT/SIGTERM. A signal is the ordinary way to
  end an open-ended run, so it is not an error: its summary is as valid as any other (a run
  stopped before its gateway existed has every figure zero). A shell sees the difference on
  the output, not the status.
- 1: the run failed on an unexpected error: one line on stderr (the traceback goes to the
  log at ERROR when ``telemetry.log_path`` is set, at DEBUG otherwise), the summary written
  all the same.
- 2: a bad config (one line per problem on stderr, nothing run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Nothing heavy above this line: the signal handlers go in at the top of main(), and every
# import before them is time in which Ctrl-C would still raise KeyboardInterrupt.
from tradegw.stopping import StopRequest

if TYPE_CHECKING:
    from tradegw.config import GatewayConfig

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    from tradegw.config import DEFAULT_CONFIG

    parser = argparse.ArgumentParser(prog="tradegw", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the gateway (default: simulators, no network)")
    run.add_argument("--config", type=Path, help=f"YAML config (default: {DEFAULT_CONFIG.name})")
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument("--summary-json", type=Path, metavar="PATH", help="write the summary here")
    run.add_argument("--no-live", action="store_true", help="no live console, summary only")
    run.add_argument(
        "--demo-strategy",
        action="store_true",
        help="trade the demo strategy on the simulators (demo_strategy.enabled)",
    )
    run.add_argument(
        "--role",
        choices=("gateway", "merge"),
        default="gateway",
        help="merge: run the config's merges alone, reading the venues' books from NATS",
    )
    commands.add_parser("schema", help="print the JSON schema of the canonical events")
    from tradegw import ctl, dlq_report
    from tradegw.orders import cli as order_cli
    from tradegw.verify import cli as verify_cli

    ctl.add_parser(commands)
    order_cli.add_parser(commands)
    verify_cli.add_parser(commands)
    dlq_report.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradegw`` console script; returns the exit status.

    From its first line on, SIGINT and SIGTERM request a stop (see the module docstring).
    Called with ``argv`` (tests, embedding), it puts the caller's handlers back on return; as
    the program (``argv`` None) it ignores both from then on, so that one arriving while the
    interpreter exits cannot kill it with the run already over.
    """
    stop_request = StopRequest()
    stop_request.install()
    try:
        return _main(argv, stop_request)
    finally:
        if argv is None:
            stop_request.ignore()
        else:
            stop_request.restore()


def _main(argv: Sequence[str] | None, stop_request: StopRequest) -> int:
    import orjson

    from tradegw.config import load_config
    from tradegw.errors import ConfigError
    from tradegw.telemetry.logs import configure_logging

    args = _parser().parse_args(argv)
    if args.command == "schema":
        from tradegw.schema import json_schema

        sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    if args.command == "ctl":
        from tradegw import ctl

        return ctl.run(args)
    if args.command == "verify":
        from tradegw.verify import cli as verify_cli

        return verify_cli.run(args, stop_request)
    if args.command == "order":
        from tradegw.orders import cli as order_cli

        return order_cli.run(args)
    if args.command == "dlq":
        from tradegw import dlq_report

        return dlq_report.run(args)
    if args.role == "merge" and args.demo_strategy:
        print("tradegw: --demo-strategy trades on venues; --role merge runs none", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        config = load_config(args.config, demo_strategy=args.demo_strategy, role=args.role)
    except ConfigError as e:
        print(f"tradegw: bad config: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    configure_logging(config.telemetry)
    import uvloop

    if args.role == "merge":
        return _run_merge(config, args, stop_request)

    from tradegw.runner import RunFailed, run

    live = not args.no_live and sys.stdout.isatty()
    try:
        summary = uvloop.run(
            run(
                config,
                duration_s=args.duration,
                summary_path=args.summary_json,
                live=live,
                stop_request=stop_request,
            )
        )
    except Exception as e:
        cause = e.__cause__ if isinstance(e, RunFailed) and e.__cause__ is not None else e
        _report_failure(cause, log_is_stderr=config.telemetry.log_path is None)
        return EXIT_FAILED
    print(_summary_text(summary))
    return EXIT_OK


def _run_merge(config: GatewayConfig, args: argparse.Namespace, stop_request: StopRequest) -> int:
    import uvloop

    from tradegw.conductor.role import run_merge, summary_text

    try:
        summary = uvloop.run(
            run_merge(
                config,
                duration_s=args.duration,
                summary_path=args.summary_json,
                stop_request=stop_request,
            )
        )
    except Exception as e:
        _report_failure(e, log_is_stderr=config.telemetry.log_path is None)
        return EXIT_FAILED
    print(summary_text(summary))
    return EXIT_OK


def _report_failure(exc: BaseException, *, log_is_stderr: bool) -> None:
    """One line on stderr, the traceback to the log: at ERROR in a log file, at DEBUG when the
    log is stderr itself (the user gets the one line unless they asked for DEBUG)."""
    import logging

    from tradegw.errors import one_line

    line = one_line(exc)
    level = logging.DEBUG if log_is_stderr else logging.ERROR
    logging.getLogger("tradegw").log(level, "run failed: %s", line, exc_info=exc)
    print(f"tradegw: run failed: {line}", file=sys.stderr)


def _summary_text(s: dict[str, object]) -> str:
    lat = s["latency_us"]
    assert isinstance(lat, dict)
    lines = [
        f"tradegw run: {s['duration_s']}s, {s['events_total']} events, {s['msgs_per_s']} msgs/s",
        f"  events: {s['events']}",
        f"  checksum ok {s['checksum_ok']} failed {s['checksum_failed']}; resyncs {s['resyncs']};"
        f" reconnects {s['reconnects']}; dlq {s['dlq']};"
        f" out-of-order delivered {s['out_of_order_delivered']}",
        f"  latency socket->consumer: p50 {lat['p50']}us p99 {lat['p99']}us"
        f" p99.9 {lat['p999']}us (n={lat['count']})",
        f"  consumer books match the gateway's: {s['consumer_books_match']}",
    ]
    orders = s.get("orders")
    if isinstance(orders, dict):
        for name, o in orders.items():
            lines.append(
                f"  orders {name}: placed {o['placed']}, filled {o['filled']},"
                f" cancelled {o['cancelled']}, rejected {o['rejected']},"
                f" expired {o['expired']}, fills {o['fills']}, open {o['open']}"
            )
    venues = s.get("venues")
    if isinstance(venues, dict):
        for name, v in venues.items():
            lines.append(
                f"  {name}: {v['events_total']} events, {v['msgs_per_s']} msgs/s,"
                f" checksum ok {v['checksum_ok']} failed {v['checksum_failed']},"
                f" gaps {v['sequence_gaps']}, resyncs {v['resyncs']},"
                f" reconnects {v['reconnects']}, dlq {v['dlq']},"
                f" books match {v['consumer_books_match']}"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
