"""Venue simulators by name, imported only when asked for.

Each venue package exposes one :class:`VenueSpec` as ``SIMULATOR``; the command line
(``python -m tradegw.sim <venue>``) and :class:`tradegw.sim.process.SimulatorProcess` find it
here and never import a venue themselves. A new venue adds one line to :data:`VENUES`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradegw.sim.config import SimConfig
    from tradegw.sim.server import VenueSimulator

VENUES: Mapping[str, str] = {
    "binance": "tradegw.sim.binance",
    "coinbase": "tradegw.sim.coinbase",
    "kraken": "tradegw.sim.kraken",
}
"""Venue name -> the module path of its package."""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """What the command line and the process runner need to know about one venue."""

    name: str
    """Registry name; also the first word of the URL lines the command line prints."""
    help: str
    """One line for ``--help``."""
    config_type: type[SimConfig]
    simulator_type: type[VenueSimulator[Any]]
    add_arguments: Callable[[argparse.ArgumentParser], Mapping[str, str]] | None = None
    """Declares the venue's own command-line options; returns ``{option dest: config
    field}`` for the ones that map onto config fields. Options default to None (not given)."""


def venue_names() -> list[str]:
    """The registered venues, in registration order."""
    return list(VENUES)


def load_venue(name: str) -> VenueSpec:
    """Import venue ``name`` and return its spec.

    Raises:
        ValueError: no venue of that name is registered.
        TypeError: the venue package does not expose a matching ``SIMULATOR`` spec.
    """
    module_path = VENUES.get(name)
    if module_path is None:
        raise ValueError(f"unknown venue {name!r}; known: {', '.join(VENUES)}")
    spec = getattr(importlib.import_module(module_path), "SIMULATOR", None)
    if not isinstance(spec, VenueSpec) or spec.name != name:
        raise TypeError(f"{module_path}.SIMULATOR is not the VenueSpec of {name!r}")
    return spec
