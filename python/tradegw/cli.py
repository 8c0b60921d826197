"""The ``tradegw`` command.

``tradegw run [--config PATH] [--duration S] [--summary-json PATH] [--no-live]``: without
``--config`` it runs the embedded default (the venue simulators in child processes and three
demo consumers, no network). Exit status 0 on a clean run, 2 on a bad config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from tradegw.config import DEFAULT_CONFIG, load_config
from tradegw.errors import ConfigError
from tradegw.telemetry.logs import configure_logging

EXIT_OK = 0
EXIT_BAD_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradegw", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the gateway (default: simulators, no network)")
    run.add_argument("--config", type=Path, help=f"YAML config (default: {DEFAULT_CONFIG.name})")
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument("--summary-json", type=Path, metavar="PATH", help="write the summary here")
    run.add_argument("--no-live", action="store_true", help="no live console, summary only")
    commands.add_parser("schema", help="print the JSON schema of the canonical events")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tradegw`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        from tradegw.schema import json_schema

        sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"tradegw: bad config: {e}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    configure_logging(config.telemetry)
    import uvloop

    from tradegw.runner import run

    live = not args.no_live and sys.stdout.isatty()
    summary = uvloop.run(
        run(config, duration_s=args.duration, summary_path=args.summary_json, live=live)
    )
    print(_summary_text(summary))
    return EXIT_OK


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
