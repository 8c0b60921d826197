"""The command line every venue simulator shares (``python -m tradegw.sim <venue> ...``).

Options given on the command line override the ``--config`` file, which overrides the venue
config's defaults. Once both sockets listen, two lines go to stdout, which
:class:`tradegw.sim.process.SimulatorProcess` parses::

    kraken ws   ws://127.0.0.1:PORT/v2
    kraken rest http://127.0.0.1:PORT

and a third, ``kraken inspect http://127.0.0.1:PORT``, before them when the config asks for
the inspection endpoints (``inspect_port``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import uvloop
import yaml
from pydantic import ValidationError

from tradegw.sim.config import SimConfig, read_fault_file
from tradegw.sim.registry import VenueSpec

# option dest -> config field, for the options every venue has
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


def add_arguments(parser: argparse.ArgumentParser, spec: VenueSpec) -> dict[str, str]:
    """Declare the common options and the venue's own on ``parser``.

    Every option defaults to "not given" (None). Returns ``{option dest: config field}`` for
    every option that maps onto a config field.
    """
    defaults = spec.config_type()
    parser.add_argument(
        "--config",
        metavar="FILE",
        help=f"{spec.config_type.__name__} as JSON or YAML (options given here override it)",
    )
    parser.add_argument("--host", help=f"address to bind (default {defaults.host})")
    parser.add_argument("--port", type=int, help="WebSocket port (default 0: any free one)")
    parser.add_argument("--rest-port", type=int, help="REST port (default 0: any free one)")
    parser.add_argument(
        "--pairs",
        help=f"number of pairs, or comma-separated venue symbols (default {defaults.pairs})",
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
    flags = dict(_FLAGS)
    if spec.add_arguments is not None:
        flags.update(spec.add_arguments(parser))
    return flags


def config_from_args(
    args: argparse.Namespace, spec: VenueSpec, flags: dict[str, str] | None = None
) -> SimConfig:
    """Turn parsed options (and the ``--config`` file, if any) into the venue's config.

    ``flags`` is what :func:`add_arguments` returned (the common options when None).

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
    for option, field in (flags or _FLAGS).items():
        value = getattr(args, option, None)
        if value is not None:
            fields[field] = value
    if args.pairs is not None:
        text = args.pairs.strip()
        fields["pairs"] = int(text) if text.isdigit() else text.split(",")
    if args.faults:
        # Raw, so the venue's config validates it into the venue's plan class.
        fields["faults"] = read_fault_file(args.faults)
    return spec.config_type.model_validate(fields)


async def serve(spec: VenueSpec, config: SimConfig, stop: asyncio.Event | None = None) -> None:
    """Run a simulator until SIGINT/SIGTERM (or until ``stop`` is set), printing its URLs."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    sim = spec.simulator_type(config)
    try:
        await sim.start()
        if sim.inspect_url is not None:
            print(f"{spec.name} inspect {sim.inspect_url}", flush=True)
        print(f"{spec.name} ws   {sim.ws_url}", flush=True)
        print(f"{spec.name} rest {sim.rest_url}", flush=True)
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await sim.stop()


def run(spec: VenueSpec, argv: list[str], prog: str) -> int:
    """Parse a venue's options from ``argv``, run it until interrupted; returns the exit
    status (2 for a bad option or config; ``--help`` and argparse errors exit directly)."""
    parser = argparse.ArgumentParser(prog=prog, description=spec.help)
    flags = add_arguments(parser, spec)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, spec, flags)
    except (ValidationError, ValueError, OSError) as exc:
        print(f"{spec.name} simulator: {exc}", file=sys.stderr)
        return 2
    uvloop.run(serve(spec, config))
    return 0
