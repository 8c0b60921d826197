"""Kraken spot venue simulator: WebSocket v2 (``/v2``, authenticated ``/ws-auth/v2``), the
public REST endpoints and, with ``api_keys`` configured, the private ones (trading).

See :class:`KrakenSimulator` for in-process use and ``python -m tradegw.sim kraken --help``
for the command line.
"""

from tradegw.sim.config import load_fault_plan
from tradegw.sim.faults import FAULT_KINDS, FaultKind, FaultPlan, FaultSpec
from tradegw.sim.kraken.config import KrakenSimConfig
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.kraken.server import KrakenSimulator
from tradegw.sim.registry import VenueSpec

SIMULATOR = VenueSpec(
    name="kraken",
    help="Kraken spot: WebSocket v2 on --port (paths /v2 and /ws-auth/v2), public and "
    "private REST on --rest-port",
    config_type=KrakenSimConfig,
    simulator_type=KrakenSimulator,
)
"""The Kraken entry of :mod:`tradegw.sim.registry`."""

__all__ = [
    "FAULT_KINDS",
    "SIMULATOR",
    "AssetInfo",
    "FaultKind",
    "FaultPlan",
    "FaultSpec",
    "KrakenSimConfig",
    "KrakenSimulator",
    "PairInfo",
    "load_fault_plan",
]
