"""``python -m tradegw.sim <venue> [options]``: run one venue simulator until interrupted.

Only the venue named is imported; ``python -m tradegw.sim <venue> --help`` lists its options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tradegw.sim import cli
from tradegw.sim.registry import load_venue, venue_names

PROG = "python -m tradegw.sim"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen venue's simulator and return the exit status.

    Raises:
        SystemExit: ``--help``, or an unknown venue or option (argparse's own exit).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a venue simulator on 127.0.0.1.",
        epilog=f"'{PROG} VENUE --help' lists a venue's options.",
    )
    parser.add_argument(
        "venue", choices=venue_names(), metavar="VENUE", help=", ".join(venue_names())
    )
    # The venue's options are parsed by its own parser, once it is known (and imported).
    venue = parser.parse_args(argv[:1]).venue
    return cli.run(load_venue(venue), argv[1:], f"{PROG} {venue}")


if __name__ == "__main__":
    sys.exit(main())
