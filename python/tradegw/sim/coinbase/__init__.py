"""Coinbase Advanced Trade venue simulator: the market data WebSocket (``/``) and the public
REST endpoints (``/api/v3/brokerage/...`` and the ``/v2`` ones clients read at start).

See :class:`CoinbaseSimulator` for in-process use and ``python -m tradegw.sim coinbase --help``
for the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from tradegw.sim.coinbase.config import CoinbaseSimConfig
from tradegw.sim.coinbase.faults import FAULT_KINDS, SKIP_SEQUENCE, CoinbaseFaultPlan, FaultSpec
from tradegw.sim.coinbase.products import ProductInfo
from tradegw.sim.coinbase.server import CoinbaseSimulator
from tradegw.sim.registry import VenueSpec


def _add_arguments(parser: argparse.ArgumentParser) -> Mapping[str, str]:
    """Coinbase's own options."""
    parser.add_argument(
        "--subscribe-deadline",
        type=float,
        help="seconds a connection may wait before subscribing (0 = no limit; default 5)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        help="close connections sent nothing this long unless they take heartbeats "
        "(0 = never; default 90)",
    )
    parser.add_argument(
        "--rest-rate-limit",
        type=float,
        help="public REST requests per second per client (0 = unlimited; default 10)",
    )
    return {
        "subscribe_deadline": "subscribe_deadline_s",
        "idle_timeout": "idle_timeout_s",
        "rest_rate_limit": "rest_rate_limit",
    }


SIMULATOR = VenueSpec(
    name="coinbase",
    help="Coinbase Advanced Trade: market data WebSocket on --port (path /), public REST on "
    "--rest-port",
    config_type=CoinbaseSimConfig,
    simulator_type=CoinbaseSimulator,
    add_arguments=_add_arguments,
)
"""The Coinbase entry of :mod:`tradegw.sim.registry`."""

__all__ = [
    "FAULT_KINDS",
    "SIMULATOR",
    "SKIP_SEQUENCE",
    "CoinbaseFaultPlan",
    "CoinbaseSimConfig",
    "CoinbaseSimulator",
    "FaultSpec",
    "ProductInfo",
]
