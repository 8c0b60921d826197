"""Kraken spot venue simulator: WebSocket v2 (``/v2``) and the public REST endpoints.

See :class:`KrakenSimulator` for in-process use and ``python -m tradegw.sim kraken --help``
for the command line.
"""

from tradegw.sim.kraken.config import KrakenSimConfig, load_fault_plan
from tradegw.sim.kraken.faults import FAULT_KINDS, FaultKind, FaultPlan, FaultSpec
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.kraken.server import KrakenSimulator

__all__ = [
    "FAULT_KINDS",
    "AssetInfo",
    "FaultKind",
    "FaultPlan",
    "FaultSpec",
    "KrakenSimConfig",
    "KrakenSimulator",
    "PairInfo",
    "load_fault_plan",
]
