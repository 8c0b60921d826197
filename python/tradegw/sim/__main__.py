"""``python -m tradegw.sim <venue> [options]``: run one venue simulator until interrupted."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tradegw.sim.kraken import cli as kraken_cli

_Venue = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

_VENUES: dict[str, _Venue] = {
    "kraken": (kraken_cli.HELP, kraken_cli.add_arguments, kraken_cli.run),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen venue's simulator and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tradegw.sim", description="Run a venue simulator on 127.0.0.1."
    )
    venues = parser.add_subparsers(dest="venue", required=True, metavar="VENUE")
    for name, (help_text, add_arguments, _) in _VENUES.items():
        add_arguments(venues.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return _VENUES[args.venue][2](args)


if __name__ == "__main__":
    sys.exit(main())
