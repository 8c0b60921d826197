"""Command line of the Kraken simulator (``python -m tradegw.sim kraken ...``)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import uvloop
import yaml
from pydantic import ValidationError

from tradegw.sim.kraken.config import KrakenSimConfig, load_fault_plan
from tradegw.sim.kraken.server import KrakenSimulator

HELP = "Kraken spot: WebSocket v2 on --port (path /v2), public REST on --rest-port"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the Kraken options on ``parser``.

    Every option defaults to "not given", so that options given on the command line override
    the ``--config`` file, which overrides :class:`KrakenSimConfig`'s defaults.
    """
    defaults = KrakenSimConfig()
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="KrakenSimConfig as JSON or YAML (options given here override it)",
    )
    parser.add_argument("--host", help=f"address to bind (default {defaults.host})")
    parser.add_argument("--port", type=int, help="WebSocket port (default 0: any free one)")
    parser.add_argument("--rest-port", type=int, help="REST port (default 0: any free one)")
    parser.add_argument(
        "--pairs",
        help=f"number of pairs, or comma-separated v2 symbols (default {defaults.pairs})",
    )
    parser.add_argument(
        "--rate", type=float, help=f"data messages/s in total (default {defaults.rate:g})"
    )
    parser.add_argument("--seed", type=int, help=f"market seed (default {defaults.seed})")
    parser.add_argument(
        "--book-levels", type=int, help=f"levels per side of books (default {defaults.book_levels})"
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        help=f"heartbeat interval in s (default {defaults.heartbeat_interval:g})",
    )
    parser.add_argument("--faults", metavar="FILE.yaml", help="fault plan to apply")
    parser.add_argument(
        "--stamp-send-ns",
        action="store_true",
        default=None,
        help='add "sim_send_ns" to data frames (latency benches on this machine)',
    )


_FLAGS = {
    "host": "host",
    "port": "ws_port",
    "rest_port": "rest_port",
    "rate": "rate",
    "seed": "seed",
    "book_levels": "book_levels",
    "heartbeat": "heartbeat_interval",
    "stamp_send_ns": "stamp_send_ns",
}


def config_from_args(args: argparse.Namespace) -> KrakenSimConfig:
    """Turn parsed options (and the ``--config`` file, if any) into a config.

    Raises:
        ValueError: an invalid value (pydantic's ``ValidationError`` is a ``ValueError``).
        OSError: a file cannot be read.
    """
    fields: dict[str, object] = {}
    if args.config:
        # YAML is a superset of JSON, so one loader reads both.
        loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{args.config}: expected a mapping of config fields")
        fields.update(loaded)
    for option, field in _FLAGS.items():
        value = getattr(args, option)
        if value is not None:
            fields[field] = value
    if args.pairs is not None:
        text = args.pairs.strip()
        fields["pairs"] = int(text) if text.isdigit() else text.split(",")
    if args.faults:
        fields["faults"] = load_fault_plan(args.faults)
    return KrakenSimConfig.model_validate(fields)


async def serve(config: KrakenSimConfig, stop: asyncio.Event | None = None) -> None:
    """Run a simulator until SIGINT/SIGTERM (or until ``stop`` is set), printing its URLs."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    sim = KrakenSimulator(config)
    try:
        await sim.start()
        print(f"kraken ws   {sim.ws_url}", flush=True)
        print(f"kraken rest {sim.rest_url}", flush=True)
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await sim.stop()


def run(args: argparse.Namespace) -> int:
    """Entry point for parsed arguments; returns the process exit status."""
    try:
        config = config_from_args(args)
    except (ValidationError, ValueError, OSError) as exc:
        print(f"kraken simulator: {exc}", file=sys.stderr)
        return 2
    uvloop.run(serve(config))
    return 0
