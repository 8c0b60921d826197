"""Fault injection on the Binance simulator: the common kinds plus Binance's own two.

=====================  =========================================================================
``stale_snapshot``     a REST depth answer is an older snapshot of the pair, with its older
                       ``lastUpdateId``, so it predates the first diff the client buffered and
                       the client must fetch again (after ``after_messages`` REST requests)
``server_shutdown``    a ``serverShutdown`` event goes to every open connection, which is
                       closed ``shutdown_grace_s`` later
=====================  =========================================================================

How the common kinds look on Binance's wire: ``drop`` and ``reorder`` act on diff depth events
(a lost or swapped event shows as ``U > local + 1``); ``corrupt_checksum`` - Binance has no
checksum - spoils the depth event's integrity fields instead: ``U`` and ``u`` both move up by
one, so continuity breaks exactly where a checksum would have failed (see
:class:`tradegw.sim.binance.wire.DepthFrame`); ``duplicate`` sends any data frame twice (a
repeated depth event is old, ``u <= local``, and ignored); ``bad_json`` sends a combined-stream
frame cut short.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tradegw.sim.faults import FaultPlan, FaultScope


class BinanceFaultPlan(FaultPlan):
    """The fault plan of a Binance run: every common kind plus ``stale_snapshot`` (counted
    against REST requests) and ``server_shutdown`` (counted against data frames)."""

    venue_kinds: ClassVar[Mapping[str, FaultScope]] = {
        "stale_snapshot": "http",
        "server_shutdown": "ws",
    }
