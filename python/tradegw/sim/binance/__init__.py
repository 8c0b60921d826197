"""Binance spot venue simulator: market streams (raw ``/ws``, combined ``/stream``, live
``SUBSCRIBE``), the WebSocket API (``/ws-api/v3``: signed orders and the user data stream),
and the REST endpoints (public and SIGNED), with request weights.

See :class:`BinanceSimulator` for in-process use and ``python -m tradegw.sim binance --help``
for the command line.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from tradegw.sim.binance.config import BinanceSimConfig
from tradegw.sim.binance.faults import BinanceFaultPlan
from tradegw.sim.binance.server import BinanceSimulator
from tradegw.sim.binance.symbols import SymbolInfo
from tradegw.sim.registry import VenueSpec


def add_arguments(parser: argparse.ArgumentParser) -> Mapping[str, str]:
    """Binance's own options; returns ``{option dest: config field}``."""
    defaults = BinanceSimConfig()
    parser.add_argument(
        "--ping-interval",
        type=float,
        help=f"seconds between server pings (default {defaults.ping_interval_s:g})",
    )
    parser.add_argument(
        "--pong-timeout",
        type=float,
        help=f"seconds a ping may go unanswered (default {defaults.pong_timeout_s:g})",
    )
    parser.add_argument(
        "--lifetime",
        type=float,
        help=f"connection lifetime in seconds (default {defaults.connection_lifetime_s:g})",
    )
    parser.add_argument(
        "--weight-limit",
        type=int,
        help=f"REST request weight per IP per minute (default {defaults.weight_limit})",
    )
    return {
        "ping_interval": "ping_interval_s",
        "pong_timeout": "pong_timeout_s",
        "lifetime": "connection_lifetime_s",
        "weight_limit": "weight_limit",
    }


SIMULATOR = VenueSpec(
    name="binance",
    help="Binance spot: market streams and the WebSocket API on --port (/ws, /ws/<stream>, "
    "/stream?streams=..., /ws-api/v3), REST (/api/v3/...) on --rest-port",
    config_type=BinanceSimConfig,
    simulator_type=BinanceSimulator,
    add_arguments=add_arguments,
)
"""The Binance entry of :mod:`tradegw.sim.registry`."""

__all__ = [
    "SIMULATOR",
    "BinanceFaultPlan",
    "BinanceSimConfig",
    "BinanceSimulator",
    "SymbolInfo",
]
