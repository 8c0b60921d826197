"""Fault injection on the Coinbase simulator: the common kinds, read through ``sequence_num``.

Advanced Trade frames carry no checksum; their integrity field is the connection-wide
``sequence_num``. Each connection numbers a frame when the server produces it (not when it
reaches the socket), so every common kind shows up in the numbers a client reads:

========================  ================================================================
``drop``                  a ``level2`` update is not sent, but its number is used: the
                          client sees a gap
``duplicate``             a data frame is sent twice with the same number
``reorder``               a ``level2`` update is sent after the next frame of its product:
                          the client sees a gap, then a number it has already passed
``corrupt_checksum``      the frame goes out stamped with the previous number instead of its
                          own (a damaged integrity field): it reads as a repeat, and the next
                          frame reveals the missing number as a gap
``stall``                 nothing is sent for ``duration`` seconds; the frames produced
                          meanwhile are lost, their numbers used
``disconnect``            the socket is dropped without a close frame (numbering restarts at
                          0 on the next connection)
``bad_json``              a truncated frame is sent before a data frame (it has no readable
                          number and uses none)
``http_429``/``http_5xx``  a REST request is refused in Coinbase's error shape
========================  ================================================================

Coinbase's own kind, ``skip_sequence``: a number is skipped before a data frame and nothing is
lost. A client cannot tell this from a lost frame, so it must resync all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tradegw.sim.faults import FAULT_KINDS, FaultInjector, FaultPlan, FaultScope, FaultSpec

SKIP_SEQUENCE = "skip_sequence"


class CoinbaseFaultPlan(FaultPlan):
    """A fault plan that also accepts ``skip_sequence``."""

    venue_kinds: ClassVar[Mapping[str, FaultScope]] = {SKIP_SEQUENCE: "ws"}


__all__ = [
    "FAULT_KINDS",
    "SKIP_SEQUENCE",
    "CoinbaseFaultPlan",
    "FaultInjector",
    "FaultSpec",
]
